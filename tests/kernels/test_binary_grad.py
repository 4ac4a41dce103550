"""--grad of kernels/binary.py against closed forms worked out by hand, and against
central differences (tests/kernels/gradients.py); no torch needed.

Each test says where its formula comes from. The conventions at kinks and edges (clamp_min
passing the gradient at exactly 0, sgn(NaN) = 0, BCE's float 1e-12, the no_grad clamps) are
PyTorch autograd's, checked against torch 2.13 when these kernels were written;
tests/test_differential_grad.py compares with autograd itself when torch is installed.
"""

import numpy as np
import pytest

from tests.kernels.gradients import X, check_central_differences, grads


def test_bce_away_from_the_edges():
    # l = -(y log x + (1 - y) log(1 - x))  =>  ∂l/∂x = (x - y) / (x (1 - x)),
    # ∂l/∂y = log(1 - x) - log x = -logit(x)
    x, y = np.array([0.9, 0.2, 0.6]), np.array([1.0, 0.0, 0.3])
    g = grads("bce", x, y, reduction="sum")
    np.testing.assert_allclose(g["input"], (x - y) / (x * (1 - x)), rtol=1e-14)
    np.testing.assert_allclose(g["target"], np.log(1 - x) - np.log(x), rtol=1e-14)


def test_bce_at_zero_and_one_uses_pytorchs_float_epsilon():
    # PyTorch's backward divides by max(x (1 - x), EPSILON), EPSILON = 1e-12 as a C++ float;
    # the target's -logit(x) is not clamped: ±inf
    g = grads("bce", [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], reduction="sum")
    eps = float(np.float32(1e-12))
    np.testing.assert_array_equal(g["input"], [-1 / eps, 1 / eps, 0.0])
    np.testing.assert_array_equal(g["target"], [np.inf, -np.inf, np.inf])


def test_bce_with_logits_is_sigmoid_minus_target():
    # l = (1 - y) x - log σ(x)  =>  ∂l/∂x = (1 - y) - (1 - σ(x)) = σ(x) - y,  ∂l/∂y = -x
    y = np.array([1.0, 0.0, 0.3, 1.0])
    g = grads("bce_with_logits", X, y, reduction="sum")
    np.testing.assert_allclose(g["input"], 1 / (1 + np.exp(-X)) - y, rtol=1e-14)
    np.testing.assert_allclose(g["target"], -X, rtol=1e-15)


def test_bce_with_logits_pos_weight():
    # l = (1 - y) x - (1 + (p - 1) y) log σ(x)  =>  ∂l/∂x = (p y + 1 - y) σ(x) - p y,
    # ∂l/∂y = -x - (p - 1) log σ(x) = log σ(-x) - p log σ(x)
    y, p = np.array([1.0, 0.0, 0.3, 1.0]), 3.0
    s = 1 / (1 + np.exp(-X))
    g = grads("bce_with_logits", X, y, pos_weight=np.array(p), reduction="sum")
    np.testing.assert_allclose(g["input"], (p * y + 1 - y) * s - p * y, rtol=1e-14)
    np.testing.assert_allclose(g["target"], np.log(1 - s) - p * np.log(s), rtol=1e-13)


def test_soft_margin():
    # l = log(1 + exp(-y x))  =>  ∂l/∂x = -y σ(-y x); PyTorch has no target gradient
    y = np.array([1.0, -1.0, 1.0, -1.0])
    g = grads("soft_margin", X, y, reduction="sum")
    np.testing.assert_allclose(g["input"], -y / (1 + np.exp(y * X)), rtol=1e-14)
    assert set(g) == {"input"}


SMOOTH = [  # points away from every kink and edge, for central differences
    ("bce", [np.array([0.2, 0.6, 0.9]), np.array([0.1, 0.9, 0.4])], {"weight": np.array([1.0, 2.0, 0.5])}),
    ("bce_with_logits", [X, np.array([1.0, 0.0, 0.3, 0.8])], {"pos_weight": np.array(2.0), "weight": np.array(0.5)}),
    ("soft_margin", [X, np.array([1.0, -1.0, 1.0, -1.0])], {}),
]


@pytest.mark.parametrize("name,tensors,options", SMOOTH, ids=[f"{i}-{s[0]}" for i, s in enumerate(SMOOTH)])
def test_central_differences(name, tensors, options):
    check_central_differences(name, tensors, options)
