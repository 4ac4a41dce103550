"""Differential cases for losscalc/kernels/beyond.py, the losses PyTorch lacks (SPEC §7).

There is no torch.nn class to compare with, so `torch_value` writes each loss in torch ops
from its defining formula (what SciPy, torchvision and Keras compute), and autograd through
those ops is the reference for --grad. These torch-op references, the golden values made from
them (tests/golden/beyond.json, see PRODUCED_BY) and losscalc itself are
cross-checked against SciPy (jensenshannon², wasserstein_distance, entropy) and against the
documented torchvision and Keras definitions in tests/kernels/test_beyond.py.

Inputs losscalc refuses are refused here too, by a ValueError where torch ops would compute.
"""

import math

import numpy as np

from . import Case

PRODUCED_BY = ("ops writing out each loss's definition (SciPy's jensenshannon², wasserstein_distance, "
               "entropy; torchvision's sigmoid_focal_loss; Keras's LogCosh; the V-Net soft Dice)")
LOSSES = ["js_div", "wasserstein", "entropy", "sigmoid_focal", "log_cosh", "dice"]
REDUCTIONS = ["none", "mean", "sum"]


def rows(rng, shape, zeros=True):
    """Probability rows along the last dimension; with `zeros`, some exact zeros."""
    p = rng.random(shape) + 0.05
    if zeros and len(shape) and shape[-1] > 2:
        p[..., 0] = 0.0
    return p / p.sum(axis=-1, keepdims=True)


def _js_entropy(rng):
    out = []
    for shape in [(4,), (3, 5), (2, 3, 4), (int(rng.integers(1, 20)), 6)]:
        p, q = rows(rng, shape), rows(rng, shape, zeros=False)
        for reduction in REDUCTIONS:
            out.append(Case("js_div", [p, q], {}, reduction))
            out.append(Case("entropy", [p], {}, reduction))
    p = rows(rng, (3, 4), zeros=False)
    out.append(Case("js_div", [p, p.copy()], {}, "none"))  # identical rows: 0
    out.append(Case("js_div", [np.array([1.0, 0, 0]), np.array([0.0, 1, 0])], {}, "none"))  # disjoint: log 2
    zeros = np.array([[0.5, 0.0, 0.5, 0.0], [0.0, 0.0, 1.0, 0.0]])  # p = q = 0 in places, p = 0 < q
    out.append(Case("js_div", [zeros, np.array([[0.0, 0.0, 0.5, 0.5], [0.25, 0.0, 0.25, 0.5]])], {}, "none"))
    out.append(Case("entropy", [zeros], {}, "none"))
    out.append(Case("entropy", [np.array([0.25, 0.25, 0.25, 0.25])], {}, "sum"))  # log 4
    unnormalised = rng.random((3, 4)) * 3  # used as given (a warning), not normalised
    out.append(Case("js_div", [unnormalised, rows(rng, (3, 4))], {}, "none"))
    out.append(Case("entropy", [unnormalised], {}, "mean"))
    for shape in [(0, 3), (2, 0), (0,)]:
        out.append(Case("js_div", [np.zeros(shape), np.zeros(shape)], {}, "mean"))
        out.append(Case("entropy", [np.zeros(shape)], {}, "sum"))
    out.append(Case("js_div", [np.array([np.nan, 0.5, 0.5]), rows(rng, (3,))], {}, "none"))
    out.append(Case("entropy", [np.array([[np.nan, 0.5], [np.inf, 0.0]])], {}, "none"))
    return out


def _wasserstein(rng):
    out = []
    for n, m, batch in [(5, 5, ()), (4, 7, ()), (1, 3, ()), (6, 4, (3,)), (3, 5, (2, 2)), (8, 8, (0,))]:
        u, v = rng.normal(size=(*batch, n)), rng.normal(size=(*batch, m)) + 0.5
        for reduction in REDUCTIONS:
            out.append(Case("wasserstein", [u, v], {}, reduction))
            wu, wv = rng.random((*batch, n)) + 0.1, rng.random((*batch, m)) + 0.1
            out.append(Case("wasserstein", [u, v], {"u_weights": wu, "v_weights": wv}, reduction))
        out.append(Case("wasserstein", [u, v], {"v_weights": rng.random((*batch, m)) * 5}, "mean"))
    # ties within and across the samples (whole numbers), zero weights, identical samples
    u, v = rng.integers(0, 4, size=(3, 6)).astype(float), rng.integers(0, 4, size=(3, 5)).astype(float)
    out.append(Case("wasserstein", [u, v], {}, "none"))
    w = rng.random((3, 6))
    w[:, 0] = 0.0
    out.append(Case("wasserstein", [u, v], {"u_weights": w}, "none"))
    x = rng.normal(size=(7,))
    out.append(Case("wasserstein", [x, x[::-1].copy()], {}, "sum"))  # the same sample: 0
    # histograms over the same bins: bin centres as values, masses as weights
    centres = np.arange(6.0) + 0.5
    out.append(Case("wasserstein", [centres, centres.copy()],
                    {"u_weights": rng.random(6), "v_weights": rng.random(6)}, "none"))
    out.append(Case("wasserstein", [np.array([0.0, 1.0, 3.0]), np.array([5.0, 6.0, 8.0])], {}, "mean"))  # 5
    out.append(Case("wasserstein", [np.array([1.0, np.inf]), np.array([0.0, 2.0])], {}, "none"))
    return out


def _focal(rng):
    out = []
    for shape in [(), (6,), (3, 4), (2, 3, 4)]:
        x = rng.normal(size=shape) * 3
        t = (rng.random(shape) < 0.5).astype(float)
        for reduction in REDUCTIONS:
            out.append(Case("sigmoid_focal", [x, t], {}, reduction))
        for alpha, gamma in [(0.5, 0.0), (-1.0, 2.0), (0.9, 1.0), (0.25, 0.5), (-1.0, 0.0), (0.25, 3.5)]:
            out.append(Case("sigmoid_focal", [x, t], {"alpha": alpha, "gamma": gamma}, "mean"))
    soft = rng.random((4, 3))
    out.append(Case("sigmoid_focal", [rng.normal(size=(4, 3)), soft], {}, "none"))  # soft labels
    big = np.array([-40.0, -20.0, -5.0, 0.0, 5.0, 20.0, 40.0])
    out.append(Case("sigmoid_focal", [big, np.array([1.0, 0, 1, 1, 0, 1, 0])], {}, "none"))
    out.append(Case("sigmoid_focal", [big, np.array([0.0, 1, 0, 0, 1, 0, 1])], {"gamma": 1.0}, "none"))
    # 1 - p_t = 0 exactly at ±40: (1 - p_t)^γ has the derivative 0 for γ = 0 (torch's pow), inf for γ < 1
    for gamma in (0.0, 0.5):
        out.append(Case("sigmoid_focal", [big, np.array([0.0, 1, 0, 1, 1, 1, 0])], {"alpha": 0.5, "gamma": gamma}, "sum"))
    out.append(Case("sigmoid_focal", [np.zeros((0, 3)), np.zeros((0, 3))], {}, "mean"))
    out.append(Case("sigmoid_focal", [rng.normal(size=(4,)), np.array([1.0, -1.0, 1.0, 2.0])], {}, "none"))
    return out


def _log_cosh(rng):
    out = []
    for shape in [(), (5,), (3, 4), (2, 3, 4)]:
        x, y = rng.normal(size=shape) * 2, rng.normal(size=shape) * 2
        for reduction in REDUCTIONS:
            out.append(Case("log_cosh", [x, y], {}, reduction))
    edge = np.array([0.0, 1e-8, -1e-4, 0.3, 15.0, -30.0, 400.0, -1000.0])
    out.append(Case("log_cosh", [edge, np.zeros(8)], {}, "none"))
    x = rng.normal(size=(6,))
    out.append(Case("log_cosh", [x, x.copy()], {}, "sum"))  # zero
    out.append(Case("log_cosh", [np.zeros((0,)), np.zeros((0,))], {}, "mean"))
    return out


def _dice(rng):
    out = []
    for shape in [(5,), (3, 4), (2, 3, 4, 4), (int(rng.integers(1, 10)), 6)]:
        x = rng.random(shape)
        t = (rng.random(shape) < 0.4).astype(float)
        for reduction in REDUCTIONS:
            out.append(Case("dice", [x, t], {}, reduction))
            out.append(Case("dice", [x, t], {"smooth": 0.0}, reduction))
        out.append(Case("dice", [x, rng.random(shape)], {"smooth": 1e-5}, "mean"))  # soft targets
    t = (rng.random((3, 5)) < 0.5).astype(float)
    out.append(Case("dice", [t, t.copy()], {"smooth": 0.0}, "none"))  # perfect: 0
    out.append(Case("dice", [np.zeros((2, 3)), np.zeros((2, 3))], {}, "none"))  # empty vs empty: 0
    out.append(Case("dice", [np.zeros((2, 3)), np.zeros((2, 3))], {"smooth": 0.0}, "none"))  # 0/0: nan
    out.append(Case("dice", [np.array(0.7), np.array(1.0)], {}, "none"))
    out.append(Case("dice", [np.zeros((0, 4)), np.zeros((0, 4))], {}, "mean"))
    out.append(Case("dice", [rng.normal(size=(2, 3)), t[:2, :3]], {"smooth": 2.0}, "none"))  # logits: warned
    return out


def cases(rng):
    return _js_entropy(rng) + _wasserstein(rng) + _focal(rng) + _log_cosh(rng) + _dice(rng)


def error_cases(rng):
    p = rows(rng, (3, 4))
    neg = p.copy()
    neg[1, 2] = -0.1
    u = rng.normal(size=(3, 5))
    return [
        Case("js_div", [p, rows(rng, (4,))]),  # broadcasting is refused
        Case("js_div", [p, rows(rng, (3, 5))]),
        Case("js_div", [neg, p]),
        Case("js_div", [p, neg]),
        Case("js_div", [np.array(0.5), np.array(0.5)]),
        Case("entropy", [neg]),
        Case("entropy", [np.array(1.0)]),
        Case("wasserstein", [np.zeros((0,)), u[0]]),  # an empty distribution
        Case("wasserstein", [u, np.zeros((3, 0))]),
        Case("wasserstein", [np.array(1.0), u[0]]),
        Case("wasserstein", [u, rng.normal(size=(2, 4))]),  # leading dimensions differ
        Case("wasserstein", [u[0], u[1]], {"u_weights": np.array([1.0, -1.0, 1.0, 1.0, 1.0])}),
        Case("wasserstein", [u[0], u[1]], {"v_weights": np.zeros(5)}),
        Case("wasserstein", [u[0], u[1]], {"v_weights": np.array([1.0, np.inf, 1.0, 1.0, 1.0])}),
        Case("wasserstein", [u[0], u[1]], {"u_weights": np.array([1.0, np.nan, 1.0, 1.0, 1.0])}),
        Case("wasserstein", [u[0], u[1]], {"u_weights": np.ones(4)}),
        Case("wasserstein", [u, u], {"u_weights": np.ones(5)}),
        Case("sigmoid_focal", [rng.normal(size=(3, 4)), np.ones((4,))]),
        Case("sigmoid_focal", [rng.normal(size=(3,)), np.ones((2,))]),
        Case("log_cosh", [rng.normal(size=(3, 4)), rng.normal(size=(4,))]),
        Case("dice", [rng.random((2, 3)), np.ones((3,))]),
        Case("dice", [rng.random((2, 3)), np.ones((2, 3))], {"smooth": -1.0}),
    ]


# The torch-op references ----------------------------------------------------------------


def _reduce(value, reduction):
    if reduction == "none":
        return value
    if reduction == "mean":
        return value.mean()
    if reduction == "sum":
        return value.sum()
    raise ValueError(f"unknown reduction {reduction!r}")


def _same_shape(a, b):
    if a.shape != b.shape:
        raise ValueError(f"shapes {tuple(a.shape)} and {tuple(b.shape)} differ")


def _probability_rows(*ts):
    for t in ts:
        if t.dim() == 0:
            raise ValueError("probability rows need at least one dimension")
        if bool((t < 0).any()):
            raise ValueError("negative probability")


def js_div(torch, p, q):
    """JS(p, q) = H(m) - ½ H(p) - ½ H(q), m = (p + q) / 2, with H(p) = Σ entr(p), entr(x) =
    -x log x (= ½ KL(p‖m) + ½ KL(q‖m)). torch.special.entr has the derivative -(1 + log x),
    +inf at 0, so autograd gives ½ log(p/m) (-inf where p = 0 < q); where p = q = 0 the
    term is ½ (p + q) log 2 (its value 0, its one-sided derivative ½ log 2), through a
    double where so no NaN leaks into the gradient."""
    _same_shape(p, q)
    _probability_rows(p, q)
    entr = torch.special.entr
    m = (p + q) / 2
    both_zero = m == 0
    one = torch.ones_like(m)
    ps, qs, ms = (torch.where(both_zero, one, t) for t in (p, q, m))
    inner = entr(ms) - entr(ps) / 2 - entr(qs) / 2
    return torch.where(both_zero, (p + q) * (math.log(2) / 2), inner).sum(-1)


def entropy(torch, p):
    _probability_rows(p)
    return torch.special.entr(p).sum(-1)


def wasserstein(torch, u, v, u_weights=None, v_weights=None):
    """∫ |U - V| over the merged sorted values, U and V the weighted empirical CDFs (what
    scipy.stats._stats_py._cdf_distance computes for p = 1), rows along the last dimension.
    Autograd flows through the sorted values; the CDFs are constants."""
    for t in (u, v):
        if t.dim() == 0 or t.shape[-1] == 0:
            raise ValueError("Distribution can't be empty.")
    if u.shape[:-1] != v.shape[:-1]:
        raise ValueError("leading dimensions differ")
    weights = []
    for w, t in ((u_weights, u), (v_weights, v)):
        if w is None:
            w = torch.ones_like(t)
        _same_shape(w, t)
        sums = w.sum(-1)
        if bool((w < 0).any()) or not bool(((sums > 0) & (sums < math.inf)).all()):
            raise ValueError("weights must be non-negative with a positive finite sum")
        weights.append(w.detach())
    z = torch.cat([u, v], -1)
    zs, order = torch.sort(z, dim=-1, stable=True)
    zu, zv = torch.zeros_like(u).detach(), torch.zeros_like(v).detach()
    cum_u = torch.cat([weights[0], zv], -1).gather(-1, order).cumsum(-1)
    cum_v = torch.cat([zu, weights[1]], -1).gather(-1, order).cumsum(-1)
    gap = (cum_u / cum_u[..., -1:] - cum_v / cum_v[..., -1:])[..., :-1].abs()
    return (gap * (zs[..., 1:] - zs[..., :-1])).sum(-1)


def sigmoid_focal(torch, F, x, t, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss (torchvision/ops/focal_loss.py), line by line."""
    p = torch.sigmoid(x)
    ce_loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * t + (1 - alpha) * (1 - t)
        loss = alpha_t * loss
    return loss


def log_cosh(torch, x, y):
    """Keras's d + softplus(-2d) - log 2 (d = y_pred - y_true), written for |d|, which is the
    same for every finite d (log cosh is even) and gives log cosh(-inf) = inf where Keras's
    form is -inf + inf = nan; softplus as logaddexp(0, ·) (F.softplus turns linear above 20,
    an error of exp(-20) there)."""
    _same_shape(x, y)
    d = (x - y).abs()
    return d + torch.logaddexp(torch.zeros_like(d), -2 * d) - math.log(2)


def dice(torch, x, t, smooth=1.0):
    _same_shape(x, t)
    if not smooth >= 0:
        raise ValueError("smooth must be 0 or more")
    dims = tuple(range(1, x.dim())) if x.dim() >= 2 else tuple(range(x.dim()))
    overlap = (x * t).sum(dim=dims) if dims else x * t
    total = (x.sum(dim=dims) + t.sum(dim=dims)) if dims else x + t
    return 1 - (2 * overlap + smooth) / (total + smooth)


def torch_value(F, case, tensors, options):
    import torch

    if case.loss == "sigmoid_focal":
        value = sigmoid_focal(torch, F, *tensors, **options)
    else:
        value = globals()[case.loss](torch, *tensors, **options)
    return _reduce(value, case.reduction)
