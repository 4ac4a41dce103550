"""losscalc/kernels/regression.py beyond the differential cases: identities between the losses
(STYLE.md: huber(delta=d) == d * smooth_l1(beta=d), smooth_l1(beta=0) == l1), PyTorch's edge
cases (the clamped variance, Stirling's term, huber's plain mean of weighted terms), zero loss
where input equals target, and the warnings losscalc adds."""

from __future__ import annotations

import numpy as np
import pytest

from losscalc import compute
from losscalc.errors import LossWarning
from tests.helpers import quiet, strict

RNG = np.random.default_rng(7)


def poisson_inputs(shape=(3, 4)):
    """Log-rates and counts poisson_nll accepts without a warning."""
    return [RNG.normal(size=shape), RNG.poisson(2.0, size=shape).astype(float)]


# ---------------------------------------------------------------- identities

@pytest.mark.parametrize("d", [0.1, 0.5, 1.0, 2.0, 7.5])
def test_huber_is_delta_times_smooth_l1(d):
    x, y = RNG.normal(size=(4, 5)) * 3, RNG.normal(size=(4, 5)) * 3
    h = quiet("huber", x, y, delta=d, reduction="none").value
    s = quiet("smooth_l1", x, y, beta=d, reduction="none").value
    np.testing.assert_allclose(h, d * s, rtol=1e-12, atol=1e-15)
    assert not np.allclose(h, s) or d == 1.0  # the identity is not a tautology


def test_smooth_l1_with_beta_0_is_l1():
    x, y = RNG.normal(size=(6,)), RNG.normal(size=(6,))
    for reduction in ["none", "mean", "sum"]:
        np.testing.assert_array_equal(
            quiet("smooth_l1", x, y, beta=0.0, reduction=reduction).value, quiet("l1", x, y, reduction=reduction).value
        )


def test_poisson_log_input_agrees_with_rates():
    x, y = poisson_inputs()
    a = quiet("poisson_nll", x, y, full=True, reduction="none").value
    b = quiet("poisson_nll", np.exp(x), y, log_input=False, full=True, eps=0.0, reduction="none").value
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_gaussian_single_variance_equals_a_full_one():
    x, y = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    a = strict("gaussian_nll", x, y, np.array(0.7), reduction="none").value
    b = strict("gaussian_nll", x, y, np.full((3, 4), 0.7), reduction="none").value
    c = strict("gaussian_nll", x, y, np.full((3,), 0.7), reduction="none").value
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------- PyTorch's edge cases

def test_gaussian_variance_is_clamped_to_eps():
    r = strict("gaussian_nll", np.zeros(3), np.ones(3), np.array([0.0, 1e-9, 1.0]), reduction="none")
    np.testing.assert_array_equal(r.terms["var clamped"], [1e-6, 1e-6, 1.0])
    assert r.value[0] == r.value[1] == 0.5 * (np.log(1e-6) + 1 / 1e-6)


def test_poisson_full_adds_stirling_only_above_one():
    r = strict("poisson_nll", np.zeros(4), np.array([0.0, 1.0, 1.5, 3.0]), full=True, reduction="none")
    y = np.array([1.5, 3.0])
    stirling = y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y)
    np.testing.assert_allclose(r.terms["Stirling (y > 1)"], [0.0, 0.0, *stirling], rtol=1e-14)


@pytest.mark.parametrize("loss", ["smooth_l1", "huber", "l1", "mse"])
def test_zero_loss_where_input_equals_target(loss):
    x = RNG.normal(size=(3, 4)) * 5
    for reduction in ["none", "mean", "sum"]:
        assert not np.any(strict(loss, x, x.copy(), reduction=reduction).value)


def test_huber_weight_mean_is_a_plain_mean():
    x, y, w = np.array([0.0, 0.0]), np.array([0.5, 3.0]), np.array([2.0, 3.0])
    # as F.huber_loss: mean(w · l), not Σ w·l / Σ w as l1 and mse
    assert strict("huber", x, y, weight=w).value == pytest.approx((2 * 0.125 + 3 * 2.5) / 2)
    assert strict("l1", x, y, weight=w).value == pytest.approx((2 * 0.5 + 3 * 3.0) / 5)


# ---------------------------------------------------------------- warnings

BROADCAST = [
    ("smooth_l1", [np.zeros((3, 4)), np.zeros((4,))]),
    ("huber", [np.zeros((3, 4)), np.zeros((4,))]),
    ("poisson_nll", [np.zeros((3, 4)), np.ones((4,))]),
    ("gaussian_nll", [np.zeros((3, 4)), np.zeros((4,)), np.ones((3, 4))]),
]


@pytest.mark.parametrize("loss,tensors", BROADCAST, ids=[b[0] for b in BROADCAST])
def test_broadcasting_warns(loss, tensors):
    with pytest.warns(LossWarning, match="broadcast"):
        compute(loss, *tensors, reduction="sum")


def test_poisson_warns_on_negative_rates():
    with pytest.warns(LossWarning, match="--log-input"):
        compute("poisson_nll", np.array([-0.3, 0.7]), np.array([1.0, 1.0]), log_input=False)
