"""Binary losses: one yes/no decision per element, given as a probability, a logit or a score."""

from __future__ import annotations

import numpy as np

from ..errors import LossError, warn
from ..registry import Loss, Option, Tensor
from .common import (KernelOut, at_index, batch_axis_of, check_same_shape, first_index, first_value, shape_str,
                     warn_if_broadcast, warn_unless_pm1)
from .numerics import log_sigmoid, sigmoid

_SAME = " (PyTorch refuses to broadcast them for this loss)"


def _check_unit_interval(t: np.ndarray, name: str, hint: str) -> None:
    """Every value in [0, 1] (NaN is outside too, as PyTorch's check has it): two passes, min and
    max (NaN makes both NaN), and the values are looked at one by one only when one is outside."""
    if t.size and t.min() >= 0 and t.max() <= 1:
        return
    bad = ~((t >= 0) & (t <= 1))
    if bad.any():
        raise LossError(
            f"{name}: the value {first_value(t, bad)}{at_index(first_index(bad))} is outside [0, 1] "
            f"({int(bad.sum())} such value(s)); {hint}"
        )


def _expand(t: np.ndarray | None, shape, name: str) -> np.ndarray | None:
    """An optional tensor option broadcast to the input's shape, which it may not enlarge."""
    if t is None:
        return None
    try:
        return np.broadcast_to(t, shape)
    except ValueError:
        raise LossError(
            f"{name} {shape_str(t.shape)} cannot be broadcast to the input's shape {shape_str(shape)}: "
            "counted from the right, each of its dimensions must equal the input's or be 1, and it may "
            "not have more dimensions than the input."
        ) from None


def _weighted(elements, terms: dict, w, grads) -> KernelOut:
    """The element losses times --weight w when it is given (shown as a term), with the backward
    of the weighted loss: grads(g) gives the unweighted (∂/∂input, ∂/∂target), each times w."""
    def backward(g):
        gx, gy = grads(g)
        if w is not None:
            gx, gy = gx * w, gy * w
        return {"input": gx, "target": gy}

    if w is None:
        return KernelOut(elements, terms, backward=backward)
    return KernelOut(elements * w, {**terms, "weight": w}, backward=backward)


def bce(input, target, *, weight=None):
    """Binary cross entropy between probabilities and targets in [0, 1].

    Formula:
        l_n = -w_n [y_n · max(log x_n, -100) + (1 - y_n) · max(log(1 - x_n), -100)]
        (w_n = 1 without --weight; each log is clamped at -100 as PyTorch clamps it, so an
        input of exactly 0 or 1 gives at most 100, not infinity; mean = Σ l_n / N.)

    Shape:
        input (*) of probabilities in [0, 1], target the same shape with values in [0, 1],
        weight broadcastable to the input's shape; output the input's shape, or () when reduced.

    Args:
        input: probabilities x_n in [0, 1].
        target: target probabilities y_n, usually 0 or 1.
        weight: weights w_n broadcast to the input's shape, or None; mean = Σ w·l / N.

    References:
        torch.nn.BCELoss, torch.nn.functional.binary_cross_entropy
    """
    check_same_shape(input, target, "input", "target", _SAME)
    w = _expand(weight, input.shape, "--weight")
    _check_unit_interval(input, "input", "bce takes probabilities: apply a sigmoid first, or use "
                                         "bce_with_logits, which takes logits.")
    _check_unit_interval(target, "target", "bce takes target probabilities, usually 0 or 1.")
    low = input.dtype.type(-100)
    log_x = np.log(input, out=np.empty_like(input))
    np.maximum(log_x, low, out=log_x)
    log_1mx = np.negative(input, out=np.empty_like(input))
    np.maximum(np.log1p(log_1mx, out=log_1mx), low, out=log_1mx)
    elements = np.subtract(target, 1, out=np.empty_like(input))  # (y - 1) log(1 - x) - y log(x)
    np.multiply(elements, log_1mx, out=elements)
    y_log_x = np.multiply(target, log_x, out=log_1mx)  # (log(1 - x) is made again when shown)
    np.subtract(elements, y_log_x, out=elements)
    terms = {"log(x) clamped": log_x, "log(1-x) clamped": lambda: np.maximum(np.log1p(-input), low)}

    def backward(g):
        """PyTorch's own formulas, not the derivative of the clamped logs (derivatives.yaml:
        binary_cross_entropy_backward and binary_cross_entropy_target_backward):
            ∂l/∂x = w (x - y) / max(x (1 - x), 1e-12)    1e-12 a C++ float: input 0 or 1 gives ±1e12, not 0
            ∂l/∂y = -w logit(x) = -w log(x / (1 - x))     no clamp: ±inf at input 0 or 1
        """
        eps = input.dtype.type(np.float32(1e-12))
        gx = g * (input - target) / np.maximum((1 - input) * input, eps)
        gy = -np.log(input / (1 - input)) * g
        return gx, gy

    return _weighted(elements, terms, w, backward)


def bce_with_logits(input, target, *, weight=None, pos_weight=None):
    """Binary cross entropy on logits: a sigmoid and bce in one numerically stable step.

    Formula:
        l_n = -w_n [p_n y_n · log σ(x_n) + (1 - y_n) · log(1 - σ(x_n))]
        computed as PyTorch does: l_n = w_n [(1 - y_n) x_n - (1 + (p_n - 1) y_n) log σ(x_n)],
        log σ(x) = min(x, 0) - log(1 + exp(-|x|))
        (w_n = 1 without --weight, p_n = 1 without --pos-weight; mean = Σ l_n / N.)

    Shape:
        input (*) of logits, target the same shape with values in [0, 1]; weight and
        pos_weight broadcastable to the input's shape (pos_weight usually (C), one weight per
        class along the last dimension); output the input's shape, or () when reduced.

    Args:
        input: logits x_n (any real numbers).
        target: target probabilities y_n, usually 0 or 1.
        weight: weights w_n broadcast to the input's shape, or None; mean = Σ w·l / N.
        pos_weight: the weight of the positive term, broadcast along the last (class) dimension, or None.

    References:
        torch.nn.BCEWithLogitsLoss, torch.nn.functional.binary_cross_entropy_with_logits
    """
    check_same_shape(input, target, "input", "target", _SAME)
    w = _expand(weight, input.shape, "--weight")
    pw = _expand(pos_weight, input.shape, "--pos-weight")
    outside = (target < 0) | (target > 1) if target.size and not (target.min() >= 0 and target.max() <= 1) \
        else np.zeros(1, bool)  # (min and max: two passes where the values are fine; NaN is not outside)
    if outside.any():
        warn(
            f"target holds {int(outside.sum())} value(s) outside [0, 1]; bce_with_logits expects "
            "probabilities, usually 0 or 1 (for labels in {-1, 1}, use soft_margin). PyTorch computes anyway."
        )
    log_sig = log_sigmoid(input)
    terms = {"log σ(x)": log_sig}
    if pw is not None:
        factor = (pw - 1) * target + 1
        terms["1+(p-1)y"] = factor
        log_sig = log_sig * factor
    elements = np.subtract(1, target, out=np.empty_like(input))  # (1 - y) x - log σ(x) [· (1 + (p - 1) y)]
    np.multiply(elements, input, out=elements)
    np.subtract(elements, log_sig, out=elements)

    def backward(g):
        """PyTorch's binary_cross_entropy_with_logits_backward and its target backward:
            ∂l/∂x = w (σ(x) - y)                       ∂l/∂y = -w x
            with pos_weight p: ∂l/∂x = w ((p y + 1 - y) σ(x) - p y),
                               ∂l/∂y = w (log σ(-x) - p log σ(x))
        """
        sig = sigmoid(input)
        if pw is None:
            gx, gy = (sig - target) * g, -input * g
        else:
            t = pw * target
            gx = ((t + 1 - target) * sig - t) * g
            gy = (log_sigmoid(-input) - log_sigmoid(input) * pw) * g
        return gx, gy

    return _weighted(elements, terms, w, backward)


def soft_margin(input, target):
    """Soft margin loss: the two-class logistic loss for targets 1 and -1.

    Formula:
        l_n = log(1 + exp(-y_n x_n))

    Shape:
        input (*), target broadcastable to the input's shape (a warning when the shapes
        differ); output the input's shape, or () when reduced.

    Args:
        input: scores x_n.
        target: y_n, 1 or -1.

    References:
        torch.nn.SoftMarginLoss, torch.nn.functional.soft_margin_loss
    """
    y = _expand(target, input.shape, "target")
    warn_if_broadcast(input, target, torch_warns=False)
    warn_unless_pm1(target, "target", "soft_margin", batch_axis_of(target, input))
    def margin():
        return np.negative(input) * y

    def backward(g):
        """PyTorch's soft_margin_loss_backward: ∂l/∂x = -y z / (1 + z), z = exp(-y x), as written,
        so z = inf (-y x above ~709) gives inf/inf = NaN there, as in PyTorch. PyTorch has no
        derivative for the target."""
        z = np.exp(margin())
        return {"input": -(y * z) / (z + 1) * g}

    elements = np.multiply(input, y, out=np.empty(np.broadcast_shapes(input.shape, y.shape), input.dtype))
    np.negative(elements, out=elements)  # -(x·y) is (-x)·y exactly
    np.log1p(np.exp(elements, out=elements), out=elements)
    return KernelOut(elements, {"-y·x": margin}, backward=backward)


_XY = (Tensor("input", help="probabilities in [0, 1]"), Tensor("target", help="target probabilities, usually 0 or 1"))

LOSSES = [
    Loss(
        "bce", bce, _XY,
        (Option("weight", "tensor", None, "weights broadcast to the input's shape; mean = Σ w·l / N"),),
        aliases=("BCELoss", "binary_cross_entropy", "binary_crossentropy"),
        torch="BCELoss",
        example="0.9,0.2,0.6 1,0,1",
        pitfalls=(
            "the input must be probabilities in [0, 1]; for raw scores (logits) use bce_with_logits.",
            "each log is clamped at -100, so an input of exactly 0 or 1 on the wrong side costs 100.",
        ),
    ),
    Loss(
        "bce_with_logits", bce_with_logits,
        (Tensor("input", help="logits (any real numbers)"), Tensor("target", help="target probabilities, usually 0 or 1")),
        (
            Option("weight", "tensor", None, "weights broadcast to the input's shape; mean = Σ w·l / N"),
            Option("pos_weight", "tensor", None, "weight of the positive term, broadcast along the last (class) dimension"),
        ),
        aliases=("BCEWithLogitsLoss", "binary_cross_entropy_with_logits", "bce_logits", "bcewithlogits"),
        torch="BCEWithLogitsLoss",
        example="--pos-weight 3 2.2,-1.4,0.4 1,0,1",
        pitfalls=("--pos-weight is one weight per class (last dimension), not per sample.",),
    ),
    Loss(
        "soft_margin", soft_margin,
        (Tensor("input", help="scores"), Tensor("target", help="1 or -1")),
        aliases=("SoftMarginLoss", "soft_margin_loss", "softmargin"),
        torch="SoftMarginLoss",
        example="0.3,0.7,0.5,0.5 -1,1,1,-1",
        pitfalls=("targets are 1 and -1, not 1 and 0.",),
    ),
]
