"""A loaded tensor as a kernel takes it: floats in the computation's dtype, class indices as
int64 whole numbers (SPEC section 3). The engine casts each tensor, or each chunk of a tensor
read lazily, through `cast`."""

from __future__ import annotations

import numpy as np

from .errors import LossError


def cast(a, name: str, kind: str, dtype, offset: int = 0) -> np.ndarray:
    """A tensor (or one chunk of it, starting at row `offset` of the whole) as the kernel takes
    it: `float` in the computation's dtype; `index` as int64 whole numbers; `any` (the kernel
    decides, e.g. cross-entropy targets) floats in the computation's dtype, integers as they are."""
    a = np.asarray(a)
    if kind == "float":
        return as_float(a, name, dtype)
    if kind == "index":
        return as_index(a, name, offset)
    if a.dtype.kind == "f":
        return a.astype(dtype, copy=False)
    if a.dtype.kind == "b":
        return a.astype(np.int64)
    if a.dtype.kind not in "iu":
        return as_float(a, name, dtype)
    return a


class Frames:
    """A float tensor still in its file (a memory map's chunk) that the kernel reads one index
    of axis 0 at a time (CTC's frames): each read is cast to the computation's dtype then, so
    the chunk is never copied whole. Read whole (np.asarray) where a kernel needs it so."""

    def __init__(self, a: np.ndarray, name: str, dtype):
        if a.dtype.kind not in "biuf":
            raise LossError(f"{name}: expected a numeric tensor, got dtype {a.dtype}.")
        self.a, self.dtype = a, np.dtype(dtype)
        self.shape, self.ndim, self.size = a.shape, a.ndim, a.size

    def __getitem__(self, key) -> np.ndarray:
        return np.asarray(self.a[key]).astype(self.dtype)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self[...] if dtype is None else self[...].astype(dtype)


def frames(a, name: str, dtype):
    """A chunk of a tensor read a frame at a time (see Frames): a memory map's view as it is
    when it is in the computation's dtype, else a Frames that casts each frame."""
    if isinstance(a, np.ndarray) and a.dtype == np.dtype(dtype):
        return a
    return Frames(np.asarray(a), name, dtype)


def as_float(t: np.ndarray, name: str, dtype) -> np.ndarray:
    """Cast a bool, integer or float tensor to the float `dtype` (np.float32 or np.float64)."""
    a = np.asarray(t)
    if a.dtype.kind not in "biuf":
        raise LossError(f"{name}: expected a numeric tensor, got dtype {a.dtype}.")
    return a.astype(dtype, copy=False)


def as_index(t: np.ndarray, name: str, offset: int = 0) -> np.ndarray:
    """Class indices as int64. Floats must be whole (2.0 is fine; 2.5, nan, inf are not).

    Only the type is checked here; the range (0 <= index < C) is the kernel's business.
    """
    a = np.asarray(t)
    if a.dtype.kind in "bi":
        return a.astype(np.int64, copy=False)
    if a.dtype.kind not in "uf":
        raise LossError(f"{name}: expected class indices (whole numbers), got dtype {a.dtype}.")
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(a) | (a != np.trunc(a)) | (a >= 2.0**63) | (a < -(2.0**63))
    if bad.any():
        index = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), a.shape))
        value = a[index].item()
        index = (index[0] + offset, *index[1:]) if index else index
        where = "[" + ", ".join(str(int(i)) for i in index) + "]" if index else " (a scalar)"
        raise LossError(f"{name}: class indices must be whole numbers (2.0 is accepted), but "
                        f"{name}{where} is {value!r}.")
    return a.astype(np.int64)
