"""Parquet, Feather and Arrow IPC columns through pyarrow (extra `losscalc[parquet]`).

A column is chosen by name or 0-based number; a list or fixed-size-list column (of lists,
to any depth) whose rows all have the same length becomes a 2-D (or deeper) array. Rows are
read in order through one cursor over the file's units (Parquet row groups, IPC record
batches), so memory holds one batch at a time: Parquet is read with `pre_buffer=False` and a
read buffer, since pyarrow's default pre-buffering loads a whole row group (a 2e7-row float64
row group: 190 MiB of anonymous memory against 40 MiB streamed).
"""

from __future__ import annotations

import bisect
import os
import threading

import numpy as np

from ..errors import LossError
from .base import LazyArray, failure as _fail, quote as _q


IPC_SUFFIXES = (".feather", ".arrow", ".ipc")
_BATCH_BYTES = 1 << 20  # a Parquet batch holds about this many bytes of the column


def require_pyarrow(path: str, name: str):
    try:
        import pyarrow
        import pyarrow.compute  # noqa: F401
    except ImportError:
        raise LossError(f"{name}: file {path!r}: reading Parquet, Feather and Arrow files "
                        f"needs pyarrow, which is not installed: "
                        f"pip install 'losscalc[parquet]'.") from None
    return pyarrow


def _columns_listing(names) -> str:
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return ", ".join(_q(n) for n in names[:10]) + more


def _choose(names: list[str], key: str | None, path, name) -> int:
    """The index of the column `key` (a name, else a 0-based number) among `names`."""
    if key is None:
        if len(names) != 1:
            raise _fail(name, path, f"has {len(names)} columns ({_columns_listing(names)}); "
                                    f"name one as 'FILE:COLUMN' or give its 0-based number")
        return 0
    if key in names:
        if names.count(key) > 1:
            raise _fail(name, path, f"has {names.count(key)} columns named {_q(key)}; "
                                    f"give the 0-based number of the one meant")
        return names.index(key)
    if key.isdigit() and key.isascii():
        if int(key) < len(names):
            return int(key)
        raise _fail(name, path, f"has no column number {key} (it has {len(names)} columns, "
                                f"numbered from 0)")
    raise _fail(name, path, f"has no column {_q(key)}; its columns are {_columns_listing(names)}")


def _levels(pa, typ, column, path, name):
    """The list levels of a column type (each a fixed width or None when variable) and its
    leaf NumPy dtype; a type that is not numbers (or lists of numbers) is an error."""
    t, levels = typ, []
    while pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        levels.append(t.list_size if pa.types.is_fixed_size_list(t) else None)
        t = t.value_type
    if pa.types.is_boolean(t):
        return levels, np.dtype(bool)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return levels, np.dtype(t.to_pandas_dtype())
    raise _fail(name, path, f"column {_q(column)} has type {typ}, which is not numbers (expected "
                            f"integers, floating-point numbers or booleans, or lists of them)")


class ArrowColumn(LazyArray):
    """One column of a Parquet, Feather or Arrow IPC file, read in row order by batches.
    Holds the path and the column, never an open file when pickled."""

    def __init__(self, path: str, kind: str, column: str, index: int, levels, dtype,
                 inner: tuple[int, ...], rows: int, unit_rows: list[int] | None, name: str):
        self.path, self.kind, self.column, self.index = path, kind, column, index
        self.levels, self.dtype, self.name = levels, dtype, name
        self.shape = (rows, *inner)
        self.source = f"{os.path.basename(path)}:{column}"
        self._unit_rows = unit_rows
        self.chunk_rows = unit_rows[0] if unit_rows else None
        self._reset()
        if kind == "ipc" and rows:  # the first record batch's rows (its data is mapped, not read)
            self.chunk_rows = self._open().get_batch(0).num_rows

    def _reset(self):
        self._lock = threading.Lock()
        self._file = None
        self._it, self._pos, self._buf = None, 0, None

    def __getstate__(self):
        state = self.__dict__.copy()
        for k in ("_lock", "_file", "_it", "_buf"):
            state.pop(k)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._reset()

    # -- the units of the file and an iterator over the column's arrays from unit k on ------

    def _open(self):
        if self._file is None:
            pa = require_pyarrow(self.path, self.name)
            if self.kind == "parquet":
                import pyarrow.parquet as pq
                self._file = pq.ParquetFile(self.path, buffer_size=1 << 20, pre_buffer=False)
            elif self.kind == "ipc":  # only the column's buffers are read (and decompressed)
                self._file = pa.ipc.open_file(pa.memory_map(self.path), options=self._only())
            else:
                self._file = "stream"
        return self._file

    def _only(self):
        import pyarrow as pa
        return pa.ipc.IpcReadOptions(included_fields=[self.index], use_threads=False)

    def _starts(self) -> list[int]:
        if self._unit_rows is None:  # IPC: counted once per process, one batch at a time
            f = self._open()
            if self.kind == "ipc":
                self._unit_rows = [f.get_batch(i).num_rows for i in range(f.num_record_batches)]
            else:
                self._unit_rows = [b.num_rows for b in _stream(self.path, self._only())]
        starts, total = [], 0
        for n in self._unit_rows:
            starts.append(total)
            total += n
        return starts

    def _arrays(self, k: int):
        f = self._open()
        if self.kind == "parquet":
            width = max(1, int(np.prod(self.shape[1:])) * self.dtype.itemsize)
            batch = max(1, _BATCH_BYTES // width)
            groups = list(range(k, f.metadata.num_row_groups))
            if not groups:
                return
            for b in f.iter_batches(batch_size=batch, row_groups=groups, columns=[self.column],
                                    use_threads=False):
                yield b.column(0)
        elif self.kind == "ipc":
            for i in range(k, f.num_record_batches):
                yield f.get_batch(i).column(0)
        else:
            for i, b in enumerate(_stream(self.path, self._only())):
                if i >= k:
                    yield b.column(0)

    # -- reading ---------------------------------------------------------------------------

    def read(self, start: int, stop: int) -> np.ndarray:
        stop = min(stop, self.shape[0])
        if stop <= start:
            return np.empty((0, *self.shape[1:]), self.dtype)
        with self._lock:
            starts = self._starts()
            unit = bisect.bisect_right(starts, start) - 1
            if (self._it is None or start < self._pos
                    or unit > bisect.bisect_right(starts, self._pos) - 1):
                self._it, self._pos, self._buf = self._arrays(unit), starts[unit], None
            try:
                parts = self._advance(start, stop)
            except BaseException:
                self._it = None  # the cursor may be anywhere: the next read starts afresh
                raise
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _advance(self, start: int, stop: int) -> list[np.ndarray]:
        """Move the cursor through rows [start, stop), returning them in pieces. The cursor
        keeps the rest of its current Arrow array; only the rows asked for are converted
        (and checked), so a null in row 9 does not fail a read of rows 0 to 8."""
        parts = []
        while self._pos < stop:
            if self._buf is None:
                self._buf = self._next()
            n = len(self._buf)
            lo, hi = max(start - self._pos, 0), min(stop - self._pos, n)
            if lo < hi:
                parts.append(self._to_numpy(self._buf.slice(lo, hi - lo), self._pos + lo))
            if hi < n:
                self._buf, self._pos = self._buf.slice(hi), self._pos + hi
            else:
                self._buf, self._pos = None, self._pos + n
        return parts

    def _next(self):
        import pyarrow as pa
        try:
            return next(self._it)
        except StopIteration:
            raise _fail(self.name, self.path, f"column {_q(self.column)}: the file ended at row "
                                              f"{self._pos}, before the {self.shape[0]} rows its "
                                              f"metadata gives") from None
        except (pa.ArrowException, OSError) as e:
            raise _fail(self.name, self.path, f"column {_q(self.column)}: rows from {self._pos} "
                                              f"could not be read "
                                              f"({' '.join(str(e).split())[:200]})") from None

    def _to_numpy(self, arr, row0: int) -> np.ndarray:
        """The rows of one Arrow array as NumPy, checking nulls and list lengths."""
        import pyarrow.compute as pc
        n, span = len(arr), 1
        for depth, width in enumerate(self.levels + [0]):
            if arr.null_count:
                i = int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0])
                where = "" if depth == 0 else " inside its list"
                raise _fail(self.name, self.path, f"column {_q(self.column)}: row "
                                                  f"{row0 + i // span} holds a null{where}; "
                                                  f"expected numbers only")
            if depth == len(self.levels):
                break
            want = self.shape[1 + depth]
            if width is None:
                lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
                bad = np.flatnonzero(lengths != want)
                if bad.size:
                    i = int(bad[0])
                    raise _fail(self.name, self.path,
                                f"column {_q(self.column)}: row {row0 + i // span} holds a list "
                                f"of length {lengths[i]}, but row 0's has {want}; a list "
                                f"column must have lists of one length to be a tensor")
            arr = arr.flatten()
            span *= want
        values = arr.to_numpy(zero_copy_only=False)
        return values.reshape((n, *self.shape[1:])).astype(self.dtype, copy=False)


def _stream(path: str, options):
    import pyarrow as pa
    with pa.ipc.open_stream(pa.memory_map(path), options=options) as r:
        yield from r


def _first_row_widths(first, levels) -> tuple[int, ...]:
    """The list lengths of a one-row array, level by level (a variable level's width)."""
    widths, arr, span = [], first, 1
    for width in levels:
        arr = arr.flatten()
        widths.append(width if width is not None else (len(arr) // span if span else 0))
        span *= widths[-1]
    return tuple(widths)


def open_arrow(path: str, key: str | None, name: str) -> ArrowColumn:
    """The column `key` of the Parquet, Feather or Arrow IPC file `path`."""
    pa = require_pyarrow(path, name)
    suffix = os.path.splitext(path)[1].lower()
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise _fail(name, path, f"could not be read ({e.strerror or e})") from None
    unit_rows = None
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq
            kind = "parquet"
            pf = pq.ParquetFile(path, pre_buffer=False)
            schema, rows = pf.schema_arrow, pf.metadata.num_rows
            unit_rows = [pf.metadata.row_group(i).num_rows
                         for i in range(pf.metadata.num_row_groups)]
        elif head[:6] == b"ARROW1":
            kind = "ipc"
            r = pa.ipc.open_file(pa.memory_map(path))
            schema, rows = r.schema, r.count_rows()
        elif head[:4] == b"FEA1":
            raise _fail(name, path, "is a Feather version 1 file, which losscalc does not read; "
                                    "rewrite it as version 2 with "
                                    "pyarrow.feather.write_feather(table, path)")
        else:  # the stream format: its batches are counted once the column is known
            kind = "stream"
            with pa.ipc.open_stream(pa.memory_map(path)) as r:
                schema, rows = r.schema, 0
    except LossError:
        raise
    except (pa.ArrowException, OSError, ValueError) as e:
        what = "a Parquet" if suffix == ".parquet" else "an Arrow IPC (Feather version 2)"
        msg = " ".join(str(e).split())[:200]
        raise _fail(name, path, f"is not {what} file that pyarrow can read ({msg})") from None
    names = list(schema.names)
    index = _choose(names, key, path, name)
    column = names[index]
    if kind == "parquet" and names.count(column) > 1:  # pyarrow reads Parquet columns by name
        raise _fail(name, path, f"has {names.count(column)} columns named {_q(column)}, which "
                                f"cannot be told apart in Parquet; rename one")
    levels, dtype = _levels(pa, schema.field(index).type, column, path, name)
    if kind == "stream":
        options = pa.ipc.IpcReadOptions(included_fields=[index], use_threads=False)
        try:
            unit_rows = [b.num_rows for b in _stream(path, options)]
        except (pa.ArrowException, OSError) as e:
            raise _fail(name, path, f"is not an Arrow IPC stream that pyarrow can read "
                                    f"({' '.join(str(e).split())[:200]})") from None
        rows = sum(unit_rows)
    col = ArrowColumn(path, kind, column, index, levels, dtype, tuple(w or 0 for w in levels),
                      rows, unit_rows, name)
    if rows and None in levels:  # a variable list: its width is the first row's
        first = next(col._arrays(0)).slice(0, 1)
        if first.null_count:
            raise _fail(name, path, f"column {_q(column)}: row 0 holds a null; expected numbers")
        col.shape = (rows, *_first_row_widths(first, levels))
        col._reset()
    return col


def names_in(path: str, name: str = "file") -> list[str]:
    """The column names of the file, from its schema alone."""
    pa = require_pyarrow(path, name)
    try:
        if path.lower().endswith(".parquet"):
            import pyarrow.parquet as pq
            return list(pq.read_schema(path).names)
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic == b"ARROW1":
            return list(pa.ipc.open_file(pa.memory_map(path)).schema.names)
        with pa.ipc.open_stream(pa.memory_map(path)) as r:
            return list(r.schema.names)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise _fail(name, path, f"could not be read by pyarrow ({' '.join(str(e).split())[:200]})"
                    ) from None
