"""readers/hdf5.py: HDF5 datasets of every dtype, chunked or not, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from losscalc.readers.formats import names_in, open_tensor
from tests.readers.arrays import NUMERIC, raises, same_as_npy, sample


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
