"""--grad: losscalc's analytic gradients against PyTorch autograd, over every family's cases.

The value's gradient (of the sum of the elements for reduction none) with respect to each
floating-point positional tensor that PyTorch differentiates, in that tensor's own shape.
Skipped without torch; that every loss answers --grad is tests/test_invariants.py's.
"""

import warnings

import numpy as np
import pytest

from tests.cases import FAMILIES, family

torch = pytest.importorskip("torch")

from tests.cases import torch_grads  # noqa: E402


def _cases():
    for name in FAMILIES:
        for i, case in enumerate(family(name).cases(np.random.default_rng(5))):
            yield pytest.param(case, id=f"{i}-{case.id}")


@pytest.mark.parametrize("case", list(_cases()))
@pytest.mark.parametrize("dtype,rtol,atol", [("float64", 1e-10, 1e-12), ("float32", 1e-4, 1e-5)])
def test_gradients_match_autograd(case, dtype, rtol, atol):
    expected = torch_grads(torch, case, getattr(np, dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from losscalc import compute

        result = compute(case.loss, *case.tensors, reduction=case.reduction, dtype=dtype, grad=True, **case.options)
    assert set(result.grads) == set(expected), "differentiated tensors differ from PyTorch's"
    exact = torch_grads(torch, case, np.float64) if dtype == "float32" else expected
    for name, g in expected.items():
        assert result.grads[name].shape == g.shape, name
        assert result.grads[name].dtype == np.dtype(dtype), name
        # float32: no closer to torch's float32 than torch's own rounding error allows
        with np.errstate(invalid="ignore"):
            diff = np.abs(g - exact[name])
        own_error = diff[np.isfinite(diff)].max(initial=0.0)
        np.testing.assert_allclose(result.grads[name], g, rtol=rtol, atol=max(atol, 2 * own_error),
                                   equal_nan=True, err_msg=name)
