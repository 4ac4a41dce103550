"""readers/npy.py through load_tensor: .npy (every dtype kept, large files memory-mapped,
big-endian made native, pickles refused unread, the shape checked before reading) and .npz
(with and without a key)."""

import numpy as np
import pytest

from losscalc.readers import npy
from losscalc.tensors import TensorSource, load_tensor
from tests.helpers import load, load_error as error


@pytest.mark.parametrize("array", [np.arange(6.0).reshape(2, 3), np.arange(4), np.array([True]),
                                   np.array(2.5, dtype=np.float32)])
def test_npy_keeps_shape_and_dtype(here, array, load_calls):
    np.save("pred.npy", array)
    ts = load("pred.npy")
    assert isinstance(ts, TensorSource) and ts.source == "pred.npy"
    assert ts.array.dtype == array.dtype and ts.array.shape == array.shape
    np.testing.assert_array_equal(ts.array, array)
    assert load_calls and all(c["allow_pickle"] is False for c in load_calls)
    assert all(c.get("mmap_mode") is None for c in load_calls)


def test_large_npy_is_memory_mapped(here, monkeypatch, load_calls):
    monkeypatch.setattr(npy, "MMAP_THRESHOLD", 10)
    np.save("big.npy", np.arange(100.0))
    ts = load("big.npy")
    assert load_calls[-1] == {"allow_pickle": False, "mmap_mode": "r"}
    assert not ts.array.flags.writeable
    np.testing.assert_array_equal(ts.array, np.arange(100.0))


def test_big_endian_npy_becomes_native(here):
    np.save("be.npy", np.arange(3, dtype=">f8"))
    ts = load("be.npy")
    assert ts.array.dtype == np.float64 and ts.array.dtype.isnative


def test_pickled_object_npy_is_refused_without_unpickling(here, load_calls):
    np.save("obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    message = error("obj.npy")
    assert "dtype object" in message and "numeric array" in message
    assert all(c.get("allow_pickle") is False for c in load_calls)


@pytest.mark.parametrize("array", [np.array(["a", "b"]), np.array([1 + 2j]),
                                   np.zeros(2, dtype=[("x", "<f8"), ("y", "<i4")])])
def test_non_numeric_npy_is_refused(here, array):
    np.save("x.npy", array)
    message = error("x.npy")
    assert f"dtype {array.dtype}" in message and "expected a numeric array" in message


def test_truncated_and_garbage_npy(here):
    np.save("t.npy", np.arange(100.0))
    data = (here / "t.npy").read_bytes()
    (here / "t.npy").write_bytes(data[:-40])
    assert "truncated" in error("t.npy")
    (here / "g.npy").write_bytes(b"this is not numpy at all")
    assert "not a valid .npy file" in error("g.npy")
    (here / "e.npy").write_bytes(b"")
    assert "not a valid .npy file" in error("e.npy")


def test_npy_shape_is_checked_before_reading(here):
    with open("huge.npy", "wb") as f:
        header = {"descr": "<f8", "fortran_order": False, "shape": (2**20, 2**10)}
        np.lib.format.write_array_header_1_0(f, header)
    assert "is truncated" in error("huge.npy")  # files have no element limit, but must hold their data


def test_npz_with_and_without_key(here):
    np.savez("one.npz", logits=np.ones((2, 3)))
    np.savez("two.npz", logits=np.ones(2), target=np.array([0, 1]))
    ts = load("one.npz")
    assert ts.source == "one.npz:logits" and ts.array.shape == (2, 3)
    ts = load("two.npz:target")
    assert ts.source == "two.npz:target" and ts.array.dtype == np.int64
    assert "holds 2 arrays (logits, target)" in error("two.npz")


def test_npz_missing_key_lists_keys(here):
    np.savez_compressed("run.npz", logits=np.ones(2), target=np.zeros(2))
    message = error("run.npz:weights")
    assert '"weights"' in message and "available keys: logits, target" in message


def test_npz_object_member_and_not_a_zip(here):
    np.savez("obj.npz", o=np.array([None], dtype=object))
    assert "dtype object" in error("obj.npz:o")
    (here / "bad.npz").write_bytes(b"PK\x03\x04 definitely broken")
    assert "not a .npz archive" in error("bad.npz")
