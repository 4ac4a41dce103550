"""losscalc against committed PyTorch values (tests/golden/*.json, from tests/make_golden.py)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from losscalc import compute
from tests.cases import FAMILIES

GOLDEN = Path(__file__).parent / "golden"


def decode(d):
    data = [float(x) if isinstance(x, str) else x for x in d["data"]]
    return np.array(data, dtype=d["dtype"]).reshape(d["shape"])


def load():
    for name in FAMILIES:
        doc = json.loads((GOLDEN / f"{name}.json").read_text())
        for i, record in enumerate(doc["cases"]):
            yield pytest.param(record, id=f"{name}-{i}-{record['loss']}-{record['reduction']}")


@pytest.mark.parametrize("record", list(load()))
def test_golden(record):
    tensors = [decode(t) for t in record["tensors"]]
    options = {k: decode(v) if isinstance(v, dict) else v for k, v in record["options"].items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = compute(record["loss"], *tensors, reduction=record["reduction"], **options)
    expected = decode(record["expected"])
    assert result.value.shape == expected.shape
    np.testing.assert_allclose(result.value, expected, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_every_registered_loss_has_golden_values():
    from losscalc.registry import losses

    covered = {param.values[0]["loss"] for param in load()}
    missing = [loss.name for loss in losses() if loss.name not in covered]
    assert not missing, f"registered losses without golden values: {missing}"
