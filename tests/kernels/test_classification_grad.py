"""--grad for the classification losses, without torch: closed forms, each with its derivation,
central differences, and the conventions PyTorch's autograd follows at the edges (the
differential test against autograd is tests/test_differential_grad.py)."""

import warnings

import numpy as np
import pytest

from losscalc import compute
from losscalc.errors import LossWarning


def grads(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute(*args, grad=True, **kwargs).grads


def softmax(x, axis=-1):
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def onehot(y, c):
    return np.eye(c)[y]


RNG = np.random.default_rng(11)
X = RNG.normal(size=(6, 5)) * 2
Y = np.array([0, 4, 2, 2, 1, 3])
W = RNG.random(5) + 0.2


# cross_entropy ----------------------------------------------------------------------------

def test_cross_entropy_weighted_mean_is_softmax_minus_onehot_times_w_y_over_sum_w():
    # l_n = w_{y_n} (logsumexp(x_n) - x_{n,y_n}) and ∂logsumexp(x)/∂x = softmax(x), so
    # ∂l_n/∂x_n = w_{y_n} (softmax(x_n) - onehot(y_n)); mean = Σ l_n / Σ w_{y_n} (torch.nn.CrossEntropyLoss
    # docs). The unweighted case is Bishop, Pattern Recognition and Machine Learning (2006), §4.3.4:
    # ∂E/∂a_j = y_j - t_j for the softmax with the cross-entropy error.
    g = grads("cross_entropy", X, Y, weight=W)["input"]
    expected = (softmax(X) - onehot(Y, 5)) * W[Y][:, None] / W[Y].sum()
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-15)


def test_cross_entropy_ignored_items_have_zero_gradient_and_leave_the_denominator():
    # the ignored items count neither in Σ l nor in the count (torch.nn.CrossEntropyLoss docs)
    y = np.array([0, 4, 7, 2, 7, 3])
    g = grads("cross_entropy", X, y, ignore_index=7)["input"]
    kept = y != 7
    expected = np.zeros_like(X)
    expected[kept] = (softmax(X[kept]) - onehot(y[kept], 5)) / kept.sum()
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-15)


def test_label_smoothing_is_softmax_minus_the_smoothed_target():
    # Szegedy et al., "Rethinking the Inception Architecture for Computer Vision" (CVPR 2016) §7:
    # smoothing replaces onehot(y) by q = (1 - ε) onehot(y) + ε/C; for l = -Σ_c q_c log_softmax(x)_c,
    # ∂l/∂x = softmax(x) Σ_c q_c - q = softmax(x) - q since Σ_c q_c = 1.
    eps = 0.3
    g = grads("cross_entropy", X, Y, label_smoothing=eps, reduction="sum")["input"]
    q = (1 - eps) * onehot(Y, 5) + eps / 5
    np.testing.assert_allclose(g, softmax(X) - q, rtol=1e-12, atol=1e-15)


def test_probability_targets_differentiate_input_and_target():
    # l_n = -Σ_c w_c p_c log_softmax(x_n)_c: ∂l/∂p_c = -w_c log_softmax(x)_c, and with
    # ∂log_softmax(x)_c/∂x_k = [c = k] - softmax(x)_k, ∂l/∂x = softmax(x) Σ_c w_c p_c - w p.
    # PyTorch differentiates the probability target too (F.cross_entropy is built from
    # log_softmax and a product with the target).
    p = softmax(RNG.normal(size=X.shape))
    g = grads("cross_entropy", X, p, weight=W, reduction="sum")
    logp = X - np.log(np.exp(X).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(g["target"], -W * logp, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g["input"], softmax(X) * (p * W).sum(axis=1, keepdims=True) - W * p,
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("opts", [{}, {"weight": W}, {"weight": W, "label_smoothing": 0.2}, {"ignore_index": 2}])
def test_cross_entropy_gradient_rows_sum_to_zero(opts):
    # softmax is shift invariant: l(x + t·1) = l(x) for every t, so d/dt = Σ_c ∂l/∂x_c = 0
    g = grads("cross_entropy", X, Y, reduction="sum", **opts)["input"]
    np.testing.assert_allclose(g.sum(axis=1), 0, atol=1e-14)


def test_spatial_cross_entropy_is_the_flattened_one():
    # (N, C, d) scores are N·d items of C classes (torch.nn.CrossEntropyLoss, "K-dimensional loss")
    x = RNG.normal(size=(2, 5, 3))
    y = RNG.integers(0, 5, size=(2, 3))
    g = grads("cross_entropy", x, y, weight=W, label_smoothing=0.1)["input"]
    flat = grads("cross_entropy", x.transpose(0, 2, 1).reshape(6, 5), y.reshape(6), weight=W, label_smoothing=0.1)
    np.testing.assert_allclose(g, flat["input"].reshape(2, 3, 5).transpose(0, 2, 1), rtol=1e-12, atol=1e-15)


# nll --------------------------------------------------------------------------------------

def test_nll_gradient_is_minus_w_y_over_sum_w_at_the_target_class():
    # l_n = -w_{y_n} x_{n,y_n}; mean = Σ l_n / Σ w_{y_n} (torch.nn.NLLLoss docs)
    g = grads("nll", X, Y, weight=W)["input"]
    np.testing.assert_allclose(g, -onehot(Y, 5) * W[Y][:, None] / W[Y].sum(), rtol=1e-15, atol=0)


def test_cross_entropy_is_nll_after_log_softmax_in_the_gradient_too():
    # cross_entropy(x, y) = nll(log_softmax(x), y); the chain rule through log_softmax, whose
    # Jacobian is I - 1 softmax(x)^T, gives ∂ce/∂x = G - softmax(x) Σ_c G_c with G = ∂nll/∂log_softmax
    logp = X - np.log(np.exp(X).sum(axis=1, keepdims=True))
    gn = grads("nll", logp, Y, weight=W)["input"]
    gce = grads("cross_entropy", X, Y, weight=W)["input"]
    np.testing.assert_allclose(gce, gn - softmax(X) * gn.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-15)


# the margins ------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_gradient(p):
    # l_n = Σ_{i≠y} w_y max(0, z_i)^p / C with z_i = margin - x_y + x_i (torch.nn.MultiMarginLoss docs,
    # after Weston and Watkins, "Support vector machines for multi-class pattern recognition", 1999):
    # ∂l/∂x_i = w_y p z_i^(p-1) / C where z_i > 0, and ∂l/∂x_y = -Σ_i of those
    x = np.array([[0.3, -0.2, 1.1, 0.6], [2.0, 0.1, 0.4, -1.0]])
    y = np.array([2, 0])
    w = np.array([0.5, 1.5, 2.0, 1.0])
    g = grads("multi_margin", x, y, p=p, weight=w, reduction="sum")["input"]
    z = 1 - x[np.arange(2), y][:, None] + x
    z[np.arange(2), y] = 0
    h = np.where(z > 0, p * np.maximum(z, 0) ** (p - 1), 0) * w[y][:, None] / 4
    h[np.arange(2), y] = -h.sum(axis=1)
    np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("p", [1, 2])
def test_a_margin_exactly_at_the_hinge_has_no_gradient(p):
    # PyTorch's MultiMarginCriterion.cpp counts a margin only `if (z > 0)`: the subgradient 0 at z = 0
    g = grads("multi_margin", np.array([[0.0, 1.0, 0.0]]), np.array([1]), p=p, reduction="sum")["input"]
    np.testing.assert_array_equal(g, np.zeros((1, 3)))


def test_multilabel_margin_gradient_counts_each_violation_once_per_side():
    # l = Σ_j Σ_{i not a label} max(0, 1 - (x_{y_j} - x_i)) / C (torch.nn.MultiLabelMarginLoss docs):
    # each positive term adds 1/C to ∂l/∂x_i and takes 1/C from ∂l/∂x_{y_j}
    x = np.array([[0.1, 0.2, 0.4, 0.8]])
    g = grads("multilabel_margin", x, np.array([[3, 0, -1, 1]]), reduction="sum")["input"]
    # labels 3 and 0; non-labels 1 and 2: z(3,1) = 0.4, z(3,2) = 0.6, z(0,1) = 1.1, z(0,2) = 1.3, all > 0
    np.testing.assert_allclose(g, [[-2 / 4, 2 / 4, 2 / 4, -2 / 4]], rtol=1e-15)
    np.testing.assert_allclose(g.sum(), 0, atol=1e-15)


def test_multilabel_soft_margin_gradient_for_input_and_target():
    # l = -Σ_c w_c [y log σ(x) + (1 - y) log σ(-x)] / C; d log σ(x)/dx = σ(-x) = 1 - σ(x), so
    # ∂l/∂x = w (σ(x) - y) / C and ∂l/∂y = -w (log σ(x) - log σ(-x)) / C = -w x / C (log σ(x) - log σ(-x) = x);
    # PyTorch differentiates the target too (F.multilabel_soft_margin_loss is written in torch ops)
    x = RNG.normal(size=(4, 3))
    t = RNG.random((4, 3))
    w = RNG.random(3)
    g = grads("multilabel_soft_margin", x, t, weight=w)
    np.testing.assert_allclose(g["input"], w * (sigmoid(x) - t) / 3 / 4, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g["target"], -w * x / 3 / 4, rtol=1e-12, atol=1e-15)


# every loss: central differences ----------------------------------------------------------

CASES = [
    ("cross_entropy", [RNG.normal(size=(3, 4, 2)), RNG.integers(0, 4, (3, 2))],
     {"weight": RNG.random(4) + 0.1, "label_smoothing": 0.2, "ignore_index": 1}),
    ("cross_entropy", [RNG.normal(size=(3, 4)), softmax(RNG.normal(size=(3, 4)))],
     {"weight": RNG.random(4) + 0.1, "label_smoothing": 0.1}),
    ("nll", [RNG.normal(size=(5, 3)), RNG.integers(0, 3, 5)], {"weight": RNG.random(3) + 0.1}),
    ("multi_margin", [RNG.normal(size=(5, 4)), RNG.integers(0, 4, 5)], {"p": 2, "margin": 0.7}),
    ("multi_margin", [RNG.normal(size=(5, 4)), RNG.integers(0, 4, 5)], {"weight": RNG.random(4)}),
    ("multilabel_margin", [RNG.normal(size=(4, 5)), RNG.integers(-1, 5, (4, 5))], {}),
    ("multilabel_soft_margin", [RNG.normal(size=(4, 3)), RNG.random((4, 3))], {"weight": RNG.random(3)}),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("loss,tensors,opts", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_central_differences(loss, tensors, opts, reduction):
    # (f(t + h e_k) - f(t - h e_k)) / 2h = ∂f/∂t_k + O(h²); the hinges are almost surely not hit
    def value(ts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(compute(loss, *ts, reduction=reduction, **opts).value.sum())

    g = grads(loss, *tensors, reduction=reduction, **opts)
    h = 1e-6
    for name, i in [("input", 0), ("target", 1)]:
        if name not in g:
            continue
        numeric = np.zeros_like(tensors[i])
        for k in np.ndindex(tensors[i].shape):
            up, down = [t.copy() for t in tensors], [t.copy() for t in tensors]
            up[i][k] += h
            down[i][k] -= h
            numeric[k] = (value(up) - value(down)) / (2 * h)
        np.testing.assert_allclose(g[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


# edges and conventions --------------------------------------------------------------------

def test_every_item_ignored_gives_a_zero_gradient_under_the_nan_mean():
    # PyTorch's nll_loss backward skips ignored items, and the smoothing term is masked: 0, not nan
    for loss, x in [("cross_entropy", X), ("nll", X)]:
        opts = {"label_smoothing": 0.1} if loss == "cross_entropy" else {}
        g = grads(loss, x, np.full(6, 3), ignore_index=3, **opts)["input"]
        np.testing.assert_array_equal(g, np.zeros_like(X))


def test_weights_of_the_targets_summing_to_zero_give_nan_as_pytorch():
    # mean = Σ w·l / 0 and the upstream gradient 1/0 = inf meets w_y = 0: 0 · inf = nan (torch 2.13 too)
    g = grads("cross_entropy", X, np.full(6, 1), weight=np.array([1.0, 0, 2, 0, 1]))["input"]
    assert np.isnan(g).all()


def test_nan_logits_of_an_ignored_item_give_a_nan_gradient_as_pytorch():
    # log_softmax's backward multiplies softmax (nan) by a zero upstream: nan, not 0 (torch 2.13)
    x = X.copy()
    x[2, 1] = np.nan
    y = Y.copy()
    y[2] = 9
    g = grads("cross_entropy", x, y, ignore_index=9, reduction="sum")["input"]
    assert np.isnan(g[2]).all() and np.isfinite(np.delete(g, 2, axis=0)).all()


def test_a_1d_input_with_a_1_target_has_no_gradient_as_pytorch_backward_refuses_it():
    # torch 2.13: F.cross_entropy(x (C), y (1,)) computes, its backward raises "size mismatch"
    with pytest.warns(LossWarning, match="no gradient"):
        result = compute("cross_entropy", np.array([1.0, 2, 3]), np.array([1]), grad=True)
    assert result.grads == {}
    assert grads("cross_entropy", np.array([1.0, 2, 3]), np.array(1))["input"].shape == (3,)


@pytest.mark.parametrize("loss,tensors,opts", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_float32_stays_float32(loss, tensors, opts):
    for g in grads(loss, *tensors, dtype="float32", **opts).values():
        assert g.dtype == np.float32

