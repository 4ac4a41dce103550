"""The one interface every reader gives the engine, a `LazyArray`, and the readers' messages.

A LazyArray knows its shape and dtype from the file's header and reads rows along axis 0
on demand (`a[start:stop]` gives a NumPy array). It holds paths, not open handles, and opens
its file on first use in each process, so it can be pickled and sent to a Dask worker, which
then reads the file itself. `np.memmap` (a .npy, a safetensors tensor) already behaves so;
the other formats subclass `LazyArray`.
"""

from __future__ import annotations

import importlib
import math

import numpy as np

from ..errors import LossError


def quote(text: str, limit: int | None = None) -> str:
    """Text in a message (a tensor's name, a column, what the user typed), quoted as JSON
    quotes it, escapes visible; shortened to about `limit` characters when one is given."""
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # what json.dumps gives: nothing to escape (every call makes one: start-up)
    import json  # here: only a message needs it, and importing it costs a call ~3 ms of start-up

    return json.dumps(text, ensure_ascii=False)


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type name when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def failure(name: str, path: str, what: str) -> LossError:
    """The error of every reader: the argument, the file, and what is wrong with it."""
    return LossError(f"{name}: file {path!r}: {what}.")


def failer(name: str, source: str):
    """A function turning 'what is wrong' into the LossError for this argument and source
    ("file \"x.csv\"", "standard input", "inline \"1,,2\"")."""
    return lambda what: LossError(f"{name}: {source}: {what}.")


def require(module: str, path: str, name: str, what: str, extra: str):
    """Import an optional library, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise failure(name, path, f"reading {what} needs {module.split('.')[0]}, which is not installed: "
                                  f"pip install 'losscalc[{extra}]'") from None


class LazyArray:
    """Rows of an array in a file, read on demand. Subclasses set `shape`, `dtype`, `source`
    and `chunk_rows` (the file's natural block along axis 0: a row group, an HDF5 or Zarr
    chunk; None when any split is as good), and implement `read(start, stop)`."""

    shape: tuple[int, ...]
    dtype: np.dtype
    source: str
    chunk_rows: int | None = None
    _transient: tuple[str, ...] = ()  # what is opened in each process (handles, locks): never pickled

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in self._transient}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._reset()

    def _reset(self) -> None:
        """Forget what was opened: it is opened again on first use."""

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) along axis 0, as a NumPy array of `dtype`."""
        raise NotImplementedError

    def __getitem__(self, key) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("a LazyArray is read by a contiguous slice of rows along axis 0")
        start, stop, _ = key.indices(self.shape[0])
        return self.read(start, max(start, stop))

    def __array__(self, dtype=None, copy=None):  # whole: only for small arrays (tests, tables)
        a = self.read(0, self.shape[0])
        return a if dtype is None else a.astype(dtype)
