"""Regression losses: the distance between a prediction and a real-valued target."""

from __future__ import annotations

import numpy as np

from ..registry import Loss, Option, Tensor
from .common import KernelOut, broadcast, check_same_shape, warn_if_broadcast

_WEIGHT = Option("weight", "tensor", None, "per-element weights of the input's shape; mean = Σ w·l / Σ w")


def _weighted(err: np.ndarray, input: np.ndarray, weight, terms: dict) -> KernelOut:
    """The element losses, weighted as F.l1_loss/F.mse_loss/F.huber_loss weight them."""
    if weight is None:
        return KernelOut(err, terms)
    check_same_shape(input, weight, "input", "--weight")
    return KernelOut(
        err * weight,
        {**terms, "weight": weight},
        denominator=weight.sum(dtype=err.dtype),
        numerator_label="Σ w·l",
        denominator_label="Σ w",
    )


def l1(input, target, *, weight=None):
    """Mean absolute error (L1 loss).

    Formula:
        l_n = w_n |x_n - y_n|        (w_n = 1 without --weight)
        mean = Σ w_n l_n / Σ w_n

    Shape:
        input (*), target broadcastable to input (a warning when the shapes differ),
        weight the input's shape; output the broadcast shape, or () when reduced.

    References:
        torch.nn.L1Loss, torch.nn.functional.l1_loss
    """
    warn_if_broadcast(input, target)
    x, y = broadcast({"input": input, "target": target})
    diff = x - y
    return _weighted(np.abs(diff), input, weight, {"x - y": diff})


def mse(input, target, *, weight=None):
    """Mean squared error (squared L2 loss).

    Formula:
        l_n = w_n (x_n - y_n)²        (w_n = 1 without --weight)
        mean = Σ w_n l_n / Σ w_n

    Shape:
        input (*), target broadcastable to input (a warning when the shapes differ),
        weight the input's shape; output the broadcast shape, or () when reduced.

    References:
        torch.nn.MSELoss, torch.nn.functional.mse_loss
    """
    warn_if_broadcast(input, target)
    x, y = broadcast({"input": input, "target": target})
    diff = x - y
    return _weighted(diff * diff, input, weight, {"x - y": diff})


XY = (Tensor("input", help="predictions"), Tensor("target", help="true values"))

LOSSES = [
    Loss(
        "l1", l1, XY, (_WEIGHT,),
        aliases=("L1Loss", "l1_loss", "mae", "mean_absolute_error"),
        torch="L1Loss",
        example="1,2,3 1.5,2,2",
    ),
    Loss(
        "mse", mse, XY, (_WEIGHT,),
        aliases=("MSELoss", "mse_loss", "l2", "mean_squared_error"),
        torch="MSELoss",
        example="--reduction sum 1,2,3 1.5,2,2",
    ),
]
