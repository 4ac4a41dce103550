"""The local engine: a plan's chunks on a pool of threads (NumPy releases the GIL), in order.

Chunks are submitted a few ahead of the one being consumed, so memory holds only a handful
of chunks whatever the input's size; results are consumed in chunk order, so a run gives
bit-identical partials for any number of threads. `--threads 1` uses no pool.
"""

from __future__ import annotations

import os
import sys
from collections import deque

from ..errors import held, warn

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (glibc's malloc.h)
_malloc_tuned = False


def default_threads() -> int:
    return os.cpu_count() or 1


def keep_freed_memory() -> None:
    """Ask glibc's malloc to keep the blocks a chunk frees for the next chunk.

    By default glibc hands blocks of a few MiB (a chunk's temporaries) back to the kernel and
    maps fresh pages for the next chunk: a page fault for every 4 KiB touched, which on these
    VMs costs more than the arithmetic (mse over 1e7 float64: ~6,000 faults and twice the time).
    With blocks up to 32 MiB taken from the heap and the heap not trimmed, the process keeps its
    peak, which the chunks bound. Once per process, on Linux with glibc, for runs of many chunks."""
    global _malloc_tuned
    if _malloc_tuned or not sys.platform.startswith("linux"):
        return
    _malloc_tuned = True
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    except (OSError, AttributeError):  # not glibc: its allocator is left as it is
        pass


def run_chunks(plan, threads: int | None = None, progress=None, slim: bool = False):
    """Yield (chunk, out, partials, arrays) for every chunk of `plan`, in order. `slim`: the
    consumer needs the partials alone (a mean or sum with no sink and no view), so each chunk's
    elements, terms and arrays are let go on its thread, not kept while it waits its turn."""
    threads = threads or default_threads()
    if slim:
        plan = _Slim(plan)
    if len(plan) > 1:
        keep_freed_memory()
    if threads == 1 or len(plan) == 1:
        for chunk in plan.chunks:
            yield (chunk, *plan.run(chunk))
            if progress:
                progress(chunk.index + 1, len(plan))
        return
    from concurrent.futures import ThreadPoolExecutor  # imported when there is more than one chunk

    pool = ThreadPoolExecutor(threads, thread_name_prefix="losscalc")
    pending: deque = deque()
    todo = iter(plan.chunks)
    try:
        for chunk in todo:
            pending.append((chunk, pool.submit(_holding, plan.run, chunk)))
            if len(pending) > threads:
                break
        while pending:
            chunk, future = pending.popleft()
            result, said = future.result()
            for nxt in todo:
                pending.append((nxt, pool.submit(_holding, plan.run, nxt)))
                break
            for message in said:  # a chunk's warnings, said in chunk order, whichever thread ran first
                warn(message)
            yield (chunk, *result)
            if progress:
                progress(chunk.index + 1, len(plan))
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _holding(run, chunk):
    """run(chunk) on a worker thread, with the warnings it would emit held back: (its result,
    their messages), for the consumer to say in chunk order."""
    with held() as said:
        return run(chunk), said


class _Slim:
    """A plan whose chunks give back their partials and the shape of their elements only."""

    def __init__(self, plan):
        self.plan, self.chunks = plan, plan.chunks

    def __len__(self):
        return len(self.chunks)

    def run(self, chunk):
        return (*self.plan.partials(chunk), None)
