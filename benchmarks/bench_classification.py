"""The classification and margin kernels against torch CPU (issue 9), in one run.

    python benchmarks/bench_classification.py [--quick] [--repeats 5] [--only NAME[,NAME]]
                                              [--dtype float64|float32] [--memory]

For each case (nll, cross_entropy on rows and on a segmentation map, multi_margin,
multilabel_margin, multilabel_soft_margin; float64 and float32) the value of
losscalc.compute is checked against torch.nn.functional first (rtol 1e-10 float64, 1e-5
float32), then timed: losscalc.compute at its default threads (the machine's cores) with the
default keep and with keep=0 (no whole elements array gathered), and torch at
torch.set_num_threads(2) and (1). Times are the median of --repeats interleaved rounds after a
warm-up, in ms; ratios are losscalc / torch (below 1: losscalc is faster). --memory adds the
peak of newly allocated memory during compute(keep=0) (tracemalloc, which sees NumPy's
buffers) in MiB. The machine is shared: the load is printed before and after.

--quick: 10x smaller inputs.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def cases(quick: bool):
    """(label, losscalc name, torch function, shape, maker(rng, dtype) -> arrays, options)."""
    s = 10 if quick else 1
    n = 10**5 // s

    def log_probs(rng, dtype, shape):
        x = rng.normal(size=shape)
        x -= np.log(np.exp(x).sum(axis=1, keepdims=True))
        return x.astype(dtype)

    def nll(rng, dtype):
        x = log_probs(rng, dtype, (n, 1000))
        return x, rng.integers(0, 1000, n)

    def ce_rows(rng, dtype):
        return rng.normal(size=(n, 1000)).astype(dtype), rng.integers(0, 1000, n)

    def seg(rng, dtype):
        x = rng.normal(size=(16 // (2 if quick else 1), 21, 128 // (2 if quick else 1), 128)).astype(dtype)
        return x, rng.integers(0, 21, (x.shape[0], *x.shape[2:]))

    def rows100(rng, dtype):
        return rng.normal(size=(n, 100)).astype(dtype), rng.integers(0, 100, n)

    def multilabel(rng, dtype):
        x = rng.normal(size=(n, 100)).astype(dtype)
        y = np.full(x.shape, -1, np.int64)
        k = rng.integers(0, 6, n)  # 0 to 5 labels per row, distinct
        order = np.argsort(rng.random((n, 100)), axis=1)[:, :5]
        cols = np.arange(5)
        y[:, :5] = np.where(cols < k[:, None], order, -1)
        return x, y

    def soft(rng, dtype):
        return rng.normal(size=(n, 100)).astype(dtype), (rng.random((n, 100)) < 0.3).astype(dtype)

    return [
        ("nll", "nll", "nll_loss", f"({n}, 1000)", nll, {}),
        ("nll weight ignore", "nll", "nll_loss", f"({n}, 1000)", nll, {"weight": "w1000", "ignore_index": 3}),
        ("cross_entropy", "cross_entropy", "cross_entropy", f"({n}, 1000)", ce_rows, {}),
        ("cross_entropy seg", "cross_entropy", "cross_entropy",
         "(8, 21, 64, 128)" if quick else "(16, 21, 128, 128)", seg, {}),
        ("cross_entropy seg ls w", "cross_entropy", "cross_entropy",
         "(8, 21, 64, 128)" if quick else "(16, 21, 128, 128)", seg, {"weight": "w21", "label_smoothing": 0.1}),
        ("multi_margin", "multi_margin", "multi_margin_loss", f"({n}, 100)", rows100, {}),
        ("multi_margin p2 w", "multi_margin", "multi_margin_loss", f"({n}, 100)", rows100, {"p": 2, "weight": "w100"}),
        ("multilabel_margin", "multilabel_margin", "multilabel_margin_loss", f"({n}, 100)", multilabel, {}),
        ("multilabel_soft_margin", "multilabel_soft_margin", "multilabel_soft_margin_loss", f"({n}, 100)", soft, {}),
    ]


def timed(fns: dict, repeats: int) -> dict:
    """{name: median seconds} of `repeats` interleaved rounds after one warm-up each."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="cases whose label starts with one of these (comma-separated)")
    parser.add_argument("--dtype", default="", help="float64 or float32 (default: both)")
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F

    from losscalc import compute

    warnings.simplefilter("ignore")
    load = lambda: subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()  # noqa: E731
    print(f"load: `{load()}`; torch {torch.__version__}; median of {args.repeats} rounds; times in ms\n")
    print("| case | dtype | shape | lc | lc keep=0 | torch T=2 | torch T=1 | lc/T2 | keep=0/T2 | keep=0/T1 |"
          + (" extra MiB |" if args.memory else ""))
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if args.memory else ""))
    only = [o for o in args.only.split(",") if o]
    dtypes = [args.dtype] if args.dtype else ["float64", "float32"]
    for label, name, tname, shape, make, options in cases(args.quick):
        if only and not any(label.startswith(o) for o in only):
            continue
        for dtype in dtypes:
            rng = np.random.default_rng(0)
            arrays = make(rng, np.dtype(dtype))
            opts, topts = {}, {}
            for k, v in options.items():
                if isinstance(v, str) and v.startswith("w"):
                    w = rng.uniform(0.5, 2, int(v[1:])).astype(dtype)
                    opts[k], topts[k] = w, torch.from_numpy(w)
                else:
                    opts[k] = topts[k] = v
            tensors = [torch.from_numpy(a) for a in arrays]
            tfn = getattr(F, tname)
            ref = float(tfn(*tensors, **topts))
            got = float(compute(name, *arrays, dtype=dtype, **opts).value)
            rtol = 1e-10 if dtype == "float64" else 1e-5
            if not np.isclose(got, ref, rtol=rtol, atol=0):
                raise SystemExit(f"{label} {dtype}: losscalc {got!r} != torch {ref!r} (rtol {rtol})")
            torch.set_num_threads(2)
            t = timed({"lc": lambda: compute(name, *arrays, dtype=dtype, **opts),
                       "k0": lambda: compute(name, *arrays, dtype=dtype, keep=0, **opts),
                       "t2": lambda: tfn(*tensors, **topts)}, args.repeats)
            torch.set_num_threads(1)
            t.update(timed({"t1": lambda: tfn(*tensors, **topts)}, args.repeats))
            torch.set_num_threads(2)
            mem = f" {peak_mib(lambda: compute(name, *arrays, dtype=dtype, keep=0, **opts)):.1f} |" if args.memory else ""
            ms = {k: v * 1e3 for k, v in t.items()}
            print(f"| {label} | {dtype} | {shape} | {ms['lc']:.1f} | {ms['k0']:.1f} | {ms['t2']:.1f} | {ms['t1']:.1f} | "
                  f"{t['lc'] / t['t2']:.2f}x | **{t['k0'] / t['t2']:.2f}x** | {t['k0'] / t['t1']:.2f}x |{mem}", flush=True)
            del arrays, tensors
    print(f"\nload after: `{load()}`")


if __name__ == "__main__":
    main()
