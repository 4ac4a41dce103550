"""`compute`: one loss, its tensors and options in, a `Result` out. The CLI is a layer over it.

The run is planned (`plan`: the inputs opened lazily and cut into chunks along the batch axis),
its chunks run on threads (`local`), and only what the output needs is kept: the reducer's
partials, the elements when they are few, and what the sinks (an --output file, the views)
take chunk by chunk. A breakdown of a few rows runs the kernel again on their chunks only.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import TYPE_CHECKING

import numpy as np

from ..errors import LossError, LossWarning, warn
from ..readers.stdin import one_stdin
from ..reduction import DEFAULT, Partials, finish, resolve_reduction
from ..registry import find
from .local import run_chunks
from .plan import Plan, is_lazy
from .result import KEEP_ELEMENTS, Result

if TYPE_CHECKING:
    from ..tensors import TensorSource

DTYPES = {"float64": np.float64, "float32": np.float32}
WHOLE_ERRORS = 1 << 24  # elements: up to this many in memory, an error is said for the whole input


class _LazyRng:
    """One random generator per call, shared by its generator tensors, made on first use
    (numpy.random costs start-up time that most calls do not need)."""

    def __init__(self, seed):
        self._seed, self._rng = seed, None

    def __getattr__(self, name):
        if self._rng is None:
            self._rng = np.random.default_rng(self._seed)
        return getattr(self._rng, name)


def _to_input(value, name: str, kind: str, dtype, rng) -> TensorSource:
    """A tensor argument opened: in memory and cast to `dtype` (`kind`: float, index or any),
    or, for a file read lazily, left in its file and cast chunk by chunk (`Plan.arrays`)."""
    from ..casts import cast
    from ..tensors import TensorSource, load_tensor

    if isinstance(value, TensorSource):
        source, array = value.source, value.array
    elif isinstance(value, str):
        loaded = load_tensor(value, name, rng=rng)
        source, array = loaded.source, loaded.array
    else:  # a memory map (np.load(..., mmap_mode="r")) stays one, read chunk by chunk as a file is
        source, array = "array", value if isinstance(value, np.memmap) else np.asarray(value)
    if not is_lazy(array):
        array = cast(array, name, kind, dtype)
    return TensorSource(array, source)


class _Warnings:
    """The warnings of a run's chunks, each said once: a warning repeated by later chunks
    (the same words, other numbers) is counted, not repeated."""

    def __init__(self):
        self.seen: dict[str, list] = {}

    def add(self, records) -> None:
        for w in records:
            if not issubclass(w.category, LossWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                continue
            self.add_messages([str(w.message)])

    def add_messages(self, messages) -> None:
        for message in messages:
            key = re.sub(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", "#", message)  # the same words, other numbers
            entry = self.seen.setdefault(key, [message, 0, False])
            entry[1] += 1
            entry[2] |= message != entry[0]

    def emit(self) -> None:
        for message, times, differs in self.seen.values():
            warn(f"{message} (the first of {times} chunks that warn so; its counts and positions are that "
                 "chunk's)" if differs else message)


def _views(loss, top, bottom, group_by, summary, dtype, rng):
    """The views asked for (engine/views.py), or None."""
    for flag, k in (("--top", top), ("--bottom", bottom)):
        if not isinstance(k, int) or k < 0:
            raise LossError(f"{flag}: {k!r} is not a whole number of 0 or more.")
    if not (top or bottom or summary or group_by is not None):
        return None
    from .views import Views  # (imported when a view is asked for: start-up)

    names = [t.name for t in loss.tensors]
    if isinstance(group_by, str) and group_by in names:
        return Views(top, bottom, label_name=group_by, summary=summary)
    labels = None
    if group_by is not None:
        labels = _to_input(group_by, "--group-by", "any", dtype, rng).array
    return Views(top, bottom, labels=labels, summary=summary)


def _nonfinite(counts: dict, arrays: dict, names) -> None:
    for name in names:
        a = arrays[name]
        if a.dtype.kind == "f" and a.size:
            nan = int(np.isnan(a).sum())
            inf = int(np.isinf(a).sum())
            old = counts.get(name, (0, 0))
            counts[name] = (old[0] + nan, old[1] + inf)


def _warn_nonfinite(counts: dict) -> None:
    for name, (nan, inf) in counts.items():
        if nan or inf:
            warn(f"{name} holds {nan} NaN and {inf} infinite value(s); "
                 "they propagate into the loss as in PyTorch.")


def compute(name: str, *tensors, **settings) -> Result:
    """Compute a loss as PyTorch would.

    `tensors` are NumPy arrays, nested lists, numbers, or strings in losscalc's tensor syntax
    (`"1,2;3,4"`, `"pred.npy"`, `"randn(3,5)"`), in PyTorch's forward order. The settings are
    the loss's options by their Python names (`ignore_index=1`; tensor options take the same
    forms), `reduction`, `dtype`, the legacy `size_average`/`reduce`, `seed`, and:
    `grad=True`: the analytic gradient of the value (of the sum of the elements when
    `reduction="none"`) with respect to each floating-point positional tensor PyTorch
    differentiates; `grad_files="out.npy"`: each gradient written to out.grad.NAME.npy chunk
    by chunk and held memory-mapped (inputs of any size); `threads`: the local engine's threads
    (default: the machine's cores);
    `keep`: the result keeps its elements as they are made when there are at most this many
    (default: 2**28 for reduction none, else none: `Result.elements` makes them on demand); `sinks`: each
    (an --output file) gets the elements chunk by chunk (`begin(shape, dtype)`, `add(flat_start,
    elements)`); `top`, `bottom`, `group_by`, `summary`: the views of SPEC §10; `engine`
    ("local" or "dask"), `scheduler`, `scheduler_timeout`. Raises LossError for anything the
    user can fix; warnings are LossWarnings.
    """
    run = _Run(name, tensors, **settings)
    run.drive()
    return run.result()


def compute_many(names: list[str], *tensors, **settings) -> list[Result]:
    """Several losses of the same tensors (SPEC §11), read once: each chunk of the inputs is
    read and handed to every loss's kernel in turn, in one pass over the files. An option
    applies to each loss that has it; one that none of them has is an error."""
    losses = [find(n) for n in names]
    first = losses[0]
    for loss in losses[1:]:
        if [t.name for t in loss.tensors] != [t.name for t in first.tensors]:
            raise LossError(f"{first.name} and {loss.name} take different tensors "
                            f"({' '.join(t.name for t in first.tensors)} against "
                            f"{' '.join(t.name for t in loss.tensors)}); several losses in one call must "
                            "take the same tensors.")
    engine_keys = set(_Run.SETTINGS)
    options = {k: v for k, v in settings.items() if k not in engine_keys}
    unknown = sorted(k for k in options if not any(k in {o.name for o in l.options} for l in losses))
    if unknown:
        raise LossError(f"none of {', '.join(l.name for l in losses)} has the option {', '.join(unknown)}.")
    runs, shared = [], list(tensors)
    for loss in losses:
        own = {k: v for k, v in options.items() if k in {o.name for o in loss.options}}
        engine = {k: v for k, v in settings.items() if k in engine_keys}
        if "reduction" in engine and engine["reduction"] not in loss.reductions:
            engine["reduction"] = DEFAULT if engine["reduction"] == "batchmean" else engine["reduction"]
        if runs and runs[0].views is not None and runs[0].views.labels is not None:
            engine["group_by"] = runs[0].views.labels  # group labels too are read (or drawn) once
        run = _Run(loss.name, shared, **engine, **own)
        shared = [run.inputs[t.name] for t in loss.tensors]  # loaded once: the next losses reuse them
        runs.append(run)
    chunks = [[(c.start, c.stop) for c in r.plan.chunks] for r in runs]
    if all(c == chunks[0] for c in chunks) and all(r.engine == "local" for r in runs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for chunk, *outs in run_chunks(_Lockstep([r.plan for r in runs]), runs[0].threads):
                for run, (out, part, arrays) in zip(runs, outs):
                    run.take(chunk, out, part, arrays)
                runs[0].said.add(caught)
                caught.clear()
        for run in runs[1:]:
            run.said = _Warnings()
    else:  # chunks that do not line up: one pass each, over the same opened inputs
        for run in runs:
            run.drive()
    return [run.result() for run in runs]


class _Lockstep:
    """Several plans with the same chunks, run as one: a chunk of the inputs is read by the
    first loss's kernel and, from memory, by the others'."""

    def __init__(self, plans):
        self.plans, self.chunks = plans, plans[0].chunks

    def __len__(self):
        return len(self.chunks)

    def run(self, chunk):
        return tuple(plan.run(chunk) for plan in self.plans)


class _Run:
    """One loss's run: its inputs and plan (made at once, so errors come before any pass),
    the chunks it takes (`take`, in order), and its Result."""

    SETTINGS = ("reduction", "dtype", "size_average", "reduce", "seed", "grad", "grad_files", "threads", "keep",
                "sinks", "progress", "top", "bottom", "group_by", "summary", "engine", "scheduler", "scheduler_timeout")

    def __init__(self, name, tensors, *, reduction: str = DEFAULT, dtype: str = "float64",
                 size_average: bool | None = None, reduce: bool | None = None, seed: int | None = None,
                 grad: bool = False, grad_files: str | None = None, threads: int | None = None,
                 keep: int | None = None, sinks=(),
                 progress=None, top: int = 0, bottom: int = 0, group_by=None, summary: bool = False,
                 engine: str = "local", scheduler: str | None = None, scheduler_timeout: float = 10.0,
                 **options):
        loss = find(name)
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise LossError(f"--seed: {seed!r} is not a whole number of 0 or more.")
        if dtype not in DTYPES:
            raise LossError(f"--dtype: {dtype!r} is not supported; expected float64 or float32.")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise LossError(f"--threads: {threads!r} is not a whole number of 1 or more.")
        if engine not in ("local", "dask"):
            raise LossError(f"--engine: {engine!r} is not an engine; expected local or dask.")
        np_dtype = DTYPES[dtype]
        if len(tensors) != len(loss.tensors):
            names = " ".join(t.name for t in loss.tensors)
            raise LossError(f"{loss.name} takes {len(loss.tensors)} tensors ({names}); got {len(tensors)}.")
        known = {o.name: o for o in loss.options}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise LossError(
                f"{loss.name} has no option {', '.join(unknown)}; its options are "
                f"{', '.join(known) or 'none besides the reduction'}."
            )
        reduction = resolve_reduction(reduction, size_average, reduce, loss.reductions, loss.legacy)
        if keep is None:  # the elements are the value of none; of a mean or sum, made on demand
            keep = KEEP_ELEMENTS if reduction == "none" else 0
        rng = _LazyRng(seed)
        one_stdin([*tensors, *options.values(), group_by])  # before any tensor is read
        inputs = {t.name: _to_input(v, t.name, t.kind, np_dtype, rng) for t, v in zip(loss.tensors, tensors)}
        kinds = {t.name: t.kind for t in loss.tensors}
        resolved = {}
        for opt in loss.options:
            value = options.get(opt.name, opt.default)
            if opt.type == "tensor" and value is not None:
                tensor = _to_input(value, opt.flag, "float", np_dtype, rng)
                inputs[opt.flag], kinds[opt.flag] = tensor, "float"
                value = tensor.array
            elif opt.type != "tensor":
                opt.check(value)  # before any data is read
            resolved[opt.name] = value
        plan = Plan(loss, {k: t.array for k, t in inputs.items()}, kinds, resolved, np_dtype, grad=grad)
        views = _views(loss, top, bottom, group_by, summary, np_dtype, rng)
        if views and views.summary and len(plan) > 1 and engine == "local":
            plan.after = views.chunk_summary
        self.loss, self.reduction, self.dtype, self.np_dtype, self.grad = loss, reduction, dtype, np_dtype, grad
        self.grad_files = grad_files
        self.threads, self.keep, self.sinks, self.progress, self.engine = threads, keep, sinks, progress, engine
        self.scheduler, self.scheduler_timeout = scheduler, scheduler_timeout
        self.inputs, self.resolved, self.plan, self.views = inputs, resolved, plan, views
        self.cut = set(plan.split.axes) | set(plan.split.cutters) if plan.split else set(inputs)
        self.counts: dict = {}
        _nonfinite(self.counts, {k: t.array for k, t in inputs.items() if k not in self.cut}, set(inputs) - self.cut)
        self.said = _Warnings()
        self.partials, self.elements, self.shape, self.first = Partials(), None, None, None

    def drive(self) -> None:
        """The whole pass: the local engine's chunks in order, or the Dask engine's."""
        if self.engine == "dask":
            return self._dask()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                slim = not (self.sinks or self.views is not None or self.keep or self.plan.whole)
                for chunk, out, part, arrays in run_chunks(self.plan, self.threads, self.progress, slim):
                    self.take(chunk, out, part, arrays)
                    self.said.add(caught)
                    caught.clear()
            except LossError:
                self._whole_error()
                raise

    def _whole_error(self) -> None:
        """A chunk's error names the chunk's shapes; where the inputs are in memory and small,
        the kernel runs once on them whole, so that the error names the user's tensors."""
        plan = self.plan
        if plan.whole or any(is_lazy(a) for a in plan.inputs.values()) or \
                max((a.size for a in plan.inputs.values()), default=0) > WHOLE_ERRORS:
            return
        whole = Plan(plan.loss, plan.inputs, plan.kinds, plan.options, plan.dtype, size=math.inf)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            whole.run(whole.chunks[0])  # raises the whole input's error (else the chunk's stands)

    def take(self, chunk, out, part, arrays) -> None:
        """One chunk's output, in chunk order: partials, kept elements, sinks, views."""
        plan = self.plan
        if self.shape is None:
            self.shape = plan.elements_shape(out)
            if math.prod(self.shape) <= self.keep and not plan.whole:
                self.elements = np.empty(self.shape, out.elements.dtype)
            for sink in self.sinks:
                sink.begin(self.shape, out.elements.dtype)
        start = plan.element_start(chunk, out)
        if plan.whole:
            self.elements, self.first = out.elements, (out, arrays)
        elif self.elements is not None:
            self.elements.reshape(-1)[start:start + out.elements.size] = out.elements.reshape(-1)
        if not np.isfinite(part.total):  # (a slim chunk's arrays are read again: a rare case)
            _nonfinite(self.counts, self.plan.arrays(chunk) if arrays is None else arrays, self.cut)
        self.partials = self.partials.add(part)
        for sink in self.sinks:
            sink.add(start, out.elements)
        if self.views:
            self.views.take(plan, chunk, start, out, arrays)

    def _dask(self) -> None:
        from .dask import run_dask  # engine/dask.py: the same chunks as Dask tasks

        plan, sinks, keep = self.plan, self.sinks, self.keep
        run = run_dask(plan, scheduler=self.scheduler, timeout=self.scheduler_timeout,
                       elements=bool(sinks) or self.reduction == "none" and keep > 0, views=self.views)
        self.shape = run.shape
        for k, (chunk, e) in enumerate(run.blocks or ()):
            if k == 0:
                self.elements = np.empty(self.shape, e.dtype) if math.prod(self.shape) <= keep else None
                for sink in sinks:
                    sink.begin(self.shape, e.dtype)
            start = chunk.start * math.prod(e.shape[1:]) if plan.split else 0
            if self.elements is not None:
                self.elements.reshape(-1)[start:start + e.size] = e.reshape(-1)
            for sink in sinks:
                sink.add(start, e)
        self.partials = run.partials  # after the blocks: streamed runs finish with their last block
        for name, (nan, inf) in run.nonfinite.items():
            old = self.counts.get(name, (0, 0))
            self.counts[name] = (old[0] + nan, old[1] + inf)
        self.said.add_messages(run.messages)
        if self.views:  # the chunks' views, merged on the workers in chunk order; the labels stay ours
            views = run.views
            views.labels, views.label_name = self.views.labels, self.views.label_name
            self.views = views
        if plan.whole:  # one chunk of inputs the client holds: its output too, as the local engine
            with warnings.catch_warnings():  # keeps it (the rows' breakdown, --grad); said once above
                warnings.simplefilter("ignore", LossWarning)
                out, _, arrays = plan.run(plan.chunks[0])
            self.first = (out, arrays)

    def result(self) -> Result:
        elements, shape = self.elements, self.shape
        if elements is not None and math.prod(shape) > self.keep and not self.plan.whole:
            elements = None
        _warn_nonfinite(self.counts)
        self.said.emit()
        value, arithmetic = finish(self.partials, self.reduction, self.np_dtype)
        if self.reduction == "none":
            value = elements
        grads = None
        if self.grad:
            from .grad import gradients  # (imported when asked for: start-up)

            grads = gradients(self.loss, self.plan, self.first, self.reduction, self.partials, self.inputs,
                              self.threads, self.grad_files)
        return Result(
            loss=self.loss,
            reduction=self.reduction,
            options=self.resolved,
            dtype=self.dtype,
            value=value,
            kept=elements,
            elements_shape=shape,
            arithmetic=arithmetic,
            partials=self.partials,
            plan=self.plan,
            inputs=self.inputs,
            grads=grads,
            first=self.first,
            views=self.views.finish(self.reduction) if self.views else {},
        )
