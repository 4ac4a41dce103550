"""losscalc/kernels/divergence.py (kl_div) beyond the differential cases: --log-target agrees
with probabilities, batchmean is the divergence per row and divides by the input's first
dimension, xlogy's 0 · log 0 = 0, and the warnings losscalc adds (mean instead of batchmean,
inputs that are not log-probabilities, negative targets)."""

from __future__ import annotations

import numpy as np
import pytest

from losscalc import compute
from losscalc.errors import LossWarning
from tests.helpers import quiet, strict

RNG = np.random.default_rng(7)


def log_q_and_p(shape=(3, 4)):
    """Log-probabilities and probabilities along the last dimension: no warning."""
    z = RNG.normal(size=shape)
    log_q = z - np.log(np.exp(z).sum(-1, keepdims=True))
    p = RNG.random(shape)
    return [log_q, p / p.sum(-1, keepdims=True)]


# ---------------------------------------------------------------- identities

def test_kl_div_log_target_agrees_with_probabilities():
    log_q, p = log_q_and_p()
    for reduction in ["none", "batchmean", "sum"]:
        np.testing.assert_allclose(strict("kl_div", log_q, np.log(p), log_target=True, reduction=reduction).value,
                                   strict("kl_div", log_q, p, reduction=reduction).value, rtol=1e-10, atol=1e-14)


def test_kl_div_batchmean_is_the_kl_divergence_per_row():
    log_q, p = log_q_and_p((3, 4))
    per_row = (p * (np.log(p) - log_q)).sum(-1)
    np.testing.assert_allclose(strict("kl_div", log_q, p, reduction="batchmean").value, per_row.mean(), rtol=1e-12)


# ---------------------------------------------------------------- PyTorch's edge cases

def test_kl_div_target_zero_gives_zero_but_not_against_minus_inf():
    r = quiet("kl_div", np.array([-1.0, -np.inf, -2.0]), np.array([0.0, 0.0, 0.5]), reduction="none")
    assert r.value[0] == 0.0  # xlogy: 0 · log 0 = 0
    assert np.isnan(r.value[1])  # 0 - 0 · (-inf) = nan, as PyTorch
    assert r.value[2] == pytest.approx(0.5 * (np.log(0.5) + 2.0))


def test_kl_div_batchmean_divides_by_the_inputs_first_dimension():
    log_q = np.log(np.full((4,), 0.25))
    p = np.full((3, 4), 0.25) + np.array([0.1, -0.1, 0.0, 0.0])
    r = quiet("kl_div", log_q, p, reduction="batchmean")
    assert r.value == pytest.approx(quiet("kl_div", log_q, p, reduction="sum").value / 4)  # not / 3
    assert strict("kl_div", np.array(-0.5), np.array(0.5), reduction="batchmean").value == \
        strict("kl_div", np.array(-0.5), np.array(0.5), reduction="sum").value


def test_kl_div_batchmean_of_an_empty_batch_is_nan():
    assert np.isnan(strict("kl_div", np.zeros((0,)), np.zeros((0,)), reduction="batchmean").value)


# ---------------------------------------------------------------- warnings

BROADCAST = [
    ("kl_div", [np.log(np.full((3, 4), 0.25)), np.full((4,), 0.25)]),
]


@pytest.mark.parametrize("loss,tensors", BROADCAST, ids=[b[0] for b in BROADCAST])
def test_broadcasting_warns(loss, tensors):
    with pytest.warns(LossWarning, match="broadcast"):
        compute(loss, *tensors, reduction="sum")


def test_kl_div_mean_warns_and_batchmean_does_not():
    log_q, p = log_q_and_p()
    with pytest.warns(LossWarning, match="batchmean divides by the batch size"):
        compute("kl_div", log_q, p, reduction="mean")
    strict("kl_div", log_q, p, reduction="batchmean")


def test_kl_div_legacy_mean_warns_too():
    """Legacy flags become the reduction (as KLDivLoss's constructor does), so mean warns."""
    log_q, p = log_q_and_p()
    with pytest.warns(LossWarning) as record:
        r = compute("kl_div", log_q, p, size_average=True)
    assert r.reduction == "mean"
    assert any("deprecated" in str(w.message) for w in record)
    assert any("batchmean" in str(w.message) for w in record)


@pytest.mark.parametrize("input", [
    np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]),  # probabilities (seed 000's KLDiv example)
    np.array([[-3.0, -2.0, -4.0]]),  # log of something that does not sum to 1
])
def test_kl_div_warns_when_input_is_not_log_probabilities(input):
    with pytest.warns(LossWarning, match="log-probabilities"):
        compute("kl_div", input, np.full(input.shape, 1 / 3), reduction="sum")


def test_kl_div_accepts_log_probabilities_along_another_dimension():
    z = RNG.normal(size=(2, 3, 4))
    log_q = z - np.log(np.exp(z).sum(1, keepdims=True))  # log_softmax over dim 1
    p = np.exp(log_q[:, :, ::-1])
    strict("kl_div", log_q, p, reduction="sum")


def test_kl_div_warns_on_negative_target_without_log_target():
    log_q = np.log(np.full((2, 2), 0.5))
    with pytest.warns(LossWarning, match="--log-target"):
        compute("kl_div", log_q, log_q.copy(), reduction="sum")
    with pytest.warns(LossWarning, match="leave --log-target off"):
        compute("kl_div", log_q, np.full((2, 2), 0.5), log_target=True, reduction="sum")
