"""kernels/numerics.py and the shared checks of kernels/common.py (first_index, check_probabilities),
and the option constraints of registry.Option: each idea written once, checked here once."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from losscalc import compute
from losscalc.errors import LossError, LossWarning
from losscalc.kernels.common import (CHUNK_START, SUM_TOLERANCE, at_index, check_probabilities, first_index,
                                     first_value)
from losscalc.kernels.numerics import log_sigmoid, sigmoid, xlogy
from losscalc.registry import Option, at_least, at_most, greater_than, losses, one_of

torch = pytest.importorskip("torch")


# ---------------------------------------------------------------- numerics

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_sigmoid_is_torchs_and_finite_far_out(dtype):
    x = np.array([-1e4, -800, -30, -1, 0, 1e-8, 2, 40, 800, 1e4, np.inf, -np.inf, np.nan], dtype)
    with np.errstate(all="ignore"):
        ours = log_sigmoid(x)
    theirs = torch.nn.functional.logsigmoid(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6 if dtype == np.float32 else 1e-15)
    assert ours.dtype == dtype and np.isfinite(ours[:10]).all()


def test_sigmoid_is_torchs():
    x = np.array([-800, -30, -1, 0, 1, 30, 800, np.nan])
    np.testing.assert_allclose(sigmoid(x), torch.sigmoid(torch.from_numpy(x)).numpy(), rtol=1e-15)


def test_xlogy_takes_0_log_anything_as_0():
    x = np.array([0, 0, 0, 0, 2, 2, 0.5])
    y = np.array([0, 1, np.inf, np.nan, 0, np.e, 4])
    np.testing.assert_array_equal(xlogy(x, y), [0, 0, 0, 0, -np.inf, 2, 0.5 * math.log(4)])
    theirs = torch.xlogy(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    same = ~np.isnan(y)  # torch.xlogy gives NaN at y = NaN even where x = 0 (kl_div's backward adds it)
    np.testing.assert_array_equal(xlogy(x, y)[same], theirs[same])
    assert xlogy(np.float32([0, 1]), np.float32([0, 2])).dtype == np.float32


# ---------------------------------------------------------------- first_index

def test_first_index_adds_the_chunk_start_along_the_batch_axis_only():
    mask = np.zeros((4, 3, 5), bool)
    mask[2, 1, 3] = mask[3, 0, 0] = True
    assert first_index(mask) == (2, 1, 3)
    token = CHUNK_START.set(100)
    try:
        assert first_index(mask) == (102, 1, 3)
        assert first_index(mask, 1) == (2, 101, 3)
        assert first_index(mask, None) == (2, 1, 3)
        assert first_index(np.bool_(True)) == ()
        assert first_index(np.array([False, True])) == (101,)
    finally:
        CHUNK_START.reset(token)
    t = np.arange(60).reshape(4, 3, 5)
    assert first_value(t, mask) == t[2, 1, 3]
    assert at_index((2, 1)) == " at index [2, 1]" and at_index(()) == ""


@pytest.fixture
def small_chunks(monkeypatch):
    """The chunked engine cutting the batch into chunks of a few items."""
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "4")


def _messages(*args, **kwargs) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compute(*args, **kwargs)
    return [str(w.message) for w in caught if issubclass(w.category, LossWarning)]


def test_first_bad_indices_are_named_in_the_whole_inputs_coordinates(small_chunks):
    x = np.log(np.full((12, 2), 0.5))
    y = np.zeros(12, np.int64)
    y[9] = 7
    with pytest.raises(LossError, match=r"class index 7 at index \[9\] is out of range"):
        compute("nll", x, y)
    target = np.ones((12, 2))
    target[10, 1] = 0
    assert any("first 0.0 at index [10, 1]" in m for m in _messages("hinge_embedding", np.ones((12, 2)), target))
    # a target broadcast along the batch is passed whole to every chunk: its own index
    assert any("first 0.0 at index [1]" in m for m in _messages("soft_margin", np.ones((12, 2)), [1.0, 0.0]))
    var = np.ones((12, 2))
    var[11, 0] = -1
    with pytest.raises(LossError, match=r"negative variance, -1\.0 at index \[11, 0\]"):
        compute("gaussian_nll", np.ones((12, 2)), np.ones((12, 2)), var)
    probs = np.full((12, 2), 0.5)
    probs[8] = [0.9, 0.9]
    assert any("(target[8, :] sums to 1.8)" in m for m in _messages("cross_entropy", np.zeros((12, 2)), probs))


def test_ctc_names_samples_in_the_whole_batch(small_chunks):
    T, N, C = 4, 6, 3
    lp = np.log(np.full((T, N, C), 1 / C))
    targets = np.ones((N, 2), np.int64)
    targets[4, 1] = 0  # the blank
    assert any("targets[4, 1] (sample 4) is 0, the blank" in m
               for m in _messages("ctc", lp, targets, np.full(N, T), np.full(N, 2)))
    lp[:, 5] = 0.0  # frames of sample 5 sum to 3
    assert any("exp(log_probs[0, 5, :]) sums to 3)" in m
               for m in _messages("ctc", lp, np.ones((N, 2), np.int64), np.full(N, T), np.full(N, 2)))


# ---------------------------------------------------------------- check_probabilities

def _warned(*args, **kwargs) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_probabilities(*args, **kwargs)
    return [str(w.message) for w in caught if issubclass(w.category, LossWarning)]


def test_one_tolerance_passes_rows_rounded_to_two_decimals_and_warns_beyond_it():
    assert SUM_TOLERANCE == 2e-2
    assert not _warned(np.array([[0.33, 0.33, 0.33], [0.67, 0.17, 0.17], [0.333, 0.333, 0.333]]), "p", "hint")
    assert not _warned(np.array([-0.51, -1.2, -2.3]), "input", "hint", log=True)  # Σ exp = 1.002
    [message] = _warned(np.array([[0.2, 0.3, 0.5], [0.5, 0.3, 0.17], [1.0, 1.0, 0.0]]), "p", "Normalise.")
    assert message == "p: 2 of 3 row(s) do not sum to 1 (first: p[1, :] sums to 0.97). Normalise."


def test_check_probabilities_forms():
    p = np.array([[0.5, 0.5], [0.2, 0.2]])
    [message] = _warned(np.log(p), "input", "h.", log=True, rows="item(s)")
    assert message == "input: exp(input) does not sum to 1 in 1 of 2 item(s) (exp(input[1, :]) sums to 0.4). h."
    [message] = _warned(np.array([[1.5, -0.5], [0.5, 0.5]]), "target", "h.")
    assert "1 of 2 row(s) do not sum to 1 or hold a negative value (target[0, :] sums to 1)" in message
    # along any one dimension: the columns of p.T sum to 1, so p.T passes with axis=None
    assert not _warned(np.log(p.T.copy() / p.T.sum(0)), "input", "h.", axis=None, log=True)
    [message] = _warned(np.log(np.full((2, 3), 0.4)), "input", "h.", axis=None, log=True)
    assert "along the last dimension, nor along any other" in message
    # NaN rows are left to the non-finite warning; rows not in use are not checked
    assert not _warned(np.array([[np.nan, 1.0], [0.5, 0.5]]), "p", "h.")
    frames = np.full((3, 2, 4), np.log(0.5))  # (T, N, C): every frame sums to 2
    in_use = np.array([[True, False], [False, False], [False, False]])
    token = CHUNK_START.set(10)
    try:
        [message] = _warned(frames, "log_probs", "h.", log=True, rows="frame(s) in use", in_use=in_use,
                            batch_axis=1)
    finally:
        CHUNK_START.reset(token)
    assert "in 1 of 1 frame(s) in use (exp(log_probs[0, 10, :]) sums to 2)" in message


# ---------------------------------------------------------------- option constraints

def test_constraints_in_words():
    assert greater_than(0).text == "greater than 0" and at_least(0).text == "0 or more"
    assert at_most(1).text == "at most 1" and one_of(1, 2).text == "1 or 2"
    assert one_of("a", "b", "c").text == "a, b or c"
    opt = Option("delta", float, 1.0, "where it turns", greater_than(0, why="PyTorch refuses it"))
    assert opt.help_text == "where it turns (greater than 0)" and opt.choices is None
    with pytest.raises(LossError, match=r"^--delta must be greater than 0 \(PyTorch refuses it\); got -1\.$"):
        opt.check(-1)
    with pytest.raises(LossError, match=r"got 'abc'"):
        opt.check("abc")
    opt.check(0.5)
    assert Option("d", str, "a", "which", one_of("a", "b")).choices == ("a", "b")
    assert Option("p", int, 1, "power", one_of(1, 2)).choices is None  # a number, not a CLI choice


def _option(loss: str, name: str) -> Option:
    [loss_entry] = [entry for entry in losses() if entry.name == loss]
    return next(o for o in loss_entry.options if o.name == name)


def test_every_constraint_is_what_the_kernel_refuses_and_help_shows_it():
    constrained = [(loss, o) for loss in losses() for o in loss.options if o.constraint is not None]
    assert {(loss.name, o.name) for loss, o in constrained} >= {
        ("smooth_l1", "beta"), ("huber", "delta"), ("multi_margin", "p"), ("cross_entropy", "label_smoothing"),
        ("triplet_margin", "margin"), ("triplet_margin_with_distance", "margin"),
        ("triplet_margin_with_distance", "distance"), ("dice", "smooth")}
    for loss, opt in constrained:
        assert opt.constraint.text in opt.help_text


# value -> whether PyTorch 2.13 accepts it; losscalc must agree, exiting with the constraint's words when not
NAN = float("nan")
CASES = [
    ("smooth_l1", "beta", lambda b: torch.nn.functional.smooth_l1_loss(*_xy(), beta=b), [0.0, 0.5, -0.1, NAN]),
    ("huber", "delta", lambda d: torch.nn.functional.huber_loss(*_xy(), delta=d), [0.5, 0.0, -1.0, NAN]),
    ("multi_margin", "p", lambda p: torch.nn.functional.multi_margin_loss(*_scores(), p=p), [1, 2, 0, 3]),
    ("cross_entropy", "label_smoothing",
     lambda e: torch.nn.functional.cross_entropy(*_scores(), label_smoothing=e), [0.0, 1.0, 1.5, -0.2, NAN]),
    ("triplet_margin", "margin", lambda m: torch.nn.functional.triplet_margin_loss(*_triplet(), margin=m),
     [0.5, 0.0, -1.0, NAN]),
    ("triplet_margin_with_distance", "margin",
     lambda m: torch.nn.functional.triplet_margin_with_distance_loss(*_triplet(), margin=m), [0.5, 0.0, NAN]),
]


def _xy():
    return torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), torch.tensor([1.5, 2.0, 5.0], dtype=torch.float64)


def _scores():
    return torch.tensor([[0.1, 0.2, 0.4, 0.8], [0.3, 0.1, 0.0, 0.2]], dtype=torch.float64), torch.tensor([3, 1])


def _triplet():
    return tuple(torch.tensor(t, dtype=torch.float64) for t in ([[0.0, 0.0], [1, 1]], [[0, 1], [1, 2]],
                                                                 [[2, 0], [1, 1.5]]))


@pytest.mark.parametrize("loss, name, reference, values", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_what_pytorch_refuses_is_refused_and_what_it_accepts_is_accepted(loss, name, reference, values):
    opt = _option(loss, name)
    tensors = {"smooth_l1": _xy, "huber": _xy, "multi_margin": _scores, "cross_entropy": _scores}.get(loss, _triplet)()
    arrays = [t.numpy() for t in tensors]
    for value in values:
        try:
            expected = float(reference(value))
        except (RuntimeError, ValueError):
            with pytest.raises(LossError, match=f"{opt.flag} must be {opt.constraint.text}"):
                compute(loss, *arrays, **{name: value})
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LossWarning)
            got = compute(loss, *arrays, **{name: value}).value
        np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


def test_the_distance_choice_is_checked_by_the_kernel_too():
    from losscalc.kernels.embedding import triplet_margin_with_distance

    a = np.zeros((1, 2))
    with pytest.raises(LossError, match=r"^--distance must be pairwise or cosine; got 'euclid'\.$"):
        triplet_margin_with_distance(a, a, a, distance="euclid")
