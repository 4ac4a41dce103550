"""--grad of kernels/divergence.py (kl_div) against closed forms worked out by hand, and against
central differences (tests/kernels/gradients.py); no torch needed.

Each test says where its formula comes from. The conventions at kinks and edges (clamp_min
passing the gradient at exactly 0, sgn(NaN) = 0, BCE's float 1e-12, the no_grad clamps) are
PyTorch autograd's, checked against torch 2.13 when these kernels were written;
tests/test_differential_grad.py compares with autograd itself when torch is installed.
"""

import numpy as np
import pytest

from tests.kernels.gradients import check_central_differences, grads


def test_kl_div_batchmean():
    # l = Σ y (log y - x) / B  =>  ∂l/∂x = -y / B,  ∂l/∂y = (log y + 1 - x) / B
    x = np.log(np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]))
    y = np.array([[0.7, 0.2, 0.1], [0.2, 0.6, 0.2]])
    g = grads("kl_div", x, y, reduction="batchmean")
    np.testing.assert_allclose(g["input"], -y / 2, rtol=1e-15)
    np.testing.assert_allclose(g["target"], (np.log(y) + 1 - x) / 2, rtol=1e-14)


def test_kl_div_log_target_and_zero_target():
    # --log-target: l = exp(y) (y - x)  =>  ∂l/∂x = -exp(y),  ∂l/∂y = exp(y) (y - x + 1);
    # a probability target of exactly 0: xlogy's backward gives 0/0 = NaN for it (and 0 for x)
    x, y = np.array([-1.0, -0.5]), np.array([-0.2, -2.0])
    g = grads("kl_div", x, y, log_target=True, reduction="sum")
    np.testing.assert_allclose(g["input"], -np.exp(y), rtol=1e-15)
    np.testing.assert_allclose(g["target"], np.exp(y) * (y - x + 1), rtol=1e-15)
    g = grads("kl_div", [-1.0, -0.5], [0.0, 0.5], reduction="sum")
    np.testing.assert_array_equal(g["input"], [0.0, -0.5])
    assert np.isnan(g["target"][0]) and np.isfinite(g["target"][1])


SMOOTH = [  # points away from every kink and edge, for central differences
    ("kl_div", [np.log(np.array([[0.5, 0.3, 0.2]])), np.array([[0.7, 0.2, 0.1]])], {"reduction": "batchmean"}),
    ("kl_div", [np.log(np.array([0.5, 0.3, 0.2])), np.log(np.array([0.7, 0.2, 0.1]))], {"log_target": True}),
]


@pytest.mark.parametrize("name,tensors,options", SMOOTH, ids=[f"{i}-{s[0]}" for i, s in enumerate(SMOOTH)])
def test_central_differences(name, tensors, options):
    check_central_differences(name, tensors, options)
