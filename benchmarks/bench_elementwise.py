"""The elementwise losses' floor: losscalc, torch CPU and a tuned NumPy pass, in one run.

    python benchmarks/bench_elementwise.py [--n 10000000] [--rounds 15]

The mean over `--n` elements of mse, l1 and smooth_l1, both dtypes, at 2 threads (torch's
default on these machines) and at 1. The tuned pass is the fastest NumPy I know for it: the
inputs cut into blocks of 2**17 elements (in cache), each block's loss made in one reused
buffer with `out=` (no allocation), summed in float64, the blocks split between the threads
(NumPy releases the GIL). It has none of losscalc's checks, warnings or breakdown: what is
left between the two is the engine's cost per block. Issue 9's goal for these losses is 0.35x
torch; the tuned pass's own ratio says how far below torch NumPy can go on this machine.
Median of `--rounds` interleaved calls, each after a 0.05 s pause (torch's threads spin on
after a parallel region). Every value is checked against torch's before timing.
"""

import argparse
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from losscalc import compute  # noqa: E402

BLOCK = 1 << 17


def _mse(d, m):
    np.multiply(d, d, out=d)


def _l1(d, m):
    np.abs(d, out=d)


def _smooth_l1(d, m):  # beta = 1: m (d - m/2) with m = min(|d|, 1)
    np.abs(d, out=d)
    np.minimum(d, 1, out=m)
    d -= m * 0.5
    d *= m


LOSSES = {"mse": (F.mse_loss, _mse), "l1": (F.l1_loss, _l1), "smooth_l1": (F.smooth_l1_loss, _smooth_l1)}


def tuned(a, b, elementwise, threads, pool):
    """The mean of elementwise(a - b) (made in place, with a second buffer m to use), block by
    block, in float64, on `threads` threads."""
    def part(lo, hi):
        d, m, total = np.empty(BLOCK, a.dtype), np.empty(BLOCK, a.dtype), 0.0
        for i in range(lo, hi, BLOCK):
            j = min(i + BLOCK, hi)
            x = np.subtract(a[i:j], b[i:j], out=d[:j - i])
            elementwise(x, m[:j - i])
            total += float(x.sum(dtype=np.float64))
        return total

    n = a.size
    cuts = [n * k // threads // BLOCK * BLOCK for k in range(threads)] + [n]
    if threads == 1:
        return part(0, n) / n
    return sum(f.result() for f in [pool.submit(part, cuts[k], cuts[k + 1]) for k in range(threads)]) / n


def median_ms(fn, rounds, pause=0.05):
    times = []
    for _ in range(rounds):
        time.sleep(pause)
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**7)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    default_threads = torch.get_num_threads()
    pool = ThreadPoolExecutor(max(default_threads, 1))
    rng = np.random.default_rng(0)
    print(f"n = {args.n}; times in ms, median of {args.rounds}; T = threads (torch's default {default_threads}); "
          "ratios to torch at the same T\n")
    print("| loss | dtype | T | losscalc | tuned NumPy | torch | losscalc / torch | tuned / torch | losscalc / tuned |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, (torch_fn, elementwise) in LOSSES.items():
        for dtype in ("float64", "float32"):
            a, b = (rng.normal(size=args.n).astype(dtype) for _ in range(2))
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            want = float(torch_fn(ta, tb))
            for got in (float(compute(name, a, b, dtype=dtype).value), tuned(a, b, elementwise, 2, pool)):
                if abs(got - want) > (1e-10 if dtype == "float64" else 1e-5) * abs(want):
                    raise SystemExit(f"{name} {dtype}: {got!r} against torch's {want!r}")
            for threads in sorted({default_threads, 1}, reverse=True):
                torch.set_num_threads(threads)
                times = {"lc": [], "tuned": [], "torch": []}
                calls = {"lc": lambda: compute(name, a, b, dtype=dtype, threads=threads),
                         "tuned": lambda: tuned(a, b, elementwise, threads, pool),
                         "torch": lambda: torch_fn(ta, tb)}
                for fn in calls.values():
                    fn()  # warm-up
                for _ in range(args.rounds):  # interleaved
                    for key, fn in calls.items():
                        times[key].append(median_ms(fn, 1))
                lc, tu, to = (float(np.median(times[k])) for k in ("lc", "tuned", "torch"))
                print(f"| {name} | {dtype} | {threads} | {lc:.1f} | {tu:.1f} | {to:.1f} | {lc / to:.2f}x | "
                      f"{tu / to:.2f}x | {lc / tu:.2f}x |")
            torch.set_num_threads(default_threads)
    pool.shutdown()


if __name__ == "__main__":
    main()
