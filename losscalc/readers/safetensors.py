"""safetensors, read natively: no dependency, memory-mapped, the header checked first.

The format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each
tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into the data
area that follows the header) plus an optional `"__metadata__"` object, then the data.
Every claim of the header is checked against the file's size before any data is touched;
nothing is ever read past the end of the file.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import sys
from dataclasses import dataclass

import numpy as np

from ..errors import LossError
from .base import LazyArray, quote as _q
from .pickles import pickle_kind, refuse_pickle


# safetensors' own limit on the header (100 MB): a longer one is refused, not read.
MAX_HEADER = 100_000_000

DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # widened to float32 on read
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of the header, checked: where its bytes are in the file."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    offset: int  # absolute, in the file
    nbytes: int


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise _Duplicate(k)
        seen[k] = v
    return seen


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def read_header(path: str, name: str) -> dict[str, TensorInfo]:
    """The tensors of the safetensors file at `path`, in header order, every field checked.
    Raises `LossError` naming argument `name`, the file and the field that is wrong."""
    def fail(what: str) -> LossError:
        return LossError(f"{name}: file {path!r}: {what}.")

    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise _refine(path, name, fail(
                    f"it is {size} bytes long, too short for a safetensors file (which starts "
                    f"with an 8-byte header length)"))
            n = int.from_bytes(head, "little")
            if n > size - 8:
                raise _refine(path, name, fail(
                    f"the header length {n} goes beyond the end of the file ({size} bytes, "
                    f"so at most {size - 8} bytes of header)"))
            if n > MAX_HEADER:
                raise fail(f"the header length {n} is more than safetensors' limit of "
                           f"{MAX_HEADER} bytes")
            raw = f.read(n)
    except OSError as e:
        raise fail(f"could not be read ({e.strerror or e})") from None
    if len(raw) != n:
        raise fail(f"the file ended inside the header ({len(raw)} of {n} bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _refine(path, name, fail(
            f"the header is not valid UTF-8 (byte {e.start + 8} of the file)")) from None
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except _Duplicate as e:
        raise fail(f"the header has the key {_q(e.args[0])} twice") from None
    except RecursionError:
        raise fail("the header is JSON nested too deeply") from None
    except ValueError as e:
        raise _refine(path, name, fail(f"the header is not valid JSON ({e})")) from None
    if not isinstance(header, dict):
        kind = {list: "array", str: "string", bool: "boolean", int: "number",
                float: "number"}.get(type(header), "null")
        raise fail(f"the header is a JSON {kind}, expected an object "
                   f"mapping tensor names to their dtype, shape and data_offsets")
    meta = header.get("__metadata__")
    if meta is not None and not isinstance(meta, dict):
        raise fail("the header's \"__metadata__\" is not an object of strings")
    data_start, data_size = 8 + n, size - 8 - n
    tensors = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        tensors[key] = _check_entry(key, entry, data_start, data_size, fail)
    spans = sorted((t.offset, t.offset + t.nbytes, t.name) for t in tensors.values() if t.nbytes)
    for (b0, e0, a), (b1, e1, b) in zip(spans, spans[1:]):
        if b1 < e0:
            raise fail(f"tensors {_q(a)} and {_q(b)} overlap: data_offsets "
                       f"[{b0 - data_start}, {e0 - data_start}] and "
                       f"[{b1 - data_start}, {e1 - data_start}]")
    return tensors


def _check_entry(key, entry, data_start, data_size, fail) -> TensorInfo:
    where = f"tensor {_q(key)}"
    if not isinstance(entry, dict):
        raise fail(f"{where}: expected an object with dtype, shape and data_offsets, "
                   f"got {json.dumps(entry)[:40]}")
    for field in ("dtype", "shape", "data_offsets"):
        if field not in entry:
            raise fail(f"{where}: the field {_q(field)} is missing")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise fail(f"{where}: dtype {json.dumps(dtype)[:40]} is not one losscalc reads "
                   f"(expected one of {', '.join(DTYPES)})")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise fail(f"{where}: shape {json.dumps(shape)[:60]} is not a list of whole "
                   f"numbers >= 0")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)):
        raise fail(f"{where}: data_offsets {json.dumps(offsets)[:60]} is not a pair of "
                   f"whole numbers [begin, end]")
    begin, end = offsets
    if not 0 <= begin <= end:
        raise fail(f"{where}: data_offsets [{begin}, {end}] is not 0 <= begin <= end")
    if end > data_size:
        raise fail(f"{where}: data_offsets [{begin}, {end}] go outside the data area, which "
                   f"holds {data_size} bytes after the header")
    need = math.prod(shape) * DTYPES[dtype].itemsize
    if need != end - begin:
        raise fail(f"{where}: data_offsets [{begin}, {end}] hold {end - begin} bytes, but "
                   f"shape {tuple(shape)} of {dtype} needs {need}")
    return TensorInfo(key, dtype, tuple(shape), data_start + begin, end - begin)


def _refine(path: str, name: str, error: LossError) -> LossError:
    """A header that is not one may be a pickle renamed: say so rather than blame a field."""
    if pickle_kind(path) is not None:
        try:
            refuse_pickle(path, name)
        except LossError as e:
            return e
    return error


def names_in(path: str, name: str = "file") -> list[str]:
    """The tensor names of the file, sorted (the header alone is read)."""
    return sorted(read_header(path, name))


def open_safetensors(path: str, key: str | None, name: str):
    """The tensor `key` of the file (or its only tensor when `key` is None): an `np.memmap`
    of the file's bytes, a `BF16Array` widening to float32, or a small array for a scalar."""
    tensors = read_header(path, name)
    if key is None:
        if len(tensors) != 1:
            raise LossError(f"{name}: file {path!r}: holds {_count(tensors)}; name one as "
                            f"'FILE:NAME'{_listing(tensors)}.")
        (info,) = tensors.values()
    elif key not in tensors:
        raise LossError(f"{name}: file {path!r}: has no tensor {_q(key)}{_listing(tensors)}.")
    else:
        info = tensors[key]
    if info.dtype == "BF16":
        return BF16Array(path, info)
    dtype = DTYPES[info.dtype]
    if info.nbytes == 0 or info.shape == ():
        with open(path, "rb") as f:
            f.seek(info.offset)
            data = f.read(info.nbytes)
        return np.frombuffer(data, dtype).reshape(info.shape).astype(dtype.newbyteorder("="))
    m = _sequential(np.memmap(path, dtype=dtype, mode="r", offset=info.offset, shape=info.shape))
    if dtype.byteorder not in ("=", "|") and sys.byteorder != "little":
        return _Swapped(m, path, info)
    return m


def _sequential(m: np.memmap) -> np.memmap:
    """Tell the kernel the map is read front to back, so it reads ahead (a 1.6 GB tensor
    read cold in 1e6-element chunks: 4.4 s without, 1.8 s with, on the test machine)."""
    mapping = getattr(m, "_mmap", None)
    if m.nbytes >= 1 << 26 and hasattr(mapping, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
        try:
            mapping.madvise(mmap.MADV_SEQUENTIAL)
        except OSError:
            pass
    return m


def _count(tensors) -> str:
    return "no tensors" if not tensors else f"{len(tensors)} tensors"


def _listing(tensors) -> str:
    if not tensors:
        return ""
    names = sorted(tensors)
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return "; it holds " + ", ".join(_q(k) for k in names[:10]) + more


class _MappedTensor(LazyArray):
    """A tensor of a safetensors file read through a memory map opened on first use (the
    map is dropped when pickled, so a Dask worker maps the file itself)."""

    def __init__(self, path: str, info: TensorInfo):
        self.path, self.info = path, info
        self.shape = info.shape
        self.source = f"{os.path.basename(path)}:{info.name}"
        self._map = None

    def _rows(self, start: int, stop: int) -> np.ndarray:
        if self._map is None:
            self._map = _sequential(np.memmap(self.path, dtype=DTYPES[self.info.dtype], mode="r",
                                              offset=self.info.offset, shape=self.info.shape))
        return self._map[start:stop]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_map"] = None
        return state


class BF16Array(_MappedTensor):
    """A BF16 tensor widened exactly to float32, chunk by chunk: bfloat16 is the top half
    of a float32, so the uint16 bits shifted left by 16 are the float32's bits."""

    dtype = np.dtype(np.float32)

    def read(self, start: int, stop: int) -> np.ndarray:
        bits = self._rows(start, stop)
        return (bits.astype(np.uint32) << 16).view(np.float32)


class _Swapped(_MappedTensor):
    """A little-endian tensor on a big-endian machine, turned to native order per chunk."""

    def __init__(self, m, path, info):
        super().__init__(path, info)
        self.dtype = DTYPES[info.dtype].newbyteorder("=")

    def read(self, start: int, stop: int) -> np.ndarray:
        return self._rows(start, stop).astype(self.dtype)
