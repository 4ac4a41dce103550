"""Elementwise losses against torch CPU, in one run: time of a mean over 1e7 elements.

    python benchmarks/bench_elementwise.py [--n 10000000] [--runs 5]

Both sides on one thread (numpy's BLAS and torch.set_num_threads(1)); best of `--runs`;
losscalc through compute() (what the CLI runs, with its checks) and the bare kernel.
Prints milliseconds and the ratios losscalc / torch (below 1: losscalc is faster).
"""

import argparse
import os
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from losscalc import compute  # noqa: E402
from losscalc.registry import find  # noqa: E402

LOSSES = {  # name: (torch function, how to make input and target from two normal samples)
    "mse": (F.mse_loss, lambda a, b: (a, b)),
    "l1": (F.l1_loss, lambda a, b: (a, b)),
    "smooth_l1": (F.smooth_l1_loss, lambda a, b: (a, b)),
    "bce_with_logits": (F.binary_cross_entropy_with_logits, lambda a, b: (a, (b > 0).astype(a.dtype))),
    "kl_div": (F.kl_div, lambda a, b: (-np.abs(a), np.abs(b) / 4)),
}


def best(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**7)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    print(f"n = {args.n}, 1 thread each, best of {args.runs}; times in ms")
    print(f"{'loss':>16} {'dtype':>8} {'kernel':>8} {'compute':>8} {'torch':>8} {'kernel/torch':>13} {'compute/torch':>14}")
    for name, (torch_fn, make) in LOSSES.items():
        for dtype in (np.float32, np.float64):
            x, y = make(rng.normal(size=args.n).astype(dtype), rng.normal(size=args.n).astype(dtype))
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)
            kernel = find(name).kernel
            t_torch = best(lambda: torch_fn(tx, ty), args.runs)
            t_kernel = best(lambda: kernel(x, y).elements.mean(), args.runs)
            t_compute = best(lambda: compute(name, x, y, dtype=np.dtype(dtype).name), args.runs)
            print(f"{name:>16} {np.dtype(dtype).name:>8} {t_kernel * 1e3:8.1f} {t_compute * 1e3:8.1f} "
                  f"{t_torch * 1e3:8.1f} {t_kernel / t_torch:13.2f} {t_compute / t_torch:14.2f}")


if __name__ == "__main__":
    main()
