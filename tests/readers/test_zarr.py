"""readers/zarr.py: Zarr arrays (formats 2 and 3) of every dtype, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from losscalc.readers.formats import names_in, open_tensor
from tests.readers.arrays import NUMERIC, raises, same_as_npy, sample


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
