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
    "warn_if_broadcast",
    "warn_unless_pm1",
    "shape_str",
    "torch_sgn",
]


#: Where the chunk a kernel is working on starts along the batch axis of the whole input. The
#: engine sets it in each worker thread before calling a kernel on a chunk, so that an error
#: or warning names the index in the user's tensor, not in the chunk (see `first_index`).
CHUNK_START: contextvars.ContextVar[int] = contextvars.ContextVar("chunk_start", default=0)


def first_index(mask: np.ndarray, batch_axis: int | None = 0) -> tuple[int, ...]:
    """The index of the first True of `mask`, in the coordinates of the whole input: the
    chunk's start is added along `batch_axis` (None: the mask is over a tensor the engine
    passes whole, such as a class weight)."""
    pos = [int(i) for i in np.argwhere(mask)[0]]
    if batch_axis is not None and len(pos) > batch_axis:
        pos[batch_axis] += CHUNK_START.get()
    return tuple(pos)


def shape_str(shape) -> str:
    return str(tuple(int(d) for d in shape))


def broadcast(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Broadcast named arrays against each other, or say which shapes do not fit."""
    from ..tensors import shape_too_large

    shapes = ", ".join(f"{name} {shape_str(a.shape)}" for name, a in arrays.items())
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        raise LossError(
            f"the shapes {shapes} cannot be broadcast together: each dimension, counted from "
            "the right, must be equal or 1."
        ) from None
    too_large = shape_too_large(shape)
    if too_large:
        raise LossError(f"broadcasting {shapes} together gives a result whose {too_large}.")
    return list(np.broadcast_arrays(*arrays.values()))


def warn_if_broadcast(a: np.ndarray, b: np.ndarray, a_name: str = "input", b_name: str = "target",
                      *, torch_warns: bool = True) -> None:
    """Warn when two tensors that should match will be broadcast (say whether PyTorch warns too)."""
    if a.shape != b.shape:
        torch = "PyTorch warns the same" if torch_warns else "PyTorch broadcasts them silently"
        warn(
            f"{b_name} {shape_str(b.shape)} has a different shape from {a_name} {shape_str(a.shape)}: "
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
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at index {list(pos)}" if pos else ""
        raise LossError(
            f"{name}: class index {int(target[pos])}{where} is out of range; expected 0 to "
            f"{n_classes - 1} for {n_classes} classes"
            + (f" (or the ignore index {ignore_index})." if ignore_index is not None else ".")
        )


def warn_unless_pm1(target: np.ndarray, name: str = "target", loss: str = "this loss") -> None:
    """Warn when a target holds values other than 1 and -1 (PyTorch computes silently)."""
    odd = (target != 1) & (target != -1)
    if odd.any():
        pos = tuple(int(i) for i in np.argwhere(odd)[0])
        warn(
            f"{name} should hold only 1 and -1 for {loss}; it holds {int(odd.sum())} other "
            f"value(s), first {target[pos]} at index {list(pos)}. PyTorch computes anyway; "
            "did you mean labels in {-1, 1} rather than {0, 1}?"
        )


def torch_sgn(d: np.ndarray) -> np.ndarray:
    """torch.sgn as autograd uses it (abs, norms): -1, 0 or 1, and 0 at NaN, where np.sign gives NaN."""
    s = np.sign(d)
    return np.where(np.isnan(s), np.zeros((), s.dtype), s)
