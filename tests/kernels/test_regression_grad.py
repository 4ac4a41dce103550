"""--grad of kernels/regression.py against closed forms worked out by hand, and against
central differences (tests/kernels/gradients.py); no torch needed.

Each test says where its formula comes from. The conventions at kinks and edges (clamp_min
passing the gradient at exactly 0, sgn(NaN) = 0, BCE's float 1e-12, the no_grad clamps) are
PyTorch autograd's, checked against torch 2.13 when these kernels were written;
tests/test_differential_grad.py compares with autograd itself when torch is installed.
"""

import numpy as np
import pytest

from tests.kernels.gradients import N, X, Y, check_central_differences, grads


def test_mse_mean():
    # l = Σ (x - y)² / N  =>  ∂l/∂x = 2 (x - y) / N,  ∂l/∂y = -2 (x - y) / N
    g = grads("mse", X, Y)
    np.testing.assert_allclose(g["input"], 2 * (X - Y) / N, rtol=1e-15)
    np.testing.assert_allclose(g["target"], -2 * (X - Y) / N, rtol=1e-15)


def test_mse_weighted_mean():
    # l = Σ w (x - y)² / Σ w  =>  ∂l/∂x = 2 w (x - y) / Σ w
    w = np.array([1.0, 2.0, 0.5, 3.0])
    g = grads("mse", X, Y, weight=w)
    np.testing.assert_allclose(g["input"], 2 * w * (X - Y) / w.sum(), rtol=1e-15)


def test_l1_sum_is_sgn_with_zero_at_tie_and_nan():
    # l = Σ |x - y|  =>  ∂l/∂x = sgn(x - y); torch's abs backward gives 0 at 0 and at NaN
    g = grads("l1", [2.0, -1.0, 1.0, np.nan], [1.0, 0.0, 1.0, 0.0], reduction="sum")
    np.testing.assert_array_equal(g["input"], [1, -1, 0, 0])


def test_smooth_l1_branches_and_the_kink():
    # l = 0.5 d² / beta for |d| < beta, else |d| - beta / 2  =>  ∂l/∂d = d / beta, else sign(d);
    # at |d| = beta exactly PyTorch takes the linear branch: ±1
    x, y = np.array([0.1, 2.0, 0.5, -0.5]), np.zeros(4)
    g = grads("smooth_l1", x, y, beta=0.5, reduction="sum")
    np.testing.assert_allclose(g["input"], [0.2, 1.0, 1.0, -1.0], rtol=1e-15)
    np.testing.assert_allclose(g["target"], -g["input"])


@pytest.mark.parametrize("d", [0.3, 1.0, 2.5])
def test_huber_gradient_is_delta_times_smooth_l1s(d):
    # huber(delta = d) = d · smooth_l1(beta = d), so their gradients are in the same ratio
    h = grads("huber", X, Y, delta=d)
    s = grads("smooth_l1", X, Y, beta=d)
    np.testing.assert_allclose(h["input"], d * s["input"], rtol=1e-15)
    np.testing.assert_allclose(h["target"], d * s["target"], rtol=1e-15)


def test_huber_weight_is_a_plain_mean():
    # F.huber_loss with weight: mean of w·l over N  =>  ∂/∂x = w · (x - y) / N inside delta
    w = np.array([1.0, 2.0, 0.5, 3.0])
    x, y = np.array([0.1, 0.2, -0.3, 0.0]), np.zeros(4)
    np.testing.assert_allclose(grads("huber", x, y, weight=w)["input"], w * x / 4, rtol=1e-15)


def test_poisson_nll_log_input():
    # l = exp(x) - y x  =>  ∂l/∂x = exp(x) - y,  ∂l/∂y = -x
    y = np.array([0.0, 1.0, 3.0, 2.0])
    g = grads("poisson_nll", X, y, reduction="sum")
    np.testing.assert_allclose(g["input"], np.exp(X) - y, rtol=1e-15)
    np.testing.assert_allclose(g["target"], -X, rtol=1e-15)


def test_poisson_nll_full_target():
    # Stirling y log y - y + 0.5 log(2π y) for y > 1 adds log y + 1/(2y) to ∂l/∂y; for y <= 1 its
    # masked_fill sends 0 through log(y) and 1/y: 0·(-inf) = NaN at y = 0, 0 at 0 < y <= 1
    x, y = np.array([0.5, 0.5, 0.5]), np.array([0.0, 0.5, 3.0])
    g = grads("poisson_nll", x, y, full=True, reduction="sum")
    np.testing.assert_allclose(g["target"], [np.nan, -0.5, -0.5 + np.log(3) + 1 / 6], rtol=1e-15)


def test_poisson_nll_rate_input():
    # l = x - y log(x + eps)  =>  ∂l/∂x = 1 - y / (x + eps),  ∂l/∂y = -log(x + eps)
    x, y = np.array([0.5, 2.0]), np.array([1.0, 3.0])
    g = grads("poisson_nll", x, y, log_input=False, eps=0.0, reduction="sum")
    np.testing.assert_allclose(g["input"], 1 - y / x, rtol=1e-15)
    np.testing.assert_allclose(g["target"], -np.log(x), rtol=1e-15)


def test_gaussian_nll_var_and_the_eps_clamp():
    # l = 0.5 (log v + (x - y)² / v), v = max(var, eps)  =>  ∂l/∂x = (x - y) / v,
    # ∂l/∂var = 0.5 (1/v - (x - y)² / v²); F.gaussian_nll_loss clamps under no_grad, so below eps
    # the gradient is that at v = eps, not 0
    x, y, var = np.array([1.0, 0.2]), np.zeros(2), np.array([2.0, 0.0])
    g = grads("gaussian_nll", x, y, var, eps=0.25, reduction="sum")
    v = np.array([2.0, 0.25])
    np.testing.assert_allclose(g["input"], x / v, rtol=1e-15)
    np.testing.assert_allclose(g["var"], 0.5 * (1 / v - x**2 / v**2), rtol=1e-15)
    assert g["var"][1] != 0


def test_gaussian_nll_var_one_dimension_short_is_summed_over_the_row():
    # var (N) against input (N, D) is one variance per row: its gradient sums the row's
    x, y, var = np.array([[1.0, 2.0], [0.0, 3.0]]), np.zeros((2, 2)), np.array([1.0, 2.0])
    g = grads("gaussian_nll", x, y, var, reduction="sum")
    per_element = 0.5 * (1 / var[:, None] - x**2 / var[:, None] ** 2)
    np.testing.assert_allclose(g["var"], per_element.sum(axis=1), rtol=1e-15)
    assert "var" not in grads("gaussian_nll", x, y, np.array(1.0))  # a single number: PyTorch's float


SMOOTH = [  # points away from every kink and edge (and the Stirling mask's y = 0, 1), for central differences
    ("smooth_l1", [X, Y], {"beta": 0.9}),
    ("huber", [X, Y], {"delta": 1.3, "weight": np.array([1.0, 2.0, 0.5, 1.5])}),
    ("poisson_nll", [X, np.array([0.5, 1.5, 3.0, 2.0])], {"full": True}),
    ("poisson_nll", [np.abs(X) + 0.1, np.array([0.5, 1.5, 3.0, 2.0])], {"log_input": False, "full": True}),
    ("gaussian_nll", [np.ones((2, 3)), np.arange(6.0).reshape(2, 3) / 5, np.array([0.5, 2.0])], {}),
]


@pytest.mark.parametrize("name,tensors,options", SMOOTH, ids=[f"{i}-{s[0]}" for i, s in enumerate(SMOOTH)])
def test_central_differences(name, tensors, options):
    check_central_differences(name, tensors, options)
