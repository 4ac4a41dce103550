"""losscalc/kernels/binary.py beyond the differential cases: bce_with_logits is bce of the
sigmoid, --pos-weight scales the positive term only, PyTorch's clamp of each log at -100 and
its stable form for large logits, and the warnings losscalc adds."""

from __future__ import annotations

import numpy as np
import pytest

from losscalc import compute
from losscalc.errors import LossWarning
from tests.helpers import quiet, strict

RNG = np.random.default_rng(7)


# ---------------------------------------------------------------- identities

def test_bce_with_logits_is_bce_of_sigmoid():
    x, y = RNG.normal(size=(5, 3)) * 2, RNG.random((5, 3))
    w = RNG.random((3,))
    a = quiet("bce_with_logits", x, y, weight=w, reduction="none").value
    b = quiet("bce", 1 / (1 + np.exp(-x)), y, weight=w, reduction="none").value
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_pos_weight_scales_only_the_positive_term():
    x = RNG.normal(size=(4, 3))
    ones, zeros = np.ones((4, 3)), np.zeros((4, 3))
    pw = np.array([1.0, 2.0, 5.0])
    np.testing.assert_allclose(quiet("bce_with_logits", x, ones, pos_weight=pw, reduction="none").value,
                               pw * quiet("bce_with_logits", x, ones, reduction="none").value, rtol=1e-12)
    np.testing.assert_allclose(quiet("bce_with_logits", x, zeros, pos_weight=pw, reduction="none").value,
                               quiet("bce_with_logits", x, zeros, reduction="none").value, rtol=1e-12)


# ---------------------------------------------------------------- PyTorch's edge cases

def test_bce_clamps_each_log_at_minus_100():
    r = strict("bce", np.array([0.0, 1.0, 0.0, 1.0, 1e-50]), np.array([1.0, 0.0, 0.0, 1.0, 1.0]), reduction="none")
    np.testing.assert_array_equal(r.value, [100.0, 100.0, 0.0, 0.0, 100.0])
    np.testing.assert_array_equal(r.terms["log(x) clamped"][:2], [-100.0, 0.0])
    np.testing.assert_array_equal(r.terms["log(1-x) clamped"][:2], [0.0, -100.0])
    assert strict("bce", np.array([0.0, 1.0]), np.array([0.5, 0.5]), reduction="sum").value == 100.0


def test_bce_with_logits_is_stable_for_large_logits():
    r = strict("bce_with_logits", np.array([800.0, -800.0, 800.0]), np.array([0.0, 1.0, 1.0]), reduction="none")
    np.testing.assert_array_equal(r.value, [800.0, 800.0, 0.0])


# ---------------------------------------------------------------- warnings

BROADCAST = [
    ("soft_margin", [np.zeros((3, 4)), np.ones((4,))]),
]


@pytest.mark.parametrize("loss,tensors", BROADCAST, ids=[b[0] for b in BROADCAST])
def test_broadcasting_warns(loss, tensors):
    with pytest.warns(LossWarning, match="broadcast"):
        compute(loss, *tensors, reduction="sum")


def test_soft_margin_warns_on_targets_other_than_plus_minus_one():
    with pytest.warns(LossWarning, match="1 and -1"):
        compute("soft_margin", np.array([0.3, 0.7]), np.array([0.0, 1.0]))
    strict("soft_margin", np.array([0.3, 0.7]), np.array([-1.0, 1.0]))


def test_bce_with_logits_warns_on_targets_outside_0_1():
    with pytest.warns(LossWarning, match=r"outside \[0, 1\]"):
        compute("bce_with_logits", np.array([0.3, 0.7]), np.array([-1.0, 1.0]))
