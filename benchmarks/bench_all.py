"""Every registered loss against torch CPU in one run (issue 9), both dtypes, big inputs.

    python benchmarks/bench_all.py [--quick] [--only mse,nll] [--dtype float64|float32|both]
                                   [--repeats 3] [--pause 0.05]

The losses are those of `losscalc.registry.losses()`; each must have an input builder below
(BUILDERS) and a torch reference, or the run stops before timing anything, naming what is
missing: a loss added later is benchmarked or this script fails loudly.

The torch references are those of the differential tests, imported, not copied:
`tests/cases/<family>.py`'s `torch_value` (torch.nn.functional for the 21 losses PyTorch has;
for the six beyond PyTorch, js_div, wasserstein, entropy, sigmoid_focal, log_cosh and dice,
the torch-op formulas of tests/cases/beyond.py: SciPy's jensenshannon² as H(m) - H(p)/2 -
H(q)/2 with torch.special.entr, scipy.stats._stats_py._cdf_distance for p = 1 with
torch.sort, torchvision.ops.sigmoid_focal_loss line by line, Keras's LogCosh as
|d| + logaddexp(0, -2|d|) - log 2, V-Net's soft Dice).

Inputs (--quick: 10x fewer rows or elements):
  elementwise losses             1e7 elements (gaussian_nll: var of the input's shape)
  cross_entropy, nll, multi_margin, multilabel_soft_margin
                                 (1e5, 1000) logits (nll: log-probabilities)
  multilabel_margin              (1e5, 100), two labels per row then -1 (as bench_engine.py):
                                 at C = 1000 losscalc takes ~10 s per 1000 rows (torch 0.04 s),
                                 hours for (1e5, 1000)
  cross_entropy (segmentation), dice
                                 (16, 21, 128, 128) (--quick: N = 2)
  kl_div, js_div, entropy        (1e4, 1000) probability rows (kl_div's input their log)
  wasserstein                    (1e4, 1000) u and v samples
  cosine_embedding, triplet_margin, triplet_margin_with_distance
                                 (1e5, 100) rows
  ctc                            T=500, N=64 (--quick: 8), C=100, S=100, every input length
                                 T, target lengths drawn from [S/2, S] (as bench_ctc.py)
Every option at its default, reduction mean.

For each case and dtype: the losscalc value (compute(..., dtype=D)) is checked against torch's
(the same float dtype; rtol 1e-10 float64, 1e-5 float32); a miss is printed as a FAIL row
with both values (and torch's float64 value) instead of a ratio, and the case is not timed.
Then, in interleaved rounds (median of --repeats after a warm-up, more rounds for calls under
0.2 s in all, a --pause before each call: torch's worker threads spin for a while after a
parallel region, which on a 2-core machine slows whatever runs next):
  default threads: losscalc.compute (its default: the machine's cores) and torch at
                   torch.set_num_threads(its default, read at start-up)
  1 thread:        compute(..., threads=1) and torch at torch.set_num_threads(1)
"cold" is the value check's call: the first of the case in the process (torch's, then
losscalc's, at the default threads). A case whose first call took over --slow seconds (2)
is timed in one round with no warm-up, marked "(1 round)". "extra" is losscalc's peak
of newly allocated memory during one compute call at its default threads (tracemalloc, which
NumPy reports its buffers to), as a multiple of the inputs' bytes and in chunks: one chunk is
LOSSCALC_CHUNK_ELEMENTS (default 2**20) elements of the computation's dtype (8 MiB float64,
4 MiB float32).

Goals (issue 9), checked on the last line: every loss <= 1.0x torch at torch's default
threads, both dtypes; the elementwise losses (layout "elementwise", and gaussian_nll)
<= 0.35x; peak extra memory <= 1 chunk (the reductions here are all mean).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import CHUNK, ROOT, peak_extra, timed, uptime  # noqa: E402

sys.path.insert(0, ROOT)  # tests.cases: the torch references


# --- inputs -----------------------------------------------------------------------------------

def _softmax_rows(x):
    x = x - x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def _log_softmax_rows(x):
    x = x - x.max(axis=-1, keepdims=True)
    x -= np.log(np.exp(x).sum(axis=-1, keepdims=True))
    return x


def _pm1(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def builders(quick: bool) -> dict:
    """{loss name: [(label, shape text, make)]}, make(rng, fl) -> the tensors in PyTorch's
    forward order; fl(x) casts a float array to the dtype under test (index tensors stay int64)."""
    s = 10 if quick else 1
    n = 10**7 // s
    logits = (10**5 // s, 1000)
    prob_rows = (10**4 // s, 1000)
    emb = (10**5 // s, 100)
    seg = (2 if quick else 16, 21, 128, 128)
    ctc_n = 8 if quick else 64
    el = f"{n:.0e}"

    def normal2(rng, fl):
        return fl(rng.standard_normal(n)), fl(rng.standard_normal(n))

    def poisson(rng, fl):
        x = 0.5 * rng.standard_normal(n)
        return fl(x), fl(rng.poisson(np.exp(x)).astype(np.float64))

    def gaussian(rng, fl):
        return fl(rng.standard_normal(n)), fl(rng.standard_normal(n)), fl(rng.uniform(0.1, 2.0, n))

    def bce(rng, fl):
        return fl(rng.uniform(1e-6, 1 - 1e-6, n)), fl(rng.random(n))

    def logits_soft(rng, fl):
        return fl(rng.standard_normal(n)), fl(rng.random(n))

    def pm1(rng, fl):
        return fl(rng.standard_normal(n)), fl(_pm1(rng, n))

    def kl(rng, fl):
        return fl(_log_softmax_rows(rng.standard_normal(prob_rows))), fl(_softmax_rows(rng.standard_normal(prob_rows)))

    def ce(rng, fl):
        return fl(rng.standard_normal(logits, np.float64)), rng.integers(0, logits[1], logits[0])

    def ce_seg(rng, fl):
        return fl(rng.standard_normal(seg)), rng.integers(0, seg[1], (seg[0], *seg[2:]))

    def nll(rng, fl):
        return fl(_log_softmax_rows(rng.standard_normal(logits))), rng.integers(0, logits[1], logits[0])

    def multilabel(rng, fl):
        x = rng.standard_normal(emb)
        y = np.full(emb, -1, np.int64)
        y[:, 0] = rng.integers(0, emb[1], emb[0])
        y[:, 1] = (y[:, 0] + rng.integers(1, emb[1], emb[0])) % emb[1]  # two distinct labels
        return fl(x), y

    def multilabel_soft(rng, fl):
        return fl(rng.standard_normal(logits)), fl((rng.random(logits) < 0.1).astype(np.float64))

    def ranking(rng, fl):
        return fl(rng.standard_normal(n)), fl(rng.standard_normal(n)), fl(_pm1(rng, n))

    def cosine(rng, fl):
        return fl(rng.standard_normal(emb)), fl(rng.standard_normal(emb)), fl(_pm1(rng, emb[0]))

    def triplet(rng, fl):
        return tuple(fl(rng.standard_normal(emb)) for _ in range(3))

    def ctc(rng, fl):
        T, N, C, S = 500, ctc_n, 100, 100
        log_probs = _log_softmax_rows(rng.standard_normal((T, N, C)))
        return (fl(log_probs), rng.integers(1, C, (N, S)), np.full(N, T, np.int64),
                rng.integers(S // 2, S + 1, N))

    def js(rng, fl):
        return fl(_softmax_rows(rng.standard_normal(prob_rows))), fl(_softmax_rows(rng.standard_normal(prob_rows)))

    def ent(rng, fl):
        return (fl(_softmax_rows(rng.standard_normal(prob_rows))),)

    def wass(rng, fl):
        return fl(rng.standard_normal(prob_rows)), fl(rng.standard_normal(prob_rows) + 0.5)

    def focal(rng, fl):
        return fl(rng.standard_normal(n)), fl((rng.random(n) < 0.5).astype(np.float64))

    def dice(rng, fl):
        return fl(1 / (1 + np.exp(-rng.standard_normal(seg)))), fl((rng.random(seg) < 0.3).astype(np.float64))

    sh = lambda t: "(" + ", ".join(str(d) for d in t) + ")"  # noqa: E731
    return {
        "l1": [("l1", el, normal2)],
        "mse": [("mse", el, normal2)],
        "smooth_l1": [("smooth_l1", el, normal2)],
        "huber": [("huber", el, normal2)],
        "poisson_nll": [("poisson_nll", el, poisson)],
        "gaussian_nll": [("gaussian_nll", el, gaussian)],
        "bce": [("bce", el, bce)],
        "bce_with_logits": [("bce_with_logits", el, logits_soft)],
        "soft_margin": [("soft_margin", el, pm1)],
        "kl_div": [("kl_div", sh(prob_rows), kl)],
        "cross_entropy": [("cross_entropy", sh(logits), ce), ("cross_entropy (seg)", sh(seg), ce_seg)],
        "nll": [("nll", sh(logits), nll)],
        "multi_margin": [("multi_margin", sh(logits), ce)],
        "multilabel_margin": [("multilabel_margin", sh(emb), multilabel)],
        "multilabel_soft_margin": [("multilabel_soft_margin", sh(logits), multilabel_soft)],
        "margin_ranking": [("margin_ranking", el, ranking)],
        "hinge_embedding": [("hinge_embedding", el, pm1)],
        "cosine_embedding": [("cosine_embedding", sh(emb), cosine)],
        "triplet_margin": [("triplet_margin", sh(emb), triplet)],
        "triplet_margin_with_distance": [("triplet_margin_with_distance", sh(emb), triplet)],
        "ctc": [("ctc", f"T=500 N={ctc_n} C=100 S=100", ctc)],
        "js_div": [("js_div", sh(prob_rows), js)],
        "wasserstein": [("wasserstein", sh(prob_rows), wass)],
        "entropy": [("entropy", sh(prob_rows), ent)],
        "sigmoid_focal": [("sigmoid_focal", el, focal)],
        "log_cosh": [("log_cosh", el, normal2)],
        "dice": [("dice", sh(seg), dice)],
    }


def torch_reference(name: str):
    """fn(torch tensors) -> torch's value: tests/cases/<family>.py's torch_value, at the
    default options and reduction mean. A KeyError when the differential tests have none."""
    import torch.nn.functional as F

    from tests.cases import Case, family_of

    module = family_of(name)
    case = Case(name, [], {}, "mean")
    return lambda *tensors: module.torch_value(F, case, list(tensors), {})


def completeness(losses, table) -> None:
    """Every registered loss has an input builder and a torch reference, or SystemExit naming them."""
    missing = []
    for loss in losses:
        if loss.name not in table:
            missing.append(f"{loss.name}: no input builder in benchmarks/bench_all.py's builders()")
        try:
            torch_reference(loss.name)
        except KeyError:
            missing.append(f"{loss.name}: no torch reference (tests/cases/*.py's LOSSES and torch_value)")
    extra = sorted(set(table) - {loss.name for loss in losses})
    missing += [f"{name}: a builder for a loss the registry does not have" for name in extra]
    if missing:
        raise SystemExit("bench_all: the benchmark does not cover the registry:\n  " + "\n  ".join(missing))


# --- the run ----------------------------------------------------------------------------------

def elementwise(loss) -> bool:
    return loss.layout == "elementwise" or loss.name == "gaussian_nll"


def ms(s: float) -> str:
    return f"{s * 1e3:.1f}" if s >= 0.01 else f"{s * 1e3:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller inputs, fewer repeats")
    parser.add_argument("--only", default="", help="comma-separated losses (names or aliases)")
    parser.add_argument("--dtype", choices=("float64", "float32", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds after the warm-up (default 3; --quick 2)")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds slept before each timed call")
    parser.add_argument("--slow", type=float, default=2.0,
                        help="a case whose first call takes longer (s) is timed in one round, without a warm-up")
    args = parser.parse_args()
    repeats = args.repeats or (2 if args.quick else 3)

    import torch

    import losscalc
    from losscalc import compute, registry

    losses = registry.losses()
    table = builders(args.quick)
    completeness(losses, table)
    if args.only:
        wanted = {registry.find(name).name for name in args.only.split(",") if name.strip()}
        losses = [loss for loss in losses if loss.name in wanted]
    dtypes = ("float64", "float32") if args.dtype == "both" else (args.dtype,)
    torch_default = torch.get_num_threads()
    cores = os.cpu_count() or 1
    start = time.perf_counter()

    print(f"# bench_all{' --quick' if args.quick else ''}: every loss against torch CPU\n")
    print(f"load: `{uptime()}`  \nlosscalc from {os.path.dirname(losscalc.__file__)}; torch {torch.__version__}; "
          f"numpy {np.__version__}; python {sys.version.split()[0]}; cores {cores}; "
          f"torch default threads {torch_default}; chunk {CHUNK} elements  \n"
          f"times in ms, median of {repeats} interleaved rounds (more to fill 0.2 s) after a warm-up; cold = the first call; "
          f"{args.pause} s pause before each call; lc = losscalc.compute, T = threads; "
          f"ratio = lc / torch; extra = lc's peak new memory (tracemalloc) / inputs' bytes, and in chunks "
          f"({CHUNK} elements of the dtype)\n")
    print(f"| loss | dtype | shape | lc T={cores} | torch T={torch_default} | **ratio T=default** | lc T=1 | torch T=1 | "
          "**ratio T=1** | lc cold | torch cold | extra x inputs | extra chunks |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |", flush=True)
    warnings.simplefilter("ignore")
    rows, failures = [], []
    for loss in losses:
        ref = torch_reference(loss.name)
        for label, shape, make in table[loss.name]:
            for dtype in dtypes:
                np_dtype = np.dtype(dtype)
                rng = np.random.default_rng(0)
                arrays = make(rng, lambda x: x.astype(np_dtype, copy=False))
                tensors = [torch.from_numpy(a) for a in arrays]
                rtol = 1e-10 if dtype == "float64" else 1e-5
                torch.set_num_threads(torch_default)
                t0 = time.perf_counter()
                want = float(ref(*tensors))
                t1 = time.perf_counter()
                got = float(compute(loss.name, *arrays, dtype=dtype).value)
                cold = {"lc": time.perf_counter() - t1, "torch": t1 - t0}
                if not (np.isclose(got, want, rtol=rtol, atol=0) or (np.isnan(got) and np.isnan(want))):
                    also = ""
                    if dtype != "float64":
                        want64 = float(ref(*[torch.from_numpy(a.astype(np.float64)) if a.dtype.kind == "f" else t
                                             for a, t in zip(arrays, tensors)]))
                        also = f", torch float64 {want64!r}"
                    msg = f"losscalc {got!r} != torch {want!r} (rtol {rtol}{also})"
                    print(f"| {label} | {dtype} | {shape} | **FAIL**: {msg} | | | | | | | | | |", flush=True)
                    failures.append(f"{label} {dtype}: {msg}")
                    del arrays, tensors
                    continue
                slow = max(cold.values()) > args.slow  # one round, no warm-up (the value check was one)
                reps = 1 if slow else repeats
                torch.set_num_threads(torch_default)
                row = timed({"lc": lambda: compute(loss.name, *arrays, dtype=dtype),
                             "torch": lambda: ref(*tensors)}, reps, args.pause, warmup=not slow)
                torch.set_num_threads(1)
                row.update({k + "1": v for k, v in timed({"lc": lambda: compute(loss.name, *arrays, dtype=dtype, threads=1),
                                                          "torch": lambda: ref(*tensors)}, reps, args.pause,
                                                         warmup=not slow).items()})
                torch.set_num_threads(torch_default)
                nbytes = sum(a.nbytes for a in arrays)
                extra = peak_extra(lambda: compute(loss.name, *arrays, dtype=dtype))
                chunks = extra / (CHUNK * np_dtype.itemsize)
                r, r1 = row["lc"][1] / row["torch"][1], row["lc1"][1] / row["torch1"][1]
                mark = " (1 round)" if slow else ""
                print(f"| {label}{mark} | {dtype} | {shape} | {ms(row['lc'][1])} | {ms(row['torch'][1])} | **{r:.2f}x** | "
                      f"{ms(row['lc1'][1])} | {ms(row['torch1'][1])} | **{r1:.2f}x** | {ms(cold['lc'])} | "
                      f"{ms(cold['torch'])} | {extra / nbytes:.3f} | {chunks:.2f} |", flush=True)
                rows.append((loss, label, dtype, r, r1, chunks))
                del arrays, tensors
    torch.set_num_threads(torch_default)

    print(f"\nload after: `{uptime()}`; {time.perf_counter() - start:.0f} s\n")
    over = [f"{label} {dtype} {r:.2f}x" for _, label, dtype, r, _, _ in rows if r > 1.0]
    el_over = [f"{label} {dtype} {r:.2f}x" for loss, label, dtype, r, _, _ in rows if elementwise(loss) and r > 0.35]
    mem_over = [f"{label} {dtype} {c:.1f}" for _, label, dtype, _, _, c in rows if c > 1.0]
    n_el = sum(1 for loss, *_ in rows if elementwise(loss))

    def goal(text, misses, of):
        state = "met" if not misses else "MISSED"
        return f"- {text}: **{state}** ({of - len(misses)}/{of} of the cases timed){': ' + ', '.join(misses) if misses else ''}"

    print("goals:\n")
    print(goal(f"<= 1.0x torch at torch's default threads ({torch_default})", over, len(rows)))
    print(goal("elementwise losses <= 0.35x torch at default threads", el_over, n_el))
    print(goal("peak extra memory <= 1 chunk (mean)", mem_over, len(rows)))
    if failures:
        print(f"- values: **{len(failures)} FAILED** (not timed): " + "; ".join(failures))
    else:
        print(f"- values: all {len(rows)} cases agree with torch")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
