"""--grad for the regression, binary, divergence and embedding losses against closed forms
worked out by hand, and against central differences; no torch needed.

Each test says where its formula comes from. The conventions at kinks and edges (clamp_min
passing the gradient at exactly 0, sgn(NaN) = 0, BCE's float 1e-12, the no_grad clamps) are
PyTorch autograd's, checked against torch 2.13 when these kernels were written; tests/test_differential_grad.py
compares with autograd itself when torch is installed.
"""

import warnings

import numpy as np
import pytest

from losscalc import compute
from losscalc.errors import LossWarning


def grads(name, *tensors, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute(name, *tensors, grad=True, **kw).grads


X = np.array([0.3, -1.2, 2.0, 0.7])
Y = np.array([0.5, 0.4, -1.0, 0.7])
N = X.size


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


def test_margin_ranking_and_its_kink():
    # l = max(0, -y (x1 - x2) + margin)  =>  ∂/∂x1 = -y, ∂/∂x2 = y, ∂/∂y = -(x1 - x2) where the
    # score is >= 0: clamp_min passes the gradient at exactly 0 (second item: score 0)
    g = grads("margin_ranking", [0.25, 1.0, 3.0], [0.75, 1.0, 0.0], [1.0, 1.0, 1.0], reduction="sum")
    np.testing.assert_array_equal(g["input1"], [-1, -1, 0])
    np.testing.assert_array_equal(g["input2"], [1, 1, 0])
    np.testing.assert_array_equal(g["target"], [0.5, 0, 0])


def test_hinge_embedding():
    # y = 1: l = x, ∂ = 1; y = -1: l = max(0, margin - x), ∂ = -1 where margin - x >= 0 (at 0 too)
    g = grads("hinge_embedding", [0.3, 0.5, 1.0, 2.0], [1.0, -1.0, -1.0, -1.0], reduction="sum")
    np.testing.assert_array_equal(g["input"], [1, -1, -1, 0])
    assert set(g) == {"input"}


def test_cosine_embedding_similar_pair():
    # y = 1: l = 1 - cos, cos = x1·x2 / (|x1| |x2|)  =>  ∂l/∂x1 = -(x2 / (|x1| |x2|) - cos x1 / |x1|²)
    # (PyTorch's 1e-12 added to |x|² is far below these tolerances)
    a, b = np.array([[0.3, 0.5, 0.7]]), np.array([[0.1, -0.3, 0.5]])
    g = grads("cosine_embedding", a, b, np.array([1.0]), reduction="sum")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = (a * b).sum() / (na * nb)
    np.testing.assert_allclose(g["input1"], -(b / (na * nb) - cos * a / na**2), rtol=1e-10)
    np.testing.assert_allclose(g["input2"], -(a / (na * nb) - cos * b / nb**2), rtol=1e-10)


def test_triplet_margin_p2():
    # l = max(0, margin + |a - p + eps| - |a - n + eps|) with eps = 0, where l > 0:
    # ∂/∂p = -(a - p) / d(a,p), ∂/∂n = (a - n) / d(a,n), ∂/∂a = (a - p) / d(a,p) - (a - n) / d(a,n)
    # a = (0,0), p = (3,4), n = (0,1): d(a,p) = 5, d(a,n) = 1, l = 1 + 5 - 1 = 5
    a, p, n = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), np.array([[0.0, 1.0]])
    g = grads("triplet_margin", a, p, n, eps=0.0, reduction="sum")
    np.testing.assert_allclose(g["positive"], [[0.6, 0.8]], rtol=1e-15)
    np.testing.assert_allclose(g["negative"], [[0.0, -1.0]], rtol=1e-15)
    np.testing.assert_allclose(g["anchor"], [[-0.6, 0.2]], rtol=1e-15)


def test_triplet_margin_p1_and_swap_tie():
    # p = 1: ∂|v|_1/∂v = sgn(v). a = (0,0), p = (0,2), n = (2,1): d(a,p) = 2, d(a,n) = d(p,n) = 3,
    # l = 2 + 2 - min(3, 3) = 1. With --swap the tie gives each of d(a,n), d(p,n) half of -1
    # (torch.minimum's backward):
    #   d(a,p): a += sgn(a-p) = (0,-1),                 p -= (0,-1)
    #   d(a,n): a += -1/2 sgn(a-n) = -1/2 (-1,-1),       n -= that
    #   d(p,n): p += -1/2 sgn(p-n) = -1/2 (-1,1),        n -= that
    a, p, n = np.array([[0.0, 0.0]]), np.array([[0.0, 2.0]]), np.array([[2.0, 1.0]])
    g = grads("triplet_margin", a, p, n, p=1.0, eps=0.0, swap=True, margin=2.0, reduction="sum")
    np.testing.assert_array_equal(g["anchor"], [[0.5, -0.5]])
    np.testing.assert_array_equal(g["positive"], [[0.5, 0.5]])
    np.testing.assert_array_equal(g["negative"], [[-1.0, 0.0]])


def test_triplet_margin_p0_has_no_gradient():
    # PyTorch's norm backward is undefined for p = 0: autograd leaves every .grad None
    a, p, n = (np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]), np.array([[2.0, 2.0]]))
    with pytest.warns(LossWarning, match="p = 0"):
        assert compute("triplet_margin", a, p, n, p=0.0, grad=True).grads == {}


def test_cosine_distance_with_a_zero_vector():
    # cosine_similarity divides by max(|x|, eps) with the clamp outside autograd: for x2 = 0,
    # ∂s/∂x2 = x1 / (|x1| eps), and the norm's own gradient is 0 where the norm is 0
    a, z, n = np.array([[1.0, 2.0]]), np.zeros((1, 2)), np.array([[2.0, -1.0]])
    g = grads("triplet_margin_with_distance", a, z, n, distance="cosine", reduction="sum")
    np.testing.assert_allclose(g["positive"], -a / (np.sqrt(5) * 1e-8), rtol=1e-12)


def test_float32_stays_float32():
    for name, tensors in [("bce", ([0.2, 0.7], [0.0, 1.0])), ("gaussian_nll", ([1.0, 2.0], [0.0, 0.0], [1.0, 2.0])),
                          ("kl_div", ([-1.0, -0.5], [0.3, 0.7])), ("triplet_margin", ([[0.0, 1]], [[1.0, 1]], [[2.0, 0]]))]:
        for g in grads(name, *tensors, dtype="float32").values():
            assert g.dtype == np.float32, name


SMOOTH = [  # points away from every kink and edge (and the Stirling mask's y = 0, 1), for central differences
    ("smooth_l1", [X, Y], {"beta": 0.9}),
    ("huber", [X, Y], {"delta": 1.3, "weight": np.array([1.0, 2.0, 0.5, 1.5])}),
    ("poisson_nll", [X, np.array([0.5, 1.5, 3.0, 2.0])], {"full": True}),
    ("poisson_nll", [np.abs(X) + 0.1, np.array([0.5, 1.5, 3.0, 2.0])], {"log_input": False, "full": True}),
    ("gaussian_nll", [np.ones((2, 3)), np.arange(6.0).reshape(2, 3) / 5, np.array([0.5, 2.0])], {}),
    ("bce", [np.array([0.2, 0.6, 0.9]), np.array([0.1, 0.9, 0.4])], {"weight": np.array([1.0, 2.0, 0.5])}),
    ("bce_with_logits", [X, np.array([1.0, 0.0, 0.3, 0.8])], {"pos_weight": np.array(2.0), "weight": np.array(0.5)}),
    ("soft_margin", [X, np.array([1.0, -1.0, 1.0, -1.0])], {}),
    ("kl_div", [np.log(np.array([[0.5, 0.3, 0.2]])), np.array([[0.7, 0.2, 0.1]])], {"reduction": "batchmean"}),
    ("kl_div", [np.log(np.array([0.5, 0.3, 0.2])), np.log(np.array([0.7, 0.2, 0.1]))], {"log_target": True}),
    ("margin_ranking", [X, Y, np.array([1.0, -1.0, 1.0, -1.0])], {"margin": 0.5}),
    ("hinge_embedding", [np.abs(X), np.array([1.0, -1.0, -1.0, 1.0])], {"margin": 1.5}),
    ("cosine_embedding", [np.array([[0.3, 0.5], [1.0, -2.0]]), np.array([[0.1, 0.4], [0.5, 0.5]]), np.array([1.0, -1.0])],
     {"margin": -0.5}),
    ("triplet_margin", [np.array([[0.0, 0.5], [1.0, 1.0]]), np.array([[0.3, 1.0], [1.4, 2.0]]),
                        np.array([[0.2, 0.1], [1.2, 1.5]])], {"p": 3.0, "swap": True, "margin": 2.0}),
    ("triplet_margin", [np.array([[0.0, 0.5], [1.0, 1.0]]), np.array([[0.3, 1.0], [1.4, 2.0]]),
                        np.array([[0.2, 0.1], [1.2, 1.5]])], {"p": 0.5, "margin": 2.0}),
    ("triplet_margin_with_distance", [np.array([[0.0, 0.5], [1.0, 1.0]]), np.array([[0.3, 1.0], [1.4, 2.0]]),
                                      np.array([[0.2, 0.1], [1.2, -1.5]])], {"distance": "cosine", "margin": 2.0}),
]


@pytest.mark.parametrize("name,tensors,options", SMOOTH, ids=[f"{i}-{s[0]}" for i, s in enumerate(SMOOTH)])
def test_central_differences(name, tensors, options):
    # (l(t + h e) - l(t - h e)) / 2h approximates ∂l/∂t_e to O(h²) where l is smooth
    analytic = grads(name, *tensors, **options)
    assert analytic
    h = 1e-6
    for tensor_name in analytic:
        index = _names(name).index(tensor_name)
        numeric = np.zeros(np.shape(tensors[index]))
        for e in np.ndindex(numeric.shape):
            moved = []
            for sign in (1, -1):
                t = [np.array(x, dtype=float) for x in tensors]
                t[index][e] += sign * h
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    moved.append(float(compute(name, *t, **options).value))
            numeric[e] = (moved[0] - moved[1]) / (2 * h)
        np.testing.assert_allclose(analytic[tensor_name], numeric, rtol=1e-5, atol=1e-7, err_msg=tensor_name)


def _names(loss):
    from losscalc.registry import find

    return [t.name for t in find(loss).tensors]
