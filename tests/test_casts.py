"""losscalc/casts.py: as_float and as_index."""

import numpy as np
import pytest

from losscalc.casts import as_float, as_index
from losscalc.errors import LossError


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_as_float(dtype):
    for array in (np.array([True, False]), np.arange(3), np.ones(2, dtype=np.float16)):
        assert as_float(array, "input", dtype).dtype == dtype
    with pytest.raises(LossError, match="input: expected a numeric tensor, got dtype <U1"):
        as_float(np.array(["a"]), "input", dtype)


def test_as_index():
    assert as_index(np.array([0.0, 2.0]), "target").dtype == np.int64
    assert as_index(np.array([1, 2], dtype=np.uint8), "target").tolist() == [1, 2]
    assert as_index(np.array([True, False]), "target").tolist() == [1, 0]
    assert as_index(np.array(3.0), "target").shape == ()
    with pytest.raises(LossError, match=r"target\[1\] is 2\.5"):
        as_index(np.array([1.0, 2.5]), "target")
    with pytest.raises(LossError, match=r"target\[1, 0\] is nan"):
        as_index(np.array([[1.0, 2.0], [np.nan, 3.0]]), "target")
    with pytest.raises(LossError, match=r"target \(a scalar\) is inf"):
        as_index(np.array(np.inf), "target")
    with pytest.raises(LossError, match="is 1e\\+20"):
        as_index(np.array([1e20]), "target")
    with pytest.raises(LossError, match="9223372036854775808"):
        as_index(np.array([2**63], dtype=np.uint64), "target")
    with pytest.raises(LossError, match="dtype <U1"):
        as_index(np.array(["a"]), "target")
