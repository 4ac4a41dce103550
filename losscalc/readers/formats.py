"""The file formats of SPEC section 12, chosen by suffix: safetensors (native), Parquet,
Feather and Arrow IPC (pyarrow), HDF5 (h5py), Zarr (zarr), and the pickles that are refused.

`open_tensor(path, key, name)` gives the tensor `key` of the file as a `LazyArray` (or an
`np.memmap`, or a small array for a scalar), its header checked before any data is read.
`names_in(path)` lists the names a `FILE:` may be followed by. The optional libraries are
imported only when a file of theirs is opened, so `losscalc` starts without them.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import LossError
from .base import LazyArray
from .pickles import PICKLE_SUFFIXES, refuse_pickle

SAFETENSORS = (".safetensors",)
ARROW = (".parquet", ".feather", ".arrow", ".ipc")
HDF5 = (".h5", ".hdf5")
ZARR = (".zarr",)
SUFFIXES = SAFETENSORS + ARROW + HDF5 + ZARR + PICKLE_SUFFIXES

__all__ = ["SUFFIXES", "open_tensor", "names_in", "refuse_pickle", "suffix"]


def suffix(path: str) -> str:
    """The lower-case suffix of `path` ('.zarr' for 'store.zarr/')."""
    return os.path.splitext(path.rstrip("/\\"))[1].lower()


def open_tensor(path: str, key: str | None, name: str) -> LazyArray | np.ndarray:
    """The tensor `key` of the file at `path` (the whole file's only tensor, column, dataset
    or array when `key` is None), for the argument `name` ("target", "--weight").

    Raises `LossError` naming `name`, the file and the field for anything wrong: a missing
    file, a pickle, a header that lies, a missing key, a dtype that is not numbers, a format
    whose optional library is not installed (with the `pip install` line that adds it)."""
    ext = suffix(path)
    if ext not in SUFFIXES:
        raise LossError(f"{name}: file {path!r}: the suffix {ext or '(none)'!r} is not a format "
                        f"read here (expected one of {', '.join(SUFFIXES)}).")
    if ext in PICKLE_SUFFIXES:
        refuse_pickle(path, name)
    if not os.path.exists(path):
        raise LossError(f"{name}: file {path!r}: does not exist.")
    if ext in ZARR:
        from .zarr import open_zarr
        return open_zarr(path, key, name)
    if os.path.isdir(path):
        raise LossError(f"{name}: file {path!r}: is a directory, expected a {ext} file.")
    if ext in SAFETENSORS:  # its header length may start with 0x80: checked after parsing
        from .safetensors import open_safetensors
        return open_safetensors(path, key, name)
    refuse_pickle(path, name)
    if ext in ARROW:
        from .arrow import open_arrow
        return open_arrow(path, key, name)
    from .hdf5 import open_hdf5
    return open_hdf5(path, key, name)


def names_in(path: str) -> list[str]:
    """The names inside the file that may follow `FILE:` (safetensors tensors, columns, HDF5
    dataset paths, Zarr array paths), read from its header alone; [] when there are none or
    the file cannot be read (completion never fails)."""
    ext = suffix(path)
    try:
        if ext in SAFETENSORS:
            from .safetensors import names_in as names
        elif ext in ARROW:
            from .arrow import names_in as names
        elif ext in HDF5:
            from .hdf5 import names_in as names
        elif ext in ZARR:
            from .zarr import names_in as names
        else:
            return []
        if ext not in ZARR and not os.path.isfile(path):
            return []
        return names(path)
    except (LossError, OSError):
        return []
