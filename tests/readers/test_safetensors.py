"""readers/safetensors.py: every dtype and shape safetensors writes, compared with .npy; bf16
widened exactly; every header error naming the file and the field; a hypothesis fuzz of the
header parser (mutated files, random bytes, lying headers)."""

from __future__ import annotations

import json
import os
import struct
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscalc.errors import LossError
from losscalc.readers.base import LazyArray
from losscalc.readers.formats import names_in, open_tensor
from tests.readers.arrays import NUMERIC, SHAPES, entry, raises, same_as_npy, sample, write_st


@pytest.mark.parametrize("dtype", NUMERIC)
@pytest.mark.parametrize("shape", SHAPES)
def test_safetensors_dtypes_and_shapes(tmp_path, dtype, shape):
    stnp = pytest.importorskip("safetensors.numpy")
    a = sample(dtype, shape)
    path = tmp_path / "model.safetensors"
    stnp.save_file({"x": a, "other": np.ones(3, np.float32)}, str(path))
    got = open_tensor(str(path), "x", "input")
    if a.size:
        assert isinstance(got, np.memmap) or a.ndim == 0
    same_as_npy(got, a, tmp_path)


def test_safetensors_one_tensor_needs_no_name_and_metadata_is_not_a_tensor(tmp_path):
    stnp = pytest.importorskip("safetensors.numpy")
    a = sample("float32", (4, 5))
    path = tmp_path / "m.safetensors"
    stnp.save_file({"logits": a}, str(path), metadata={"format": "np", "step": "3"})
    same_as_npy(open_tensor(str(path), None, "input"), a, tmp_path)
    assert names_in(str(path)) == ["logits"]


def test_safetensors_bf16_is_widened_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    stt = pytest.importorskip("safetensors.torch")
    t = torch.randn(300, 7).to(torch.bfloat16)
    special = torch.tensor([float("inf"), -float("inf"), float("nan"), -0.0, 1e-40, 3.0e38])
    t.view(-1)[:6] = special.to(torch.bfloat16)
    path = tmp_path / "bf.safetensors"
    stt.save_file({"logits": t, "w": torch.ones(2)}, str(path))
    got = open_tensor(str(path), "logits", "input")
    assert isinstance(got, LazyArray) and got.dtype == np.float32 and got.shape == (300, 7)
    expected = t.float().numpy()
    same_as_npy(got, expected, tmp_path)
    assert np.array_equal(np.asarray(got).view(np.uint32), expected.view(np.uint32))
    assert got.source == "bf.safetensors:logits"


def test_safetensors_names_in_reads_the_header_only(tmp_path):
    stnp = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "m.safetensors"
    stnp.save_file({"b": np.ones(2), "a": np.zeros((1, 2), np.int8)}, str(path))
    assert names_in(str(path)) == ["a", "b"]
    (tmp_path / "junk.safetensors").write_bytes(b"\x05\x00")
    assert names_in(str(tmp_path / "junk.safetensors")) == []
    assert names_in(str(tmp_path / "missing.safetensors")) == []


def test_safetensors_header_errors_name_the_file_and_the_field(tmp_path):
    p = tmp_path / "bad.safetensors"
    raises(write_st(p, {"logits": entry(end=96)}, bytes(96)), "logits", "target",
           'tensor "logits": data_offsets [0, 96] hold 96 bytes, but shape (4, 5) of F32 '
           "needs 80")
    raises(write_st(p, {"logits": entry()}, bytes(40)), None, "--weight",
           'tensor "logits": data_offsets [0, 80] go outside the data area, which holds 40 '
           "bytes after the header")
    raises(write_st(p, {"a": entry(shape=(10,), end=40), "b": entry(shape=(10,), begin=20,
                                                                  end=60)}, bytes(60)),
           "a", "input", 'tensors "a" and "b" overlap: data_offsets [0, 40] and [20, 60]')
    raises(write_st(p, {"x": entry(dtype="F8_E4M3", shape=(2,), end=2)}, bytes(2)), "x",
           "input", 'tensor "x": dtype "F8_E4M3" is not one losscalc reads (expected one of '
           "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)")
    raises(write_st(p, {"x": entry(dtype=3)}, bytes(80)), "x", "input", "dtype 3 is not one")
    raises(write_st(p, {"x": entry(shape=(-4, -5))}, bytes(80)), "x", "input",
           'tensor "x": shape [-4, -5] is not a list of whole numbers >= 0')
    raises(write_st(p, {"x": entry(shape=(4.0, 5))}, bytes(80)), "x", "input",
           "shape [4.0, 5] is not a list")
    raises(write_st(p, {"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}},
                    bytes(8)), "x", "input", "data_offsets [4, 0] is not 0 <= begin <= end")
    raises(write_st(p, {"x": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}, bytes(8)),
           "x", "input", "data_offsets [0] is not a pair of whole numbers")
    raises(write_st(p, {"x": {"dtype": "F32", "shape": [1]}}, bytes(4)), "x", "input",
           'tensor "x": the field "data_offsets" is missing')
    raises(write_st(p, {"x": [1, 2]}), "x", "input", 'tensor "x": expected an object')
    raises(write_st(p, [1, 2]), None, "input", "the header is a JSON array, expected an object")
    raises(write_st(p, None), None, "input", "the header is a JSON null, expected an object")
    raises(write_st(p, {"__metadata__": 3}), None, "input", '"__metadata__" is not an object')
    raises(write_st(p, None, raw=b'{"x": 1, "x": 2}'), "x", "input",
           'the header has the key "x" twice')
    raises(write_st(p, None, raw=b'{"x": {"dtype": "F32"'), "x", "input",
           "the header is not valid JSON")
    raises(write_st(p, None, raw=b'{"\xff": 1}'), None, "input",
           "the header is not valid UTF-8 (byte 10 of the file)")
    raises(write_st(p, None, raw=b"{}", length=1000), None, "input",
           "the header length 1000 goes beyond the end of the file (10 bytes, so at most 2 "
           "bytes of header)")
    p.write_bytes(b"\x01\x00")
    raises(p, None, "input", "it is 2 bytes long, too short for a safetensors file")


def test_safetensors_key_errors(tmp_path):
    p = write_st(tmp_path / "two.safetensors", {"a": entry(shape=(1,), end=4),
                                                "b": entry(shape=(1,), begin=4, end=8)},
                 bytes(8))
    raises(p, None, "input", "holds 2 tensors; name one as 'FILE:NAME'; it holds \"a\", \"b\"")
    raises(p, "c", "input", 'has no tensor "c"; it holds "a", "b"')
    raises(write_st(tmp_path / "none.safetensors", {"__metadata__": {}}), None, "input",
           "holds no tensors")
    raises(tmp_path / "absent.safetensors", None, "input", "does not exist")
    (tmp_path / "dir.safetensors").mkdir()
    raises(tmp_path / "dir.safetensors", None, "input", "is a directory")


def test_safetensors_zero_size_tensors_may_share_an_offset(tmp_path):
    p = write_st(tmp_path / "z.safetensors", {"a": entry(shape=(0, 3), end=0),
                                              "b": entry(shape=(0,), end=0),
                                              "c": entry(shape=(1,), end=4)}, bytes(4))
    assert open_tensor(str(p), "a", "input").shape == (0, 3)
    assert np.array_equal(open_tensor(str(p), "c", "input"), [0.0])


def _valid_file() -> bytes:
    header = {"a": entry(shape=(2, 3), end=24), "b": entry("I16", (3,), 24, 30),
              "s": entry("BF16", (2,), 30, 34), "__metadata__": {"k": "v"}}
    body = json.dumps(header).encode()
    return struct.pack("<Q", len(body)) + body + bytes(range(34))


def _mutate(data: bytes, edits) -> bytes:
    b = bytearray(data)
    for kind, pos, value in edits:
        pos = pos % (len(b) + 1)
        if kind == 0 and b:
            b[pos % len(b)] = value
        elif kind == 1:
            b.insert(pos, value)
        elif kind == 2 and b:
            del b[pos % len(b)]
        else:
            del b[pos:]
    return bytes(b)


def _check_any_bytes(data: bytes, key) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "f.safetensors")
        with open(path, "wb") as f:
            f.write(data)
        try:
            got = open_tensor(path, key, "input")
        except LossError as e:
            assert str(e).startswith(f"input: file {path!r}: ")
            return
        if isinstance(got, np.memmap):  # mapped inside the file, never past its end
            assert got.offset + got.nbytes <= len(data)
        if isinstance(got, LazyArray):  # BF16
            assert got.info.offset + got.info.nbytes <= len(data)
        np.asarray(got)
        del got


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 400), st.integers(0, 255)),
                max_size=6),
       st.sampled_from([None, "a", "b", "s", "zz"]))
def test_fuzz_mutated_safetensors_give_an_array_or_a_loss_error(edits, key):
    _check_any_bytes(_mutate(_valid_file(), edits), key)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 2**64 - 1), st.sampled_from([None, "a"]))
def test_fuzz_random_bytes_give_an_array_or_a_loss_error(rest, length, key):
    _check_any_bytes(struct.pack("<Q", length) + rest, key)
    _check_any_bytes(rest, key)


header_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**70) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                               max_size=4), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "__metadata__"]),
                       st.fixed_dictionaries({"dtype": st.sampled_from(["F32", "U8", "BF16", 7]),
                                              "shape": st.lists(st.integers(-1, 5), max_size=3)
                                              | header_values,
                                              "data_offsets": st.lists(st.integers(-2, 80),
                                                                       max_size=3)})
                       | header_values, max_size=3),
       st.integers(0, 80), st.sampled_from([None, "a", "b"]))
def test_fuzz_lying_headers_give_an_array_or_a_loss_error(header, data_size, key):
    body = json.dumps(header).encode()
    _check_any_bytes(struct.pack("<Q", len(body)) + body + bytes(data_size), key)
