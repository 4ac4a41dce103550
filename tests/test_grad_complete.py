"""Every registered loss answers --grad (the differential test is tests/test_grad.py)."""

import numpy as np
import pytest

from losscalc import compute
from losscalc.cli import parse_example
from losscalc.registry import losses


@pytest.mark.parametrize("loss", losses(), ids=lambda loss: loss.name)
def test_every_loss_gives_gradients(loss):
    params = parse_example(loss)
    tensors = [params.pop(t.name) for t in loss.tensors]
    for key in ("fmt", "output", "precision", "max_rows", "grad"):
        params.pop(key, None)
    if not loss.legacy:
        params.pop("size_average", None), params.pop("reduce", None)
    result = compute(loss.name, *tensors, grad=True, **params)
    assert result.grads, f"{loss.name}: no gradient"
    for name, g in result.grads.items():
        assert g.shape == result.inputs[name].array.shape
        assert np.issubdtype(g.dtype, np.floating)
