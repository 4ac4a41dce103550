"""The file formats of SPEC section 12 (losscalc/readers): every dtype and form written by the
real libraries and compared with the same array saved as .npy; every error message (the
argument, the file, the field); a hypothesis fuzz of the safetensors header parser; the
pickle refusal. The bounded-memory tests on big files are in test_formats_memory.py."""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscalc.errors import LossError
from losscalc.readers.base import LazyArray
from losscalc.readers.formats import SUFFIXES, names_in, open_tensor, refuse_pickle


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

# -- safetensors ---------------------------------------------------------------------------


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


def write_st(path, header, data: bytes = b"", *, raw: bytes | None = None, length=None):
    """A safetensors file by hand: a header (an object, or raw bytes) and the data area."""
    body = raw if raw is not None else json.dumps(header).encode()
    n = len(body) if length is None else length
    path.write_bytes(struct.pack("<Q", n) + body + data)
    return path


def entry(dtype="F32", shape=(4, 5), begin=0, end=80):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}


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


# -- pickles -----------------------------------------------------------------------------------

PICKLE_HINTS = ("is a pickle", "losscalc never unpickles", "numpy.save('x.npy', t.numpy())",
                "safetensors.torch.save_file({'x': t}, 'x.safetensors')")


@pytest.mark.parametrize("ext", [".pt", ".pth", ".pkl", ".pickle", ".PT"])
def test_pickles_are_refused_by_name(tmp_path, ext):
    path = tmp_path / f"model{ext}"
    path.write_bytes(b"anything")
    raises(path, None, "input", *PICKLE_HINTS)
    raises(tmp_path / f"absent{ext}", "x", "--weight", *PICKLE_HINTS)


@pytest.mark.parametrize("ext", [".safetensors", ".parquet", ".feather", ".h5", ".arrow", ".bin"])
def test_torch_save_is_refused_by_content_whatever_its_name(tmp_path, ext):
    torch = pytest.importorskip("torch")
    path = tmp_path / f"weights{ext}"
    torch.save({"x": torch.ones(3)}, str(path))
    with pytest.raises(LossError) as info:
        refuse_pickle(str(path), "--weight")
    assert "as torch.save writes" in str(info.value)
    if ext != ".bin":
        raises(path, None, "--weight", "torch.save", *PICKLE_HINTS)
    legacy = tmp_path / f"legacy{ext}"
    torch.save(torch.ones(3), str(legacy), _use_new_zipfile_serialization=False)
    with pytest.raises(LossError, match="pickle protocol 2"):
        refuse_pickle(str(legacy), "input")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_pickles_are_refused_by_content(tmp_path, protocol):
    path = tmp_path / "table.parquet"
    path.write_bytes(pickle.dumps([1.0, 2.0], protocol=protocol))
    raises(path, None, "input", f"pickle protocol {protocol}", *PICKLE_HINTS)


def test_refuse_pickle_lets_npy_npz_and_safetensors_through(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3))
    np.savez(tmp_path / "a.npz", x=np.arange(3))
    # a header length whose low byte is 0x80 looks like a pickle opcode: still a safetensors
    body = json.dumps({"x": entry(shape=(1,), end=4)}).encode()
    body += b" " * (0x0280 - len(body))
    (tmp_path / "a.safetensors").write_bytes(struct.pack("<Q", len(body)) + body + bytes(4))
    for p in ("a.npy", "a.npz", "missing.npy"):
        refuse_pickle(str(tmp_path / p), "input")
    assert np.array_equal(open_tensor(str(tmp_path / "a.safetensors"), None, "input"), [0.0])


# -- Parquet, Feather, Arrow IPC ----------------------------------------------------------------

ARROW_DTYPES = NUMERIC + ["uint16", "uint32", "uint64"]


def write_arrow(pa, table, path, fmt, rows_per_unit):
    if fmt == "parquet":
        import pyarrow.parquet as pq
        pq.write_table(table, path, row_group_size=rows_per_unit)
    elif fmt == "feather":
        import pyarrow.feather as fe
        fe.write_feather(table, path, chunksize=rows_per_unit)  # lz4-compressed by default
    elif fmt == "arrow":
        with pa.ipc.new_file(path, table.schema) as w:
            for b in table.to_batches(max_chunksize=rows_per_unit):
                w.write_batch(b)
    else:  # .ipc: the stream format
        with pa.ipc.new_stream(path, table.schema) as w:
            for b in table.to_batches(max_chunksize=rows_per_unit):
                w.write_batch(b)


FORMATS = ["parquet", "feather", "arrow", "ipc"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_arrow_columns_of_every_dtype_and_form(tmp_path, fmt):
    pa = pytest.importorskip("pyarrow")
    n = 23
    columns = {dt: sample(dt, (n,)) for dt in ARROW_DTYPES}
    flat2 = sample("float32", (n, 4))
    flat3 = sample("int16", (n, 2, 3))
    table = pa.table({
        **columns,
        "list": pa.array(list(flat2), pa.list_(pa.float32())),
        "large_list": pa.array(list(flat2), pa.large_list(pa.float32())),
        "fixed": pa.FixedSizeListArray.from_arrays(pa.array(flat2.ravel()), 4),
        "nested": pa.array([[list(r) for r in m] for m in flat3], pa.list_(pa.list_(pa.int16()))),
        "empty_lists": pa.array([[] for _ in range(n)], pa.list_(pa.float64())),
    })
    path = str(tmp_path / f"eval.{fmt}")
    write_arrow(pa, table, path, fmt, rows_per_unit=5)
    assert names_in(path) == table.schema.names
    for dt, a in columns.items():
        got = open_tensor(path, dt, "input")
        assert got.source == f"eval.{fmt}:{dt}"
        same_as_npy(got, a, tmp_path)
    for key in ("list", "large_list", "fixed"):
        same_as_npy(open_tensor(path, key, "input"), flat2, tmp_path)
    same_as_npy(open_tensor(path, "nested", "input"), flat3, tmp_path)
    same_as_npy(open_tensor(path, "empty_lists", "input"), np.zeros((n, 0)), tmp_path)
    same_as_npy(open_tensor(path, "1", "input"), columns[ARROW_DTYPES[1]], tmp_path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_arrow_reads_any_row_range_in_any_order(tmp_path, fmt):
    pa = pytest.importorskip("pyarrow")
    a = np.arange(1000, dtype=np.float64)
    path = str(tmp_path / f"y.{fmt}")
    write_arrow(pa, pa.table({"y": a}), path, fmt, rows_per_unit=64)
    got = open_tensor(path, None, "input")
    assert got.shape == (1000,) and got.chunk_rows == 64
    ranges = [(0, 1000), (10, 20), (5, 7), (63, 65), (900, 1000), (0, 1), (999, 1000), (500, 500),
              (130, 700), (128, 129), (0, 64), (64, 128)]
    order = np.random.default_rng(0).permutation(len(ranges))
    for i in [*range(len(ranges)), *order]:
        start, stop = ranges[i]
        assert np.array_equal(got.read(start, stop), a[start:stop])
    assert np.array_equal(got[990:2000], a[990:])


@pytest.mark.parametrize("fmt", FORMATS)
def test_arrow_chunks_read_from_threads_and_after_pickling(tmp_path, fmt):
    pa = pytest.importorskip("pyarrow")
    from concurrent.futures import ThreadPoolExecutor
    a = np.arange(5000 * 3, dtype=np.int32).reshape(5000, 3)
    path = str(tmp_path / f"x.{fmt}")
    write_arrow(pa, pa.table({"x": pa.FixedSizeListArray.from_arrays(pa.array(a.ravel()), 3)}),
                path, fmt, rows_per_unit=700)
    got = open_tensor(path, "x", "input")
    for col in (got, pickle.loads(pickle.dumps(got))):
        with ThreadPoolExecutor(4) as pool:
            parts = list(pool.map(lambda i: col.read(i, i + 333), range(0, 5000, 333)))
        assert np.array_equal(np.concatenate(parts), a)


@pytest.mark.parametrize("fmt", FORMATS)
def test_arrow_errors_name_the_column_and_row(tmp_path, fmt):
    pa = pytest.importorskip("pyarrow")
    n = 12
    table = pa.table({
        "y": np.arange(n, dtype=np.float64),
        "with_null": pa.array([1.0] * 9 + [None] + [1.0] * 2),
        "null_inside": pa.array([[1, 2]] * 7 + [[1, None]] + [[1, 2]] * 4),
        "null_list": pa.array([[1, 2]] * 10 + [None, [1, 2]]),
        "ragged": pa.array([[1.0]] * 8 + [[1.0, 2.0]] + [[1.0]] * 3),
        "text": pa.array(["a"] * n),
        "when": pa.array(np.arange(n).astype("datetime64[s]")),
    })
    path = tmp_path / f"eval.{fmt}"
    write_arrow(pa, table, str(path), fmt, rows_per_unit=5)
    raises(path, "with_null", "target", 'column "with_null": row 9 holds a null; expected numbers')
    raises(path, "null_inside", "target", 'column "null_inside": row 7 holds a null inside its '
                                          "list")
    raises(path, "null_list", "target", 'column "null_list": row 10 holds a null')
    raises(path, "ragged", "target", 'column "ragged": row 8 holds a list of length 2, but row '
                                     "0's has 1")
    raises(path, "text", "--weight", 'column "text" has type string, which is not numbers')
    raises(path, "when", "--weight", 'column "when" has type timestamp[', "which is not numbers")
    raises(path, "y_pred", "target", 'has no column "y_pred"; its columns are "y", "with_null"')
    raises(path, "7", "target", "has no column number 7 (it has 7 columns, numbered from 0)")
    raises(path, None, "target", 'has 7 columns ("y", "with_null"', "name one as 'FILE:COLUMN'")


def test_arrow_a_failed_read_leaves_the_column_readable(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"y": pa.array([0.0, 1.0, 2.0, None, 4.0, 5.0])}),
                   tmp_path / "y.parquet", row_group_size=2)
    got = open_tensor(str(tmp_path / "y.parquet"), "y", "input")
    assert np.array_equal(got.read(0, 3), [0.0, 1.0, 2.0])
    with pytest.raises(LossError, match="row 3 holds a null"):
        got.read(2, 6)
    assert np.array_equal(got.read(4, 6), [4.0, 5.0])
    assert np.array_equal(got.read(1, 3), [1.0, 2.0])


def test_arrow_other_errors(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.feather as fe
    import pyarrow.parquet as pq
    dup = pa.Table.from_arrays([pa.array([1.0]), pa.array([2.0])], names=["y", "y"])
    pq.write_table(dup, tmp_path / "dup.parquet")
    raises(tmp_path / "dup.parquet", "1", "input", 'has 2 columns named "y", which cannot be '
                                                   "told apart in Parquet; rename one")
    fe.write_feather(dup, tmp_path / "dup.feather")
    raises(tmp_path / "dup.feather", "y", "input", 'has 2 columns named "y"; give the 0-based '
                                                   "number")
    assert np.array_equal(open_tensor(str(tmp_path / "dup.feather"), "1", "input"), [2.0])
    (tmp_path / "v1.feather").write_bytes(b"FEA1" + bytes(60))
    raises(tmp_path / "v1.feather", None, "input", "is a Feather version 1 file",
           "pyarrow.feather.write_feather(table, path)")
    (tmp_path / "junk.parquet").write_bytes(b"not a parquet file at all")
    raises(tmp_path / "junk.parquet", None, "input", "is not a Parquet file that pyarrow can read")
    (tmp_path / "junk.arrow").write_bytes(b"\x00" * 3)
    raises(tmp_path / "junk.arrow", None, "input", "is not an Arrow IPC (Feather version 2) file")
    fe.write_feather(pa.table({"y": pa.array([], pa.float32())}), tmp_path / "empty.feather")
    assert open_tensor(str(tmp_path / "empty.feather"), None, "input").shape == (0,)
    assert names_in(str(tmp_path / "junk.parquet")) == []


# -- HDF5 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", NUMERIC + [">f8", ">i4", "uint64"])
@pytest.mark.parametrize("chunks", [None, True])
def test_hdf5_datasets(tmp_path, dtype, chunks):
    h5py = pytest.importorskip("h5py")
    a = sample(np.dtype(dtype).newbyteorder("=").name, (37, 3)).astype(dtype)
    path = tmp_path / "run.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("eval/logits", data=a, chunks=(8, 3) if chunks else None)
        f.create_dataset("scalar", data=a[0, 0])
        f.create_dataset("empty", data=a[:0])
    for key in ("/eval/logits", "eval/logits"):
        got = open_tensor(str(path), key, "input")
        assert got.chunk_rows == (8 if chunks else None)
        assert got.source == "run.h5:/eval/logits"
        same_as_npy(got, a.astype(a.dtype.newbyteorder("=")), tmp_path)
    same_as_npy(open_tensor(str(path), "scalar", "input"), np.asarray(a[0, 0]).astype(
        a.dtype.newbyteorder("=")), tmp_path)
    assert open_tensor(str(path), "/empty", "input").shape == (0, 3)
    assert names_in(str(path)) == ["/empty", "/eval/logits", "/scalar"]


def test_hdf5_errors(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "run.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("eval/logits", data=np.ones((2, 2)))
        f.create_dataset("names", data=np.array([b"a", b"b"]))
        f.create_dataset("pairs", data=np.zeros(2, [("a", "f4"), ("b", "i4")]))
        f.create_dataset("nothing", data=h5py.Empty("f4"))
    raises(path, "/names", "target", 'dataset "/names" has dtype |S1, which is not numbers')
    raises(path, "pairs", "target", "dataset \"/pairs\" has dtype [('a', '<f4'), ('b', '<i4')]")
    raises(path, "/nothing", "target", 'dataset "/nothing" is empty (it has no shape)')
    raises(path, "/eval", "target", '"/eval" is a group, not a dataset; its datasets are '
                                    '"/eval/logits"')
    raises(path, "/eval/probs", "target", 'has no dataset "/eval/probs"; its datasets are '
                                          '"/eval/logits", "/names"')
    raises(path, None, "target", "holds 4 datasets; name one as 'FILE:/group/dataset'")
    with h5py.File(tmp_path / "one.h5", "w") as f:
        f.create_dataset("g/only", data=np.arange(4.0))
    assert np.array_equal(open_tensor(str(tmp_path / "one.h5"), None, "input"), np.arange(4.0))
    (tmp_path / "junk.h5").write_bytes(b"nothing here")
    raises(tmp_path / "junk.h5", None, "input", "is not an HDF5 file that h5py can open")
    assert names_in(str(tmp_path / "junk.h5")) == []


# -- Zarr ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("dtype", NUMERIC + [">f8", ">i2"])
def test_zarr_arrays(tmp_path, zarr_format, dtype):
    zarr = pytest.importorskip("zarr")
    a = sample(np.dtype(dtype).newbyteorder("=").name, (29, 4)).astype(dtype)
    root = tmp_path / "store.zarr"
    g = zarr.open_group(str(root), mode="w", zarr_format=zarr_format)
    z = g.create_array("eval/logits", shape=a.shape, chunks=(6, 4), dtype=a.dtype)
    z[:] = a
    got = open_tensor(str(root), "eval/logits", "input")
    assert got.chunk_rows == 6 and got.source == "store.zarr:eval/logits"
    expected = a.astype(a.dtype.newbyteorder("="))
    same_as_npy(got, expected, tmp_path)
    same_as_npy(open_tensor(str(root), None, "input"), expected, tmp_path)  # the only array
    same_as_npy(open_tensor(str(root), "/eval/logits", "input"), expected, tmp_path)
    single = tmp_path / "preds.zarr"
    zs = zarr.create_array(str(single), shape=a.shape, chunks=(10, 4), dtype=a.dtype,
                           zarr_format=zarr_format)
    zs[:] = a
    got = open_tensor(str(single) + "/", None, "input")
    assert got.chunk_rows == 10 and got.source == "preds.zarr"
    same_as_npy(got, expected, tmp_path)
    assert names_in(str(root)) == ["eval/logits"] and names_in(str(single)) == []


def test_zarr_errors(tmp_path):
    zarr = pytest.importorskip("zarr")
    root = tmp_path / "store.zarr"
    g = zarr.open_group(str(root), mode="w")
    g.create_array("eval/logits", shape=(3, 2), dtype="f4")
    g.create_array("labels", shape=(3,), dtype="i8")
    g.create_array("text", shape=(3,), dtype=str)
    g.create_array("scalar", shape=(), dtype="f8")[()] = 2.5
    raises(root, "text", "target", 'array "text" has dtype', "which is not numbers")
    raises(root, "eval", "target", '"eval" is a group, not an array; its arrays are "eval/logits"')
    raises(root, "eval/probs", "target", 'has no array "eval/probs"')
    raises(root, None, "target", "holds 4 arrays; name one as 'STORE:group/array'; its arrays "
                                 'are "eval/logits", "labels", "scalar", "text"')
    assert np.asarray(open_tensor(str(root), "scalar", "input")) == 2.5
    single = tmp_path / "one.zarr"
    zarr.create_array(str(single), shape=(3,), dtype="f4")
    raises(single, "x", "input", "holds one array at its root, not \"x\"; leave the ':x' out")
    raises(tmp_path / "absent.zarr", None, "input", "does not exist")
    (tmp_path / "file.zarr").write_bytes(b"x")
    raises(tmp_path / "file.zarr", None, "input",
           "is not a directory (a Zarr store is a directory)")
    (tmp_path / "empty.zarr").mkdir()
    raises(tmp_path / "empty.zarr", None, "input", "is not a Zarr store that zarr can open")
    assert names_in(str(tmp_path / "empty.zarr")) == []


# -- the dispatcher, missing libraries, start-up ------------------------------------------------


def test_suffixes_and_unknown_suffix(tmp_path):
    assert set(SUFFIXES) == {".safetensors", ".parquet", ".feather", ".arrow", ".ipc", ".h5",
                             ".hdf5", ".zarr", ".pt", ".pth", ".pkl", ".pickle"}
    (tmp_path / "x.bin").write_bytes(b"")
    raises(tmp_path / "x.bin", None, "input", "the suffix '.bin' is not a format read here")
    assert names_in(str(tmp_path / "x.bin")) == []


@pytest.mark.parametrize("module, suffix, extra", [
    ("pyarrow", ".parquet", "parquet"), ("pyarrow", ".feather", "parquet"),
    ("h5py", ".h5", "hdf5"), ("zarr", ".zarr", "zarr")])
def test_a_missing_library_names_its_extra(tmp_path, monkeypatch, module, suffix, extra):
    path = tmp_path / f"data{suffix}"
    if suffix == ".zarr":
        path.mkdir()
    else:
        path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    raises(path, None, "--weight", f"pip install 'losscalc[{extra}]'")


def test_importing_the_readers_loads_no_optional_library():
    code = ("import sys, losscalc.readers.formats as f, losscalc.readers.safetensors, "
            "losscalc.readers.arrow, losscalc.readers.hdf5, losscalc.readers.zarr, "
            "losscalc.readers.pickles; "
            "print(sorted(m for m in ('pyarrow', 'h5py', 'zarr', 'safetensors', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.strip() == "[]"
