"""Every registered loss answers --grad (the differential test is tests/test_differential_grad.py)."""

import numpy as np
import pytest

from losscalc import compute
from losscalc.commands import example_call
from losscalc.registry import losses


@pytest.mark.parametrize("loss", losses(), ids=lambda loss: loss.name)
def test_every_loss_gives_gradients(loss):
    tensors, params = example_call(loss)
    result = compute(loss.name, *tensors, **{**params, "grad": True})
    assert result.grads, f"{loss.name}: no gradient"
    for name, g in result.grads.items():
        assert g.shape == result.inputs[name].array.shape
        assert np.issubdtype(g.dtype, np.floating)
