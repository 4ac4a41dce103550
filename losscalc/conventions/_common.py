"""What the three framework modules share: the data types, the numerics they all need (sigmoid,
log-softmax, moving the class axis last) and the few input conversions (CTC's targets).

Nothing here imports a framework: Keras, optax and scikit-learn are test oracles only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import LossError


@dataclass(frozen=True)
class Outcome:
    """What a compute function returns: the value, the conversions it made to the inputs, and
    one line for every way the value differs from PyTorch's on these inputs."""

    value: float
    conversions: tuple[str, ...] = ()
    differences: tuple[str, ...] = ()


@dataclass(frozen=True)
class Equivalent:
    """One framework's own loss for one losscalc loss, on the same quantities.

    framework: "torch", "keras", "optax" or "sklearn".
    loss: the losscalc loss name (`registry.Loss.name`).
    function: the framework's callable, fully named (`keras.losses.BinaryCrossentropy`).
    args: the framework's positional arguments as losscalc's tensor names, in the
          framework's order (Keras: `("target", "input")`, i.e. `(y_true, y_pred)`).
    takes: the form of the prediction the framework takes: "values", "probabilities",
          "logits" or "log_probabilities".
    conversion: how losscalc's tensors are turned into the framework's arguments.
    reduction: how the framework reduces, in words.
    differences: one line per way the framework's value differs from PyTorch's, in general
          (the result of `convention_value` says which of them apply to given inputs).
    compute: `compute(tensors, options, reduction, dtype) -> Outcome`, pure NumPy; None for
          torch, whose value is losscalc's own.
    honours: the losscalc options the framework takes into account. Any other option of the
          loss must be at losscalc's default, or `convention_value` refuses.
    reductions: losscalc reduction -> the framework's (e.g. `"mean": "sum_over_batch_size"`).
    when: the tensor form this equivalent is for ("" for any); `applies(tensors, options)` decides.
    call: the framework call as one would write it, for `explain`.
    """

    framework: str
    loss: str
    function: str
    args: tuple[str, ...]
    takes: str
    conversion: str
    reduction: str
    differences: tuple[str, ...]
    compute: Callable[..., Outcome] | None
    honours: tuple[str, ...] = ()
    reductions: dict = field(default_factory=lambda: {"mean": "mean"})
    when: str = ""
    applies: Callable[[list, dict], bool] | None = None
    call: str = ""


@dataclass(frozen=True)
class NearMiss:
    """A framework function that looks like a losscalc loss but computes something else; for
    `explain` to mention, and for `--convention` to refuse."""

    framework: str
    loss: str
    function: str
    why: str


# --- tensor forms -------------------------------------------------------------------------

def probability_targets(tensors) -> bool:
    """cross_entropy's rule: a target of the input's shape holds class probabilities."""
    return tensors[1].shape == tensors[0].shape


def index_targets(tensors) -> bool:
    return not probability_targets(tensors)


def signs_to_labels(t: np.ndarray) -> np.ndarray:
    """soft_margin's targets ±1 as binary labels; other targets make log(1 + exp(-y x)) a
    function BCE does not compute, so they are refused."""
    pm1 = (t == 1) | (t == -1)
    if not np.all(pm1):
        raise LossError(f"soft_margin equals binary cross entropy on logits only for targets ±1 (as labels "
                        f"(y + 1) / 2); the target holds {int(np.count_nonzero(~pm1))} other value(s).")
    return (t + 1) / 2


def as_dtype(tensors, dtype: str) -> list[np.ndarray]:
    """Float tensors in the computing dtype; index tensors as they are."""
    return [np.asarray(t, dtype) if np.asarray(t).dtype.kind == "f" else np.asarray(t) for t in tensors]


def class_last(x: np.ndarray) -> np.ndarray:
    """PyTorch's (N, C, d1, ..., dk) with the class axis moved last, as the frameworks take it
    (a (C) or (N, C) input is returned as it is)."""
    return np.moveaxis(x, 1, -1) if x.ndim > 2 else x


def soft_cross_entropy(x: np.ndarray, target, smoothing: float, framework: str, smoother: str):
    """-Σ_c t_c log_softmax(x)_c over the class axis, as Keras's CategoricalCrossentropy(from_logits=True)
    and optax's softmax_cross_entropy compute it: class indices one-hot encoded (so that `smoother`,
    the framework's label smoothing, applies as torch's does), the class axis 1 moved last, the
    labels smoothed to t (1 - smoothing) + smoothing / C. Returns the values and the conversions."""
    conversions = []
    if np.shape(target) != x.shape:  # class indices (with label smoothing)
        c = x.shape[1] if x.ndim > 1 else x.shape[0]
        one_hot = np.eye(c, dtype=x.dtype)[np.asarray(target, np.int64)]
        t = np.moveaxis(one_hot, -1, 1) if x.ndim > 1 else one_hot
        conversions.append(f"the class indices one-hot encoded, so that {smoother} applies as torch's smoothing does")
    else:
        t = np.asarray(target, x.dtype)
    if x.ndim > 2:
        conversions.append(f"the class axis 1 moved last ({framework}'s axis=-1)")
    x, t = class_last(x), class_last(t)
    if smoothing:
        t = t * np.array(1 - smoothing, x.dtype) + np.array(smoothing, x.dtype) / np.array(x.shape[-1], x.dtype)
    return -np.sum(t * log_softmax(x, -1), axis=-1), conversions


def sigmoid(x: np.ndarray) -> np.ndarray:
    one = np.array(1, x.dtype)
    with np.errstate(over="ignore"):
        return one / (one + np.exp(-x))


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        top = np.where(np.isfinite(top), top, 0)
        return x - top - np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.exp(log_softmax(x, axis))


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log σ(x) = -softplus(-x), with softplus(z) = logaddexp(z, 0)."""
    return -np.logaddexp(-x, np.array(0, x.dtype))


def mean_of(values: np.ndarray) -> float:
    """The mean of per-example values in their own dtype (nan for none, as jnp.mean gives)."""
    if values.size == 0:
        return float("nan")
    return float(np.sum(values) / np.array(values.size, values.dtype))


def count_outside(p: np.ndarray, low: float, high: float) -> int:
    with np.errstate(invalid="ignore"):
        return int(np.count_nonzero((p < low) | (p > high)))


def clip_line(framework: str, what: str, p: np.ndarray, low: float, high: float, high_text: str) -> tuple[str, ...]:
    """"clipping to [1e-07, 1 - 1e-07] changed 3 of 8 probabilities", or nothing."""
    changed = count_outside(p, low, high)
    if not changed:
        return ()
    return (f"{framework} clips {what} to [{low:g}, {high_text}]: clipping changed {changed} of {p.size} "
            f"{'value' if p.size == 1 else 'values'}",)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# --- CTC -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CTCBatch:
    """CTC inputs in the frameworks' batch-major layout: log_probs (N, T, C), labels (N, S)
    right-padded with `pad`, and the lengths."""

    log_probs: np.ndarray
    labels: np.ndarray
    input_lengths: np.ndarray
    target_lengths: np.ndarray
    conversions: tuple[str, ...]


def ctc_batch(tensors, dtype: str, pad: int = 0) -> CTCBatch:
    """PyTorch's CTC tensors ((T, N, C) or (T, C) log_probs; padded (N, S), concatenated or
    unbatched targets; lengths) as the frameworks take them, log_probs in `dtype`."""
    log_probs, targets, input_lengths, target_lengths = tensors
    conversions = []
    batched = log_probs.ndim == 3
    if not batched:
        log_probs = log_probs[:, None, :]
        targets = np.asarray(targets).reshape(1, -1)
        input_lengths = np.asarray(input_lengths).reshape(1)
        target_lengths = np.asarray(target_lengths).reshape(1)
        conversions.append("the unbatched (T, C) log_probs made a batch of one")
    n = log_probs.shape[1]
    il = np.asarray(input_lengths, np.int64).reshape(n)
    tl = np.asarray(target_lengths, np.int64).reshape(n)
    targets = np.asarray(targets, np.int64)
    width = int(tl.max()) if tl.size else 0
    if targets.ndim == 1 and batched:
        if targets.size != int(tl.sum()):
            raise LossError(f"the concatenated targets hold {targets.size} labels but target_lengths add up "
                            f"to {int(tl.sum())}.")
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]])
        cols = np.arange(max(width, 1))
        take = np.minimum(starts[:, None] + cols[None, :], max(targets.size - 1, 0))
        labels = targets[take] if targets.size else np.zeros((n, max(width, 1)), np.int64)
        conversions.append(f"the concatenated targets padded to ({n}, {max(width, 1)})")
    else:
        labels = targets[:, :max(width, 1)] if targets.shape[1] else np.zeros((n, 1), np.int64)
    cols = np.arange(labels.shape[1])
    labels = np.where(cols[None, :] < tl[:, None], labels, pad)
    conversions.insert(0, "log_probs transposed from PyTorch's time-major (T, N, C) to (N, T, C)")
    return CTCBatch(np.asarray(np.transpose(log_probs, (1, 0, 2)), dtype), labels, il, tl, tuple(conversions))


def infeasible_line(framework: str, per_seq: np.ndarray) -> tuple[str, ...]:
    """Sequences no alignment can produce: torch gives inf (or 0 with --zero-infinity), the
    frameworks' log 0 of -1e5 gives a large finite loss."""
    stuck = int(np.count_nonzero(per_seq > 1e4))
    if not stuck:
        return ()
    return (f"{plural(stuck, 'sequence')} cannot be aligned to {'its' if stuck == 1 else 'their'} target: "
            f"{framework}'s log 0 of -1e5 gives a loss near {float(np.max(per_seq)):.4g}, where torch gives inf",)


# how `ctc_forward` (optax's CTC, and Keras's, which follows it) differs from torch's, whatever the inputs
CTC_DIFFERENCES = ("takes logits and applies log_softmax, which log-probabilities pass unchanged",
                   "log 0 is approximated by log_epsilon = -1e5, so an impossible alignment costs about 1e5, not inf")


def ctc_equivalent(eq, function: str, compute, differences: tuple[str, ...], conversion: str, **fields) -> Equivalent:
    """The CTC equivalent of a framework that computes CTC as `ctc_forward` does (optax, Keras):
    it takes logits, honours --blank, gets log_probs batch-major (`ctc_batch`) and then as its
    `conversion` says, and differs from torch as CTC_DIFFERENCES say, then as its own
    `differences` say. `eq` is the framework's Equivalent maker."""
    return eq("ctc", function, "logits", compute, (*CTC_DIFFERENCES, *differences), honours=("blank",),
              conversion=f"log_probs (T, N, C) -> (N, T, C); {conversion}", **fields)


def ctc_lines(framework: str, per_seq: np.ndarray, log_probs: np.ndarray, reduction: str) -> tuple[str, ...]:
    """How a `ctc_forward` value differs from torch's on these inputs: sequences no alignment can
    produce, a mean not divided by the target lengths, log-probabilities that are not log-softmaxed."""
    lines = infeasible_line(framework, per_seq)
    if reduction == "mean":
        lines += (f"{framework}'s per-sequence losses are not divided by their target lengths, as torch's 'mean' does",)
    if log_probs.size and not np.allclose(np.logaddexp.reduce(log_probs, axis=-1), 0, atol=1e-4):
        lines += (f"log_probs are not log-softmaxed: {framework} normalises them (log_softmax), "
                  "torch uses them as given",)
    return lines


def ctc_forward(logits: np.ndarray, labels: np.ndarray, input_lengths: np.ndarray,
                target_lengths: np.ndarray, blank: int, log_epsilon: float = -1e5) -> np.ndarray:
    """Per-sequence CTC negative log-likelihoods as optax (and Keras, which follows it) compute
    them: log-softmax over the classes, then a forward pass over two lattices of states, one
    for "after the n-th label, in a blank" (n = 0..S) and one for "on the n-th label", in log
    space, with `log_epsilon` standing for log 0 (so an impossible alignment costs about 1e5,
    not infinity). Frames at or past a sequence's input length leave its states unchanged.

    logits (N, T, C), labels (N, S), lengths (N); returns (N) in the logits' dtype. Loops over
    time only.
    """
    dtype = logits.dtype
    n, t_max, c = logits.shape
    s = labels.shape[1]
    eps = np.array(log_epsilon, dtype)
    logp = log_softmax(logits, -1)
    lp_blank = logp[:, :, blank]  # (N, T)
    lp_label = np.take_along_axis(logp, np.clip(labels, 0, c - 1)[:, None, :].repeat(t_max, 1), axis=2)  # (N, T, S)
    same_as_next = np.zeros((n, s), dtype)
    same_as_next[:, :-1] = labels[:, :-1] == labels[:, 1:]

    blank_state = np.full((n, s + 1), eps, dtype)
    blank_state[:, 0] = 0
    label_state = np.full((n, s), eps, dtype)

    def leave_label(blank_state, amount):
        out = blank_state.copy()
        out[:, 1:] = np.logaddexp(blank_state[:, 1:], amount)
        return out

    for t in range(t_max):
        live = (t < input_lengths)[:, None]
        # leaving a label for its blank state without a frame, unless the next label repeats it
        entered = leave_label(blank_state, label_state + eps * same_as_next)
        new_label = np.logaddexp(entered[:, :-1], label_state) + lp_label[:, t]
        new_blank = entered + lp_blank[:, t, None]
        # a repeated label must pass through a blank frame
        new_blank = leave_label(new_blank, label_state + lp_blank[:, t, None] + eps * (1 - same_as_next))
        label_state = np.where(live, new_label, label_state)
        blank_state = np.where(live, new_blank, blank_state)
    final = leave_label(blank_state, label_state)
    return -np.take_along_axis(final, target_lengths[:, None].astype(np.int64), axis=1)[:, 0]
