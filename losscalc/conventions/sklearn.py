"""scikit-learn 1.9 (`sklearn.metrics`), reproduced in NumPy.

scikit-learn's metrics take `(y_true, y_pred)` as 1-D or 2-D arrays of finite numbers, compute in
the arrays' own float dtype (float64 unless float32 is asked for) and return a Python float.
`log_loss` takes hard labels and the predicted probabilities, clips the probabilities to
[eps, 1 - eps] with eps the dtype's machine epsilon (2.2e-16 in float64, 1.2e-7 in float32) and
averages (`normalize=True`) or sums (`normalize=False`); since 1.5 it only warns when rows of
probabilities do not sum to 1, it no longer renormalises them.
"""

from __future__ import annotations

import numpy as np

from ..errors import LossError
from ._common import Equivalent, Outcome, as_dtype, class_last, plural, sigmoid, softmax


def _dtype(dtype: str | None) -> str:
    return "float32" if dtype == "float32" else "float64"


def _finite(*arrays) -> None:
    for a in arrays:
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise LossError("scikit-learn's metrics refuse NaN and infinity (check_array raises ValueError); "
                            f"the inputs hold {int(np.count_nonzero(~np.isfinite(a)))} non-finite value(s).")


def _two_d(x: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    if x.ndim <= 2:
        return (x.reshape(1) if x.ndim == 0 else x), ()
    return x.reshape(-1, x.shape[-1]), (f"the {x.ndim}-D tensors reshaped to ({x.size // x.shape[-1]}, {x.shape[-1]}): "
                                        "scikit-learn takes 1-D or 2-D arrays (the mean is unchanged)",)


def _regression(fn):
    def compute(tensors, options, reduction, dtype):
        x, y = as_dtype(tensors[:2], _dtype(dtype))
        x, y = np.broadcast_arrays(x, y)
        _finite(x, y)
        x, conversions = _two_d(x)
        y, _ = _two_d(y)
        per_output = np.mean(fn(y, x), axis=0)  # one error per output column, then their mean
        return Outcome(float(np.mean(per_output)), conversions, ())
    return compute


def _eps_line(p: np.ndarray, labels: np.ndarray, what: str) -> tuple[str, ...]:
    """How many samples' probability of their own label the clipping changed."""
    eps = np.finfo(p.dtype).eps
    own = np.take_along_axis(p, labels[:, None], axis=1)[:, 0] if p.size else p.reshape(0)
    with np.errstate(invalid="ignore"):
        changed = int(np.count_nonzero((own < eps) | (own > 1 - eps)))
    if not changed:
        return ()
    return (f"scikit-learn clips {what} to [eps, 1 - eps], eps = {eps:.3g} ({p.dtype}'s machine epsilon): "
            f"clipping changed {changed} of {own.size} samples' probability of their label (a certain miss "
            f"costs {-np.log(eps):.4g}, where torch's log clamp at -100 costs 100)",)


def _log_loss(columns: np.ndarray, labels: np.ndarray, reduction: str) -> float:
    """log_loss on (n, k) probabilities and integer labels in 0..k-1."""
    eps = np.finfo(columns.dtype).eps
    p = np.clip(columns, eps, 1 - eps)
    with np.errstate(divide="ignore"):
        losses = -np.log(np.take_along_axis(p, labels[:, None], axis=1)[:, 0])
    if reduction == "sum":
        return float(np.sum(losses))
    return float(np.mean(losses)) if losses.size else float("nan")


def _hard_labels(t: np.ndarray) -> np.ndarray:
    hard = (t == 0) | (t == 1)
    if not np.all(hard):
        raise LossError(f"scikit-learn's log_loss takes hard labels 0 and 1; the target holds "
                        f"{int(np.count_nonzero(~hard))} other value(s) (soft labels), which it cannot honour.")
    return t.astype(np.int64).ravel()


def _binary(from_logits: bool):
    def compute(tensors, options, reduction, dtype):
        x, t = as_dtype(tensors[:2], _dtype(dtype))
        x, t = np.broadcast_arrays(x, t)
        _finite(x, t)
        labels = _hard_labels(t)
        p = sigmoid(x).ravel() if from_logits else x.ravel()
        conversions = ["sigmoid(input): log_loss takes probabilities, losscalc's input is logits"] if from_logits else []
        if x.ndim != 1:
            conversions.append(f"the {x.ndim}-D tensors flattened to {x.size} samples")
        conversions.append("y_proba as the probability of class 1, labels=[0, 1]")
        columns = np.stack([1 - p, p], axis=1)
        lines = _eps_line(columns, labels, "sigmoid(input)" if from_logits else "the probabilities")
        return Outcome(_log_loss(columns, labels, reduction), tuple(conversions), lines)
    return compute


def _multiclass(log_probabilities: bool):
    def compute(tensors, options, reduction, dtype):
        x = as_dtype(tensors[:1], _dtype(dtype))[0]
        t = np.asarray(tensors[1])
        if t.shape == x.shape:
            raise LossError("scikit-learn's log_loss takes class labels; these targets are class probabilities, "
                            "which it cannot honour (only cross_entropy with class-index targets has an equivalent).")
        idx = t.astype(np.int64)
        _finite(x)
        conversions = []
        if log_probabilities:
            with np.errstate(over="ignore"):
                p = np.exp(x)
            conversions.append("exp(input): log_loss takes probabilities, nll's input is log-probabilities")
        else:
            p = softmax(x, axis=0 if x.ndim == 1 else 1)
            conversions.append("softmax(input): log_loss takes probabilities, cross_entropy's input is logits")
        c = x.shape[0] if x.ndim == 1 else x.shape[1]
        if p.size and (np.max(p) > 1 or np.min(p) < 0):
            raise LossError(f"scikit-learn's log_loss refuses probabilities above 1 (ValueError); exp(input) "
                            f"reaches {float(np.max(p)):.6g}, so the input is not log-probabilities "
                            "(take log_softmax first).")
        p = class_last(p).reshape(-1, c)
        idx = idx.reshape(-1)
        if x.ndim > 2 or x.ndim == 1:
            conversions.append(f"the input reshaped to ({p.shape[0]}, {c}) rows of class probabilities")
        ignore = options.get("ignore_index", -100)
        keep = idx != ignore
        if not np.all(keep):
            conversions.append(f"the {plural(int(np.count_nonzero(~keep)), 'item')} with target {ignore} dropped, "
                               "as --ignore-index")
            p, idx = p[keep], idx[keep]
        conversions.append(f"labels=range({c})")
        lines = _eps_line(p, idx, "the probabilities")
        sums = np.sum(p, axis=1)
        off = int(np.count_nonzero(~np.isclose(sums, 1, rtol=np.sqrt(np.finfo(p.dtype).eps), atol=0)))
        if off:
            lines += (f"{off} of {sums.size} rows do not sum to 1: scikit-learn warns and, since 1.5, does not "
                      "renormalise them",)
        return Outcome(_log_loss(p, idx, reduction), tuple(conversions), lines)
    return compute


# --- the data -----------------------------------------------------------------------------

REDUCED_MEAN = "the mean over samples (and the uniform average over output columns)"
REDUCED_LOG = "normalize=True: the mean over samples; normalize=False: their sum"
_FINITE = "refuses NaN and infinity"
_EPS = "clips probabilities to [eps, 1 - eps], eps the dtype's machine epsilon: 36.04 for a certain miss in float64, 15.94 in float32 (torch: 100)"


def _eq(loss, function, takes, compute, differences, *, reduced=REDUCED_MEAN, reductions=None, call="",
        conversion="", honours=(), when="", applies=None):
    return Equivalent("sklearn", loss, f"sklearn.metrics.{function}", ("target", "input"), takes, conversion,
                      reduced, tuple(differences) + (_FINITE,), compute, honours,
                      dict(reductions or {"mean": "mean"}), when, applies,
                      call or f"sklearn.metrics.{function}(target, input)")


_LOG_REDUCTIONS = {"mean": "normalize=True", "sum": "normalize=False"}

EQUIVALENTS = (
    _eq("mse", "mean_squared_error", "values", _regression(lambda y, x: (y - x) ** 2), ()),
    _eq("l1", "mean_absolute_error", "values", _regression(lambda y, x: np.abs(y - x)), ()),
    _eq("bce", "log_loss", "probabilities", _binary(False),
        (_EPS, "takes hard labels 0 and 1 only"), reduced=REDUCED_LOG, reductions=_LOG_REDUCTIONS,
        call="sklearn.metrics.log_loss(target.ravel(), input.ravel(), labels=[0, 1])"),
    _eq("bce_with_logits", "log_loss", "probabilities", _binary(True),
        (_EPS, "takes probabilities: it gets sigmoid(input)", "takes hard labels 0 and 1 only"),
        reduced=REDUCED_LOG, reductions=_LOG_REDUCTIONS, conversion="sigmoid(input)",
        call="sklearn.metrics.log_loss(target.ravel(), sigmoid(input).ravel(), labels=[0, 1])"),
    _eq("cross_entropy", "log_loss", "probabilities", _multiclass(False),
        (_EPS, "takes probabilities: it gets softmax(input)", "class labels only (no probability targets), "
         "no class weights, no label smoothing"),
        reduced=REDUCED_LOG, reductions=_LOG_REDUCTIONS, conversion="softmax(input)", honours=("ignore_index",),
        when="class-index targets", call="sklearn.metrics.log_loss(target, softmax(input), labels=range(C))"),
    _eq("nll", "log_loss", "probabilities", _multiclass(True),
        (_EPS, "takes probabilities: it gets exp(input)", "no class weights"),
        reduced=REDUCED_LOG, reductions=_LOG_REDUCTIONS, conversion="exp(input)", honours=("ignore_index",),
        call="sklearn.metrics.log_loss(target, exp(input), labels=range(C))"),
)
