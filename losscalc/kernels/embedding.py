"""Embedding and ranking losses: pairs or triplets of inputs compared under a target or by a distance."""

from __future__ import annotations

import math

import numpy as np

from ..errors import LossError, warn
from ..registry import Loss, Option, Tensor, greater_than, one_of
from .common import (KernelOut, batch_axis_of, broadcast, row_blocks, shape_str, torch_sgn, warn_if_broadcast,
                     warn_unless_pm1)

DIFF_BLOCK = 1 << 18  # elements of x1 - x2 per block of the pairwise distance's rows ((1e5, 100) float32: 1 << 17 took 14 ms, 1 << 18 10 ms, whole chunks 11 ms)


def margin_ranking(input1, input2, target, *, margin=0.0):
    """Margin ranking loss: input1 should rank above input2 where the target is 1, below where -1.

    Formula:
        l_n = max(0, -y_n (x1_n - x2_n) + margin)

    Shape:
        input1, input2 and target of the same number of dimensions, broadcastable together
        ((N) or ()); output the broadcast shape, or () when reduced.

    Args:
        input1, input2: the scores x1_n and x2_n to rank.
        target: y_n, 1 where input1 should rank higher, -1 where input2 should.
        margin: by how much the higher input should exceed the other (default 0.0).

    References:
        torch.nn.MarginRankingLoss, torch.nn.functional.margin_ranking_loss
    """
    if not input1.ndim == input2.ndim == target.ndim:
        raise LossError(
            "input1, input2 and target must have the same number of dimensions; got "
            f"input1 {shape_str(input1.shape)}, input2 {shape_str(input2.shape)}, target {shape_str(target.shape)}."
        )
    warn_unless_pm1(target, "target", "margin_ranking", batch_axis_of(target, input1))
    x1, x2, y = broadcast({"input1": input1, "input2": input2, "target": target})
    score = -y * (x1 - x2) + margin

    def backward(g):
        """∂l/∂x1 = -y, ∂l/∂x2 = y, ∂l/∂y = -(x1 - x2) where the score is >= 0 (PyTorch lets the
        gradient through at exactly 0, and not at NaN), by multiplication: a NaN factor stays NaN."""
        gm = g * (score >= 0)
        return {"input1": -y * gm, "input2": y * gm, "target": -(x1 - x2) * gm}

    return KernelOut(np.maximum(score, 0), {"-y·(x1-x2)+margin": score}, backward=backward)


def _by_sign(y: np.ndarray, negative: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """`negative` where y's sign bit is set, else `positive` (arrays of y's float dtype and
    shape): a bitwise select by y's sign, for y in {-1, 1}. np.where costs ~4 ns an element
    on random signs (a branch per element), this ~1."""
    int_type = np.dtype(f"i{y.dtype.itemsize}")
    mask = np.right_shift(y.view(int_type), 8 * y.dtype.itemsize - 1)  # all ones where y < 0
    out = np.bitwise_xor(negative.view(int_type), positive.view(int_type))
    np.bitwise_and(out, mask, out=out)
    np.bitwise_xor(out, positive.view(int_type), out=out)  # p ^ ((n ^ p) & mask)
    return out.view(y.dtype)


def hinge_embedding(input, target, *, margin=1.0):
    """Hinge embedding loss: small distances for similar pairs (y = 1), at least `margin` for dissimilar (y = -1).

    Formula:
        l_n = x_n                       if y_n = 1
        l_n = max(0, margin - x_n)      if y_n = -1
        (PyTorch adds both terms for any other target value.)

    Shape:
        input (*), target broadcastable with it; output the broadcast shape, or () when reduced.

    Args:
        input: x_n, typically distances between pairs.
        target: y_n, 1 (similar pair) or -1 (dissimilar pair).
        margin: the distance dissimilar pairs should exceed (default 1.0).

    References:
        torch.nn.HingeEmbeddingLoss, torch.nn.functional.hinge_embedding_loss
    """
    warn_if_broadcast(input, target)
    pm1 = warn_unless_pm1(target, "target", "hinge_embedding", batch_axis_of(target, input))
    x, y = broadcast({"input": input, "target": target})
    zero = np.zeros((), x.dtype)
    hinge = np.subtract(x.dtype.type(margin), x, out=np.empty_like(x))
    np.maximum(hinge, 0, out=hinge)
    if pm1 and y.dtype == x.dtype and y.shape == x.shape:
        elements = _by_sign(y, hinge, x)
        np.add(elements, zero, out=elements)  # 0 + x, as PyTorch adds its two terms: -0 gives +0
    else:  # the hinge where y != 1, plus x where y != -1 (both for a y that is neither)
        elements = np.where(y != 1, hinge, zero)
        np.add(elements, x, out=elements, where=y != -1)

    def backward(g):
        """∂l/∂x = 1 where y != -1, minus 1 where y != 1 and margin - x >= 0 (clamp_min's backward
        passes at exactly 0, not at NaN). PyTorch has no gradient for the target (it only selects)."""
        return {"input": np.where(y != -1, g, zero) - np.where((y != 1) & (margin - x >= 0), g, zero)}

    return KernelOut(elements, {"max(0, margin-x)": hinge}, backward=backward)


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

    Args:
        input1, input2: the vectors compared, along the last dimension.
        target: y_n, 1 (similar) or -1 (dissimilar).
        margin: the cosine below which dissimilar pairs cost nothing, from -1 to 1 (default 0.0).

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
    prod = _row_sums(x1, x2)
    m1, m2 = _row_sums(x1, x1) + eps, _row_sums(x2, x2) + eps
    denom = np.sqrt(m1 * m2)
    cos, y = broadcast({"cos(input1, input2)": prod / denom, "target": target})
    zero = np.zeros((), cos.dtype)
    above = cos - cos.dtype.type(margin)
    elements = np.where(y == 1, 1 - cos, zero) + np.where(y == -1, np.maximum(above, 0), zero)

    def backward(g):
        """Autograd's chain through torch.cosine_embedding_loss: ∂l/∂cos = -1 where y = 1, 1 where
        y = -1 and cos - margin >= 0, else 0; then cos = Σ x1 x2 / sqrt(m1 m2), m = Σ x² + 1e-12,
        step by step, so that inf and NaN rows come out NaN as in PyTorch (mathematically
        ∂cos/∂x1 = x2 / sqrt(m1 m2) - cos · x1 / m1). PyTorch has no gradient for the target."""
        gc = np.where((y == -1) & (above >= 0), g, zero) - np.where(y == 1, g, zero)
        g_prod = np.expand_dims(gc / denom, -1)
        g_mm = -gc * ((prod / denom) / denom) / (2 * denom)  # div's, then sqrt's backward
        g_m1, g_m2 = np.expand_dims(g_mm * m2, -1), np.expand_dims(g_mm * m1, -1)
        return {"input1": g_prod * x2 + (g_m1 * x1 + g_m1 * x1),
                "input2": g_prod * x1 + (g_m2 * x2 + g_m2 * x2)}

    return KernelOut(elements, {"cos": cos}, backward=backward)


_TRIPLET_MARGIN = Option("margin", float, 1.0, "how much closer the positive should be",
                         greater_than(0, nan=True, why="PyTorch's rule for triplet losses"))


def _check_triplet(anchor, positive, negative, margin) -> None:
    _TRIPLET_MARGIN.check(margin)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise LossError(
            "anchor, positive and negative must have the same number of dimensions; got anchor "
            f"{shape_str(anchor.shape)}, positive {shape_str(positive.shape)}, negative {shape_str(negative.shape)}."
        )


def _row_sums(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ_d a b over the last dimension of two arrays of one shape, by einsum: no product array,
    no reduction over a short axis. A lone row goes to einsum as two broadcast rows, so that its
    sum is the same last bit whatever chunk or block holds it: einsum adds a single row of over
    8192 entries buffer by buffer, and each row of several in one pass."""
    if a.ndim and math.prod(a.shape[:-1]) == 1:
        two = [np.broadcast_to(v.reshape(-1), (2, a.shape[-1])) for v in (a, b)]
        return np.einsum("ij,ij->i", *two)[:1].reshape(a.shape[:-1])
    return np.einsum("...j,...j->...", a, b)


def _pnorm(v: np.ndarray, p: float) -> np.ndarray:
    """The p-norm over the last dimension (a scalar's norm is its absolute value), as torch.norm."""
    if p == 2:  # Σ v² in one pass, with no |v| or v² array made
        w = v if v.ndim else v.reshape(1)
        return np.sqrt(_row_sums(w, w)).reshape(v.shape[:-1])
    a = np.abs(v if v.ndim else v.reshape(1))
    if p == 1:
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


def _pnorm_backward(g: np.ndarray, v: np.ndarray, norm: np.ndarray, p: float) -> np.ndarray | None:
    """∂‖v‖_p/∂v times g, over the last dimension, as PyTorch's norm_backward computes it:
    where the norm is 0 the gradient is 0 (p = 2, and p > 1); p < 1 sends 0 back from entries
    that are 0; p = ±inf shares g among the entries that attain the norm (or are NaN); p = 0
    has no gradient in PyTorch (None). g may be broadcast larger than the norm."""
    if p == 0:
        return None
    zero = np.zeros((), v.dtype)
    gn, nn = (np.expand_dims(g, -1), np.expand_dims(norm, -1)) if v.ndim else (g, norm)
    a = np.abs(v)
    if p == 1:
        return torch_sgn(v) * gn
    if p == 2:
        return gn * np.where(nn == 0, zero, v / nn)
    if np.isinf(p):
        mask = (a == nn) | np.isnan(a)
        count = (mask.sum(axis=-1, keepdims=True) if v.ndim else mask).astype(v.dtype)
        return torch_sgn(v) * ((gn / count) * mask)
    if p < 1:
        return torch_sgn(v) * np.where(v == 0, zero, a ** (p - 1)) * gn * nn ** (1 - p)
    scale = np.where(nn == 0, zero, gn / nn ** (p - 1))
    return (torch_sgn(v) * a ** (p - 1) if p < 2 else v * a ** (p - 2)) * scale


def _pairwise(x1, x2, names, p=2.0, eps=1e-6):
    """F.pairwise_distance: ‖x1 - x2 + eps‖_p over the last dimension; and its backward, which
    maps g = ∂/∂distance to (∂/∂x1, ∂/∂x2), or None where PyTorch has no gradient (p = 0).
    Rows of (N, D) go by blocks, each difference in one buffer; the backward makes it again."""
    a, b = broadcast({names[0]: x1, names[1]: x2})

    def difference(rows=None, out=None):
        diff = np.subtract(a, b) if rows is None else np.subtract(a[rows], b[rows], out=out)
        diff += a.dtype.type(eps)  # (in place: x1 - x2 + eps, as PyTorch adds them)
        return diff

    if a.ndim == 2 and a.shape[0]:
        blocks = row_blocks(a.shape[0], a.shape[1], DIFF_BLOCK)
        norm, buf = np.empty(a.shape[0], a.dtype), np.empty((blocks[0].stop, a.shape[1]), a.dtype)
        for r in blocks:
            norm[r] = _pnorm(difference(r, buf[: r.stop - r.start]), p)
    else:
        norm = _pnorm(difference(), p)

    def backward(g):
        gd = _pnorm_backward(g, difference(), norm, p)
        return None if gd is None else (gd, -gd)

    return norm, backward


def _cosine_distance(x1, x2, names, eps=1e-8):
    """1 - F.cosine_similarity(x1, x2, dim=1, eps=1e-8); and its backward, as _pairwise's."""
    if x1.ndim < 2:
        raise LossError(f"--distance cosine compares along dimension 1, as F.cosine_similarity does, so it "
                        f"needs inputs of at least 2 dimensions (N, D); got {shape_str(x1.shape)}.")
    a, b = broadcast({names[0]: x1, names[1]: x2})
    e = a.dtype.type(eps)
    ra, rb = np.sqrt((a * a).sum(axis=1, keepdims=True)), np.sqrt((b * b).sum(axis=1, keepdims=True))
    na, nb = np.maximum(ra, e), np.maximum(rb, e)
    u, w = a / na, b / nb

    def backward(g):
        """cosine_similarity divides each vector by its norm clamped at eps, the clamp done in place
        under torch.no_grad(): autograd differentiates the norm as if unclamped (and gives 0 where
        it is 0, norm_backward's convention) but divides by the clamped value."""
        gs = np.expand_dims(-g, 1)  # 1 - s

        def one(gu, x, raw, clamped, unit):
            g_norm = (-gu * (unit / clamped)).sum(axis=1, keepdims=True)  # div's backward for the divisor
            return gu / clamped + g_norm * np.where(raw == 0, np.zeros((), x.dtype), x / raw)

        return one(gs * w, a, ra, na, u), one(gs * u, b, rb, nb, w)

    return 1 - (u * w).sum(axis=1), backward


def _triplet(dist, anchor, positive, negative, margin, swap) -> KernelOut:
    d_ap, back_ap = dist(anchor, positive, ("anchor", "positive"))
    d_an, back_an = dist(anchor, negative, ("anchor", "negative"))
    terms = {"d(a,p)": d_ap, "d(a,n)": d_an}
    d_neg = d_an
    if swap:
        d_pn, back_pn = dist(positive, negative, ("positive", "negative"))
        terms["d(p,n)"] = d_pn
        d_neg = np.minimum(d_an, d_pn)
    d_ap_b, d_neg_b = broadcast({"d(a,p)": d_ap, "d(a,n)": d_neg})
    score = d_ap_b.dtype.type(margin) + d_ap_b - d_neg_b
    elements = np.maximum(score, 0)

    def backward(g):
        """clamp_min's backward (passes at exactly 0, not at NaN), then each distance's. With
        --swap, torch.minimum's: a tie gives each distance half, and a NaN gives both all of it."""
        zero = np.zeros((), elements.dtype)
        g_ap = np.where(score >= 0, g, zero)
        g_neg = -g_ap
        parts = [(back_ap, g_ap, "anchor", "positive")]
        if swap:
            shared = np.where(d_an == d_pn, g_neg / 2, g_neg)
            parts.append((back_an, np.where(d_an > d_pn, zero, shared), "anchor", "negative"))
            parts.append((back_pn, np.where(d_an < d_pn, zero, shared), "positive", "negative"))
        else:
            parts.append((back_an, g_neg, "anchor", "negative"))
        grads = {}
        for back, gd, u, v in parts:
            pair = back(gd)
            if pair is None:
                warn("PyTorch has no gradient for the p = 0 \"norm\" (it counts nonzero entries); "
                     "--grad gives none.")
                return {}
            for name, gx in zip((u, v), pair):
                grads[name] = grads[name] + gx if name in grads else gx
        return grads

    return KernelOut(elements, terms, backward=backward)


def triplet_margin(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False):
    """Triplet margin loss: the anchor should be closer to the positive than to the negative by `margin`.

    Formula:
        d(u, v) = ‖u - v + eps‖_p over the last dimension (F.pairwise_distance)
        l_n = max(0, margin + d(a_n, p_n) - d(a_n, n_n))
        (with --swap, d(a_n, n_n) is replaced by min(d(a_n, n_n), d(p_n, n_n)))

    Shape:
        anchor, positive, negative (N, D) or (D), with the same number of dimensions and
        broadcastable together; output (N) or (), or () when reduced. margin must be > 0.

    Args:
        anchor, positive, negative: a, p and n; the positive should be closer to the anchor
            than the negative, by `margin`.
        margin: how much closer the positive should be, greater than 0 (default 1.0).
        p: the norm of the pairwise distance (default 2.0).
        eps: added to the difference before the norm (default 1e-6).
        swap: use min(d(a,n), d(p,n)) as the negative distance (default False).

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

    Args:
        anchor, positive, negative: a, p and n, as for triplet_margin.
        distance: d(u, v), "pairwise" (the L2 distance, eps 1e-6) or "cosine" (1 - the cosine
            similarity) (default "pairwise").
        margin: how much closer the positive should be, greater than 0 (default 1.0).
        swap: use min(d(a,n), d(p,n)) as the negative distance (default False).

    References:
        torch.nn.TripletMarginWithDistanceLoss, torch.nn.functional.triplet_margin_with_distance_loss
    """
    _DISTANCE.check(distance)
    _check_triplet(anchor, positive, negative, margin)
    return _triplet(_DISTANCES[distance], anchor, positive, negative, margin, swap)


_DISTANCES = {"pairwise": _pairwise, "cosine": _cosine_distance}
_DISTANCE = Option("distance", str, "pairwise", "d(u, v): pairwise is the L2 distance (eps 1e-6), cosine is 1 - "
                   "the cosine similarity", one_of(*_DISTANCES))
_TRIPLET = (Tensor("anchor"), Tensor("positive", help="should be close to the anchor"),
            Tensor("negative", help="should be far from the anchor"))
_SIMILAR = Tensor("target", help="1 (similar) or -1 (dissimilar)")
_SWAP = Option("swap", bool, False, "use min(d(a,n), d(p,n)) as the negative distance")


def _like_torch(name, kernel, tensors, options, torch, short, example, **more) -> Loss:
    """The entry of a loss that matches torch.nn.{torch}: found by that class's name, by the
    functional's ({name}_loss) and by `short` too."""
    return Loss(name, kernel, tensors, options, aliases=(torch, f"{name}_loss", short), torch=torch,
                example=example, **more)


# (cosine_embedding and the triplet losses: run by blocks of ~1300 rows, einsum over rows of
# 100 took 20 ms where whole chunks took 12-16, (1e5, 100) float32)
LOSSES = [
    _like_torch("margin_ranking", margin_ranking,
                (Tensor("input1"), Tensor("input2"), Tensor("target", help="1 or -1: which input should rank higher")),
                (Option("margin", float, 0.0, "the margin by which input1 should exceed input2"),),
                "MarginRankingLoss", "ranking", "0.8,0.2 0.3,0.6 1,-1"),
    _like_torch("hinge_embedding", hinge_embedding, (Tensor("input", help="distances"), _SIMILAR),
                (Option("margin", float, 1.0, "the distance dissimilar pairs should exceed"),),
                "HingeEmbeddingLoss", "hinge", "0.3,1.5,0.2 1,-1,-1"),
    _like_torch("cosine_embedding", cosine_embedding, (Tensor("input1"), Tensor("input2"), _SIMILAR),
                (Option("margin", float, 0.0, "the cosine below which dissimilar pairs cost nothing (-1 to 1)"),),
                "CosineEmbeddingLoss", "cosine",
                "'[[0.3,0.5,0.7],[0.3,0.5,0.7]]' '[[0.1,0.3,0.5],[0.1,0.3,0.5]]' 1,-1", layout="rows", blocks=False),
    _like_torch("triplet_margin", triplet_margin, _TRIPLET,
                (_TRIPLET_MARGIN, Option("p", float, 2.0, "the norm of the pairwise distance"),
                 Option("eps", float, 1e-6, "added to the difference before the norm"), _SWAP),
                "TripletMarginLoss", "triplet",
                "'[[0,0],[1,1]]' '[[0,1],[1,2]]' '[[2,0],[1,1.5]]' --margin 0.5", layout="rows", blocks=False),
    _like_torch("triplet_margin_with_distance", triplet_margin_with_distance, _TRIPLET,
                (_DISTANCE, _TRIPLET_MARGIN, _SWAP), "TripletMarginWithDistanceLoss", "triplet_distance",
                "--distance cosine '[[1,0],[0,1]]' '[[1,0.2],[0.1,1]]' '[[0,1],[1,0]]'", layout="rows", legacy=False, blocks=False),
]
