"""Embedding and ranking losses: pairs or triplets of inputs compared under a target."""

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
]
