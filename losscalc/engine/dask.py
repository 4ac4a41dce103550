"""The Dask engine (SPEC §13): the plan's chunks as tasks of a dask.distributed cluster.

`run_dask(plan, ...)` sends the plan to the cluster once (`client.scatter(..., broadcast=True)`):
it holds paths and small arrays only (a `readers.npy.Mapped` pickles as its path, `Shards` as
its members), never the data, and its relative paths are made absolute on the client first,
since workers may run in another directory. Every chunk of the plan is one task that runs
`plan.run(chunk)` on a worker: the worker maps or reads the rows of the chunk from the files
itself, runs the loss's kernel and returns a small summary: the chunk's `Partials`, the
LossWarning messages the kernel raised and, for a chunk whose sum is not finite, the NaN and
inf counts of its cut tensors (as compute() counts them locally). The summaries are added by
a tree reduction on the workers (`SPLIT_EVERY` summaries per combine task, in chunk order, in
float64), so the value equals the local engine's to rounding (1e-12 relative). Nothing is
unpickled from the inputs (no `dask.array.from_npy_stack`): .npy headers are parsed with
`allow_pickle=False` by the readers.

Views (SPEC §10: --top/--bottom, --group-by, the summary): the run's Views is sent once too,
empty, its group labels as the plan's tensors are (a file as its absolute path, shards one
by one; labels named after one of the loss's tensors are that tensor's chunk). Each chunk task
fills a new Views with its chunk (`Views.take`, the local engine's code) and returns it, without
the labels, in its summary; the combine tasks merge them into a new Views in chunk order, so
top/bottom (ties to the lower index), the group counts, the histogram counts and the exact
quantiles equal the local engine's, and the float64 group sums and the summary's mean and std
equal them to rounding (the tree groups the additions; 1e-12 relative). `--top` rows' breakdowns
are made by the client, which re-runs those few chunks.

Elements (`--reduction none`, `--output`): the chunk tasks then also return their elements,
and the client streams them in chunk order, one block at a time (`Run.blocks`), to the sinks
(the --output file is written by the client, in order, as with the local engine); at most
`WINDOW` chunks are in flight, and a chunk's elements are dropped on the worker once the
client has them and its combine task has run, so neither the client nor the workers hold all
the elements. The run's partials are known once the last block has arrived.

The cluster: `--scheduler ADDRESS`, else `DASK_SCHEDULER_ADDRESS` (Dask's own
`scheduler-address` setting), else a `LocalCluster` of 2 worker processes on 127.0.0.1 (no
dashboard) started for the call and closed after it. A scheduler not reached within
`--scheduler-timeout` seconds, a file a worker cannot read (workers read paths themselves),
a LossError raised by a kernel on a worker, and a task whose workers kept dying are all
LossErrors (exit 2). A worker lost mid-run is Dask's business: it reruns the lost tasks,
and the answer does not change (each task is a pure function of the plan and its chunk).

Warnings are recorded per task with `warnings.catch_warnings`, which is process-wide: on
workers running several threads, a message may be counted with another chunk (the run's
messages are the same; compute() says each once).
"""

from __future__ import annotations

import copy
import os
import uuid
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import LossError, LossWarning
from ..readers.base import LazyArray
from ..reduction import Partials

SPLIT_EVERY = 8  # summaries added per combine task: the fan-in of the tree reduction
WINDOW = 16  # chunk tasks in flight when their elements stream to the client
LOCAL_WORKERS = 2
INSTALL = "pip install 'losscalc[dask]'"
SEE = "Workers read the input files from their paths themselves: every worker must see that path, " \
      "with the same contents."


# ---- on the workers ------------------------------------------------------------------------

@dataclass
class Summary:
    """What the reducer needs of one chunk or of a run of consecutive chunks."""

    partials: Partials
    messages: list = field(default_factory=list)
    nonfinite: dict = field(default_factory=dict)
    shape: tuple | None = None  # the whole elements' shape (from the first chunk)
    views: object = None  # engine/views.py's Views of these chunks, without the group labels

    def add(self, other: "Summary") -> "Summary":
        """This run of chunks followed by `other`'s; neither is changed (a task's result may be
        an input again if a combine task is rerun), so the views are merged into a new Views."""
        counts = dict(self.nonfinite)
        for name, (nan, inf) in other.nonfinite.items():
            old = counts.get(name, (0, 0))
            counts[name] = (old[0] + nan, old[1] + inf)
        views = None
        if self.views is not None:
            views = self.views.empty().merge(self.views).merge(other.views)
        return Summary(self.partials.add(other.partials), self.messages + other.messages, counts,
                       self.shape if self.shape is not None else other.shape, views)


def _chunk_task(plan, chunk, elements: bool, views=None):
    """One chunk on a worker: its summary (with its views when `views`, the run's Views with
    nothing in it, is given), and its elements when they are wanted."""
    from . import _nonfinite

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, part, arrays = plan.run(chunk)
        if views is not None:  # the worker's copy of the Views sent is shared: fill a new one
            views = views.empty()
            views.take(plan, chunk, plan.element_start(chunk, out), out, arrays)
            views.labels = None
    messages = [str(w.message) for w in caught if issubclass(w.category, LossWarning)]
    counts: dict = {}
    if not np.isfinite(part.total):
        cut = set(plan.split.axes) | set(plan.split.cutters) if plan.split else set(plan.inputs)
        _nonfinite(counts, arrays, cut)
    summary = Summary(part, messages, counts, plan.elements_shape(out), views)
    return (summary, np.asarray(out.elements)) if elements else summary


def _combine(*parts) -> Summary:
    """Consecutive summaries (or chunk results) added in their order; their views merged into
    one new Views, in the same order."""
    summaries = [p[0] if isinstance(p, tuple) else p for p in parts]
    total = summaries[0]
    for s in summaries[1:]:
        total = replace(total, views=None).add(replace(s, views=None))
    if summaries[0].views is not None:
        views = summaries[0].views.empty()
        for s in summaries:
            views.merge(s.views)
        total = replace(total, views=views)
    return total


class _Guarded(LazyArray):
    """A reader as sent to the workers: its path absolute, and a failed read a LossError that
    names the tensor and the file (the worker reads the path itself)."""

    def __init__(self, inner, label: str, path: str):
        self.inner, self.label, self.path = inner, label, path
        self.shape, self.dtype = tuple(inner.shape), np.dtype(inner.dtype)
        self.source = getattr(inner, "source", path)
        self.chunk_rows = getattr(inner, "chunk_rows", None)

    def read(self, start: int, stop: int) -> np.ndarray:
        try:
            return np.asarray(self.inner[start:stop])
        except LossError as exc:  # the reader's own words; if the worker cannot see the file, say why
            if os.access(self.path, os.R_OK):
                raise
            raise LossError(f"{str(exc).rstrip('.')}, on a Dask worker. {SEE}") from None
        except (OSError, ValueError, EOFError, MemoryError) as exc:
            raise LossError(f"{self.label}: a Dask worker could not read {self.path!r} "
                            f"({getattr(exc, 'strerror', None) or exc}). {SEE}") from None


# ---- on the client -------------------------------------------------------------------------

def _whole_map(a) -> bool:
    """An np.memmap of a whole file region (np.load's), which a Mapped can stand for."""
    return isinstance(a, np.memmap) and isinstance(getattr(a, "filename", None), str) \
        and a.base is not None and not isinstance(a.base, np.ndarray)


def _for_workers(a, label: str):
    """A reader as sent: a memory map as its path (readers.npy.Mapped), a LazyArray holding a
    path copied with the path made absolute, both guarded; anything else as it is."""
    from ..readers.npy import Mapped

    if _whole_map(a):
        a = Mapped.of(a)
    path = getattr(a, "path", None)
    if not isinstance(a, LazyArray) or not isinstance(path, str):
        return a
    a = copy.copy(a)
    a.path = os.path.abspath(path)
    return _Guarded(a, label, a.path)


def _tensor_for_workers(name: str, a):
    """One tensor as sent: each of its shards, or its file, as `_for_workers` sends it."""
    from ..readers.shards import Shards

    if isinstance(a, Shards):
        shards = copy.copy(a)
        shards.members = [_for_workers(m, f"{name} (shard {shard})") for m, shard in zip(a.members, a.names)]
        return shards
    path = getattr(a, "filename", None) if isinstance(a, np.memmap) else getattr(a, "path", "")
    return _for_workers(a, f"{name} (file {os.path.basename(str(path))})")


def for_workers(plan):
    """A copy of `plan` as it is sent to the cluster: every reader's path made absolute on the
    client (workers may run in another directory), shard by shard; the data is not read."""
    sent = copy.copy(plan)
    sent.inputs = {name: _tensor_for_workers(name, a) for name, a in plan.inputs.items()}
    return sent


def views_for_workers(views):
    """The run's Views as sent to the cluster, once: empty, its group labels (a file or shards
    of the group labels) sent as the plan's tensors are."""
    sent = views.empty()
    if sent.labels is not None:
        sent.labels = _tensor_for_workers("--group-by", sent.labels)
    return sent


def _import():
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError:
        raise LossError(f"--engine dask needs dask and distributed, which are not installed: {INSTALL}") from None
    return distributed


def _connect(distributed, scheduler: str | None, timeout: float):
    """(client, cluster or None): the cluster named, or a local one started for the call."""
    import dask

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or dask.config.get("scheduler-address", None)
    if address:
        from distributed.comm.addressing import parse_address, parse_host_port

        try:  # a malformed address said before a Client is made (a failed one complains when collected)
            scheme, location = parse_address(str(address), strict=False)
            if scheme in ("tcp", "tls"):
                parse_host_port(location)
        except ValueError as exc:
            raise LossError(f"--scheduler: {address!r} is not a Dask scheduler address ({exc}).") from None
        try:
            client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise LossError(f"--scheduler: could not reach the Dask scheduler at {address} within "
                            f"{timeout:g} s ({exc}).") from None
        except ValueError as exc:  # a malformed address
            raise LossError(f"--scheduler: {address!r} is not a Dask scheduler address ({exc}).") from None
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            client.close()
            raise LossError(f"--scheduler: the Dask scheduler at {address} has no workers "
                            f"(none joined within {timeout:g} s).") from None
        return client, None
    try:
        cluster = distributed.LocalCluster(n_workers=LOCAL_WORKERS, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None, silence_logs=40)
    except (OSError, TimeoutError, RuntimeError) as exc:  # RuntimeError: a worker process failed to start
        raise LossError(f"--engine dask: could not start a local Dask cluster ({exc}).") from None
    return distributed.Client(cluster, timeout=timeout, set_as_default=False), cluster


class Run:
    """The result of a Dask run, as compute() consumes it: `blocks` (None, or the chunks'
    elements in order), then `partials`, `messages`, `nonfinite`, `shape` and `views` (the
    chunks' views merged, without the labels; None when no views were asked for)."""

    def __init__(self, summary: Summary | None = None, blocks=None, shape=None, finish=None):
        self._summary, self.blocks, self._shape, self._finish = summary, blocks, shape, finish

    def _done(self) -> Summary:
        if self._summary is None:
            for _ in self.blocks:  # blocks not taken: the run is finished without them
                pass
            self._summary = self._finish()
        return self._summary

    @property
    def partials(self) -> Partials:
        return self._done().partials

    @property
    def messages(self) -> list:
        return self._done().messages

    @property
    def nonfinite(self) -> dict:
        return self._done().nonfinite

    @property
    def views(self):
        return self._done().views

    @property
    def shape(self) -> tuple:
        return self._shape if self._shape is not None else self._done().shape


def _worker_error(distributed, exc: BaseException):
    """A failure on the cluster as a LossError (a kernel's own LossError comes back as it is)."""
    if isinstance(exc, LossError):
        return exc
    killed = getattr(distributed, "KilledWorker", None)
    if killed is not None and isinstance(exc, killed):
        return LossError(f"--engine dask: a task's workers kept dying ({exc}); the run was given up.")
    return None


class _Tree:
    """A tree reduction built as the chunk tasks are submitted: every SPLIT_EVERY consecutive
    futures of a level become one combine task of the level above (on the workers)."""

    def __init__(self, client, token: str):
        self.client, self.token, self.levels, self.count = client, token, [[]], 0

    def _submit(self, parts):
        self.count += 1
        return self.client.submit(_combine, *parts, key=f"losscalc-combine-{self.token}-{self.count}")

    def push(self, future, level: int = 0) -> None:
        while len(self.levels) <= level:
            self.levels.append([])
        self.levels[level].append(future)
        if len(self.levels[level]) == SPLIT_EVERY:
            parts, self.levels[level] = self.levels[level], []
            self.push(self._submit(parts), level + 1)

    def root(self):
        """The final future: the leftovers of every level, in chunk order (higher levels hold
        earlier chunks), combined level by level."""
        rest = [f for level in reversed(self.levels) for f in level]
        while len(rest) > 1:
            rest = [self._submit(rest[i:i + SPLIT_EVERY]) if len(rest[i:i + SPLIT_EVERY]) > 1
                    else rest[i] for i in range(0, len(rest), SPLIT_EVERY)]
        return rest[0]


def run_dask(plan, *, scheduler: str | None, timeout: float, elements: bool, views=None) -> Run:
    """The plan's chunks as Dask tasks, their partials added by a tree reduction on the workers;
    `views` (engine/views.py's Views, or None): the views of SPEC §10 are made of each chunk by
    its task and merged by the same tree, in chunk order."""
    distributed = _import()
    sent = for_workers(plan)
    client, cluster = _connect(distributed, scheduler, timeout)
    token = uuid.uuid4().hex[:12]

    def close():
        try:
            client.close()
        finally:
            if cluster is not None:
                cluster.close()

    def result(future):
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001: a failure on the cluster, said as a LossError if it is one
            err = _worker_error(distributed, exc)
            if err is None:
                raise
            raise err from None

    try:
        shared = client.scatter(sent, broadcast=True, hash=False)
        shared_views = None if views is None else client.scatter(views_for_workers(views), broadcast=True, hash=False)
        tree = _Tree(client, token)

        def submit(chunk):
            future = client.submit(_chunk_task, shared, chunk, elements, shared_views,
                                   key=f"losscalc-chunk-{token}-{chunk.index}", priority=-chunk.index)
            tree.push(future)
            return future

        if not elements:
            for chunk in plan.chunks:
                submit(chunk)
            summary = result(tree.root())
            close()
            return Run(summary, None)
    except BaseException:
        close()
        raise

    pending: list = []
    todo = iter(plan.chunks)
    closed = [False]

    def shut():
        if not closed[0]:
            closed[0] = True
            close()

    def fill():
        for chunk in todo:
            pending.append((chunk, submit(chunk)))
            if len(pending) >= WINDOW:
                break

    def blocks():
        try:
            while pending:
                chunk, future = pending.pop(0)
                _, e = first.pop() if first else result(future)
                del future  # the worker drops the elements once the combine task has them too
                fill()
                yield chunk, e
        except BaseException:
            shut()
            raise

    def finish():
        try:
            summary = result(tree.root())
            return summary[0] if isinstance(summary, tuple) else summary  # one chunk: its own result
        finally:
            shut()

    try:
        fill()
        first = [result(pending[0][1])]  # the shape, before the first block is taken
    except BaseException:
        shut()
        raise
    return Run(None, blocks(), first[0][0].shape, finish)

