"""--grad of kernels/embedding.py against closed forms worked out by hand, and against
central differences (tests/kernels/gradients.py); no torch needed.

Each test says where its formula comes from. The conventions at kinks and edges (clamp_min
passing the gradient at exactly 0, sgn(NaN) = 0, BCE's float 1e-12, the no_grad clamps) are
PyTorch autograd's, checked against torch 2.13 when these kernels were written;
tests/test_differential_grad.py compares with autograd itself when torch is installed.
"""

import numpy as np
import pytest

from losscalc import compute
from losscalc.errors import LossWarning
from tests.kernels.gradients import X, Y, check_central_differences, grads


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


SMOOTH = [  # points away from every kink and edge, for central differences
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
    check_central_differences(name, tensors, options)
