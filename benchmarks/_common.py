"""What the benchmarks share: the machine's load, interleaved timing, tracemalloc's peak, RssAnon
sampled from outside a subprocess, and the tuned NumPy pass's reused buffers.

Used by bench_engine.py, bench_all.py and bench_scale.py (run them from anywhere: each puts
this directory on sys.path).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
import tracemalloc

import numpy as np

CHUNK = int(os.environ.get("LOSSCALC_CHUNK_ELEMENTS", 1 << 20))  # losscalc's chunk, in elements
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# --- timing ---------------------------------------------------------------------------------

def timed(fns: dict, repeats: int, pause: float = 0.0, warmup: bool = True) -> dict:
    """{name: (cold: the first call, warm: the median of the others)} in seconds, the functions
    called in interleaved rounds (a drift in the machine's load hits them alike): `repeats`
    rounds, or as many as fill 0.2 s for the fastest, up to 500. `pause`: seconds slept before
    each call (after a parallel region torch's worker threads spin for a while, and on a
    2-core machine that slows whatever runs next; see bench_ctc.py). warmup=False: no warm-up
    call (cold is then None), for calls so slow that the caller has timed a first one already."""
    cold, times = {name: None for name in fns}, {name: [] for name in fns}
    for name, fn in (fns.items() if warmup else ()):
        if pause:
            time.sleep(pause)
        start = time.perf_counter()
        fn()
        cold[name] = time.perf_counter() - start
    rounds = 0
    while rounds < repeats or min(sum(t) for t in times.values()) < 0.2 and rounds < 500:
        for name, fn in fns.items():
            if pause:
                time.sleep(pause)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
        rounds += 1
    return {name: (cold[name], statistics.median(times[name])) for name in fns}


def peak_extra(fn) -> int:
    """Peak bytes newly allocated while `fn()` runs, as tracemalloc sees them (NumPy reports
    its data buffers to tracemalloc; torch does not)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- a subprocess's anonymous memory, sampled from outside ----------------------------------

def rss_anon_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def mem_available() -> int:
    """MemAvailable from /proc/meminfo, in bytes (0 if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


def run_sampled(cmd, cwd, env, check: bool = True, timeout: float | None = None):
    """(wall seconds, peak RssAnon bytes, stdout) of `cmd`, sampled from here every ~10 ms
    (never from inside the child: that slows it many times over). check=False: a failure (or
    running past `timeout` seconds: the child is killed) is returned as (wall, peak, None,
    stderr) instead of raising; a success as (wall, peak, stdout, "")."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, rss_anon_kib(proc.pid))
            if timeout is not None and time.perf_counter() - start > timeout:
                proc.kill()
                proc.wait()
                err.write(f"\nkilled after {timeout:.0f} s (timeout)".encode())
                break
            time.sleep(0.01)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        if not check:
            return wall, peak * 1024, None, stderr.decode(errors="replace")
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {stderr.decode()[-2000:]}")
    return (wall, peak * 1024, stdout) if check else (wall, peak * 1024, stdout, "")


# --- the tuned NumPy pass's helpers ---------------------------------------------------------

_BUFFERS: dict = {}


def buf(slot: int, shape, dtype) -> np.ndarray:
    """A reused scratch buffer (no allocation per chunk, nor per call)."""
    n = int(np.prod(shape))
    key = (slot, np.dtype(dtype).str)
    b = _BUFFERS.get(key)
    if b is None or b.size < n:
        b = _BUFFERS[key] = np.empty(max(n, CHUNK), dtype)
    return b[:n].reshape(shape)


def spans(n: int, per_row: int = 1):
    step = max(1, CHUNK // max(per_row, 1))
    for i in range(0, n, step):
        yield i, min(n, i + step)


def sum64(x) -> float:
    return float(x.sum(dtype=np.float64))


def dot64(x, y) -> float:
    x, y = x.reshape(-1), y.reshape(-1)
    if x.dtype != np.float64:
        b = buf(10, x.shape, np.float64)
        np.copyto(b, x)
        x = b
    if y.dtype != np.float64:
        b = buf(11, y.shape, np.float64)
        np.copyto(b, y)
        y = b
    return float(np.dot(x, y))
