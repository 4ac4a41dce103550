"""Embedding and ranking losses: pairs or triplets of inputs compared under a target or by a distance."""

from __future__ import annotations

import numpy as np

from ..errors import LossError
from ..registry import Loss, Option, Tensor
from .common import KernelOut, broadcast, shape_str, warn_if_broadcast, warn_unless_pm1


def margin_ranking(input1, input2, target, *, margin=0.0):
    """Margin ranking loss: input1 should rank above input2 where the target is 1, below where -1.

    Formula:
        l_n = max(0, -y_n (x1_n - x2_n) + margin)

    Shape:
        input1, input2 and target of the same number of dimensions, broadcastable together
        ((N) or ()); output the broadcast shape, or () when reduced.

    References:
        torch.nn.MarginRankingLoss, torch.nn.functional.margin_ranking_loss
    """
    if not input1.ndim == input2.ndim == target.ndim:
        raise LossError(
            "input1, input2 and target must have the same number of dimensions; got "
            f"input1 {shape_str(input1.shape)}, input2 {shape_str(input2.shape)}, target {shape_str(target.shape)}."
        )
    warn_unless_pm1(target, "target", "margin_ranking")
    x1, x2, y = broadcast({"input1": input1, "input2": input2, "target": target})
    score = -y * (x1 - x2) + margin
    return KernelOut(np.maximum(score, 0), {"-y·(x1-x2)+margin": score})


def hinge_embedding(input, target, *, margin=1.0):
    """Hinge embedding loss: small distances for similar pairs (y = 1), at least `margin` for dissimilar (y = -1).

    Formula:
        l_n = x_n                       if y_n = 1
        l_n = max(0, margin - x_n)      if y_n = -1
        (PyTorch adds both terms for any other target value.)

    Shape:
        input (*), target broadcastable with it; output the broadcast shape, or () when reduced.

    References:
        torch.nn.HingeEmbeddingLoss, torch.nn.functional.hinge_embedding_loss
    """
    warn_if_broadcast(input, target)
    warn_unless_pm1(target, "target", "hinge_embedding")
    x, y = broadcast({"input": input, "target": target})
    zero = np.zeros((), x.dtype)
    hinge = np.maximum(margin - x, 0)
    elements = np.where(y != 1, hinge, zero) + np.where(y != -1, x, zero)
    return KernelOut(elements, {"max(0, margin-x)": hinge})



_COSINE_EPS = float(np.float32(1e-12))  # PyTorch's EPSILON, a C++ float constant


def cosine_embedding(input1, input2, target, *, margin=0.0):
    """Cosine embedding loss: pairs should point the same way (y = 1) or not (y = -1).

    Formula:
        cos_n = Σ_d x1_{n,d} x2_{n,d} / sqrt((Σ_d x1_{n,d}² + 1e-12) (Σ_d x2_{n,d}² + 1e-12))
        l_n = 1 - cos_n                 if y_n = 1
        l_n = max(0, cos_n - margin)    if y_n = -1
        (PyTorch gives 0 for any other target value.)

    Shape:
        input1, input2 (N, D) with target (N), or (D) with a scalar target (); the inputs may
        broadcast against each other; output (N) or (), or () when reduced.

    References:
        torch.nn.CosineEmbeddingLoss, torch.nn.functional.cosine_embedding_loss
    """
    if target.ndim > 1:
        raise LossError(f"target {shape_str(target.shape)} must be (N) or a scalar (); PyTorch does not "
                        "support a multi-dimensional target here.")
    want = 2 if target.ndim == 1 else 1
    if input1.ndim != want or input2.ndim != want:
        raise LossError(
            f"a {'1-D (N)' if want == 2 else 'scalar ()'} target needs {'(N, D)' if want == 2 else '(D)'} "
            f"inputs; got input1 {shape_str(input1.shape)} and input2 {shape_str(input2.shape)}."
        )
    warn_unless_pm1(target, "target", "cosine_embedding")
    x1, x2 = broadcast({"input1": input1, "input2": input2})
    eps = x1.dtype.type(_COSINE_EPS)
    prod = (x1 * x2).sum(axis=-1)
    denom = np.sqrt(((x1 * x1).sum(axis=-1) + eps) * ((x2 * x2).sum(axis=-1) + eps))
    cos, y = broadcast({"cos(input1, input2)": prod / denom, "target": target})
    zero = np.zeros((), cos.dtype)
    neg = np.maximum(cos - cos.dtype.type(margin), 0)
    elements = np.where(y == 1, 1 - cos, zero) + np.where(y == -1, neg, zero)
    return KernelOut(elements, {"cos": cos})


def _check_triplet(anchor, positive, negative, margin) -> None:
    if not margin > 0:
        raise LossError(f"--margin must be greater than 0 (PyTorch's rule for triplet losses); got {margin}.")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise LossError(
            "anchor, positive and negative must have the same number of dimensions; got anchor "
            f"{shape_str(anchor.shape)}, positive {shape_str(positive.shape)}, negative {shape_str(negative.shape)}."
        )


def _pnorm(v: np.ndarray, p: float) -> np.ndarray:
    """The p-norm over the last dimension (a scalar's norm is its absolute value), as torch.norm."""
    a = np.abs(v if v.ndim else v.reshape(1))
    if p == 2:
        out = np.sqrt((a * a).sum(axis=-1))
    elif p == 1:
        out = a.sum(axis=-1)
    elif p == np.inf:
        out = a.max(axis=-1, initial=0)
    elif p == -np.inf:
        out = a.min(axis=-1, initial=np.inf)
    elif p == 0:
        out = (a != 0).sum(axis=-1).astype(a.dtype)
    else:
        out = (a ** a.dtype.type(p)).sum(axis=-1) ** a.dtype.type(1 / p)
    return out.reshape(v.shape[:-1])


def _pairwise(x1, x2, names, p=2.0, eps=1e-6):
    """F.pairwise_distance: ‖x1 - x2 + eps‖_p over the last dimension."""
    a, b = broadcast({names[0]: x1, names[1]: x2})
    return _pnorm(a - b + a.dtype.type(eps), p)


def _cosine_distance(x1, x2, names, eps=1e-8):
    """1 - F.cosine_similarity(x1, x2, dim=1, eps=1e-8)."""
    if x1.ndim < 2:
        raise LossError(f"--distance cosine compares along dimension 1, as F.cosine_similarity does, so it "
                        f"needs inputs of at least 2 dimensions (N, D); got {shape_str(x1.shape)}.")
    a, b = broadcast({names[0]: x1, names[1]: x2})
    e = a.dtype.type(eps)
    na = np.maximum(np.sqrt((a * a).sum(axis=1, keepdims=True)), e)
    nb = np.maximum(np.sqrt((b * b).sum(axis=1, keepdims=True)), e)
    return 1 - ((a / na) * (b / nb)).sum(axis=1)


def _triplet(dist, anchor, positive, negative, margin, swap) -> KernelOut:
    d_ap = dist(anchor, positive, ("anchor", "positive"))
    d_an = dist(anchor, negative, ("anchor", "negative"))
    terms = {"d(a,p)": d_ap, "d(a,n)": d_an}
    d_neg = d_an
    if swap:
        d_pn = dist(positive, negative, ("positive", "negative"))
        terms["d(p,n)"] = d_pn
        d_neg = np.minimum(d_an, d_pn)
    d_ap, d_neg = broadcast({"d(a,p)": d_ap, "d(a,n)": d_neg})
    elements = np.maximum(d_ap.dtype.type(margin) + d_ap - d_neg, 0)
    return KernelOut(elements, terms)


def triplet_margin(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False):
    """Triplet margin loss: the anchor should be closer to the positive than to the negative by `margin`.

    Formula:
        d(u, v) = ‖u - v + eps‖_p over the last dimension (F.pairwise_distance)
        l_n = max(0, margin + d(a_n, p_n) - d(a_n, n_n))
        (with --swap, d(a_n, n_n) is replaced by min(d(a_n, n_n), d(p_n, n_n)))

    Shape:
        anchor, positive, negative (N, D) or (D), with the same number of dimensions and
        broadcastable together; output (N) or (), or () when reduced. margin must be > 0.

    References:
        torch.nn.TripletMarginLoss, torch.nn.functional.triplet_margin_loss
    """
    _check_triplet(anchor, positive, negative, margin)

    def dist(u, v, names):
        return _pairwise(u, v, names, p, eps)

    return _triplet(dist, anchor, positive, negative, margin, swap)


def triplet_margin_with_distance(anchor, positive, negative, *, distance="pairwise", margin=1.0, swap=False):
    """Triplet margin loss with a chosen distance: pairwise (L2) or cosine.

    Formula:
        pairwise: d(u, v) = ‖u - v + 1e-6‖_2 over the last dimension (F.pairwise_distance)
        cosine:   d(u, v) = 1 - cos(u, v) along dimension 1 (1 - F.cosine_similarity, eps 1e-8)
        l_n = max(0, margin + d(a_n, p_n) - d(a_n, n_n))
        (with --swap, d(a_n, n_n) is replaced by min(d(a_n, n_n), d(p_n, n_n)))

    Shape:
        anchor, positive, negative (N, D) (pairwise also takes (D)), with the same number of
        dimensions and broadcastable together; output (N) or (), or () when reduced.
        margin must be > 0.

    References:
        torch.nn.TripletMarginWithDistanceLoss, torch.nn.functional.triplet_margin_with_distance_loss
    """
    if distance not in _DISTANCES:
        raise LossError(f"--distance: {distance!r} is not one of {', '.join(_DISTANCES)}.")
    _check_triplet(anchor, positive, negative, margin)
    return _triplet(_DISTANCES[distance], anchor, positive, negative, margin, swap)


_DISTANCES = {"pairwise": _pairwise, "cosine": _cosine_distance}
_TRIPLET = (Tensor("anchor"), Tensor("positive", help="should be close to the anchor"),
            Tensor("negative", help="should be far from the anchor"))

LOSSES = [
    Loss(
        "margin_ranking",
        margin_ranking,
        (Tensor("input1"), Tensor("input2"), Tensor("target", help="1 or -1: which input should rank higher")),
        (Option("margin", float, 0.0, "the margin by which input1 should exceed input2"),),
        aliases=("MarginRankingLoss", "margin_ranking_loss", "ranking"),
        torch="MarginRankingLoss",
        example="0.8,0.2 0.3,0.6 1,-1",
    ),
    Loss(
        "hinge_embedding",
        hinge_embedding,
        (Tensor("input", help="distances"), Tensor("target", help="1 (similar) or -1 (dissimilar)")),
        (Option("margin", float, 1.0, "the distance dissimilar pairs should exceed"),),
        aliases=("HingeEmbeddingLoss", "hinge_embedding_loss", "hinge"),
        torch="HingeEmbeddingLoss",
        example="0.3,1.5,0.2 1,-1,-1",
    ),
    Loss(
        "cosine_embedding",
        cosine_embedding,
        (Tensor("input1"), Tensor("input2"), Tensor("target", help="1 (similar) or -1 (dissimilar)")),
        (Option("margin", float, 0.0, "the cosine below which dissimilar pairs cost nothing (-1 to 1)"),),
        aliases=("CosineEmbeddingLoss", "cosine_embedding_loss", "cosine"),
        torch="CosineEmbeddingLoss",
        example="'[[0.3,0.5,0.7],[0.3,0.5,0.7]]' '[[0.1,0.3,0.5],[0.1,0.3,0.5]]' 1,-1",
    ),
    Loss(
        "triplet_margin",
        triplet_margin,
        _TRIPLET,
        (Option("margin", float, 1.0, "how much closer the positive should be (> 0)"),
         Option("p", float, 2.0, "the norm of the pairwise distance"),
         Option("eps", float, 1e-6, "added to the difference before the norm"),
         Option("swap", bool, False, "use min(d(a,n), d(p,n)) as the negative distance")),
        aliases=("TripletMarginLoss", "triplet_margin_loss", "triplet"),
        torch="TripletMarginLoss",
        example="'[[0,0],[1,1]]' '[[0,1],[1,2]]' '[[2,0],[1,1.5]]' --margin 0.5",
    ),
    Loss(
        "triplet_margin_with_distance",
        triplet_margin_with_distance,
        _TRIPLET,
        (Option("distance", str, "pairwise", "pairwise (L2, eps 1e-6) or cosine (1 - cosine similarity)",
                choices=tuple(_DISTANCES)),
         Option("margin", float, 1.0, "how much closer the positive should be (> 0)"),
         Option("swap", bool, False, "use min(d(a,n), d(p,n)) as the negative distance")),
        aliases=("TripletMarginWithDistanceLoss", "triplet_margin_with_distance_loss", "triplet_distance"),
        torch="TripletMarginWithDistanceLoss",
        legacy=False,
        example="--distance cosine '[[1,0],[0,1]]' '[[1,0.2],[0.1,1]]' '[[0,1],[1,0]]'",
    ),
]
