"""`compute`: one loss, its tensors and options in, a `Result` out. The CLI is a layer over it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from . import __version__
from .errors import LossError, warn
from .reduction import Arithmetic, apply_reduction, resolve_reduction, upstream
from .registry import Loss, find

if TYPE_CHECKING:
    from .tensors import TensorSource

DTYPES = {"float64": np.float64, "float32": np.float32}


@dataclass
class Result:
    loss: Loss
    reduction: str
    options: dict  # the options in force, by name (tensor options as arrays)
    dtype: str
    value: np.ndarray  # 0-d, or the elements when reduction is none
    elements: np.ndarray
    term_makers: dict  # the kernel's terms: arrays, or functions making them (see `terms`)
    arithmetic: Arithmetic
    inputs: dict[str, TensorSource] = field(default_factory=dict)  # by name, as the kernel got them
    shown_inputs: tuple[str, ...] | None = None  # breakdown columns; None: every input that fits
    grads: dict[str, np.ndarray] | None = None  # with grad=True: ∂value/∂tensor, by tensor name

    @cached_property
    def terms(self) -> dict[str, np.ndarray]:
        """The kernel's named intermediate values, each made when first asked for."""
        return {k: v() if callable(v) else v for k, v in self.term_makers.items()}

    @property
    def signature(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        for name, t in self.inputs.items():
            a = np.ascontiguousarray(t.array)
            digest.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
            digest.update(a.tobytes())
        opts = "".join(f"|{k}={_plain(v)}" for k, v in self.changed_options().items())
        return (
            f"losscalc {__version__}|{self.loss.name}|reduction={self.reduction}{opts}|"
            f"{self.dtype}|inputs=sha256:{digest.hexdigest()[:8]}"
        )

    def changed_options(self) -> dict:
        """The options whose value differs from the default."""
        defaults = {o.name: o.default for o in self.loss.options}
        return {k: v for k, v in self.options.items() if not _same(v, defaults.get(k))}


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    return a == b


def _plain(v):
    if isinstance(v, np.ndarray):
        return "tensor" + str(list(v.shape))
    return v


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
    from .tensors import TensorSource, as_float, as_index, load_tensor

    if isinstance(value, TensorSource):
        source, array = value.source, value.array
    elif isinstance(value, str):
        loaded = load_tensor(value, name, rng=rng)
        source, array = loaded.source, loaded.array
    else:
        source, array = "array", np.asarray(value)
    if kind == "float":
        array = as_float(array, name, dtype)
    elif kind == "index":
        array = as_index(array, name)
    elif array.dtype.kind == "f":  # "any": the kernel decides; floats in the compute dtype
        array = array.astype(dtype, copy=False)
    elif array.dtype.kind == "b":
        array = array.astype(np.int64)
    elif array.dtype.kind not in "iu":
        array = as_float(array, name, dtype)
    return TensorSource(array, source)


def _count_nonfinite(inputs: dict[str, TensorSource]) -> None:
    for name, t in inputs.items():
        a = t.array
        if a.dtype.kind == "f" and a.size and not np.isfinite(a.sum()):  # a finite sum: all finite
            bad = a.size - int(np.isfinite(a).sum())
            if bad:
                n_nan = int(np.isnan(a).sum())
                warn(
                    f"{name} holds {n_nan} NaN and {bad - n_nan} infinite value(s); "
                    "they propagate into the loss as in PyTorch."
                )


def compute(
    name: str,
    *tensors,
    reduction: str = "mean",
    dtype: str = "float64",
    size_average: bool | None = None,
    reduce: bool | None = None,
    seed: int | None = None,
    grad: bool = False,
    **options,
) -> Result:
    """Compute a loss as PyTorch would.

    `tensors` are NumPy arrays, nested lists, numbers, or strings in losscalc's tensor syntax
    (`"1,2;3,4"`, `"pred.npy"`, `"randn(3,5)"`), in PyTorch's forward order. `options` are the
    loss's options by their Python names (`ignore_index=1`); tensor options take the same
    forms. With `grad=True` the result also holds the analytic gradient of the value (of the
    sum of the elements when `reduction="none"`) with respect to each floating-point positional
    tensor PyTorch differentiates. Raises LossError for anything the user can fix; warnings are
    LossWarnings.
    """
    loss = find(name)
    if seed is not None and (not isinstance(seed, int) or seed < 0):
        raise LossError(f"--seed: {seed!r} is not a whole number of 0 or more.")
    if dtype not in DTYPES:
        raise LossError(f"--dtype: {dtype!r} is not supported; expected float64 or float32.")
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
    rng = _LazyRng(seed)
    inputs = {t.name: _to_input(v, t.name, t.kind, np_dtype, rng) for t, v in zip(loss.tensors, tensors)}
    resolved = {}
    for opt in loss.options:
        value = options.get(opt.name, opt.default)
        if opt.type == "tensor" and value is not None:
            tensor = _to_input(value, opt.flag, "float", np_dtype, rng)
            inputs[opt.flag] = tensor
            value = tensor.array
        elif opt.choices and value not in opt.choices:
            raise LossError(f"{opt.flag}: {value!r} is not one of {', '.join(opt.choices)}.")
        resolved[opt.name] = value
    _count_nonfinite(inputs)
    arrays = [inputs[t.name].array for t in loss.tensors]
    with np.errstate(all="ignore"):
        out = loss.kernel(*arrays, **resolved)
        value, arithmetic = apply_reduction(out, reduction)
        grads = _gradients(loss, out, reduction, inputs) if grad else None
    return Result(
        loss=loss,
        reduction=reduction,
        options=resolved,
        dtype=dtype,
        value=value,
        elements=out.elements,
        term_makers=out.terms,
        arithmetic=arithmetic,
        inputs=inputs,
        shown_inputs=out.shown_inputs,
        grads=grads,
    )


def _gradients(loss: Loss, out, reduction: str, inputs: dict[str, TensorSource]) -> dict[str, np.ndarray]:
    if out.backward is None:
        raise LossError(f"--grad is not available for {loss.name}.")
    grads = out.backward(upstream(out, reduction))
    return {name: sum_to_shape(g, inputs[name].array.shape) for name, g in grads.items()}


def sum_to_shape(g: np.ndarray, shape: tuple) -> np.ndarray:
    """A gradient in a broadcast shape, summed back to the shape of the tensor it belongs to."""
    g = np.asarray(g)
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead > 0 else g
    ones = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return (g.sum(axis=ones, keepdims=True) if ones else g).reshape(shape)
