"""Zarr arrays (extra `losscalc[zarr]`; v2 and v3 stores, as the zarr library reads them):
`preds.zarr` (an array at the root, or a store holding one array) or `store.zarr:eval/logits`,
read by the array's chunks. The store is opened on first read in each process; pickling keeps
only the path and the array's name."""

from __future__ import annotations

import os
import threading

import numpy as np

from .base import LazyArray, failure as _fail, quote as _q, require


def require_zarr(path: str, name: str):
    return require("zarr", path, name, "Zarr stores", "zarr")


def _open(path: str, name: str):
    zarr = require_zarr(path, name)
    if not os.path.isdir(path):
        raise _fail(name, path, "is not a directory (a Zarr store is a directory)"
                    if os.path.exists(path) else "does not exist")
    try:
        return zarr.open(store=path, mode="r")
    except Exception as e:  # zarr has many error types for a store it cannot read
        msg = " ".join(str(e).split())[:200] or type(e).__name__
        raise _fail(name, path, f"is not a Zarr store that zarr can open ({msg})") from None


def _arrays(node) -> list[str]:
    import zarr
    if isinstance(node, zarr.Array):
        return [""]
    return sorted(k for k, v in node.members(max_depth=None) if isinstance(v, zarr.Array))


def _listing(names) -> str:
    if not names:
        return "it holds no arrays"
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return "its arrays are " + ", ".join(_q(n) for n in names[:10]) + more


class ZarrArray(LazyArray):
    """One Zarr array, rows along axis 0 read on demand, in native byte order."""

    def __init__(self, path: str, array: str, shape, dtype, chunk_rows, name: str):
        self.path, self.array, self.name = path, array, name
        self.shape, self.dtype, self.chunk_rows = tuple(shape), dtype, chunk_rows
        self.source = os.path.basename(path.rstrip("/")) + (f":{array}" if array else "")
        self._reset()

    _transient = ("_z", "_lock")

    def _reset(self):
        self._z = None
        self._lock = threading.Lock()

    def read(self, start: int, stop: int) -> np.ndarray:
        stop = min(stop, self.shape[0])
        if stop <= start:
            return np.empty((0, *self.shape[1:]), self.dtype)
        with self._lock:
            if self._z is None:
                node = _open(self.path, self.name)
                self._z = node[self.array] if self.array else node
        try:
            rows = self._z[start:stop]
        except Exception as e:  # a chunk missing its codec, corrupt or unreadable
            msg = " ".join(str(e).split())[:200] or type(e).__name__
            raise _fail(self.name, self.path, f"array {_q(self.array or '(root)')}: rows "
                                              f"{start} to {stop} could not be read ({msg})"
                        ) from None
        return np.asarray(rows).astype(self.dtype, copy=False)


def open_zarr(path: str, key: str | None, name: str):
    """The array `key` (`group/array`) of the store, or its only array when None."""
    zarr = require_zarr(path, name)
    node = _open(path, name)
    if key is not None and key.strip("/"):
        key = key.strip("/")
        if not isinstance(node, zarr.Group):
            raise _fail(name, path, f"holds one array at its root, not {_q(key)}; "
                                    f"leave the ':{key}' out")
        try:
            node = node[key]
        except KeyError:
            raise _fail(name, path, f"has no array {_q(key)}; {_listing(_arrays(node))}") from None
        if not isinstance(node, zarr.Array):
            raise _fail(name, path, f"{_q(key)} is a group, not an array; "
                                    f"{_listing([key + '/' + k for k in _arrays(node)])}")
    elif isinstance(node, zarr.Group):
        found = _arrays(node)
        if len(found) != 1:
            raise _fail(name, path, f"holds {len(found)} arrays; name one as "
                                    f"'STORE:group/array'; {_listing(found)}")
        key = found[0]
        node = node[key]
    else:
        key = ""
    dtype = node.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf" or dtype.fields is not None:
        where = f"array {_q(key)}" if key else "its array"
        raise _fail(name, path, f"{where} has dtype {dtype}, which is not numbers (expected "
                                f"integers, floating-point numbers or booleans)")
    native = dtype.newbyteorder("=")
    if node.shape == ():
        return np.asarray(node[()], dtype=native)
    return ZarrArray(path, key, node.shape, native, node.chunks[0], name)


def names_in(path: str, name: str = "file") -> list[str]:
    """The array paths in the store (`group/array`), from its metadata alone."""
    return [n for n in _arrays(_open(path, name)) if n]
