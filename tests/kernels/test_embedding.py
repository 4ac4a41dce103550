"""cosine_embedding, triplet_margin, triplet_margin_with_distance: identities and CLI behaviour
beyond the differential cases (tests/cases/embedding.py)."""

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc import compute
from losscalc.cli import cli


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_pairwise_distance_is_triplet_margin_with_p2(swap, reduction):
    rng = np.random.default_rng(5)
    a, p, n = (rng.normal(size=(9, 4)) for _ in range(3))
    with_distance = compute("triplet_margin_with_distance", a, p, n, swap=swap, margin=0.7, reduction=reduction)
    plain = compute("triplet_margin", a, p, n, swap=swap, margin=0.7, reduction=reduction)
    np.testing.assert_array_equal(with_distance.value, plain.value)


def test_swap_never_lowers_the_loss_and_uses_the_closer_negative():
    rng = np.random.default_rng(6)
    a, p, n = (rng.normal(size=(50, 3)) for _ in range(3))
    plain = compute("triplet_margin", a, p, n, reduction="none")
    swapped = compute("triplet_margin", a, p, n, swap=True, reduction="none")
    assert (swapped.value >= plain.value).all()
    d_neg = np.minimum(swapped.terms["d(a,n)"], swapped.terms["d(p,n)"])
    np.testing.assert_allclose(swapped.value, np.maximum(1 + swapped.terms["d(a,p)"] - d_neg, 0))


def test_cosine_distance_of_parallel_and_orthogonal_vectors():
    r = compute("triplet_margin_with_distance", [[1.0, 0], [0, 2]], [[3.0, 0], [0, 1]], [[0.0, 1], [1, 0]],
                distance="cosine", reduction="none")
    np.testing.assert_allclose(r.terms["d(a,p)"], [0, 0], atol=1e-15)
    np.testing.assert_allclose(r.terms["d(a,n)"], [1, 1])
    np.testing.assert_allclose(r.value, [0, 0], atol=1e-15)


def test_cosine_embedding_formula_and_margin():
    x1, x2 = np.array([[1.0, 0], [1, 1]]), np.array([[1.0, 1], [1, 1]])
    r = compute("cosine_embedding", x1, x2, [1, -1], margin=0.5, reduction="none")
    cos = np.array([1 / np.sqrt(2), 1.0])
    np.testing.assert_allclose(r.terms["cos"], cos, rtol=1e-11)
    np.testing.assert_allclose(r.value, [1 - cos[0], cos[1] - 0.5], rtol=1e-11)
    zero = compute("cosine_embedding", [0.0, 0.0], [1.0, 2.0], -1, reduction="none")
    assert zero.value == 0  # a zero vector has cos 0 (PyTorch's 1e-12 keeps it finite)


def test_no_legacy_flags_for_triplet_margin_with_distance():
    """TripletMarginWithDistanceLoss has no size_average/reduce, so the command has no such flags."""
    args = ["triplet_margin_with_distance", "randn(2,3)", "randn(2,3)", "randn(2,3)"]
    r = CliRunner().invoke(cli, [*args, "--no-reduce"], catch_exceptions=False)
    assert r.exit_code == 2 and "--no-reduce" in r.stderr
    r = CliRunner().invoke(cli, ["triplet", "randn(2,3)", "randn(2,3)", "randn(2,3)", "--no-reduce", "--format", "value"],
                           catch_exceptions=False)
    assert r.exit_code == 0 and len(r.stdout.split()) == 2


@pytest.mark.parametrize("name", ["TripletMarginLoss", "triplet", "triplet_margin_loss", "CosineEmbeddingLoss", "cosine",
                                  "cosine_embedding_loss", "TripletMarginWithDistanceLoss", "triplet-distance"])
def test_aliases(name):
    from losscalc.registry import find

    assert find(name).name in {"triplet_margin", "cosine_embedding", "triplet_margin_with_distance"}


@pytest.mark.parametrize("loss", ["triplet_margin", "triplet_margin_with_distance", "cosine_embedding"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_long_row_has_the_same_loss_in_a_chunk_of_its_own(monkeypatch, loss, dtype):
    """einsum sums a lone row of over 8192 entries by buffers, and a row among others whole: a
    chunk (or block) of one such row gave another last bit than the whole batch did. Chunks of
    20000 elements hold one row of these inputs each."""
    rng = np.random.default_rng(8)
    x = [rng.normal(size=(3, 20000)) for _ in range(2 if loss == "cosine_embedding" else 3)]
    if loss == "cosine_embedding":
        x.append(np.array([1.0, -1.0, 1.0]))
    whole = compute(loss, *x, reduction="none", dtype=dtype).value
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "20000")
    alone = compute(loss, *x, reduction="none", dtype=dtype)
    assert len(alone.plan) == 3
    assert alone.value.tobytes() == whole.tobytes()
