"""readers/arrow.py: Parquet, Feather and Arrow IPC columns of every dtype and form, any row
range in any order, from threads and after pickling, and errors naming the column and row."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from losscalc.errors import LossError
from losscalc.readers.formats import names_in, open_tensor
from tests.readers.arrays import NUMERIC, raises, same_as_npy, sample


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
