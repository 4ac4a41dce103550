"""What the file-format readers' tests share: arrays of every dtype and shape, and checks
against the same array saved as .npy, or an error naming the argument and the file; safetensors
files written by hand."""

from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest

from losscalc.errors import LossError
from losscalc.readers.formats import open_tensor


def same_as_npy(got, expected: np.ndarray, tmp_path) -> None:
    """`got` (what a reader returned) equals `expected` saved as .npy and loaded back, in
    value, shape and dtype; read whole, by rows, and after a pickle round trip."""
    np.save(tmp_path / "ref.npy", expected)
    ref = np.load(tmp_path / "ref.npy")
    assert got.shape == ref.shape and got.dtype == ref.dtype
    assert got.dtype.isnative
    whole = np.asarray(got)
    assert whole.dtype == ref.dtype and np.array_equal(whole, ref, equal_nan=ref.dtype.kind == "f")
    if ref.ndim and len(ref) > 2:
        cut = len(ref) // 2
        rows = np.concatenate([got[0:cut], got[cut:len(ref)]])
        assert np.array_equal(rows, ref, equal_nan=ref.dtype.kind == "f")
        back = pickle.loads(pickle.dumps(got))
        assert np.array_equal(np.asarray(back[1:len(ref)]), ref[1:],
                              equal_nan=ref.dtype.kind == "f")


def raises(path, key, name="target", *fragments):
    with pytest.raises(LossError) as info:
        got = open_tensor(str(path), key, name)
        np.asarray(got)  # data errors (nulls, ragged lists) show when the rows are read
    msg = str(info.value)
    assert msg.startswith(f"{name}: file {str(path)!r}: "), msg
    for fragment in fragments:
        assert fragment in msg, msg
    assert "\n" not in msg
    return msg


RNG = np.random.default_rng(13)


NUMERIC = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def sample(dtype: str, shape) -> np.ndarray:
    if dtype == "bool":
        return np.asarray(RNG.random(shape) < 0.5)
    if dtype.startswith("float"):
        a = RNG.standard_normal(shape).astype(dtype)
        if a.size >= 4:
            a.flat[:4] = [np.inf, -np.inf, np.nan, -0.0]
        return a
    info = np.iinfo(dtype)
    a = np.asarray(RNG.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True))
    if a.size >= 2:
        a.flat[:2] = [info.min, info.max]
    return a


SHAPES = [(7,), (5, 3), (2, 3, 4), (), (0,), (0, 4)]


def write_st(path, header, data: bytes = b"", *, raw: bytes | None = None, length=None):
    """A safetensors file by hand: a header (an object, or raw bytes) and the data area."""
    body = raw if raw is not None else json.dumps(header).encode()
    n = len(body) if length is None else length
    path.write_bytes(struct.pack("<Q", n) + body + data)
    return path


def entry(dtype="F32", shape=(4, 5), begin=0, end=80):
    """One tensor's entry in a safetensors header."""
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}
