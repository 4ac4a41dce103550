"""NumPy's files: `.npy` (memory-mapped when large: read chunk by chunk, no element limit) and
`.npz` archives (one member, read whole). Every header is checked before any data is read.

A `Mapped` is a memory-mapped file (a .npy, a safetensors tensor) as a LazyArray that holds a
path: it pickles as its path, offset, shape and dtype, never as its data, and maps the file
again on first use in each process (a Dask worker reads the file itself)."""

from __future__ import annotations

import math
import os
import zipfile

import numpy as np

from ..limits import shape_too_large
from .base import LazyArray, one_line, quote

MMAP_THRESHOLD = 16 * 2**20  # .npy files larger than this are memory-mapped


def read_npy(path: str, fail, mapped: bool = False) -> np.ndarray:
    """A .npy file, memory-mapped when `mapped` or larger than MMAP_THRESHOLD."""
    with open(path, "rb") as f:  # a file has no element limit: a large one is read chunk by chunk
        shape, dtype = check_npy_header(f, fail, limit=False)
        need, have = math.prod(shape) * dtype.itemsize, os.path.getsize(path) - f.tell()
    if need > have:
        raise fail(f"is truncated: its header announces shape {tuple(shape)} of {dtype} "
                   f"({need} bytes of data), but the file holds {have}")
    mmap = "r" if mapped or os.path.getsize(path) > MMAP_THRESHOLD else None
    return checked_load(lambda: np.load(path, allow_pickle=False, mmap_mode=mmap), fail)


def read_npz(path: str, key: str | None, fail) -> tuple[np.ndarray, str]:
    """One array of a .npz archive and its source ("run.npz:logits"); the key may be left out
    when the archive holds exactly one."""
    if not zipfile.is_zipfile(path):
        raise fail("is not a .npz archive (not a zip file)")
    with np.load(path, allow_pickle=False) as npz:
        keys = list(npz.files)
        listed = ", ".join(keys) or "none"
        if key is None and len(keys) != 1:
            raise fail(f"holds {len(keys)} arrays ({listed}); choose one with "
                       f"{os.path.basename(path)}:KEY")
        key = keys[0] if key is None else key
        if key not in keys:
            raise fail(f"has no array named {quote(key, 40)}; available keys: {listed}")
        member = key + ".npy" if key + ".npy" in npz.zip.namelist() else key
        with npz.zip.open(member) as f:
            check_npy_header(f, fail)
        return checked_load(lambda: npz[key], fail), f"{path}:{key}"


def check_npy_header(f, fail, limit: bool = True) -> tuple[tuple, np.dtype]:
    """Read a .npy header from `f`; refuse a bad file, a non-numeric dtype or (with `limit`:
    what will be read into memory) a huge shape. Returns the shape and the dtype."""
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) \
            else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    except (ValueError, EOFError, OSError) as exc:
        raise fail(f"is not a valid .npy file ({one_line(exc)})") from None
    if dtype.kind not in "biuf":
        raise fail(f"holds an array of dtype {dtype}; expected a numeric array "
                   "(bool, integer or float)")
    too_large = shape_too_large(shape) if limit else None
    if too_large:
        raise fail(f"holds an array whose {too_large}")
    return shape, dtype


def checked_load(load, fail) -> np.ndarray:
    """Call `load` (an np.load whose header was checked); return it in native byte order."""
    try:
        array = load()
    except (ValueError, EOFError) as exc:
        raise fail(f"could not read the array data; the file may be truncated "
                   f"({one_line(exc)})") from None
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


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
