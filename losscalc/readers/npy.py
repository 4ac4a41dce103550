"""Memory-mapped files (.npy, and safetensors tensors) as LazyArrays that hold a path: a
`Mapped` pickles as its path, offset, shape and dtype, never as its data, and maps the file
again on first use in each process (a Dask worker reads the file itself)."""

from __future__ import annotations

import numpy as np

from .base import LazyArray


class Mapped(LazyArray):
    def __init__(self, path: str, offset: int, shape: tuple, dtype, order: str = "C", source: str = ""):
        self.path, self.offset, self.shape = path, int(offset), tuple(int(d) for d in shape)
        self.dtype, self.order, self.source = np.dtype(dtype), order, source or path
        self._map = None

    @classmethod
    def of(cls, m: np.memmap, source: str = "") -> "Mapped":
        order = "F" if m.flags.f_contiguous and not m.flags.c_contiguous else "C"
        return cls(m.filename, m.offset, m.shape, m.dtype, order, source)

    def _mapped(self) -> np.ndarray:
        if self._map is None:
            self._map = np.memmap(self.path, self.dtype, "r", self.offset, self.shape, self.order)
        return self._map

    def read(self, start: int, stop: int) -> np.ndarray:
        part = self._mapped()[start:stop]
        return part if part.dtype.isnative else part.astype(part.dtype.newbyteorder("="))

    _transient = ("_map",)

    def _reset(self) -> None:
        self._map = None
