"""losscalc's command line on files larger than it should hold (issue 9): wall time and peak
anonymous memory against a tuned chunked NumPy pass and the torch script a user would write.

    python benchmarks/bench_scale.py [--quick] [--tmp DIR] [--keep] [--repeats 1] [--timeout 1800]
                                     [--skip-torch] [--skip-ctc]

Inputs, written into a temporary directory (--tmp DIR: under DIR) in slices, never whole in
memory, and deleted afterwards unless --keep:
  a.npy, b.npy       (1e6, 1000) float32, 4 GB each (standard normal)
  labels.npy         (1e6,) int64 class indices in [0, 1000), 5% of them -1 (the ignored index)
  weight.npy         (1000,) float32 class weights in [0.5, 1.5)
  lp.npy             CTC log_probs (T=1000, N=20000, C=50) float32, 4 GB (log-softmax of normals);
                     targets.npy (N, 20) int64 in [1, C), input_lengths.npy int64 in [0.8 T, T],
                     target_lengths.npy int64 in [10, 20]
--quick: 1/50 of the rows (a, b (2e4, 1000); N = 400 for CTC).

Runs (`python -m losscalc ...`, each a subprocess of this one, default threads and --dtype):
  mse a.npy b.npy --format value
  mse a.npy b.npy --format json
  mse a.npy b.npy --reduction sum --output e.npy --format value   (e.npy: 1e9 float64 elements)
  cross_entropy a.npy labels.npy --weight weight.npy --ignore-index -1 --format value
  ctc lp.npy targets.npy input_lengths.npy target_lengths.npy --format value
each against
  tuned NumPy    this script's --child pass, one thread (OPENBLAS_NUM_THREADS=1): memory-mapped,
                 ~LOSSCALC_CHUNK_ELEMENTS (2**20) elements a chunk, `out=` buffers reused,
                 float64 arithmetic and accumulation (as losscalc's default --dtype). CE: per
                 row log-sum-exp after subtracting the row's max, weight[y] per row, ignored rows
                 weigh 0, Σ w l / Σ w. CTC: the forward algorithm in probability space rescaled
                 at every frame (Rabiner's scaling, as in Graves et al. 2006), 2000 sequences
                 at a time, frames in blocks of ~2**20 log-probabilities, frozen past each
                 input length; l_n = -Σ_t log c_t - log(α_T(2S) + α_T(2S-1)), mean of l_n / S_n.
  torch          `torch.from_numpy(np.load(path, mmap_mode="r"))` for each file, then
                 F.mse_loss / F.cross_entropy(weight=, ignore_index=-1) / F.ctc_loss, in float32
                 at torch's default threads; for --output, np.save of the reduction="none"
                 tensor. Skipped, with a message, when the case's files exceed MemAvailable.
Wall time: cold is the first round (the files are in the page cache from being written, when
they fit; nothing here drops caches); warm is the median of the --repeats rounds after it; the
commands run interleaved, one of each per round. Peak RssAnon is sampled from /proc/PID/status
by this process every ~10 ms (not from inside the child, which would slow it); memory-mapped
file pages are RssFile, not counted. Each value is checked against the tuned pass's (rtol 1e-9;
torch's float32 values rtol 1e-4).

Goals (issue 9): each losscalc run within 1.5x the tuned NumPy pass (warm), peak RssAnon
<= 256 MiB, and --format json no slower than 2x the --format value run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import CHUNK, ROOT, buf, mem_available, run_sampled, uptime  # noqa: E402

IGNORE = -1
GOAL_RATIO, GOAL_MIB, GOAL_JSON = 1.5, 256, 2.0


# --- the tuned NumPy pass (run as `bench_scale.py --child KIND FILES...`) ---------------------

def np_mse(a_path, b_path, out_path=None):
    """mean of (a - b)² (sum, and every element saved to out_path, when out_path is given)."""
    a = np.load(a_path, mmap_mode="r").reshape(-1)
    b = np.load(b_path, mmap_mode="r").reshape(-1)
    out = np.lib.format.open_memmap(out_path, mode="w+", dtype=np.float64, shape=a.shape) if out_path else None
    total = 0.0
    for i in range(0, a.size, CHUNK):
        j = min(a.size, i + CHUNK)
        d = np.subtract(a[i:j], b[i:j], out=buf(0, j - i, np.float64), dtype=np.float64)
        if out is None:
            total += float(np.dot(d, d))
        else:
            np.multiply(d, d, out=d)
            out[i:j] = d
            total += float(d.sum())
    if out is not None:
        out.flush()
        return total
    return total / a.size


def np_cross_entropy(x_path, t_path, w_path, ignore=IGNORE):
    x = np.load(x_path, mmap_mode="r")
    t = np.load(t_path, mmap_mode="r")
    w = np.load(w_path).astype(np.float64)
    n, c = x.shape
    step = max(1, CHUNK // c)
    num = den = 0.0
    for i in range(0, n, step):
        j = min(n, i + step)
        r = j - i
        xc = buf(0, (r, c), np.float64)
        np.copyto(xc, x[i:j])
        tc = np.asarray(t[i:j])
        keep = tc != ignore
        tk = np.where(keep, tc, 0)
        m = xc.max(axis=1)
        np.subtract(xc, m[:, None], out=xc)
        picked = xc[np.arange(r), tk]  # x_y - max
        np.exp(xc, out=xc)
        s = xc.sum(axis=1)
        np.log(s, out=s)
        np.subtract(s, picked, out=s)  # log Σ exp(x - max) - (x_y - max) = lse - x_y
        wt = np.where(keep, w[tk], 0.0)
        num += float(np.dot(wt, s))
        den += float(wt.sum())
    return num / den


def np_ctc(lp_path, targets_path, il_path, tl_path, blank=0, batch=2000):
    lp = np.load(lp_path, mmap_mode="r")
    targets = np.load(targets_path)
    il, tl = np.load(il_path), np.load(tl_path)
    T, N, C = lp.shape
    S = targets.shape[1]
    L = 2 * S + 1
    total = 0.0
    for i in range(0, N, batch):
        j = min(N, i + batch)
        n = j - i
        ext = np.full((n, L), blank, np.int64)
        ext[:, 1::2] = targets[i:j]
        skip = np.zeros((n, L), np.float64)  # s may come from s - 2: a label differing from the one before
        skip[:, 3::2] = ext[:, 3::2] != ext[:, 1:-2:2]
        alpha = np.zeros((n, L))
        new = np.empty((n, L))
        tmp = np.empty((n, L))
        loglik = np.zeros(n)
        lengths = il[i:j]
        rows = np.arange(n)
        tb = max(1, CHUNK // (n * C))
        idx = np.broadcast_to(ext[None], (tb, n, L))
        for t0 in range(0, T, tb):
            t1 = min(T, t0 + tb)
            block = np.asarray(lp[t0:t1, i:j, :])
            p = np.take_along_axis(block, idx[: t1 - t0], axis=2).astype(np.float64)
            np.exp(p, out=p)
            for k in range(t1 - t0):
                t = t0 + k
                if t == 0:
                    new[:] = 0.0
                    new[:, :2] = p[k, :, :2]
                else:
                    np.copyto(new, alpha)
                    new[:, 1:] += alpha[:, :-1]
                    np.multiply(alpha[:, :-2], skip[:, 2:], out=tmp[:, 2:])
                    new[:, 2:] += tmp[:, 2:]
                    new *= p[k]
                c = new.sum(axis=1)
                active = t < lengths
                c[~active] = 1.0
                np.copyto(new, alpha, where=~active[:, None])
                new /= c[:, None]
                np.log(c, out=c)
                loglik += c
                alpha, new = new, alpha
        s = tl[i:j]
        last = alpha[rows, 2 * s] + np.where(s > 0, alpha[rows, np.maximum(2 * s - 1, 0)], 0.0)
        losses = -(loglik + np.log(last))
        total += float((losses / np.maximum(s, 1)).sum())
    return total / N


CHILDREN = {"mse": np_mse, "ce": np_cross_entropy, "ctc": np_ctc}

TORCH_SCRIPT = textwrap.dedent("""
    import sys, warnings
    import numpy as np, torch, torch.nn.functional as F
    warnings.simplefilter("ignore")  # the memory maps are read-only; torch warns
    kind, paths = sys.argv[1], sys.argv[2:]
    load = lambda p: torch.from_numpy(np.load(p, mmap_mode="r"))
    if kind == "mse":
        print(repr(F.mse_loss(load(paths[0]), load(paths[1])).item()))
    elif kind == "mse_out":
        e = F.mse_loss(load(paths[0]), load(paths[1]), reduction="none")
        np.save(paths[2], e.numpy())
        print(repr(e.sum().item()))
    elif kind == "ce":
        print(repr(F.cross_entropy(load(paths[0]), load(paths[1]), weight=load(paths[2]), ignore_index=-1).item()))
    elif kind == "ctc":
        print(repr(F.ctc_loss(*(load(p) for p in paths)).item()))
""")


# --- the inputs -----------------------------------------------------------------------------

def write_inputs(tmp, quick, ctc):
    rng = np.random.default_rng(9)
    rows = 2 * 10**4 if quick else 10**6
    c = 1000
    paths = {k: os.path.join(tmp, f"{k}.npy") for k in
             ("a", "b", "labels", "weight", "lp", "targets", "input_lengths", "target_lengths")}
    step = max(1, (1 << 24) // c)
    for key in ("a", "b"):
        m = np.lib.format.open_memmap(paths[key], mode="w+", dtype=np.float32, shape=(rows, c))
        for i in range(0, rows, step):
            m[i:i + step] = rng.standard_normal((min(step, rows - i), c), dtype=np.float32)
        m.flush()
        del m
    labels = rng.integers(0, c, rows)
    labels[rng.random(rows) < 0.05] = IGNORE
    np.save(paths["labels"], labels)
    np.save(paths["weight"], rng.uniform(0.5, 1.5, c).astype(np.float32))
    shape = None
    if ctc:
        T, N, C, S = 1000, 400 if quick else 20000, 50, 20
        shape = (T, N, C, S)
        m = np.lib.format.open_memmap(paths["lp"], mode="w+", dtype=np.float32, shape=(T, N, C))
        tb = max(1, (1 << 24) // (N * C))
        for t in range(0, T, tb):
            x = rng.standard_normal((min(tb, T - t), N, C), dtype=np.float32)
            x -= x.max(axis=2, keepdims=True)
            x -= np.log(np.exp(x).sum(axis=2, keepdims=True))
            m[t:t + tb] = x
        m.flush()
        del m
        np.save(paths["targets"], rng.integers(1, C, (N, S)))
        np.save(paths["input_lengths"], rng.integers(int(0.8 * T), T + 1, N))
        np.save(paths["target_lengths"], rng.integers(S // 2, S + 1, N))
    return paths, rows, c, shape


# --- the runs -------------------------------------------------------------------------------

def parse_value(stdout: bytes, fmt: str) -> float:
    text = stdout.decode().strip()
    if fmt == "json":
        return float(json.loads(text)["value"])
    return float(text.splitlines()[-1])


def cases(paths, out_path, ctc, skip_torch):
    """[(group, label, cmd, kind, fmt)]: kind lc / numpy / torch; fmt value or json. The first
    row of a group is its tuned NumPy baseline."""
    py, me = sys.executable, os.path.abspath(__file__)
    lc = [py, "-m", "losscalc"]
    a, b = paths["a"], paths["b"]
    ce_files = [a, paths["labels"], paths["weight"]]
    ctc_files = [paths[k] for k in ("lp", "targets", "input_lengths", "target_lengths")]
    torch_cmd = [py, "-c", TORCH_SCRIPT]
    groups = [
        ("mse", [
            ("tuned NumPy: mse", [py, me, "--child", "mse", a, b], "numpy", "value"),
            ("losscalc mse a.npy b.npy --format value", [*lc, "mse", a, b, "--format", "value"], "lc", "value"),
            ("losscalc mse ... --format json", [*lc, "mse", a, b, "--format", "json"], "lc", "json"),
            ("torch: F.mse_loss on from_numpy(mmap)", [*torch_cmd, "mse", a, b], "torch", "value"),
        ], [a, b]),
        ("mse sum + output", [
            ("tuned NumPy: mse sum, elements to e.npy", [py, me, "--child", "mse", a, b, out_path], "numpy", "value"),
            ("losscalc mse ... --reduction sum --output e.npy --format value",
             [*lc, "mse", a, b, "--reduction", "sum", "--output", out_path, "--format", "value"], "lc", "value"),
            ("torch: reduction='none', np.save, .sum()", [*torch_cmd, "mse_out", a, b, out_path], "torch", "value"),
        ], [a, b]),
        ("cross_entropy", [
            ("tuned NumPy: cross_entropy, weight, ignore -1", [py, me, "--child", "ce", *ce_files], "numpy", "value"),
            ("losscalc cross_entropy a.npy labels.npy --weight weight.npy --ignore-index -1 --format value",
             [*lc, "cross_entropy", a, paths["labels"], "--weight", paths["weight"], "--ignore-index", str(IGNORE),
              "--format", "value"], "lc", "value"),
            ("torch: F.cross_entropy(weight=, ignore_index=-1)", [*torch_cmd, "ce", *ce_files], "torch", "value"),
        ], ce_files),
    ]
    if ctc:
        groups.append(("ctc", [
            ("tuned NumPy: ctc (scaled forward, probability space)", [py, me, "--child", "ctc", *ctc_files], "numpy", "value"),
            ("losscalc ctc lp.npy targets.npy input_lengths.npy target_lengths.npy --format value",
             [*lc, "ctc", *ctc_files, "--format", "value"], "lc", "value"),
            ("torch: F.ctc_loss", [*torch_cmd, "ctc", *ctc_files], "torch", "value"),
        ], ctc_files))
    out = []
    available = mem_available()
    for group, runs, files in groups:
        size = sum(os.path.getsize(f) for f in files)
        for label, cmd, kind, fmt in runs:
            if kind == "torch" and (skip_torch or size > available):
                why = "--skip-torch" if skip_torch else (f"its files ({size / 2**30:.1f} GiB) exceed MemAvailable "
                                                         f"({available / 2**30:.1f} GiB)")
                print(f"skipped `{label}`: {why}  ")
                continue
            out.append((group, label, cmd, kind, fmt))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/50 of the rows, for a smoke run")
    parser.add_argument("--tmp", default=None, help="make the temporary directory under DIR")
    parser.add_argument("--keep", action="store_true", help="keep the data files (their directory is printed)")
    parser.add_argument("--repeats", type=int, default=None, help="warm rounds after the cold one (default 1; --quick 2)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a run is killed")
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--skip-ctc", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *files = args.child
        print(repr(CHILDREN[kind](*files)))
        return
    repeats = args.repeats or (2 if args.quick else 1)
    start = time.perf_counter()
    print(f"# bench_scale{' --quick' if args.quick else ''}: `{uptime()}`\n")
    tmp = tempfile.mkdtemp(prefix="bench_scale_", dir=args.tmp)
    try:
        t0 = time.perf_counter()
        paths, rows, c, ctc_shape = write_inputs(tmp, args.quick, not args.skip_ctc)
        size = sum(os.path.getsize(p) for p in paths.values() if os.path.exists(p))
        print(f"inputs: a, b ({rows}, {c}) float32, labels ({rows},), weight ({c},)"
              + (f"; CTC T={ctc_shape[0]} N={ctc_shape[1]} C={ctc_shape[2]} S={ctc_shape[3]} float32" if ctc_shape else "")
              + f"; {size / 2**30:.2f} GiB written in {time.perf_counter() - t0:.0f} s"
              + (f" to {tmp}" if args.keep else "") + f"; load: `{uptime()}`  ")
        out_path = os.path.join(tmp, "e.npy")
        runs = cases(paths, out_path, ctc_shape is not None, args.skip_torch)
        env_lc = {**os.environ}
        env_lc.pop("PYTHONDONTWRITEBYTECODE", None)
        env_np = {**env_lc, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        results = {label: [] for _, label, *_ in runs}
        values, errors = {}, {}
        for r in range(1 + repeats):
            for group, label, cmd, kind, fmt in runs:
                if label in errors:
                    continue
                wall, peak, stdout, stderr = run_sampled(cmd, ROOT, env_np if kind == "numpy" else env_lc,
                                                         check=False, timeout=args.timeout)
                if stdout is None:
                    errors[label] = f"failed after {wall:.1f} s (round {r}): {stderr.strip()[-600:]}"
                    print(f"**{label}**: {errors[label]}  ", flush=True)
                else:
                    results[label].append((wall, peak))
                    if r == 0:
                        values[label] = parse_value(stdout, fmt)
                        if os.path.exists(out_path):
                            e = np.load(out_path, mmap_mode="r")
                            total = sum(float(e[i:i + CHUNK].sum(dtype=np.float64)) for i in range(0, e.size, CHUNK))
                            values[label + " (e.npy)"] = f"{e.shape} {e.dtype}, sum {total!r}"
                            del e
                if os.path.exists(out_path):
                    os.remove(out_path)
            print(f"round {r} done: {time.perf_counter() - start:.0f} s; load `{uptime()}`  ", flush=True)
        report(runs, results, values, errors, repeats)
    finally:
        if args.keep:
            print(f"\nkept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


def report(runs, results, values, errors, repeats):
    print(f"\nrounds: 1 cold + {repeats} warm (median); load: `{uptime()}`\n")
    print("| run | wall s cold | warm | vs tuned NumPy | peak RssAnon MiB | goal met? |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    base, warm_of, misses, checks = {}, {}, [], []
    value_runs = {}
    for group, label, cmd, kind, fmt in runs:
        rs = results[label]
        if not rs:
            print(f"| {label} | FAILED | | | | {'no' if kind == 'lc' else ''} |")
            if kind == "lc":
                misses.append(f"{label}: failed")
            continue
        cold = rs[0][0]
        warm = statistics.median(w for w, _ in rs[1:]) if len(rs) > 1 else cold
        peak = max(p for _, p in rs) / 2**20
        warm_of[label] = warm
        if kind == "numpy":
            base[group] = (label, warm)
        ratio = warm / base[group][1] if group in base else float("nan")
        goal = ""
        if kind == "lc":
            ok_t, ok_m = ratio <= GOAL_RATIO, peak <= GOAL_MIB
            goal = "yes" if ok_t and ok_m else "no: " + ", ".join(
                ([f"{ratio:.2f}x > {GOAL_RATIO}x"] if not ok_t else []) + ([f"{peak:.0f} MiB > {GOAL_MIB}"] if not ok_m else []))
            if not (ok_t and ok_m):
                misses.append(f"{label.split(' --format')[0] if fmt == 'value' else label} ({goal[4:]})")
            if fmt == "value" and group == "mse":
                value_runs["value"] = warm
            if fmt == "json":
                value_runs["json"] = warm
        print(f"| {label} | {cold:.2f} | {warm:.2f} | {ratio:.2f}x | {peak:.0f} | {goal} |")
        if label in values and group in base and base[group][0] in values and kind != "numpy":
            want, got = values[base[group][0]], values[label]
            rtol = 1e-4 if kind == "torch" else 1e-9
            if not np.isclose(got, want, rtol=rtol, atol=0):
                checks.append(f"{label}: {got!r} != tuned NumPy {want!r} (rtol {rtol})")
    print("\nvalues (first round):\n")
    for label, v in values.items():
        print(f"- {label}: `{v!r}`" if isinstance(v, float) else f"- {label}: `{v}`")
    print()
    if "value" in value_runs and "json" in value_runs:
        r = value_runs["json"] / value_runs["value"]
        print(f"json / value (warm): {r:.2f}x (goal <= {GOAL_JSON}x: {'met' if r <= GOAL_JSON else 'MISSED'})  ")
        if r > GOAL_JSON:
            misses.append(f"json {r:.2f}x the value run")
    print(f"goals (within {GOAL_RATIO}x tuned NumPy, peak RssAnon <= {GOAL_MIB} MiB, json <= {GOAL_JSON}x value): "
          + ("**all met**" if not misses else "**MISSED**: " + "; ".join(misses)))
    print("values: " + ("all agree with the tuned pass" if not checks else "**DISAGREE**: " + "; ".join(checks)))


if __name__ == "__main__":
    main()
