"""Divergences between probability distributions."""

from __future__ import annotations

import numpy as np

from ..errors import warn
from ..registry import REDUCTIONS, Loss, Option, Tensor
from .common import (CHUNK_ITEMS, CHUNK_START, KernelOut, at_index, broadcast, check_probabilities, first_index,
                     first_value, warn_if_broadcast)
from .numerics import xlogy

KL_MEAN_WARNING = (
    "--reduction mean divides the summed KL divergence by the number of elements (batch size "
    "times support size), so it is not the KL divergence; --reduction batchmean divides by the "
    "batch size only and is the KL divergence as mathematics defines it. PyTorch warns the same "
    "and plans to make mean behave like batchmean in a future major release."
)


#: kl_div: exp(input) is checked to sum to 1 over the items of the input's first this many
#: elements (a mistake shows in every row), whichever chunks or blocks hold them
KL_CHECK = 1 << 16


def _warn_if_not_log_probabilities(input: np.ndarray) -> None:
    """Warn when input does not look like log-probabilities (PyTorch computes silently). The
    rows' sums of exp(input) cost an exp per element, more than the loss itself: over many
    chunks they are checked in the items of the first KL_CHECK elements, and the warning
    says so."""
    if input.size == 0:
        return
    top = input.max()
    if np.isnan(top):
        return
    if top > 0:
        positive = input > 0
        warn(
            f"input holds {int(positive.sum())} positive value(s), first {first_value(input, positive)}"
            f"{at_index(first_index(positive))}: kl_div "
            "expects log-probabilities (all <= 0, e.g. the output of log_softmax). Probabilities "
            "given as input make the result meaningless; take their log first. PyTorch computes anyway."
        )
        return
    start, items, sample = CHUNK_START.get(), CHUNK_ITEMS.get(), ""
    if items is not None and input.ndim:  # one chunk or block of many: the sample is the first KL_CHECK elements' items
        k = max(1, KL_CHECK // max(1, input[:1].size))
        if start >= k:
            return
        input = input[:k - start]
        sample = f" (checked in the first {k} of {items[1]} items)" if k < items[1] else ""
    check_probabilities(input, "input", "kl_div expects log-probabilities, e.g. the output of log_softmax. "
                                        f"PyTorch computes anyway.{sample}", axis=None, log=True)


def _warn_on_target(target: np.ndarray, log_target: bool) -> None:
    if not target.size:
        return
    if not log_target and target.min() < 0:
        warn(
            f"target holds {int((target < 0).sum())} negative value(s), which give nan: without "
            "--log-target the target is probabilities. If it holds log-probabilities, pass --log-target."
        )
    elif log_target and target.max() > 0:
        warn(
            f"with --log-target the target should hold log-probabilities (<= 0); it holds "
            f"{int((target > 0).sum())} positive value(s). If it holds probabilities, leave --log-target off."
        )


def kl_div(input, target, *, log_target=False):
    """Kullback-Leibler divergence of the target distribution from the input (log-probabilities).

    Formula:
        l_n = y_n (log y_n - x_n)             where y_n = 0 gives 0 (x log x = 0 at 0)
        l_n = exp(y_n) (y_n - x_n)            with --log-target (target as log-probabilities)
        batchmean = Σ l_n / input.shape[0]    (the KL divergence per sample)
        mean = Σ l_n / N over every element  (not the KL divergence; PyTorch warns)

    Shape:
        input (*) of log-probabilities, target broadcastable with it (a warning when the
        shapes differ); output the broadcast shape, or () when reduced.

    Args:
        input: log-probabilities x_n (e.g. log_softmax output).
        target: probabilities y_n, or log-probabilities with `log_target`.
        log_target: the target is given as log-probabilities (default False).

    References:
        torch.nn.KLDivLoss, torch.nn.functional.kl_div;
        Kullback and Leibler, "On Information and Sufficiency", 1951
    """
    warn_if_broadcast(input, target, torch_warns=False)
    _warn_if_not_log_probabilities(input)
    _warn_on_target(target, log_target)
    x, y = broadcast({"input": input, "target": target})
    if log_target:
        p = np.exp(y)
        elements = np.multiply(p, np.subtract(y, x), out=np.empty(np.broadcast_shapes(x.shape, y.shape), x.dtype))
        terms = {"exp(y)": p, "y - x": lambda: y - x}
    else:
        elements = xlogy(y, y)  # as PyTorch; y·log y - y·x, in y·log y's own array
        np.subtract(elements, np.multiply(y, x), out=elements)
        terms = {"y·log y": lambda: xlogy(y, y), "y·x": lambda: y * x}
    batch = int(input.shape[0]) if input.ndim else None
    return KernelOut(elements, terms, batch=batch, mean_warning=KL_MEAN_WARNING,
                     backward=lambda g: _kl_backward(g, x, y, log_target))


def _kl_backward(g, x, y, log_target):
    """Autograd's chain through torch.kl_div, a composite of elementwise ops.

    --log-target, l = exp(y) (y - x):   ∂l/∂x = -exp(y),  ∂l/∂y = exp(y) (y - x) + exp(y)
        (y = -inf gives 0·(-inf) = NaN for the target, as in PyTorch)
    otherwise, l = xlogy(y, y) - y x:   ∂l/∂x = -y,       ∂l/∂y = log(y) + y/y - x
        xlogy's backward masks its log(y) term to 0 where y = 0 but not y/y, so a target of
        exactly 0 (or below) has a NaN gradient, as in PyTorch; the input's gradient there is 0.
    """
    if log_target:
        p = np.exp(y)
        gp = g * p
        return {"input": -gp, "target": g * (y - x) * p + gp}
    zero = np.zeros((), g.dtype)
    with_log = np.where(np.isnan(y), y, xlogy(g, y))  # torch.xlogy(g, y): NaN at y = NaN, even where g = 0
    with_log = np.where(y == 0, zero, with_log)  # the mask (self == 0) & (other <= 0), self = other = y
    return {"input": -g * y, "target": with_log + g * y / y - g * x}


LOSSES = [
    Loss(
        "kl_div", kl_div,
        (
            Tensor("input", help="log-probabilities (e.g. log_softmax output)"),
            Tensor("target", help="probabilities (log-probabilities with --log-target)"),
        ),
        (Option("log_target", bool, False, "the target is given as log-probabilities"),),
        aliases=("KLDivLoss", "kl", "kldiv", "kl_divergence", "kld"),
        torch="KLDivLoss",
        reductions=(*REDUCTIONS, "batchmean"),
        example="--reduction batchmean \"-0.51,-1.2,-2.3;-1.61,-0.51,-1.61\" \"0.7,0.2,0.1;0.2,0.6,0.2\"",
        pitfalls=(
            "the input is log-probabilities but the target is probabilities, unless --log-target.",
            "--reduction mean is not the KL divergence; batchmean is.",
            "the order is the reverse of KL(p‖q) notation: kl_div(log q, p) = KL(p‖q).",
        ),
    ),
]
