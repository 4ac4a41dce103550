"""Regression losses: the distance between a prediction and a real-valued target."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..errors import LossError, warn
from ..registry import Loss, Option, Tensor, at_least, greater_than
from .common import (KernelOut, at_index, broadcast, check_same_shape, first_index, first_value, shape_str,
                     warn_if_broadcast, torch_sgn)


_WEIGHT = Option("weight", "tensor", None, "per-element weights of the input's shape; mean = Σ w·l / Σ w")



def _difference(input: np.ndarray, target: np.ndarray) -> np.ndarray:
    """x - y, broadcast (with a warning when the shapes differ, as PyTorch warns): a new array,
    which the kernels below turn into their elements in place."""
    warn_if_broadcast(input, target)
    x, y = broadcast({"input": input, "target": target})
    return np.asarray(np.subtract(x, y))  # (a 0-d difference is a NumPy scalar: made an array)


def _recomputed(input: np.ndarray, target: np.ndarray) -> Callable[[], np.ndarray]:
    """x - y made again when a term or the backward asks (the kernel's own copy became its
    elements): one subtraction, which costs less than keeping a chunk-sized array."""
    return lambda: np.subtract(*np.broadcast_arrays(input, target))


def _of_difference(ddiff: Callable[[], np.ndarray], weight=None):
    """The backward of a loss of d = x - y whose derivative ∂l/∂d is ddiff() (times weight),
    computed only when a gradient is asked for. ∂l/∂y = -∂l/∂x: PyTorch's backward of these
    losses for the target is the input's with the sign turned, kinks included."""
    def backward(g):
        gd = g * ddiff() if weight is None else g * weight * ddiff()
        return {"input": gd, "target": -gd}

    return backward


def _weighted(err: np.ndarray, ddiff: Callable[[], np.ndarray], input: np.ndarray, weight, terms: dict) -> KernelOut:
    """The element losses, weighted as F.l1_loss/F.mse_loss weight them: mean = Σ w·l / Σ w.
    (F.huber_loss takes a plain mean of w·l instead; see huber.) ddiff() = ∂err/∂(x - y)."""
    if weight is None:
        return KernelOut(err, terms, backward=_of_difference(ddiff))
    check_same_shape(input, weight, "input", "--weight")
    return KernelOut(
        np.multiply(err, weight, out=err),
        {**terms, "weight": weight},
        numerator_label="Σ w·l",
        denominator_label="Σ w",
        weights=weight,
        backward=_of_difference(ddiff, weight),
    )


def _of_x_minus_y(summary: str, formula: str, references: str):
    """The docstring of a weighted loss of x - y (l1, mse): its own summary, formula and
    references around the shape and arguments they share, written once."""
    def document(kernel):
        kernel.__doc__ = f"""{summary}

    Formula:
        {formula}        (w_n = 1 without --weight)
        mean = Σ w_n l_n / Σ w_n

    Shape:
        input (*), target broadcastable to input (a warning when the shapes differ),
        weight the input's shape; output the broadcast shape, or () when reduced.

    Args:
        input: the predictions x_n.
        target: the true values y_n, broadcastable with input.
        weight: per-element weights w_n of the input's shape, or None; mean = Σ w·l / Σ w.

    References:
        {references}
    """
        return kernel

    return document


@_of_x_minus_y("Mean absolute error (L1 loss).", "l_n = w_n |x_n - y_n|", "torch.nn.L1Loss, torch.nn.functional.l1_loss")
def l1(input, target, *, weight=None):
    diff = _recomputed(input, target)
    # ∂|d|/∂d = sgn(d): 0 at d = 0 and at NaN (PyTorch's abs backward)
    err = _difference(input, target)
    np.abs(err, out=err)
    return _weighted(err, lambda: torch_sgn(diff()), input, weight, {"x - y": diff})


@_of_x_minus_y("Mean squared error (squared L2 loss).", "l_n = w_n (x_n - y_n)²",
               "torch.nn.MSELoss, torch.nn.functional.mse_loss")
def mse(input, target, *, weight=None):
    diff = _recomputed(input, target)
    err = _difference(input, target)
    return _weighted(np.multiply(err, err, out=err), lambda: 2 * diff(), input, weight, {"x - y": diff})


_BETA = Option("beta", float, 1.0, "where the squared part turns linear; 0 gives the L1 loss",
               at_least(0, why="PyTorch refuses negative values"))


def smooth_l1(input, target, *, beta=1.0):
    """Smooth L1 loss: squared near zero, absolute beyond `beta` (beta = 0 is the L1 loss).

    Formula:
        l_n = 0.5 (x_n - y_n)² / beta      if |x_n - y_n| < beta
        l_n = |x_n - y_n| - 0.5 beta       otherwise
        (huber with delta = beta is beta times this loss.)

    Shape:
        input (*), target broadcastable to input (a warning when the shapes differ);
        output the broadcast shape, or () when reduced.

    Args:
        input: the predictions x_n.
        target: the true values y_n, broadcastable with input.
        beta: where the squared part turns linear, 0 or more; 0 gives the L1 loss (default 1.0).

    References:
        torch.nn.SmoothL1Loss, torch.nn.functional.smooth_l1_loss;
        Girshick, "Fast R-CNN", ICCV 2015
    """
    _BETA.check(beta)
    diff = _recomputed(input, target)
    z = _difference(input, target)
    np.abs(z, out=z)
    if beta == 0:  # PyTorch computes the L1 loss here, and its gradient: sgn(x - y)
        return KernelOut(z, {"|x - y|": z}, backward=_of_difference(lambda: torch_sgn(diff())))
    elements = _squared_then_linear(z, beta)
    if beta != 1:  # (x / 1 is x)
        elements /= beta
    # ∂l/∂d = d / beta inside, sign(d) from |d| = beta on (PyTorch's smooth_l1_loss_backward;
    # NaN stays NaN here, unlike the L1 loss's sgn)
    return KernelOut(elements, {"|x - y|": z, "branch": lambda: np.where(z < beta, "squared", "linear")},
                     backward=_of_difference(lambda: _branches(z < beta, diff(), beta, 1)))


def _squared_then_linear(z: np.ndarray, k: float) -> np.ndarray:
    """m (z - m/2) with m = min(z, k): z²/2 below k, k (z - k/2) from k on (NaN stays NaN), without
    computing both branches."""
    m = np.minimum(z, z.dtype.type(k), out=np.empty_like(z))
    half = np.multiply(m, z.dtype.type(0.5), out=np.empty_like(z))
    np.subtract(z, half, out=half)
    return np.multiply(m, half, out=m)


def _branches(inside: np.ndarray, d: np.ndarray, divisor: float, outside: float) -> np.ndarray:
    """∂l/∂d of a squared-then-linear loss: d / divisor inside, outside·sign(d) beyond (NaN stays
    NaN), as PyTorch's smooth_l1 and huber backwards write them."""
    return np.where(inside, d / divisor, outside * np.sign(d))


_DELTA = Option("delta", float, 1.0, "where the squared part turns linear",
                greater_than(0, why="PyTorch refuses 0 and negative values"))


def huber(input, target, *, delta=1.0, weight=None):
    """Huber loss: squared near zero, `delta`-scaled absolute beyond `delta`.

    Formula:
        l_n = w_n · 0.5 (x_n - y_n)²                  if |x_n - y_n| < delta
        l_n = w_n · delta (|x_n - y_n| - 0.5 delta)   otherwise
        (w_n = 1 without --weight; mean = Σ l_n / N, a plain mean even with --weight,
        as F.huber_loss computes it; huber(delta = d) = d · smooth_l1(beta = d).)

    Shape:
        input (*), target broadcastable to input (a warning when the shapes differ),
        weight exactly the input's shape; output the broadcast shape, or () when reduced.

    Args:
        input: the predictions x_n.
        target: the true values y_n, broadcastable with input.
        delta: where the squared part turns linear, greater than 0 (default 1.0).
        weight: per-element weights w_n of the input's shape, or None; mean = Σ w·l / N.

    References:
        torch.nn.HuberLoss, torch.nn.functional.huber_loss;
        Huber, "Robust Estimation of a Location Parameter", 1964
    """
    _DELTA.check(delta)
    if weight is not None:
        check_same_shape(input, weight, "input", "--weight", " (F.huber_loss requires exactly the input's shape)")
    diff = _recomputed(input, target)
    z = _difference(input, target)
    np.abs(z, out=z)
    elements = _squared_then_linear(z, delta)
    terms = {"|x - y|": z, "branch": lambda: np.where(z < delta, "squared", "linear")}
    # ∂l/∂d = d inside, delta·sign(d) from |d| = delta on (PyTorch's huber_loss_backward), times w
    backward = _of_difference(lambda: _branches(z < delta, diff(), 1, delta), weight)
    if weight is None:
        return KernelOut(elements, terms, backward=backward)
    return KernelOut(np.multiply(elements, weight, out=elements), {**terms, "weight": weight}, backward=backward)


def poisson_nll(input, target, *, log_input=True, full=False, eps=1e-8):
    """Poisson negative log-likelihood: the target is a count drawn from Poisson(rate).

    Formula:
        l_n = exp(x_n) - y_n x_n                 with --log-input (x is the log of the rate)
        l_n = x_n - y_n log(x_n + eps)           with --no-log-input (x is the rate)
        --full adds Stirling's approximation of log(y_n!) where y_n > 1:
            y_n log(y_n) - y_n + 0.5 log(2π y_n)

    Shape:
        input (*), target broadcastable with it (a warning when the shapes differ);
        output the broadcast shape, or () when reduced.

    Args:
        input: the log-rates (the rates themselves with log_input=False).
        target: the observed counts y_n.
        log_input: the input is the log of the rate (default True).
        full: add Stirling's approximation of log(target!) where target > 1 (default False).
        eps: added to the rate before its log when log_input is False (default 1e-8).

    References:
        torch.nn.PoissonNLLLoss, torch.nn.functional.poisson_nll_loss
    """
    warn_if_broadcast(input, target, torch_warns=False)
    x, y = broadcast({"input": input, "target": target})
    if log_input:
        elements = np.exp(x, out=np.empty(np.broadcast_shapes(x.shape, y.shape), x.dtype))  # exp(x) - y·x, in place
        np.subtract(elements, np.multiply(y, x), out=elements)
        terms = {"exp(x)": lambda: np.exp(x), "y·x": lambda: y * x}
    else:
        if (input < 0).any():
            warn(
                f"input holds {int((input < 0).sum())} negative value(s), which give nan: with "
                "--no-log-input the input is the rate itself (>= 0). Did you mean --log-input?"
            )
        log_rate = np.log(x + eps)
        elements = x - y * log_rate
        terms = {"log(x + eps)": log_rate}
    if full:
        stirling = y * np.log(y) - y + 0.5 * np.log(2 * math.pi * y)
        stirling = np.where(y <= 1, np.zeros((), y.dtype), stirling)
        elements = elements + stirling
        terms["Stirling (y > 1)"] = stirling
    return KernelOut(elements, terms, backward=lambda g: _poisson_backward(g, x, y, log_input, full, eps))


def _poisson_backward(g, x, y, log_input, full, eps):
    """Autograd's chain through torch.poisson_nll_loss, a composite of elementwise ops.

    ∂/∂x = exp(x) - y (log input) or 1 - y / (x + eps); ∂/∂y = -x or -log(x + eps).
    The Stirling term adds log(y) + 1/(2y) where y > 1; where y <= 1 its masked_fill sends 0 back
    through log(y) and 1/y, so y = 0 gives 0·(-inf) and 0/0: NaN, and y < 0 gives NaN too, as in
    PyTorch. Each product is taken in autograd's order so that inf and NaN land where they do there.
    """
    if log_input:
        grads = {"input": g * np.exp(x) - g * y, "target": -(g * x)}
    else:
        grads = {"input": g + -g * y / (x + eps), "target": -g * np.log(x + eps)}
    if full:
        gs = np.where(y <= 1, np.zeros((), g.dtype), g)  # masked_fill's backward
        half = 0.5 * gs
        grads["target"] = grads["target"] + (
            gs * np.log(y) + gs * y / y - gs + half / (2 * math.pi * y) * (2 * math.pi)
        )
    return grads


def _gaussian_var(input: np.ndarray, var: np.ndarray) -> np.ndarray:
    """var in a shape that broadcasts against input, by F.gaussian_nll_loss's rules."""
    if var.ndim == 0:  # a single variance for every expectation, as a Python float var is in PyTorch
        return var * np.ones_like(input)
    if var.shape == input.shape:
        return var
    if var.shape == input.shape[:-1]:  # one variance per row, shared along the last dimension
        return var[..., None]
    if var.ndim == input.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
        return var  # one dimension of size 1, shared along it
    raise LossError(
        f"var {shape_str(var.shape)} does not fit input {shape_str(input.shape)}: var must have the "
        "input's shape, the input's shape without its last dimension, or the input's shape with "
        "exactly one dimension set to 1 (one variance shared along that dimension), or be a single number."
    )


def gaussian_nll(input, target, var, *, full=False, eps=1e-6):
    """Gaussian negative log-likelihood: the target drawn from Normal(input, var).

    Formula:
        l_n = 0.5 (log(max(var_n, eps)) + (x_n - y_n)² / max(var_n, eps))
        --full adds the constant 0.5 log(2π)

    Shape:
        input (N, *) or (*); target broadcastable with input (a warning when the shapes
        differ); var the input's shape, or the input's shape without its last dimension,
        or with exactly one dimension of size 1, or a single number; output the broadcast
        shape, or () when reduced.

    Args:
        input: the expectations (means) μ_n.
        target: the samples y_n.
        var: the variances σ²_n (>= 0), or one number for all.
        full: add the constant 0.5·log(2π) (default False).
        eps: variances below this are raised to it (default 1e-6).

    References:
        torch.nn.GaussianNLLLoss, torch.nn.functional.gaussian_nll_loss;
        Nix and Weigend, "Estimating the mean and variance of the target probability
        distribution", ICNN 1994
    """
    negative = var < 0
    if negative.any():
        # var is cut with the input when it spans the batch axis, also one dimension short (engine/layout.py)
        cut = var.ndim in (input.ndim, input.ndim - 1) and var.ndim and var.shape[0] == input.shape[0]
        raise LossError(
            f"var holds a negative variance, {first_value(var, negative)}"
            f"{at_index(first_index(negative, 0 if cut else None))}; variances must be 0 or more "
            "(values below --eps are raised to it)."
        )
    given = var
    var = _gaussian_var(input, var)
    warn_if_broadcast(input, target, torch_warns=False)
    x, y, aligned = broadcast({"input": input, "target": target, "var": var})
    v = np.maximum(aligned, eps)
    scaled = np.asarray(np.subtract(x, y))  # (a 0-d result is a NumPy scalar: made an array)
    np.square(scaled, out=scaled)
    np.divide(scaled, v, out=scaled)  # (x - y)² / var: x, y and var are broadcast alike
    elements = np.asarray(np.log(v))  # 0.5 (log var + (x - y)² / var), in one array; log var made again when shown
    np.add(elements, scaled, out=elements)
    np.multiply(elements, 0.5, out=elements)
    if full:
        elements = elements + 0.5 * math.log(2 * math.pi)

    def backward(g):
        """F.gaussian_nll_loss clamps var in place under torch.no_grad(), so autograd sees the clamp
        as the identity: ∂l/∂var = 0.5 (1/v - (x-y)²/v²) at the clamped v, below eps too."""
        d = x - y
        half = 0.5 * g
        gd = half / v * (2 * d)  # pow's backward: grad · 2 d
        grads = {"input": gd, "target": -gd}
        if given.ndim:  # a single number is PyTorch's float var, which autograd does not see
            gv = half / v + -half * (d * d / v / v)  # log's backward + div's backward for the divisor
            # a var one dimension short was unsqueezed at the end: sum that dimension out here,
            # as the engine sums only leading and size-1 dimensions
            grads["var"] = gv.sum(axis=-1) if var.ndim > given.ndim else gv
        return grads

    return KernelOut(elements, {"var": aligned, "var clamped": v, "log var": lambda: np.log(v), "(x-y)²/var": scaled},
                     backward=backward)


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
    Loss(
        "smooth_l1", smooth_l1, XY,
        (_BETA,),
        aliases=("SmoothL1Loss", "smooth_l1_loss", "smoothl1"),
        torch="SmoothL1Loss",
        example="--beta 0.5 1,2,3 1.2,2,5",
        pitfalls=("huber with --delta d is d times smooth_l1 with --beta d; they agree only at 1.",),
    ),
    Loss(
        "huber", huber, XY,
        (
            _DELTA,
            Option("weight", "tensor", None, "per-element weights of the input's shape; mean = Σ w·l / N"),
        ),
        aliases=("HuberLoss", "huber_loss"),
        torch="HuberLoss",
        legacy=False,
        example="--delta 2 1,2,3 1.2,2,6",
        pitfalls=(
            "with --weight the mean divides by the number of elements, not by Σ w as l1 and mse do.",
        ),
    ),
    Loss(
        "poisson_nll", poisson_nll,
        (Tensor("input", help="log-rates (or rates with --no-log-input)"), Tensor("target", help="counts")),
        (
            Option("log_input", bool, True, "the input is the log of the rate (else the rate itself)"),
            Option("full", bool, False, "add Stirling's approximation of log(target!) where target > 1"),
            Option("eps", float, 1e-8, "added to the rate before its log, with --no-log-input"),
        ),
        aliases=("PoissonNLLLoss", "poisson_nll_loss", "poisson"),
        torch="PoissonNLLLoss",
        example="--full 0.5,1,2 0,1,3",
        pitfalls=("the input is a log-rate unless --no-log-input is given.",),
    ),
    Loss(
        "gaussian_nll", gaussian_nll,
        (
            Tensor("input", help="expectations (means)"),
            Tensor("target", help="samples"),
            Tensor("var", help="variances (>= 0), or one number for all"),
        ),
        (
            Option("full", bool, False, "add the constant 0.5·log(2π)"),
            Option("eps", float, 1e-6, "variances below this are raised to it"),
        ),
        layout="gaussian_nll",
        aliases=("GaussianNLLLoss", "gaussian_nll_loss", "gaussian"),
        torch="GaussianNLLLoss",
        legacy=False,
        example="1,2,3 1.5,2,2 0.5,1,2",
        pitfalls=(
            "var is a variance, not a standard deviation.",
            "a var one dimension short of the input is one variance per row, shared along the last dimension.",
        ),
    ),
]
