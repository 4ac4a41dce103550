"""Keras 3 (`keras.losses`), reproduced in NumPy as its NumPy backend computes.

What every Keras loss here shares: the loss object converts both tensors to its dtype, and the
ops compute in float32 whatever that dtype: Keras 3's type promotion (`keras.backend.result_type`)
turns 64-bit into 32-bit on every backend but TensorFlow, "to be aligned with JAX's default", so
`dtype="float64"` still gives float32 values on the NumPy and JAX backends. The loss function
returns one value per sample, averaging (or summing, for the cross entropies and KL) over the
**last axis**; then the reduction
`sum_over_batch_size` (the default) sums those values and divides by their count, and `sum` sums
them. A 0-d result of the loss function (a 1-D input is one sample) is returned as it is by
every reduction. Probabilities are clipped to [epsilon, 1 - epsilon], epsilon = 1e-7.
"""

from __future__ import annotations

import numpy as np

from ..errors import LossError
from ._common import (Equivalent, Outcome, as_dtype, class_last, clip_line, ctc_batch, ctc_equivalent,
                      ctc_forward, ctc_lines, index_targets, log_softmax, plural,
                      probability_targets, sigmoid, signs_to_labels, soft_cross_entropy)

EPSILON = 1e-7
CLIP = f"1 - {EPSILON:g}"
REDUCTIONS = {"mean": "sum_over_batch_size", "batchmean": "sum_over_batch_size", "sum": "sum"}
REDUCED = ("reduction 'sum_over_batch_size' (the default): the per-sample values summed and divided "
           "by their count; 'sum' sums them")


def _dtype(dtype: str | None) -> str:
    return "float32"  # see the module docstring: Keras 3 promotes 64-bit to 32-bit


F64_LINE = ("Keras computes in float32 even with dtype='float64': Keras 3 promotes 64-bit to 32-bit on its "
            "NumPy and JAX backends (keras.backend.result_type)")


def _reduce(values: np.ndarray, reduction: str) -> float:
    """Keras's `reduce_values` on per-sample values."""
    if values.ndim == 0:
        return float(values)
    total = np.sum(values)
    if REDUCTIONS[reduction] == "sum":
        return float(total)
    count = np.array(values.size, values.dtype)
    return float(total / count) if values.size else 0.0


def _last_axis_lines(x: np.ndarray, reduction: str) -> tuple[str, ...]:
    """What averaging over the last axis first does to torch's reduction: nothing to 'mean' (all
    rows have the same length), torch's sum / the last dimension for 'sum'."""
    if x.ndim == 0:
        raise LossError("Keras's losses need at least a 1-D input (they reduce the last axis); this "
                        "input is a scalar. Give it as a one-element list, e.g. [0.5].")
    if reduction != "sum":
        return ()
    k = x.shape[-1]
    if x.ndim == 1:
        return (f"Keras takes a 1-D input as one sample and returns its mean over the last axis whatever "
                f"the reduction, so 'sum' gives the mean (torch's sum / {k})",)
    return (f"Keras first averages over the last axis (size {k}), then sums the {x.size // max(k, 1)} "
            f"per-sample means: the value is torch's sum / {k}",)


def _mean_last(values: np.ndarray) -> np.ndarray:
    return np.mean(values, axis=-1)


# --- the losses ---------------------------------------------------------------------------

def _regression(fn):
    def compute(tensors, options, reduction, dtype):
        x, y = as_dtype(tensors[:2], _dtype(dtype))
        lines = _last_axis_lines(x, reduction)
        x, y = np.broadcast_arrays(x, y)
        return Outcome(_reduce(_mean_last(fn(x, y, options)), reduction), (), lines)
    return compute


def _mse(x, y, options):
    return np.square(y - x)


def _mae(x, y, options):
    return np.abs(y - x)


def _huber(x, y, options):
    delta = np.array(options.get("delta", 1.0), x.dtype)
    half = np.array(0.5, x.dtype)
    error = x - y
    a = np.abs(error)
    return np.where(a <= delta, half * np.square(error), delta * a - half * np.square(delta))


def _log_cosh(x, y, options):
    e = x - y
    with np.errstate(over="ignore", invalid="ignore"):
        return e + np.logaddexp(e * np.array(-2, x.dtype), np.array(0, x.dtype)) - np.array(np.log(2.0), x.dtype)


def _bce_elements(p, t):
    """Keras's `binary_crossentropy` backend op: clip, then the two logs."""
    q = np.clip(p, EPSILON, 1 - EPSILON)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(t * np.log(q) + (1 - t) * np.log(1 - q))


def _bce(from_logits: bool, per_sample: bool = False, signs: bool = False):
    """BinaryCrossentropy on probabilities or (from_logits) logits; `per_sample`: torch's loss is
    already the mean over the last axis (multilabel_soft_margin), so nothing changes there;
    `signs`: targets ±1 (soft_margin) given as labels (y + 1) / 2."""
    def compute(tensors, options, reduction, dtype):
        x, t = as_dtype(tensors[:2], _dtype(dtype))
        conversions = ["from_logits=True: losscalc's input is logits"] if from_logits else []
        if signs:
            t = signs_to_labels(t)
            conversions.append("labels (target + 1) / 2: soft_margin's ±1 targets as 0 and 1")
        x, t = np.broadcast_arrays(x, t)
        lines = () if per_sample else _last_axis_lines(x, reduction)
        p = sigmoid(x) if from_logits else x
        lines += clip_line("Keras", "sigmoid(input)" if from_logits else "the probabilities", p,
                           EPSILON, 1 - EPSILON, CLIP)
        if from_logits and lines and "clips" in lines[-1]:
            lines += ("Keras's NumPy backend takes sigmoid(logits) and clips it rather than computing "
                      "from the logits (its JAX, TensorFlow and torch backends do not clip)",)
        value = _reduce(_mean_last(_bce_elements(p, t)), reduction)
        return Outcome(value, tuple(conversions), lines)
    return compute


def _focal(tensors, options, reduction, dtype):
    x, t = as_dtype(tensors[:2], _dtype(dtype))
    lines = _last_axis_lines(x, reduction)
    alpha, gamma = options.get("alpha", 0.25), options.get("gamma", 2.0)
    p = sigmoid(x)
    lines += clip_line("Keras", "sigmoid(input) in the cross entropy", p, EPSILON, 1 - EPSILON, CLIP)
    bce = _bce_elements(p, t)
    p_t = t * p + (1 - t) * (1 - p)
    with np.errstate(all="ignore"):
        focal = np.power(1 - p_t, np.array(gamma, x.dtype)) * bce
    conversions = ["from_logits=True: losscalc's input is logits"]
    if alpha >= 0:
        focal = (t * np.array(alpha, x.dtype) + (1 - t) * np.array(1 - alpha, x.dtype)) * focal
        conversions.append(f"apply_class_balancing=True, alpha={alpha:g}: torchvision weighs by α unless α < 0")
    else:
        conversions.append("apply_class_balancing=False: a negative --alpha means no class weighting")
    return Outcome(_reduce(_mean_last(focal), reduction), tuple(conversions), lines)


def _categorical(tensors, options, reduction, dtype):
    """CategoricalCrossentropy(from_logits=True, label_smoothing) on probability targets, or on
    one-hot class indices when label smoothing asks for it."""
    x = as_dtype(tensors[:1], _dtype(dtype))[0]
    if np.shape(tensors[1]) != x.shape:  # class indices with label smoothing
        _refuse_ignored(np.asarray(tensors[1], np.int64), options, "CategoricalCrossentropy")
    values, conversions = soft_cross_entropy(x, tensors[1], options.get("label_smoothing", 0.0), "Keras",
                                             "label_smoothing")
    return Outcome(_reduce(values, reduction), ("from_logits=True: losscalc's input is logits", *conversions), ())


def _refuse_ignored(idx, options, function):
    ignore = options.get("ignore_index", -100)
    if np.any(idx == ignore):
        raise LossError(f"Keras's {function} has no ignored class; the targets hold "
                        f"{int(np.sum(idx == ignore))} item(s) equal to --ignore-index {ignore}. "
                        "Without --label-smoothing, SparseCategoricalCrossentropy(ignore_class=...) is used.")


def _sparse(from_logits: bool):
    """SparseCategoricalCrossentropy on class indices: cross_entropy's logits (from_logits=True),
    or nll's log-probabilities given to the default (probabilities) as exp(input)."""
    def compute(tensors, options, reduction, dtype):
        x = as_dtype(tensors[:1], _dtype(dtype))[0]
        idx = np.asarray(tensors[1], np.int64)
        conversions = []
        lines = ()
        x = class_last(x)
        if tensors[0].ndim > 2:
            conversions.append("the class axis 1 moved last (Keras's axis=-1)")
        ignore = options.get("ignore_index", -100)
        valid = idx != ignore
        ignored = int(idx.size - np.count_nonzero(valid))
        if ignored:
            conversions.append(f"ignore_class={ignore}: {plural(ignored, 'item')} ignored, as --ignore-index")
        safe = np.where(valid, idx, 0)
        if from_logits:
            conversions.insert(0, "from_logits=True: losscalc's input is logits")
            logp = log_softmax(np.where(valid[..., None], x, 0), -1)
        else:
            conversions.insert(0, "exp(input): nll's input is log-probabilities; Keras's default takes probabilities")
            with np.errstate(over="ignore"):
                p = np.exp(x)
            sums = np.sum(p, axis=-1, keepdims=True)
            off = int(np.count_nonzero(~np.isclose(sums, 1, rtol=0, atol=1e-6 if x.dtype == np.float64 else 1e-5)))
            if off:
                lines += (f"Keras renormalises each row of probabilities to sum to 1; {off} of {sums.size} rows "
                          "of exp(input) did not (torch's nll takes the log-probabilities as they are)",)
            p = np.where(valid[..., None], p, 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                p = p / np.sum(p, axis=-1, keepdims=True)
            lines += clip_line("Keras", "the probabilities", p[valid], EPSILON, 1 - EPSILON, CLIP)
            with np.errstate(divide="ignore"):
                logp = np.log(np.clip(p, EPSILON, 1 - EPSILON))
        values = -np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
        if ignored:
            values = np.where(valid, values, 0)
            kept = np.count_nonzero(valid)
            if values.ndim == 0:
                value = float(values)
            elif REDUCTIONS[reduction] == "sum":
                value = float(np.sum(values))
            else:  # the mask makes Keras divide by the items kept
                total = np.array(values.size, values.dtype)
                value = float(np.sum(values * np.where(valid, total / np.array(kept, values.dtype), 0)) / total) \
                    if kept else 0.0
                if not kept:
                    lines += ("every item is ignored: Keras's divide_no_nan gives 0 where torch gives nan",)
        else:
            value = _reduce(values, reduction)
        return Outcome(value, tuple(conversions), lines)
    return compute


def _kl(tensors, options, reduction, dtype):
    x, t = as_dtype(tensors[:2], _dtype(dtype))
    x, t = np.broadcast_arrays(x, t)
    lines = ()
    if x.ndim == 0:
        raise LossError("Keras's KLDivergence needs at least a 1-D input (it sums over the last axis).")
    with np.errstate(over="ignore"):
        q = np.exp(x)
        p = np.exp(t) if options.get("log_target") else t
    conversions = ["exp(input): Keras's KLDivergence takes probabilities, kl_div's input is log-probabilities"]
    if options.get("log_target"):
        conversions.append("exp(target): --log-target gives the target as log-probabilities")
    lines += clip_line("Keras", "the target", p, EPSILON, 1, "1")
    lines += clip_line("Keras", "exp(input)", q, EPSILON, 1, "1")
    pc, qc = np.clip(p, EPSILON, 1), np.clip(q, EPSILON, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.sum(pc * np.log(pc / qc), axis=-1)
    k = x.shape[-1]
    if reduction == "mean" and x.ndim >= 1:
        lines += (f"Keras sums over the last axis and divides by the {values.size} remaining "
                  f"{'item' if values.size == 1 else 'items'}, where torch's 'mean' divides by all {x.size} "
                  f"elements (pytorch#6622): the value is torch's mean × {k}",)
    elif reduction == "batchmean" and x.ndim > 2:
        lines += (f"Keras divides by the {values.size} rows of the last axis, torch's batchmean by the "
                  f"batch size {x.shape[0]}",)
    return Outcome(_reduce(values, reduction), tuple(conversions), lines)


def _poisson(tensors, options, reduction, dtype):
    x, t = as_dtype(tensors[:2], _dtype(dtype))
    x, t = np.broadcast_arrays(x, t)
    lines = _last_axis_lines(x, reduction)
    conversions = []
    if options.get("log_input", True):
        with np.errstate(over="ignore"):
            rate = np.exp(x)
        conversions.append("exp(input): with --log-input the input is the log of the rate; Keras's Poisson takes the rate")
        moved = int(np.count_nonzero((t != 0) & (rate < 0.1)))  # where + 1e-7 moves log(rate) by over 1e-6
        if moved:
            lines += (f"Keras takes log(exp(input) + {EPSILON:g}) where torch uses the input itself: it moves "
                      f"the log by more than 1e-6 for {moved} of {t.size} elements",)
    else:
        rate = x
        lines += (f"Keras adds epsilon {EPSILON:g} inside the log where torch adds --eps "
                  f"{options.get('eps', 1e-8):g}",)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.mean(rate - t * np.log(rate + np.array(EPSILON, x.dtype)), axis=-1)
    return Outcome(_reduce(values, reduction), tuple(conversions), lines)


def _dice(tensors, options, reduction, dtype):
    x, t = as_dtype(tensors[:2], _dtype(dtype))
    total = np.sum(t) + np.sum(x) + np.array(EPSILON, x.dtype)
    value = np.array(1, x.dtype) - (np.array(2, x.dtype) * np.sum(t * x)) / total
    n = x.shape[0] if x.ndim >= 2 else 1
    lines = (f"Keras's default axis=None pools all {x.size} elements into one Dice coefficient, where "
             f"losscalc takes one per sample ({plural(n, 'sample')}) and reduces them",
             f"Keras adds epsilon {EPSILON:g} to the denominator only, where losscalc adds --smooth "
             f"{options.get('smooth', 1.0):g} to numerator and denominator")
    if reduction == "sum" and n > 1:
        lines += ("the one pooled value is returned as it is by every reduction, so 'sum' does not add "
                  "per-sample losses",)
    return Outcome(float(value), (), lines)


def _ctc(tensors, options, reduction, dtype):
    blank = int(options.get("blank", 0))
    batch = ctc_batch(tensors, _dtype(dtype))
    lp = batch.log_probs
    t_max = lp.shape[1]
    short = np.flatnonzero(batch.input_lengths != t_max)
    if short.size:
        raise LossError(f"Keras's CTC takes every sequence to be {t_max} frames long (y_pred's time axis); "
                        f"input_lengths of sample {int(short[0])} is {int(batch.input_lengths[short[0]])}. "
                        "It cannot honour shorter input lengths; optax's ctc_loss can.")
    labels, conversions = batch.labels, list(batch.conversions)
    cols = np.arange(labels.shape[1])
    valid = cols[None, :] < batch.target_lengths[:, None]
    if np.any(valid & (labels == blank)):
        raise LossError(f"the targets hold the blank {blank} as a label; Keras's CTC counts its blank (0) "
                        "as padding, so it cannot take them.")
    if blank != 0:  # Keras's blank is class 0: swap classes 0 and blank in the logits and the labels
        order = np.arange(lp.shape[2])
        order[[0, blank]] = [blank, 0]
        lp = lp[:, :, order]
        labels = np.where(labels == 0, blank, np.where(labels == blank, 0, labels))
        conversions.append(f"classes 0 and {blank} swapped in log_probs and targets: Keras's blank is class 0")
    labels = np.where(valid, labels, 0)
    conversions.append("targets padded with 0, Keras's mask index; label lengths are the non-zero counts")
    conversions.append("the log-probabilities given as Keras's logits (Keras takes log_softmax of them, "
                       "which leaves log-probabilities unchanged)")
    per_seq = ctc_forward(lp, labels, batch.input_lengths, np.count_nonzero(valid, axis=1), 0)
    return Outcome(_reduce(per_seq, reduction), tuple(conversions), ctc_lines("Keras", per_seq, lp, reduction))


# --- the data -----------------------------------------------------------------------------

_CLIP = (f"probabilities clipped to [{EPSILON:g}, {CLIP}]: a certain miss costs {-np.log(EPSILON):.4g} "
         "(torch clamps the log at -100, so it costs 100)")
_LAST = "averages over the last axis first: 'mean' is unchanged, 'sum' becomes torch's sum / the last dimension"
_F32 = "computes in float32, even with dtype='float64' (Keras 3 promotes 64-bit to 32-bit off TensorFlow)"


def _eq(loss, function, takes, compute, differences, *, honours=(), conversion="", args=("target", "input"),
        call="", when="", applies=None):
    return Equivalent("keras", loss, f"keras.losses.{function}", args, takes, conversion,
                      REDUCED, tuple(differences) + (_F32,), compute, honours, dict(REDUCTIONS), when, applies,
                      call or f"keras.losses.{function}()(y_true=target, y_pred=input)")


EQUIVALENTS = (
    _eq("mse", "MeanSquaredError", "values", _regression(_mse), (_LAST,)),
    _eq("l1", "MeanAbsoluteError", "values", _regression(_mae), (_LAST,)),
    _eq("huber", "Huber", "values", _regression(_huber), (_LAST,), honours=("delta",),
        call="keras.losses.Huber(delta=delta)(target, input)"),
    _eq("log_cosh", "LogCosh", "values", _regression(_log_cosh), (_LAST,)),
    _eq("bce", "BinaryCrossentropy", "probabilities", _bce(False), (_CLIP, _LAST)),
    _eq("bce_with_logits", "BinaryCrossentropy", "logits", _bce(True),
        ("from_logits=True; Keras's NumPy backend then takes the sigmoid and clips it to "
         f"[{EPSILON:g}, {CLIP}] (its other backends compute from the logits)", _LAST),
        conversion="from_logits=True", call="keras.losses.BinaryCrossentropy(from_logits=True)(target, input)"),
    _eq("multilabel_soft_margin", "BinaryCrossentropy", "logits", _bce(True, per_sample=True),
        ("from_logits=True; Keras's NumPy backend then takes the sigmoid and clips it to "
         f"[{EPSILON:g}, {CLIP}]", "no class weights"),
        conversion="from_logits=True", call="keras.losses.BinaryCrossentropy(from_logits=True)(target, input)"),
    _eq("soft_margin", "BinaryCrossentropy", "logits", _bce(True, signs=True),
        ("from_logits=True, labels (y + 1) / 2 for targets ±1 (others refused); Keras's NumPy backend "
         f"clips sigmoid(input) to [{EPSILON:g}, {CLIP}]", _LAST),
        conversion="from_logits=True; labels (target + 1) / 2",
        call="keras.losses.BinaryCrossentropy(from_logits=True)((target + 1) / 2, input)"),
    _eq("sigmoid_focal", "BinaryFocalCrossentropy", "logits", _focal,
        ("the cross entropy term clips sigmoid(input) to "
         f"[{EPSILON:g}, {CLIP}]", "α weighting only with apply_class_balancing=True, which a non-negative "
         "--alpha sets", _LAST),
        honours=("alpha", "gamma"), conversion="from_logits=True, apply_class_balancing=(alpha >= 0)",
        call="keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=alpha, gamma=gamma, "
             "from_logits=True)(target, input)"),
    _eq("cross_entropy", "CategoricalCrossentropy", "logits", _categorical,
        ("no class weights, no ignored index",),
        honours=("label_smoothing", "ignore_index"), conversion="from_logits=True; the class axis moved last",
        when="class-probability targets (or class indices with --label-smoothing)",
        applies=lambda ts, opts: probability_targets(ts) or bool(opts.get("label_smoothing")),
        call="keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=ls)(target, input)"),
    _eq("cross_entropy", "SparseCategoricalCrossentropy", "logits", _sparse(True),
        ("no class weights; ignore_class stands for --ignore-index",),
        honours=("ignore_index",), conversion="from_logits=True; the class axis moved last",
        when="class-index targets", applies=lambda ts, opts: index_targets(ts),
        call="keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=ignore_index)(target, input)"),
    _eq("nll", "SparseCategoricalCrossentropy", "probabilities", _sparse(False),
        ("exp(input), renormalised to rows summing to 1, then clipped to "
         f"[{EPSILON:g}, {CLIP}]", "no class weights; ignore_class stands for --ignore-index"),
        honours=("ignore_index",), conversion="exp(input): Keras's default takes probabilities",
        call="keras.losses.SparseCategoricalCrossentropy(ignore_class=ignore_index)(target, exp(input))"),
    _eq("kl_div", "KLDivergence", "probabilities", _kl,
        (f"target and exp(input) clipped to [{EPSILON:g}, 1]",
         "sums over the last axis, then averages the rest: torch's 'batchmean' for 2-D inputs, not its 'mean'"),
        honours=("log_target",), conversion="exp(input) (and exp(target) with --log-target)",
        call="keras.losses.KLDivergence()(target, exp(input))"),
    _eq("poisson_nll", "Poisson", "values", _poisson,
        (f"mean(y_pred - y_true·log(y_pred + {EPSILON:g})): epsilon 1e-7 inside the log", _LAST),
        honours=("log_input",), conversion="exp(input) with --log-input (the default)",
        call="keras.losses.Poisson()(target, exp(input))"),
    _eq("dice", "Dice", "probabilities", _dice,
        ("one Dice over the whole batch (axis=None), not one per sample",
         f"epsilon {EPSILON:g} in the denominator only, not --smooth in both"),
        call="keras.losses.Dice()(target, input)"),
    ctc_equivalent(_eq, "CTC", _ctc, (
        "the blank is class 0 and targets are padded with 0; every sequence is y_pred's full length",
        "does not divide by target length: 'mean' is the plain batch mean of per-sequence losses"),
        "targets padded with 0", args=("targets", "log_probs"),
        call="keras.losses.CTC()(y_true=padded targets, y_pred=log_probs.transpose(1, 0, 2))"),
)
