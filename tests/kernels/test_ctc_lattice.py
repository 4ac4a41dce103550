"""CTC --grad (losscalc/kernels/sequence.py, ctc_lattice.py) without torch: central differences
through log_softmax, the posterior against every path of the lattice, its rows summing to 1,
the zeros PyTorch writes, and the nan it gives where its formula meets inf - inf.

PyTorch's CTC backward returns exp(log_probs) - posterior (times the upstream gradient): the
gradient with respect to the activations before log_softmax, not with respect to log_probs
taken as free variables (that would be -posterior). tests/test_differential_grad.py compares with torch.
"""

import itertools
from functools import partial

import numpy as np
import pytest

from losscalc import compute
from losscalc.errors import LossWarning
from losscalc.kernels import ctc_lattice
from tests import helpers
from tests.cases.sequence import log_softmax
from tests.kernels.gradients import central_differences

quiet = partial(helpers.quiet, "ctc", grad=True)  # compute('ctc', ...) with warnings silenced


RNG = np.random.default_rng(11)


def upstream(reduction, tl):
    """∂value/∂l_n: what the gradient of each sample is scaled by."""
    N = len(tl)
    if reduction == "mean":
        return 1 / (np.maximum(tl, 1) * N)
    return np.ones(N)


# ---------------------------------------------------------------- central differences


CASES = {  # name: (T, N, C, targets, input_lengths, target_lengths, blank)
    "padded, variable lengths": (7, 3, 5, [[1, 2, 3], [4, 4, 0], [2, 0, 0]], [7, 5, 6], [3, 2, 1], 0),
    "concatenated, blank 2, repeats": (6, 2, 4, [1, 1, 3, 0], [6, 4], [3, 1], 2),
    "empty target and no frames": (5, 3, 4, [[1, 2], [0, 0], [3, 0]], [5, 4, 0], [2, 0, 0], 0),
}


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("name", list(CASES))
def test_gradient_is_the_derivative_through_log_softmax(name, reduction):
    T, N, C, targets, il, tl, blank = CASES[name]
    targets = np.array(targets)
    z = RNG.normal(size=(T, N, C))

    def value(logits):
        return quiet(log_softmax(logits), targets, il, tl, blank=blank, reduction=reduction).value.sum()

    grad = quiet(log_softmax(z), targets, il, tl, blank=blank, reduction=reduction).grads["log_probs"]
    np.testing.assert_allclose(grad, central_differences(value, z), rtol=1e-6, atol=1e-8)


def test_unbatched_gradient_has_the_shape_of_log_probs_and_is_the_derivative_through_log_softmax():
    z = RNG.normal(size=(6, 4))
    target = np.array([1, 3, 3])
    grad = quiet(log_softmax(z), target, 6, 3, reduction="mean").grads["log_probs"]
    assert grad.shape == (6, 4)
    numeric = central_differences(lambda x: quiet(log_softmax(x), target, 6, 3, reduction="mean").value, z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_with_respect_to_free_log_probs_the_derivative_is_minus_the_posterior():
    # what --grad is not: differentiating in log_probs directly drops the exp(log_probs) term
    lp = log_softmax(RNG.normal(size=(5, 1, 4)))
    targets, h = np.array([[1, 2]]), 1e-6
    grad = quiet(lp, targets, [5], [2], reduction="sum").grads["log_probs"]
    numeric = np.zeros_like(lp)
    for i in np.ndindex(lp.shape):
        up, down = lp.copy(), lp.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (quiet(up, targets, [5], [2], reduction="sum").value
                      - quiet(down, targets, [5], [2], reduction="sum").value) / (2 * h)
    np.testing.assert_allclose(grad - np.exp(lp), numeric, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- the posterior


def lattice_paths(lp, target, blank):
    """Every path of the extended-label lattice (brute force over L**T state sequences): the
    extended labels, and (states, weight = Π p_t(ext(s_t))) for each path."""
    T = len(lp)
    ext = [blank] + [x for y in target for x in (y, blank)]
    L = len(ext)
    ends = {L - 1, L - 2} if target else {0}
    paths = []
    for path in itertools.product(range(L), repeat=T):
        steps = np.diff(path)
        if path[0] > 1 or path[-1] not in ends or ((steps < 0) | (steps > 2)).any():
            continue
        if any(d == 2 and ext[s] == ext[s - 2] for s, d in zip(path[1:], steps)):
            continue
        paths.append((path, np.exp(lp[np.arange(T), [ext[s] for s in path]].sum())))
    return ext, paths


def lattice_posterior(lp, target, blank):
    """γ_t(c): the share of the paths' weight that passes through class c at frame t."""
    ext, paths = lattice_paths(lp, target, blank)
    gamma = np.zeros(lp.shape)
    for path, w in paths:
        gamma[np.arange(len(lp)), [ext[s] for s in path]] += w
    return gamma / sum(w for _, w in paths)


@pytest.mark.parametrize("target,blank", [([1, 2], 0), ([1, 1], 0), ([2, 0, 2], 1), ([], 3), ([3, 1, 3], 0)])
def test_exp_log_probs_minus_gradient_is_the_posterior_over_every_path(target, blank):
    lp = log_softmax(RNG.normal(size=(6, 4)) * 1.5)
    grad = quiet(lp, np.array(target, np.int64), 6, len(target), blank=blank, reduction="none").grads["log_probs"]
    np.testing.assert_allclose(np.exp(lp) - grad, lattice_posterior(lp, target, blank), rtol=1e-12, atol=1e-14)


def test_posterior_rows_sum_to_one_over_classes_and_frames_past_the_input_are_zero():
    T, N, C, S = 60, 6, 7, 12
    lp = log_softmax(RNG.normal(size=(T, N, C)) * 2)
    labels = RNG.integers(0, C - 1, size=(N, S))
    labels += labels >= 2  # never the blank, 2
    labels[:, 1::3] = labels[:, 0::3][:, :4]  # repeats
    il, tl = np.array([60, 31, 45, 60, 25, 2]), np.array([12, 5, 0, 9, 12, 1])  # sample 4 cannot be aligned
    for reduction in ("none", "sum", "mean"):
        result = quiet(lp, labels, il, tl, blank=2, reduction=reduction, zero_infinity=True)
        grad = result.grads["log_probs"]
        posterior = np.exp(lp) - grad / upstream(reduction, tl)[:, None]
        used = np.arange(T)[:, None] < il
        feasible = np.isfinite(quiet(lp, labels, il, tl, blank=2, reduction="none").value)
        np.testing.assert_allclose(posterior.sum(axis=2)[used & feasible], 1.0, rtol=1e-12)
        assert (grad[~used] == 0).all()
        assert (grad[:, ~feasible] == 0).all()  # --zero-infinity: zero gradient too


def test_gradient_does_not_depend_on_where_alpha_is_kept(monkeypatch):
    """Rows of alpha kept for the backward pass, or one in about sqrt(T) and the rest computed
    again: the same numbers to the bit."""
    lp = log_softmax(RNG.normal(size=(40, 3, 5)))
    args = (lp, RNG.integers(1, 5, size=(3, 6)), [40, 33, 17], [6, 4, 6])
    kept = quiet(*args, reduction="mean").grads["log_probs"]
    monkeypatch.setattr(ctc_lattice, "ALPHA_CELLS", 100)
    again = quiet(*args, reduction="mean").grads["log_probs"]
    np.testing.assert_array_equal(again, kept)


def test_float32_stays_float32():
    lp = log_softmax(RNG.normal(size=(8, 2, 5)))
    targets = np.array([[1, 2], [3, 3]])
    g32 = quiet(lp, targets, [8, 6], [2, 2], dtype="float32").grads["log_probs"]
    g64 = quiet(lp, targets, [8, 6], [2, 2]).grads["log_probs"]
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- PyTorch's edges


def test_without_zero_infinity_an_infeasible_sample_gets_nan_on_its_frames_in_use():
    # PyTorch: exp(lp) - exp(log Σ αβ + nll - lp) with log Σ αβ = -inf and nll = inf
    lp = log_softmax(RNG.normal(size=(5, 2, 4)))
    targets = np.array([[1, 1, 2], [1, 2, 3]])  # sample 0 needs 4 frames, has 3
    grad = quiet(lp, targets, [3, 5], [3, 3], reduction="sum").grads["log_probs"]
    assert np.isnan(grad[:3, 0]).all() and (grad[3:, 0] == 0).all()
    assert np.isfinite(grad[:, 1]).all()
    zeroed = quiet(lp, targets, [3, 5], [3, 3], reduction="sum", zero_infinity=True).grads["log_probs"]
    assert (zeroed[:, 0] == 0).all()
    np.testing.assert_array_equal(zeroed[:, 1], grad[:, 1])


def test_a_log_prob_of_minus_inf_gives_nan_there_as_pytorch():
    lp = log_softmax(RNG.normal(size=(5, 1, 4)))
    lp[2, 0, 3] = -np.inf  # class 3 is not in the target: the loss stays finite
    grad = quiet(lp, np.array([[1, 2]]), [5], [2], reduction="sum").grads["log_probs"]
    assert np.isnan(grad[2, 0, 3])
    assert np.isfinite(np.delete(grad.reshape(-1), 2 * 4 + 3)).all()


def test_a_last_label_equal_to_the_blank_replaces_the_blanks_share_of_the_last_frame():
    # PyTorch assigns the last frame's two terms in turn, the blank's (state 2S) and the last
    # label's (2S - 1); when they are the same class, the second replaces the first
    lp = log_softmax(RNG.normal(size=(5, 3)))
    grad = quiet(lp, np.array([1, 0]), 5, 2, reduction="none").grads["log_probs"]
    full = lattice_posterior(lp, [1, 0], 0)
    np.testing.assert_allclose(np.exp(lp[:4]) - grad[:4], full[:4], rtol=1e-12)
    # the last frame keeps only the paths that end in state 2S - 1 (the label)
    ends_in_label = full[4, 0] - end_share(lp, [1, 0], 0)
    assert np.exp(lp[4, 0]) - grad[4, 0] == pytest.approx(ends_in_label, rel=1e-12)
    np.testing.assert_allclose(np.exp(lp[4, 1:]) - grad[4, 1:], full[4, 1:], rtol=1e-12)


def end_share(lp, target, blank):
    """The share of the paths' weight that ends in the final blank, state 2S."""
    ext, paths = lattice_paths(lp, target, blank)
    return sum(w for path, w in paths if path[-1] == len(ext) - 1) / sum(w for _, w in paths)


def test_a_label_beyond_c_adds_into_the_next_samples_entry_with_that_samples_loss():
    """PyTorch's backward keeps log Σ αβ in the gradient tensor at the entry it read: for sample
    0's label C that is sample 1's class 0, which sample 1's turn then adds its own terms to and
    turns into a gradient with its own loss: sample 0's share arrives scaled by
    exp(nll_1 - nll_0). One thread's result; losscalc warns that threads change PyTorch's."""
    T, C = 6, 4
    lp = log_softmax(RNG.normal(size=(T, 2, C)))
    targets, il, tl = np.array([[1, C], [2, 3]]), [4, 6], [2, 2]
    with pytest.warns(LossWarning) as caught:
        odd = compute("ctc", lp, targets, il, tl, reduction="none", grad=True)
    assert any("what PyTorch gives on one thread" in str(w.message) for w in caught)
    moved = np.concatenate([lp, lp[:, :, :1]], axis=2)  # class C of sample 0 holds sample 1's class 0
    moved[:, 0, C] = lp[:, 1, 0]
    inside = quiet(moved, targets, il, tl, reduction="none")
    np.testing.assert_allclose(odd.value, inside.value, rtol=1e-14)
    share = np.exp(moved[:, 0, C]) - inside.grads["log_probs"][:, 0, C]  # sample 0's posterior of "C"
    share[il[0]:] = 0  # past sample 0's input
    nll = inside.value
    expected = inside.grads["log_probs"][:, :, :C].copy()
    expected[:, 1, 0] -= share * np.exp(nll[1] - nll[0])
    np.testing.assert_allclose(odd.grads["log_probs"], expected, rtol=1e-12, atol=1e-14)
