"""optax 0.2 (`optax.losses`), reproduced in NumPy.

optax's losses return per-example values (elementwise for the regression and sigmoid losses,
one per row for the softmax and KL losses, one per sequence for CTC) and leave the reduction to
the caller; the convention reduces them by their mean (`jnp.mean`). optax computes in float32
unless jax's `jax_enable_x64` is on, which float64 here stands for.
"""

from __future__ import annotations

import numpy as np

from ..errors import LossError
from ._common import (Equivalent, Outcome, as_dtype, class_last, ctc_batch, ctc_equivalent, ctc_forward,
                      ctc_lines, index_targets, log_sigmoid, log_softmax, mean_of, plural,
                      probability_targets, signs_to_labels, soft_cross_entropy)

REDUCTIONS = {"mean": "mean", "batchmean": "mean"}
REDUCED = "per-example values, reduced by their mean (jnp.mean)"


def _dtype(dtype: str | None) -> str:
    return "float64" if dtype == "float64" else "float32"


def _x64(dtype) -> tuple[str, ...]:
    return ("float64 needs jax.config.update('jax_enable_x64', True); jax computes float32 without it",) \
        if dtype == "float64" else ()


def _elementwise(fn, notes=(), convert=None, conversions=()):
    def compute(tensors, options, reduction, dtype):
        x, y = as_dtype(tensors[:2], _dtype(dtype))
        if convert is not None:
            y = convert(y)
        x, y = np.broadcast_arrays(x, y)
        return Outcome(mean_of(fn(x, y, options)), tuple(conversions), tuple(notes) + _x64(dtype))
    return compute


def _squared(x, y, options):
    return (x - y) ** 2


def _l2(x, y, options):
    return np.array(0.5, x.dtype) * (x - y) ** 2


def _huber(x, y, options):
    delta = np.array(options.get("delta", 1.0), x.dtype)
    a = np.abs(x - y)
    quadratic = np.minimum(a, delta)
    return np.array(0.5, x.dtype) * quadratic ** 2 + delta * (a - quadratic)


def _log_cosh(x, y, options):
    e = x - y
    return np.logaddexp(e, -e) - np.array(np.log(2.0), x.dtype)


def _sigmoid_bce(x, t, options):
    return -t * log_sigmoid(x) - (1 - t) * log_sigmoid(-x)


def _focal(x, t, options):
    alpha, gamma = options.get("alpha", 0.25), options.get("gamma", 2.0)
    ce = _sigmoid_bce(x, t, options)
    # log(1 - p_t) = logsumexp([log σ(x), log σ(-x)], b=[1 - t, t])
    a, b = log_sigmoid(x), log_sigmoid(-x)
    top = np.maximum(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_one_minus_pt = top + np.log((1 - t) * np.exp(a - top) + t * np.exp(b - top))
        loss = ce * np.exp(np.array(gamma, x.dtype) * log_one_minus_pt)
    if alpha < 0:
        return loss
    return (np.array(alpha, x.dtype) * t + np.array(1 - alpha, x.dtype) * (1 - t)) * loss


def _softmax_ce(tensors, options, reduction, dtype):
    """softmax_cross_entropy on probability targets (and on one-hot class indices when label
    smoothing asks for it), the labels smoothed by optax.smooth_labels."""
    x = as_dtype(tensors[:1], _dtype(dtype))[0]
    if np.shape(tensors[1]) != x.shape:  # class indices with label smoothing
        idx = np.asarray(tensors[1], np.int64)
        ignore = options.get("ignore_index", -100)
        if np.any(idx == ignore):
            raise LossError(f"optax's softmax_cross_entropy has no ignored index, and the targets hold "
                            f"{int(np.sum(idx == ignore))} item(s) equal to --ignore-index {ignore}; with "
                            "--label-smoothing, optax cannot honour them.")
    ls = options.get("label_smoothing", 0.0)
    values, conversions = soft_cross_entropy(x, tensors[1], ls, "optax", "smooth_labels")
    if ls:
        conversions.append(f"labels smoothed by optax.smooth_labels(labels, {ls:g}), as --label-smoothing")
    return Outcome(mean_of(np.atleast_1d(values)), tuple(conversions), _x64(dtype))


def _integer_ce(log_probabilities: bool):
    def compute(tensors, options, reduction, dtype):
        x = as_dtype(tensors[:1], _dtype(dtype))[0]
        idx = np.asarray(tensors[1], np.int64)
        conversions = ["log-probabilities given as logits (log_softmax leaves them unchanged)"] if log_probabilities else []
        if x.ndim > 2:
            conversions.append("the class axis 1 moved last (optax's axis=-1)")
        x = class_last(x)
        ignore = options.get("ignore_index", -100)
        valid = idx != ignore
        ignored = int(idx.size - np.count_nonzero(valid))
        safe = np.where(valid, idx, 0)
        top = np.max(x, axis=-1, keepdims=True)
        lse = (np.log(np.sum(np.exp(x - top), axis=-1, keepdims=True)) + top)[..., 0]
        values = lse - np.take_along_axis(x, safe[..., None], axis=-1)[..., 0]
        lines = _x64(dtype)
        if ignored:
            values = np.where(valid, values, 0)
            conversions.append(f"where=(target != {ignore}): the {plural(ignored, 'ignored item')} masked out")
            lines = (f"the {plural(ignored, 'ignored item')} count as zeros in the mean: it divides by "
                     f"{idx.size}, torch's by the {idx.size - ignored} kept",) + lines
        if log_probabilities and x.size and not np.allclose(lse, 0, atol=1e-4):
            lines = ("input is not log-softmaxed: optax normalises it (logsumexp), torch's nll uses it as given",) + lines
        return Outcome(mean_of(np.atleast_1d(values)), tuple(conversions), lines)
    return compute


def _kl(tensors, options, reduction, dtype):
    x, t = as_dtype(tensors[:2], _dtype(dtype))
    x, t = np.broadcast_arrays(x, t)
    if options.get("log_target"):
        with np.errstate(over="ignore", invalid="ignore"):
            values = np.sum(np.exp(t) * (t - x), axis=-1)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.sum(t * (np.where(t == 0, 0, np.log(np.where(t == 0, 1, t))) - x), axis=-1)
    lines = _x64(dtype)
    if reduction == "mean" and x.ndim >= 1:
        lines = (f"optax sums over the last axis (one value per row) and the mean divides by the "
                 f"{np.atleast_1d(values).size} rows, where torch's 'mean' divides by all {x.size} elements "
                 f"(pytorch#6622): the value is torch's mean × {x.shape[-1]}",) + lines
    elif reduction == "batchmean" and x.ndim > 2:
        lines = (f"the mean divides by the {values.size} rows of the last axis, torch's batchmean by the "
                 f"batch size {x.shape[0]}",) + lines
    return Outcome(mean_of(np.atleast_1d(values)), (), lines)


def _ctc(tensors, options, reduction, dtype):
    blank = int(options.get("blank", 0))
    batch = ctc_batch(tensors, _dtype(dtype))
    lp = batch.log_probs
    conversions = list(batch.conversions) + [
        "logit_paddings = (t >= input_lengths), label_paddings = (s >= target_lengths)",
        f"blank_id={blank}",
        "the log-probabilities given as logits (optax takes log_softmax of them, which leaves them unchanged)"]
    per_seq = ctc_forward(lp, batch.labels, batch.input_lengths, batch.target_lengths, blank)
    return Outcome(mean_of(per_seq), tuple(conversions), ctc_lines("optax", per_seq, lp, reduction) + _x64(dtype))


# --- the data -----------------------------------------------------------------------------

def _eq(loss, function, takes, compute, differences=(), *, honours=(), conversion="",
        args=("input", "target"), call="", when="", applies=None):
    return Equivalent("optax", loss, f"optax.losses.{function}", args, takes, conversion, REDUCED,
                      tuple(differences), compute, honours, dict(REDUCTIONS), when, applies,
                      call or f"optax.losses.{function}(input, target).mean()")


def _integer_labels(loss, takes, difference, **when):
    """cross_entropy with class indices, and nll: both are optax's softmax cross-entropy with
    integer labels (nll's log-probabilities pass its log_softmax unchanged), ignore_index a mask."""
    return _eq(loss, "softmax_cross_entropy_with_integer_labels", takes, _integer_ce(takes == "log_probabilities"),
               (difference, "an ignored item is masked with where= but still counted by the mean"),
               honours=("ignore_index",), **when,
               call="optax.losses.softmax_cross_entropy_with_integer_labels(input, target, "
                    "where=target != ignore_index).mean()")


EQUIVALENTS = (
    _eq("mse", "squared_error", "values", _elementwise(_squared)),
    _eq("mse", "l2_loss", "values", _elementwise(_l2, ("l2_loss halves the square: the value is half of torch's mse",)),
        ("halves the square: 0.5 · squared_error (Bishop's convention)",), applies=lambda ts, opts: False),
    _eq("huber", "huber_loss", "values", _elementwise(_huber), honours=("delta",),
        call="optax.losses.huber_loss(input, target, delta=delta).mean()"),
    _eq("log_cosh", "log_cosh", "values", _elementwise(_log_cosh)),
    _eq("bce_with_logits", "sigmoid_binary_cross_entropy", "logits", _elementwise(_sigmoid_bce),
        call="optax.losses.sigmoid_binary_cross_entropy(input, target).mean()"),
    _eq("multilabel_soft_margin", "sigmoid_binary_cross_entropy", "logits", _elementwise(_sigmoid_bce),
        ("elementwise values: their mean over every element is torch's mean over samples of the class means",
         "no class weights"),
        call="optax.losses.sigmoid_binary_cross_entropy(input, target).mean()"),
    _eq("soft_margin", "sigmoid_binary_cross_entropy", "logits",
        _elementwise(_sigmoid_bce, convert=signs_to_labels,
                     conversions=("labels (target + 1) / 2: soft_margin's ±1 targets as 0 and 1",)),
        ("labels (y + 1) / 2 for targets ±1 (others refused)",),
        conversion="labels (target + 1) / 2",
        call="optax.losses.sigmoid_binary_cross_entropy(input, (target + 1) / 2).mean()"),
    _eq("sigmoid_focal", "sigmoid_focal_loss", "logits", _elementwise(_focal),
        ("alpha=None (no weighting) stands for a negative --alpha", "(1 - p_t)^γ computed in log space"),
        honours=("alpha", "gamma"),
        call="optax.losses.sigmoid_focal_loss(input, target, alpha=alpha, gamma=gamma).mean()"),
    _eq("cross_entropy", "softmax_cross_entropy", "logits", _softmax_ce,
        ("no class weights; --label-smoothing through optax.smooth_labels",),
        honours=("label_smoothing", "ignore_index"),
        when="class-probability targets (or class indices with --label-smoothing)",
        applies=lambda ts, opts: probability_targets(ts) or bool(opts.get("label_smoothing")),
        call="optax.losses.softmax_cross_entropy(input, optax.smooth_labels(target, ls)).mean()"),
    _integer_labels("cross_entropy", "logits", "no class weights", when="class-index targets",
                    applies=lambda ts, opts: index_targets(ts)),
    _integer_labels("nll", "log_probabilities",
                    "renormalises the log-probabilities (logsumexp), which log_softmax output passes unchanged"),
    _eq("kl_div", "kl_divergence", "log_probabilities", _kl,
        ("arguments (log_predictions, targets): torch's order, the prediction in log space",
         "kl_divergence_with_log_targets with --log-target",
         "sums over the last axis and the mean averages the rows: torch's 'batchmean' for 2-D inputs, not its 'mean'"),
        honours=("log_target",),
        call="optax.losses.kl_divergence(input, target).mean()  # _with_log_targets with --log-target"),
    ctc_equivalent(_eq, "ctc_loss", _ctc, ("lengths as padding masks: logit_paddings and label_paddings",
                                            "one loss per sequence, not divided by target length"),
                   "lengths -> paddings", args=("log_probs", "targets"),
                   call="optax.losses.ctc_loss(log_probs.transpose(1, 0, 2), logit_paddings, targets, "
                        "label_paddings, blank_id=blank).mean()"),
)
