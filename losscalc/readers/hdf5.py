"""HDF5 datasets through h5py (extra `losscalc[hdf5]`): `run.h5:/eval/logits`, read by the
dataset's chunks. The file is opened on first read in each process; pickling keeps only the
path and the dataset's name."""

from __future__ import annotations

import os
import threading

import numpy as np

from .base import LazyArray, failure as _fail, quote as _q, require


def require_h5py(path: str, name: str):
    return require("h5py", path, name, "HDF5 files", "hdf5")


def _open_file(path: str, name: str):
    h5py = require_h5py(path, name)
    try:
        return h5py.File(path, "r")
    except OSError as e:
        msg = " ".join(str(e).split())[:200]
        raise _fail(name, path, f"is not an HDF5 file that h5py can open ({msg})") from None


def _datasets(f) -> list[str]:
    import h5py
    found = []
    f.visititems(lambda n, obj: found.append("/" + n) if isinstance(obj, h5py.Dataset) else None)
    return found


def _listing(names) -> str:
    if not names:
        return "it holds no datasets"
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return "its datasets are " + ", ".join(_q(n) for n in names[:10]) + more


def numeric_dtype(dtype: np.dtype) -> bool:
    return dtype.kind in "biuf" and dtype.fields is None and dtype.subdtype is None


class HDF5Dataset(LazyArray):
    """One HDF5 dataset, rows along axis 0 read on demand, in native byte order."""

    def __init__(self, path: str, dataset: str, shape, dtype, chunk_rows, name: str):
        self.path, self.dataset, self.name = path, dataset, name
        self.shape, self.dtype, self.chunk_rows = tuple(shape), dtype, chunk_rows
        self.source = f"{os.path.basename(path)}:{dataset}"
        self._reset()

    _transient = ("_file", "_ds", "_lock")

    def _reset(self):
        self._file = self._ds = None
        self._lock = threading.Lock()

    def read(self, start: int, stop: int) -> np.ndarray:
        stop = min(stop, self.shape[0])
        out = np.empty((max(stop - start, 0), *self.shape[1:]), self.dtype)
        if out.size == 0:
            return out
        with self._lock:  # h5py serialises calls anyway; the lock guards the lazy open
            if self._ds is None:
                self._file = _open_file(self.path, self.name)
                self._ds = self._file[self.dataset]
            try:
                self._ds.read_direct(out, np.s_[start:stop])
            except OSError as e:  # a corrupt chunk, a missing filter plugin
                msg = " ".join(str(e).split())[:200]
                raise _fail(self.name, self.path, f"dataset {_q(self.dataset)}: rows {start} to "
                                                  f"{stop} could not be read ({msg})") from None
        return out


def open_hdf5(path: str, key: str | None, name: str):
    """The dataset `key` (`/group/dataset`; the only one when None) of the HDF5 file."""
    h5py = require_h5py(path, name)
    with _open_file(path, name) as f:
        if key is None:
            found = _datasets(f)
            if len(found) != 1:
                raise _fail(name, path, f"holds {len(found)} datasets; name one as "
                                        f"'FILE:/group/dataset'; {_listing(found)}")
            key = found[0]
        key = "/" + key.lstrip("/")
        obj = f.get(key)
        if obj is None:
            raise _fail(name, path, f"has no dataset {_q(key)}; {_listing(_datasets(f))}")
        if not isinstance(obj, h5py.Dataset):
            inside = [d for d in _datasets(f) if d.startswith(key.rstrip("/") + "/")]
            raise _fail(name, path, f"{_q(key)} is a group, not a dataset; {_listing(inside)}")
        if obj.shape is None:
            raise _fail(name, path, f"dataset {_q(key)} is empty (it has no shape)")
        dtype = obj.dtype
        if not numeric_dtype(dtype):
            raise _fail(name, path, f"dataset {_q(key)} has dtype {dtype}, which is not numbers "
                                    f"(expected integers, floating-point numbers or booleans)")
        native = dtype.newbyteorder("=")
        if obj.shape == ():
            return np.asarray(obj[()], dtype=native)
        chunk_rows = obj.chunks[0] if obj.chunks else None
        return HDF5Dataset(path, key, obj.shape, native, chunk_rows, name)


def names_in(path: str, name: str = "file") -> list[str]:
    """The dataset paths of the file (`/group/dataset`), from its metadata alone."""
    with _open_file(path, name) as f:
        return _datasets(f)
