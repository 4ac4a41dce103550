"""The local engine: a plan's chunks on a pool of threads (NumPy releases the GIL), in order.

Chunks are submitted a few ahead of the one being consumed, so memory holds only a handful
of chunks whatever the input's size; results are consumed in chunk order, so a run gives
bit-identical partials for any number of threads. `--threads 1` uses no pool.
"""

from __future__ import annotations

import os
from collections import deque


def default_threads() -> int:
    return os.cpu_count() or 1


def run_chunks(plan, threads: int | None = None, progress=None):
    """Yield (chunk, out, partials, arrays) for every chunk of `plan`, in order."""
    threads = threads or default_threads()
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
            pending.append((chunk, pool.submit(plan.run, chunk)))
            if len(pending) > threads:
                break
        while pending:
            chunk, future = pending.popleft()
            result = future.result()
            for nxt in todo:
                pending.append((nxt, pool.submit(plan.run, nxt)))
                break
            yield (chunk, *result)
            if progress:
                progress(chunk.index + 1, len(plan))
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
