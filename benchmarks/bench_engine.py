"""The chunked engine against torch CPU and a tuned NumPy pass, in one run (issue 9's goals).

    python benchmarks/bench_engine.py [--quick] [--repeats 5] [--big-repeats 3] [--tmp DIR]
                                      [--skip-memory] [--skip-big] [--skip-startup]

Three tables, in markdown, each headed by the machine's load (`uptime`; the machine is shared):

1. In memory: losscalc.compute at its default threads (the machine's cores) and at threads=1,
   torch.nn.functional at torch.set_num_threads(2) and (1), and a tuned NumPy pass (one thread:
   ~1M-element chunks, `out=` buffers reused across chunks, float64 accumulation) on the same
   arrays. Each losscalc and NumPy value is checked against torch first (rtol 1e-10 float64,
   1e-5 float32). Times are the median of --repeats interleaved rounds (more for calls under
   0.2 s in all) after one warm-up, which is also reported as "cold": memory freed a moment ago
   is slow to touch again on these VMs for about a second, which a one-shot user pays.
   "keep=0": compute(..., keep=0), which does not gather the elements into a whole array (the
   default keeps up to 2**28 of them; the CLI keeps few). "extra" is losscalc's peak of newly
   allocated memory (tracemalloc, which sees NumPy's buffers) as a multiple of the inputs.
2. A big file: `losscalc mse a.npy b.npy` on two float32 .npy files of 2.5e8 elements (1 GB
   each, written to a temporary directory in slices and deleted after) as a subprocess, with
   --format value, --format json and --reduction none --output out.npy, against the tuned NumPy
   pass over the same memory maps (also a subprocess; float64 differences, as losscalc's default
   --dtype; a --dtype float32 run is shown too). Wall time (cold: first run; warm: median
   of the others) and peak RssAnon, sampled from /proc/PID/status by this process every ~10 ms
   (never from inside the child: that slows it many times over).
3. Start-up: `losscalc mse 1,2 0,0 --format value` against `python -c "import numpy"`, as in
   bench_startup.py (bytecode compiled, PYTHONDONTWRITEBYTECODE unset, one BLAS thread, median
   of interleaved runs). Goal: 1.3x.

--quick: 10x smaller inputs, a 2.5e7-element file, 5 start-up runs.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the tuned NumPy pass is one thread; so is BLAS

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (CHUNK, ROOT, buf, dot64, peak_extra, run_sampled, spans,  # noqa: E402
                     sum64, timed, uptime)


# --- the tuned NumPy pass -------------------------------------------------------------------

def np_mse(a, b):
    a, b = a.reshape(-1), b.reshape(-1)
    total = 0.0
    for i, j in spans(a.size):
        d = np.subtract(a[i:j], b[i:j], out=buf(0, j - i, a.dtype))
        total += dot64(d, d)
    return total / a.size


def _np_huberish(a, b, delta):
    """sum of m * (d - m/2), m = min(d, delta), d = |a - b|: huber's elements (smooth_l1's * beta)."""
    a, b = a.reshape(-1), b.reshape(-1)
    total = 0.0
    for i, j in spans(a.size):
        d = np.abs(np.subtract(a[i:j], b[i:j], out=buf(0, j - i, a.dtype)), out=buf(0, j - i, a.dtype))
        m = np.minimum(d, delta, out=buf(1, j - i, a.dtype))
        t = np.multiply(m, -0.5, out=buf(2, j - i, a.dtype))
        np.add(t, d, out=t)
        total += dot64(m, t)
    return total


def np_smooth_l1(a, b, beta=1.0):
    return _np_huberish(a, b, beta) / beta / a.size


def np_huber(a, b, delta=1.0):
    return _np_huberish(a, b, delta) / a.size


def np_soft_margin(x, y):
    x, y = x.reshape(-1), y.reshape(-1)
    total = 0.0
    for i, j in spans(x.size):
        z = np.multiply(x[i:j], y[i:j], out=buf(0, j - i, x.dtype))
        np.negative(z, out=z)  # softplus(z) = max(z, 0) + log1p(exp(-|z|)) (np.logaddexp: 6x slower)
        e = np.abs(z, out=buf(1, j - i, x.dtype))
        np.negative(e, out=e)
        np.exp(e, out=e)
        np.log1p(e, out=e)
        np.maximum(z, 0.0, out=z)
        total += sum64(z) + sum64(e)
    return total / x.size


def np_bce(x, y):
    x, y = x.reshape(-1), y.reshape(-1)
    total = 0.0
    for i, j in spans(x.size):
        lx = np.log(x[i:j], out=buf(0, j - i, x.dtype))
        np.maximum(lx, -100.0, out=lx)
        l1 = np.subtract(1.0, x[i:j], out=buf(1, j - i, x.dtype))
        np.log(l1, out=l1)
        np.maximum(l1, -100.0, out=l1)
        np.subtract(lx, l1, out=lx)  # y*log x + (1-y)*log(1-x) = y*(log x - log(1-x)) + log(1-x)
        total -= dot64(y[i:j], lx) + sum64(l1)
    return total / x.size


def np_nll(x, t):
    n, c = x.shape
    total = 0.0
    for i, j in spans(n, c):
        total -= sum64(x[np.arange(i, j), t[i:j]])
    return total / n


def np_multi_margin(x, t, margin=1.0):
    n, c = x.shape
    total = 0.0
    for i, j in spans(n, c):
        xc = x[i:j]
        xy = xc[np.arange(j - i), t[i:j]]
        b = np.subtract(xc, xy[:, None], out=buf(0, xc.shape, x.dtype))
        np.add(b, margin, out=b)
        np.maximum(b, 0.0, out=b)
        total += sum64(b) - margin * (j - i)  # the j == y terms are exactly `margin`
    return total / (n * c)


def np_multilabel_margin(x, y):
    n, c = x.shape
    total = 0.0
    for i, j in spans(n, c):
        xc, yc = x[i:j], y[i:j]
        r = j - i
        neg = yc < 0
        nlab = np.where(neg.any(axis=1), neg.argmax(axis=1), c)
        kmax = int(nlab.max()) if r else 0
        rows = np.arange(r)
        is_target = np.zeros((r, c), bool)
        for k in range(kmax):
            has = nlab > k
            is_target[rows[has], yc[has, k]] = True
        b = buf(0, xc.shape, x.dtype)
        for k in range(kmax):
            xk = xc[rows, np.where(nlab > k, yc[:, k], 0)]
            xk = np.where(nlab > k, xk, np.inf).astype(x.dtype)  # no label k: every term is 0
            np.subtract(xc, xk[:, None], out=b)
            np.add(b, 1.0, out=b)
            np.maximum(b, 0.0, out=b)
            b[is_target] = 0.0
            total += sum64(b)
    return total / (n * c)


def np_cross_entropy(x, t):
    """x (N, C, ...), t (N, ...): mean of logsumexp over C minus the target's score."""
    n, c = x.shape[:2]
    per = int(np.prod(x.shape[1:]))
    total, count = 0.0, 0
    for i, j in spans(n, per):
        xc = x[i:j]
        m = xc.max(axis=1, keepdims=True)
        e = np.subtract(xc, m, out=buf(0, xc.shape, x.dtype))
        np.exp(e, out=e)
        s = e.sum(axis=1)
        np.log(s, out=s)
        s += m[:, 0]
        s -= np.take_along_axis(xc, t[i:j][:, None], axis=1)[:, 0]
        total += sum64(s)
        count += s.size
    return total / count


# --- 1. in memory ---------------------------------------------------------------------------

def cases(quick: bool):
    """(label, losscalc name, torch function name, NumPy function, dtype, maker, shape), maker(rng)
    giving the arrays in PyTorch's forward order."""
    s = 10 if quick else 1
    n_el, n_rows = 10**7 // s, 10**5 // s

    def normal2(rng, dtype=np.float64):
        return rng.normal(size=n_el).astype(dtype), rng.normal(size=n_el).astype(dtype)

    def nll(rng):
        x = rng.normal(size=(10**4 // s, 1000))
        x -= np.log(np.exp(x).sum(axis=1, keepdims=True))  # log-probabilities
        return x, rng.integers(0, 1000, x.shape[0])

    def multilabel(rng):
        x = rng.normal(size=(n_rows, 100))
        y = np.full(x.shape, -1, np.int64)
        y[:, 0] = rng.integers(0, 100, n_rows)
        y[:, 1] = (y[:, 0] + rng.integers(1, 100, n_rows)) % 100  # two distinct labels, then -1
        return x, y

    def rows(dtype):
        return lambda rng: (rng.normal(size=(n_rows, 100)).astype(dtype), rng.integers(0, 100, n_rows))

    def soft(rng):
        x = rng.normal(size=n_el)
        return x, np.where(rng.random(n_el) < 0.5, -1.0, 1.0)

    def bce(rng):
        return rng.uniform(1e-6, 1 - 1e-6, n_el), rng.random(n_el)

    def seg(rng):
        x = rng.normal(size=(16 // (2 if quick else 1), 21, 128 // (2 if quick else 1), 128)).astype(np.float32)
        return x, rng.integers(0, 21, (x.shape[0], *x.shape[2:]))

    f64 = (f"{n_el:.0e} el", f"({n_rows}, 100)")
    return [
        ("nll", "nll", "nll_loss", np_nll, "float64", nll, f"({10**4 // s}, 1000)"),
        ("multilabel_margin", "multilabel_margin", "multilabel_margin_loss", np_multilabel_margin, "float64", multilabel, f64[1]),
        ("smooth_l1", "smooth_l1", "smooth_l1_loss", np_smooth_l1, "float64", normal2, f64[0]),
        ("huber", "huber", "huber_loss", np_huber, "float64", normal2, f64[0]),
        ("multi_margin", "multi_margin", "multi_margin_loss", np_multi_margin, "float64", rows(np.float64), f64[1]),
        ("mse", "mse", "mse_loss", np_mse, "float64", normal2, f64[0]),
        ("soft_margin", "soft_margin", "soft_margin_loss", np_soft_margin, "float64", soft, f64[0]),
        ("bce", "bce", "binary_cross_entropy", np_bce, "float64", bce, f64[0]),
        ("cross_entropy", "cross_entropy", "cross_entropy", np_cross_entropy, "float32", seg,
         "(8, 21, 64, 128)" if quick else "(16, 21, 128, 128)"),
        ("multi_margin", "multi_margin", "multi_margin_loss", np_multi_margin, "float32", rows(np.float32), f64[1]),
    ]


def in_memory(args):
    import torch
    import torch.nn.functional as F

    from losscalc import compute

    cores = os.cpu_count() or 1
    print(f"## 1. In memory: losscalc.compute vs torch CPU vs tuned NumPy\n")
    print(f"load: `{uptime()}`  \ncores: {cores}; chunk: {CHUNK} elements; median of {args.repeats} "
          f"interleaved rounds (or more, to fill 0.2 s) after a warm-up (cold = the warm-up); torch {torch.__version__}; times in ms. "
          f"lc = losscalc.compute, T = threads; NumPy = the tuned pass, one thread.\n")
    print("| loss | dtype | shape | lc T=2 | torch T=2 | **lc/torch T=2** | lc keep=0 T=2 | keep=0/torch | "
          "lc T=1 | torch T=1 | **lc/torch T=1** | NumPy | lc T=1/NumPy | lc cold T=2 | torch cold T=2 | "
          "lc extra (x inputs) |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rng = np.random.default_rng(0)
    warnings.simplefilter("ignore")
    summary = []
    for label, name, tname, np_fn, dtype, make, shape in cases(args.quick):
        arrays = make(rng)
        tensors = [torch.from_numpy(a) for a in arrays]
        tfn = getattr(F, tname)
        rtol = 1e-10 if dtype == "float64" else 1e-5
        torch.set_num_threads(1)
        ref = float(tfn(*tensors))
        got = float(compute(name, *arrays, dtype=dtype).value)
        tuned = float(np_fn(*arrays))
        if not np.isclose(got, ref, rtol=rtol, atol=0):
            raise SystemExit(f"{label} {dtype}: losscalc {got!r} != torch {ref!r} (rtol {rtol})")
        if not np.isclose(tuned, ref, rtol=rtol, atol=0):
            print(f"<!-- {label} {dtype}: tuned NumPy {tuned!r} != torch {ref!r} -->")
        torch.set_num_threads(2)  # losscalc's default: the machine's cores
        row = timed({"lc2": lambda: compute(name, *arrays, dtype=dtype),
                     "lc2k0": lambda: compute(name, *arrays, dtype=dtype, keep=0),
                     "torch2": lambda: tfn(*tensors)}, args.repeats)
        torch.set_num_threads(1)
        row.update(timed({"lc1": lambda: compute(name, *arrays, dtype=dtype, threads=1),
                          "torch1": lambda: tfn(*tensors),
                          "np": lambda: np_fn(*arrays)}, args.repeats))
        nbytes = sum(a.nbytes for a in arrays)
        extra = peak_extra(lambda: compute(name, *arrays, dtype=dtype)) / nbytes
        r2 = row["lc2"][1] / row["torch2"][1]
        r1 = row["lc1"][1] / row["torch1"][1]
        ms = lambda s: f"{s * 1e3:.1f}" if s >= 0.01 else f"{s * 1e3:.3f}"  # noqa: E731
        print(f"| {label} | {dtype} | {shape} | {ms(row['lc2'][1])} | {ms(row['torch2'][1])} | **{r2:.2f}x** | "
              f"{ms(row['lc2k0'][1])} | {row['lc2k0'][1] / row['torch2'][1]:.2f}x | {ms(row['lc1'][1])} | {ms(row['torch1'][1])} | **{r1:.2f}x** | {ms(row['np'][1])} | "
              f"{row['lc1'][1] / row['np'][1]:.2f}x | {ms(row['lc2'][0])} | {ms(row['torch2'][0])} | {extra:.2f} |",
              flush=True)
        summary.append((label, dtype, r2, r1))
        del arrays, tensors
    torch.set_num_threads(cores)
    print(f"\nload after: `{uptime()}`\n")
    return summary


# --- 2. a big file --------------------------------------------------------------------------

TUNED_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    chunk = int(sys.argv[3])
    a = np.load(sys.argv[1], mmap_mode="r").reshape(-1)
    b = np.load(sys.argv[2], mmap_mode="r").reshape(-1)
    d = np.empty(chunk, np.float64)
    total = 0.0
    for i in range(0, a.size, chunk):  # in float64, as losscalc's default --dtype
        j = min(a.size, i + chunk)
        x = np.subtract(a[i:j], b[i:j], out=d[:j - i], dtype=np.float64)
        total += float(np.dot(x, x))
    print(repr(total / a.size))
""")


def big_file(args):
    n = 25 * 10**6 if args.quick else 25 * 10**7
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"## 2. A big file: two float32 .npy files of {n:.2e} elements ({n * 4 / 1e9:.2f} GB each)\n")
    with tempfile.TemporaryDirectory(prefix="bench_engine_", dir=args.tmp) as tmp:
        a_path, b_path, o_path = (os.path.join(tmp, f) for f in ("a.npy", "b.npy", "out.npy"))
        rng = np.random.default_rng(1)
        start = time.perf_counter()
        for path in (a_path, b_path):
            m = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n,))
            step = 1 << 24
            for i in range(0, n, step):
                m[i:i + step] = rng.standard_normal(min(step, n - i), dtype=np.float32)
            m.flush()
            del m
        print(f"written in {time.perf_counter() - start:.1f} s; load: `{uptime()}`  ")
        lc = [sys.executable, "-m", "losscalc", "mse", a_path, b_path]
        runs = {
            "tuned NumPy (memmap, chunked, 1 thread)": [sys.executable, "-c", TUNED_SCRIPT, a_path, b_path, str(CHUNK)],
            "losscalc mse a.npy b.npy --format value": [*lc, "--format", "value"],
            "losscalc ... --format value --dtype float32": [*lc, "--format", "value", "--dtype", "float32"],
            "losscalc ... --format json": [*lc, "--format", "json"],
            "losscalc ... --reduction none --output out.npy": [*lc, "--reduction", "none", "--output", o_path],
        }
        results, values = {}, {}
        # interleaved: one pass of every command is a round; the first round is "cold"
        rounds = 1 + max(2, args.big_repeats)
        for r in range(rounds):
            for label, cmd in runs.items():
                wall, peak, stdout = run_sampled(cmd, ROOT, env)
                results.setdefault(label, []).append((wall, peak, len(stdout)))
                if r == 0:
                    values[label] = stdout.decode().strip()[:120]
                if os.path.exists(o_path):
                    if r == 0:
                        out = np.load(o_path, mmap_mode="r")
                        values[label] = f"out.npy {out.shape} {out.dtype}, first {out[0]!r}"
                        del out
                    os.remove(o_path)
        print(f"rounds: {rounds} (cold = the first; warm = median of the rest); "
              f"inputs {2 * n * 4 / 2**20:.0f} MiB; load after: `{uptime()}`\n")
        base_warm = statistics.median(w for w, _, _ in results["tuned NumPy (memmap, chunked, 1 thread)"][1:])
        lc_value_warm = statistics.median(w for w, _, _ in results["losscalc mse a.npy b.npy --format value"][1:])
        print("| run | cold s | warm s | warm / tuned NumPy | peak RssAnon MiB | stdout bytes |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for label, rs in results.items():
            warm = statistics.median(w for w, _, _ in rs[1:])
            peak = max(p for _, p, _ in rs)
            print(f"| {label} | {rs[0][0]:.2f} | {warm:.2f} | {warm / base_warm:.2f}x | {peak / 2**20:.0f} | {rs[0][2]} |")
        json_warm = statistics.median(w for w, _, _ in results["losscalc ... --format json"][1:])
        print(f"\njson / value (warm): {json_warm / lc_value_warm:.2f}x\n")
        print("values (first round):\n")
        for label, v in values.items():
            print(f"- {label}: `{v}`")
        print()


# --- 3. start-up ----------------------------------------------------------------------------

def startup(args):
    runs = 5 if args.quick else args.startup_runs
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c \"import numpy\"": [sys.executable, "-c", "import numpy"],
        "losscalc mse 1,2 0,0 --format value": [sys.executable, "-m", "losscalc", "mse", "1,2", "0,0", "--format", "value"],
    }
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for cmd in commands.values():  # warm-up: writes the bytecode, fills the file cache
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    times = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            start = time.perf_counter()
            subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["python -c \"import numpy\""])
    print(f"## 3. Start-up (median of {runs} interleaved runs)\n")
    print(f"load: `{uptime()}`\n")
    print("| command | median ms | vs import numpy |")
    print("| --- | ---: | ---: |")
    for name, t in times.items():
        m = statistics.median(t)
        print(f"| `{name}` | {m * 1e3:.1f} | {m / base:.2f}x |")
    ratio = statistics.median(times["losscalc mse 1,2 0,0 --format value"]) / base
    print(f"\nstart-up goal 1.3x: {'met' if ratio <= 1.3 else 'NOT met'} ({ratio:.2f}x)\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller inputs, a 2.5e7-element file")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs after the warm-up (in memory)")
    parser.add_argument("--big-repeats", type=int, default=3, help="warm rounds of the big-file runs")
    parser.add_argument("--startup-runs", type=int, default=20)
    parser.add_argument("--tmp", default=None, help="directory for the big files (default: the system's)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-startup", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    start = time.perf_counter()
    import losscalc

    print(f"# bench_engine{' --quick' if args.quick else ''}: `{uptime()}`\n")
    print(f"losscalc from {os.path.dirname(losscalc.__file__)}; numpy {np.__version__}; python {sys.version.split()[0]}\n")
    if not args.skip_memory:
        summary = in_memory(args)
        slower = [f"{label} {dtype} ({r2:.2f}x)" for label, dtype, r2, _ in summary if r2 > 1.0]
        print(f"slower than torch at 2 threads: {', '.join(slower) or 'none'}\n")
    if not args.skip_big:
        big_file(args)
    if not args.skip_startup:
        startup(args)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
