"""Checks shared by the kernels. Each raises a LossError naming the tensor, the shapes and the
offending index, in plain words; warnings go through `losscalc.errors.warn`."""

from __future__ import annotations

import contextvars

import numpy as np

from ..errors import LossError, warn
from ..reduction import KernelOut

__all__ = [
    "KernelOut",
    "broadcast",
    "check_same_shape",
    "check_class_indices",
    "check_size",
    "first_index",
    "first_value",
    "batch_axis_of",
    "at_index",
    "check_probabilities",
    "SUM_TOLERANCE",
    "sums_to_1",
    "warn_if_broadcast",
    "warn_unless_pm1",
    "shape_str",
    "torch_sgn",
]


#: Where the chunk a kernel is working on starts along the batch axis of the whole input. The
#: engine sets it in each worker thread before calling a kernel on a chunk, so that an error
#: or warning names the index in the user's tensor, not in the chunk (see `first_index`).
CHUNK_START: contextvars.ContextVar[int] = contextvars.ContextVar("chunk_start", default=0)
#: (the chunk's items along the batch axis, the whole input's): set with CHUNK_START, so that a
#: message about shapes names the whole tensor's (see `whole_shape`).
CHUNK_ITEMS: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar("chunk_items", default=None)


def whole_shape(shape) -> tuple[int, ...]:
    """A chunk's shape as the whole tensor's: the batch axis (axis 0) as long as the input's,
    for a tensor the engine cut (one whose axis 0 is the chunk's length)."""
    shape, items = tuple(int(d) for d in shape), CHUNK_ITEMS.get()
    if items is not None and shape and shape[0] == items[0] and items[0] != items[1]:
        return (items[1], *shape[1:])
    return shape


def first_index(mask: np.ndarray, batch_axis: int | None = 0) -> tuple[int, ...]:
    """The index of the first True of `mask` (in C order; `mask` holds at least one), in the
    coordinates of the whole input, for a message: the chunk's start is added along
    `batch_axis`, the axis along which the engine slices the tensor the mask is over (0 for
    most; None for a tensor the engine passes whole, such as a class weight, and for the
    arrays at hand, to index them). A 0-d mask gives ()."""
    pos = [int(i) for i in np.unravel_index(int(np.argmax(mask)), np.shape(mask))]
    if batch_axis is not None and len(pos) > batch_axis:
        pos[batch_axis] += CHUNK_START.get()
    return tuple(pos)


def batch_axis_of(t: np.ndarray, lead: np.ndarray) -> int | None:
    """`first_index`'s batch_axis for a tensor t of an elementwise loss whose first tensor is
    `lead`: 0 when t spans lead's axis 0 (the engine cuts it along with lead), None when t is
    broadcast along it and so passed whole (engine/layout.py, `elementwise`). In a chunk of one
    item the two look alike; 0 is said then (a tensor passed whole shows its first bad index
    in the first chunk already)."""
    return 0 if t.ndim == lead.ndim and t.ndim and t.shape[0] == lead.shape[0] else None


def first_value(t: np.ndarray, mask: np.ndarray):
    """The value of `t` at the first True of `mask`, a mask of t's shape (the chunk's own
    coordinates: what `first_index` names)."""
    return t.flat[int(np.argmax(mask))]


def at_index(pos: tuple[int, ...]) -> str:
    """` at index [i, j]` for a message, or nothing for the one element of a 0-d tensor."""
    return f" at index {list(pos)}" if pos else ""


def shape_str(shape) -> str:
    return str(tuple(int(d) for d in shape))


def broadcast(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Broadcast named arrays against each other, or say which shapes do not fit."""
    from ..limits import shape_too_large

    values = list(arrays.values())
    if all(a.shape == values[0].shape for a in values):  # (the usual case, for every chunk: nothing to do)
        return values
    shapes = ", ".join(f"{name} {shape_str(a.shape)}" for name, a in arrays.items())
    try:
        shape = np.broadcast_shapes(*(a.shape for a in values))
    except ValueError:
        raise LossError(
            f"the shapes {shapes} cannot be broadcast together: each dimension, counted from "
            "the right, must be equal or 1."
        ) from None
    too_large = shape_too_large(shape)
    if too_large:
        raise LossError(f"broadcasting {shapes} together gives a result whose {too_large}.")
    return list(np.broadcast_arrays(*values))


def warn_if_broadcast(a: np.ndarray, b: np.ndarray, a_name: str = "input", b_name: str = "target",
                      *, torch_warns: bool = True) -> None:
    """Warn when two tensors that should match will be broadcast (say whether PyTorch warns too)."""
    if a.shape != b.shape:
        torch = "PyTorch warns the same" if torch_warns else "PyTorch broadcasts them silently"
        warn(
            f"{b_name} {shape_str(whole_shape(b.shape))} has a different shape from {a_name} "
            f"{shape_str(whole_shape(a.shape))}: "
            f"they will be broadcast, which is probably not what you meant ({torch}). "
            "Give them the same shape."
        )


def check_same_shape(a: np.ndarray, b: np.ndarray, a_name: str, b_name: str, why: str = "") -> None:
    if a.shape != b.shape:
        raise LossError(
            f"{b_name} {shape_str(b.shape)} must have the same shape as {a_name} "
            f"{shape_str(a.shape)}{why}."
        )


def check_size(t: np.ndarray, size: int, name: str, what: str) -> None:
    """A 1-D tensor of `size` elements (e.g. a per-class weight of length C)."""
    if t.ndim != 1 or t.shape[0] != size:
        raise LossError(f"{name} must be a 1-D tensor of {size} elements ({what}); got shape {shape_str(t.shape)}.")


def check_class_indices(target: np.ndarray, n_classes: int, name: str = "target", ignore_index=None) -> None:
    """Every index in [0, n_classes), except those equal to ignore_index."""
    bad = (target < 0) | (target >= n_classes)
    if ignore_index is not None:
        bad &= target != ignore_index
    if bad.any():
        raise LossError(
            f"{name}: class index {int(first_value(target, bad))}{at_index(first_index(bad))} is out of range; expected 0 to "
            f"{n_classes - 1} for {n_classes} classes"
            + (f" (or the ignore index {ignore_index})." if ignore_index is not None else ".")
        )


#: The one tolerance for "rows sum to 1": a row whose sum is within 2e-2 of 1 counts as a
#: probability distribution. See `check_probabilities` for why this value.
SUM_TOLERANCE = 2e-2


def sums_to_1(sums: np.ndarray) -> np.ndarray:
    """Where a row's sum is within SUM_TOLERANCE of 1 (not where it is NaN)."""
    return np.abs(sums - 1) <= SUM_TOLERANCE


def check_probabilities(t: np.ndarray, name: str, hint: str, *, axis: int | None = -1, log: bool = False,
                        rows: str = "row(s)", in_use: np.ndarray | None = None, batch_axis: int | None = 0) -> None:
    """Warn (PyTorch computes anyway, so nothing is refused) when the rows of `t` along `axis`
    are not probability distributions: their sum is off 1 by more than SUM_TOLERANCE, or, for
    probabilities, they hold a negative value. `log`: the rows are log-probabilities, and
    exp(t) must sum to 1. `axis=None`: rows along any one dimension will do (kl_div does not
    know where the classes are), checked from the last. `in_use`, a mask of the rows' shape:
    only those rows count (CTC's frames within the input lengths). A row summing to NaN is not
    counted: the warning about non-finite values says more. `rows` names the rows in the
    message, `hint` says what was probably meant; `batch_axis` is t's batch axis (`first_index`).

    The tolerance, 2e-2 for every loss: these warnings are for mistakes, and the mistakes are
    far off 1 (probabilities given where log-probabilities are expected: Σ exp(p) is at least
    C + 1 for C classes; logits; multi-hot or unnormalised targets, summing to 2 or to counts).
    What is not a mistake is close: rows printed to two decimals (1/3 each as 0.33, 0.33, 0.33:
    0.99; 2/3, 1/6, 1/6 as 0.67, 0.17, 0.17: 1.01; up to 0.005 per class), log-probabilities
    printed to two decimals (-0.51, -1.2, -2.3: Σ exp = 1.002) and float32 rounding (about 1e-6
    for a row of 10^4 classes, NumPy summing pairwise). 2e-2 passes those for rows of up to
    four classes and none of the mistakes; 1e-3 (some checks used it before) warned about
    0.333, 0.333, 0.333.
    """
    if t.ndim == 0:
        return
    found = None
    for a in range(t.ndim - 1, -1, -1) if axis is None else (axis % t.ndim,):
        with np.errstate(all="ignore"):
            sums = (np.exp(t) if log else t).sum(axis=a)
        off = ~sums_to_1(sums) & ~np.isnan(sums)
        if not log:
            off |= (t < 0).any(axis=a)
        if in_use is not None:
            off &= in_use
        if not off.any():
            return
        found = found or (a, sums, off)
    a, sums, off = found
    shown = None if batch_axis is None or a == batch_axis % t.ndim else batch_axis - (a < batch_axis)
    index = [str(i) for i in first_index(off, shown)]
    index.insert(a, ":")
    row = f"{name}[{', '.join(index)}]"
    total = off.size if in_use is None else int(in_use.sum())
    bad = int(off.sum())
    if log:
        what, row = f"exp({name}) does not sum to 1 in {bad} of {total} {rows}", f"exp({row})"
    else:
        negative = " or hold a negative value" if (t < 0).any() else ""
        what = f"{bad} of {total} {rows} do not sum to 1{negative}"
    along = " along the last dimension, nor along any other" if axis is None and t.ndim > 1 else ""
    first = "first: " if bad > 1 else ""
    warn(f"{name}: {what}{along} ({first}{row} sums to {float(first_value(sums, off)):.6g}). {hint}")


def warn_unless_pm1(target: np.ndarray, name: str = "target", loss: str = "this loss",
                    batch_axis: int | None = 0) -> bool:
    """Warn when a target holds values other than 1 and -1 (PyTorch computes silently);
    batch_axis as `first_index` takes it. True when it holds only 1 and -1."""
    odd = np.abs(target) != 1
    if odd.any():
        warn(
            f"{name} should hold only 1 and -1 for {loss}; it holds {int(odd.sum())} other "
            f"value(s), first {first_value(target, odd)}{at_index(first_index(odd, batch_axis))}. PyTorch computes anyway; "
            "did you mean labels in {-1, 1} rather than {0, 1}?"
        )
        return False
    return True


def row_blocks(n: int, row: int, elements: int) -> list[slice]:
    """Slices of n rows of `row` elements each, about `elements` elements a slice (a row at least):
    a kernel's blocks, whose temporaries stay in cache and a block's size."""
    rows = max(1, elements // max(1, row))
    return [slice(r0, min(r0 + rows, n)) for r0 in range(0, n, rows)]


def torch_sgn(d: np.ndarray) -> np.ndarray:
    """torch.sgn as autograd uses it (abs, norms): -1, 0 or 1, and 0 at NaN, where np.sign gives NaN."""
    s = np.sign(d)
    return np.where(np.isnan(s), np.zeros((), s.dtype), s)
