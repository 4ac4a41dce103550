"""cross_entropy speed against torch CPU, measured in the same run.

    python benchmarks/bench_cross_entropy.py [--runs 5] [--threads 1]

Shapes (N=1e5, C=1000) and (N=1e6, C=10), float32 and float64, class-index targets, mean.
Times (best of --runs, interleaved) for
  kernel    losscalc.kernels.classification.cross_entropy on one chunk + the reducer (Partials, finish)
  compute   losscalc.compute("cross_entropy", ...)   (adds the engine: dtype casts, non-finite count)
  torch     torch.nn.functional.cross_entropy on tensors sharing the same memory
and the ratios kernel/torch and compute/torch (below 1: losscalc is faster).

One more row, `grad`, (N=1e5, C=1000) float32, times the gradient too:
  kernel    the kernel, the reducer, and the KernelOut's backward with the reducer's upstream g
  compute   losscalc.compute("cross_entropy", ..., grad=True)
  torch     F.cross_entropy(...).backward() on a tensor that requires grad (forward + backward)

Threads: NumPy's ufuncs run on one thread; the kernel's class sums are BLAS dot products, which
OpenBLAS could spread over threads. For a like-for-like comparison both sides get the same
count: OPENBLAS_NUM_THREADS/OMP_NUM_THREADS = --threads (set before NumPy is imported) and
torch.set_num_threads(--threads). The default is 1.
"""

import argparse
import os
import sys
import time


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--small", action="store_true", help="10x smaller shapes (a quick check)")
    return parser.parse_args()


def best(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    args = parse()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import warnings

    import numpy as np
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from losscalc import compute
    from losscalc.kernels.classification import cross_entropy
    from losscalc.reduction import Partials, finish, upstream

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    scale = 10 if args.small else 1
    print(f"threads: {args.threads} (BLAS and torch); best of {args.runs} runs; times in ms")
    print(f"{'shape':>20} {'dtype':>8} {'kernel':>9} {'compute':>9} {'torch':>9} {'kernel/torch':>13} {'compute/torch':>14}")
    for n, c in [(100_000 // scale, 1000), (1_000_000 // scale, 10)]:
        for dtype in ("float32", "float64"):
            rng = np.random.default_rng(0)
            x = rng.standard_normal((n, c), dtype=np.dtype(dtype).type)
            y = rng.integers(0, c, n)
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)

            def kernel():
                out = cross_entropy(x, y)
                return finish(Partials.of(out), "mean", out.elements.dtype)[0]

            def through_compute():
                return compute("cross_entropy", x, y, dtype=dtype).value

            def oracle():
                return F.cross_entropy(tx, ty)

            assert abs(float(kernel()) - float(oracle())) <= 1e-4 * abs(float(oracle()))
            t = {"kernel": [], "compute": [], "torch": []}
            for _ in range(args.runs):  # interleaved, so drifts in machine load hit all three alike
                t["kernel"].append(best(kernel, 1))
                t["compute"].append(best(through_compute, 1))
                t["torch"].append(best(oracle, 1))
            k, cp, tt = (min(v) * 1e3 for v in t.values())
            print(f"{f'({n}, {c})':>20} {dtype:>8} {k:9.1f} {cp:9.1f} {tt:9.1f} {k / tt:13.2f} {cp / tt:14.2f}")
    # the grad row: value and ∂value/∂input, losscalc against torch forward + backward
    n, c, dtype = 100_000 // scale, 1000, "float32"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c), dtype=np.dtype(dtype).type)
    y = rng.integers(0, c, n)
    ty = torch.from_numpy(y)

    def kernel():
        with np.errstate(all="ignore"):
            out = cross_entropy(x, y)
            partials = Partials.of(out)
            return finish(partials, "mean", out.elements.dtype)[0], out.backward(upstream(out, "mean", partials))["input"]

    def through_compute():
        return compute("cross_entropy", x, y, dtype=dtype, grad=True).grads["input"]

    def oracle():
        tx = torch.from_numpy(x).requires_grad_(True)
        F.cross_entropy(tx, ty).backward()
        return tx.grad

    expected = oracle().numpy()
    for got in (kernel()[1], through_compute()):
        assert np.allclose(got, expected, rtol=1e-4, atol=1e-9), "the gradients differ from torch's"
    del expected, got
    t = {"kernel": [], "compute": [], "torch": []}
    for _ in range(args.runs):
        t["kernel"].append(best(kernel, 1))
        t["compute"].append(best(through_compute, 1))
        t["torch"].append(best(oracle, 1))
    k, cp, tt = (min(v) * 1e3 for v in t.values())
    print(f"{f'({n}, {c}) grad':>20} {dtype:>8} {k:9.1f} {cp:9.1f} {tt:9.1f} {k / tt:13.2f} {cp / tt:14.2f}")


if __name__ == "__main__":
    main()
