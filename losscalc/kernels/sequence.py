"""Sequence losses: CTC, the loss of an unsegmented label sequence under per-frame class scores.

The forward algorithm runs in log space over the extended label sequence (the target with a
blank before, between and after its labels: 2S+1 states), vectorised over the batch and the
states and looping over time only. The same lattice with max in place of log-sum-exp gives the
most probable alignment (Viterbi) for the breakdown.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import LossError, warn
from ..registry import Loss, Option, Tensor
from .common import CHUNK_ITEMS, CHUNK_START, KernelOut, check_probabilities, first_index, first_value, shape_str
from .ctc_lattice import Lattice, backward, end_score, extended, forward, logsumexp_at, stray_writes

_SHOWN = 3  # samples named in a warning before "and k more"
_PATH_CELLS = 2**25  # the best path keeps two bits per frame, sample and state: at most 64 MB


def ctc(log_probs, targets, input_lengths, target_lengths, *, blank=0, zero_infinity=False):
    """Connectionist temporal classification (CTC): -log of the summed probability of the target's alignments.

    Formula:
        l_n = -log Σ_{π ∈ B⁻¹(y_n)} Π_{t < T_n} p_t(π_t)
        B collapses an alignment π (one class per frame): merge repeats, then drop blanks.
        Computed by the forward algorithm over y_n with blanks interleaved (2 S_n + 1 states);
        T_n = input_lengths[n], S_n = target_lengths[n], p_t = exp(log_probs[t, n]).
        mean = Σ_n l_n / max(S_n, 1) / N  (each loss divided by its target length first)
        --grad, as PyTorch's CTC backward: ∂value/∂log_probs[t, n, c] = (p_t(c) - γ_t(c)) · ∂value/∂l_n
        for t < T_n, and 0 after; γ_t(c) is the posterior of class c at frame t (forward-backward).
        That is the gradient with respect to the activations before log_softmax, as PyTorch gives it.
        (With respect to log_probs as free variables it would be -γ_t(c) · ∂value/∂l_n.)

    Shape:
        log_probs (T, N, C) or unbatched (T, C), log-softmaxed over C;
        targets padded (N, S) with S >= max(target_lengths), or concatenated
        (sum(target_lengths)) (an unbatched 1-D target is concatenated: exactly S_n labels);
        input_lengths and target_lengths (N), or () / (1) unbatched;
        output (N), or () unbatched or reduced.

    Args:
        log_probs: log-softmaxed class scores per frame, (T, N, C) or (T, C).
        targets: the label sequences, padded (N, S) or concatenated 1-D (class indices).
        input_lengths: T_n, the frames used per sample.
        target_lengths: S_n, the labels per sample.
        blank: the class index of the blank (default 0).
        zero_infinity: give 0 instead of inf where no alignment exists (default False).

    References:
        torch.nn.CTCLoss, torch.nn.functional.ctc_loss;
        Graves et al., "Connectionist Temporal Classification", ICML 2006.
    """
    lp, labels, il, tl, batched = _validate(log_probs, targets, input_lengths, target_lengths, blank)
    N = lp.shape[1]
    _warn_labels(labels, il, tl, blank, lp.shape, targets.ndim, batched)
    _warn_not_log_softmaxed(lp, il, batched)
    lat = Lattice(lp, *extended(labels, blank), il, tl)
    final, _ = forward(lat)
    loss = np.empty(N, lp.dtype)
    loss[lat.order] = -end_score(final, lat.tl)
    _warn_infeasible(loss, il, tl, labels, zero_infinity, batched)
    nll = loss.copy()  # what the backward divides by, before --zero-infinity
    if zero_infinity:
        loss[loss == np.inf] = 0
    divisor = np.maximum(tl, 1).astype(lp.dtype)
    share = loss / divisor
    terms = {"input len": il, "target len": tl, "target": _join_rows(labels, _first(tl, labels.shape[1]), blank),
             "l/max(len,1)": share}
    notes = []
    if lat.steps * lat.base.size <= _PATH_CELLS:  # the Viterbi pass runs only if a term is shown
        paths = functools.cache(lambda: _best_paths_by_sample(lat, blank))
        for name in _PATH_TERMS:
            terms[name] = functools.partial(lambda name: paths()[name], name)
    else:
        notes.append(f"best paths not shown: the lattice has {lat.steps * lat.base.size} cells "
                     f"(frames × samples × states), more than the {_PATH_CELLS} the breakdown keeps.")
    squeeze = (lambda a: a) if batched else (lambda a: a.reshape(()))

    def gradient(g):
        grad = _gradient(lat, lp, il, nll, zero_infinity, np.reshape(g, N))
        return {"log_probs": grad if batched else grad[:, 0]}

    return KernelOut(
        squeeze(loss),
        {k: (lambda v=v: squeeze(v())) if callable(v) else squeeze(v) for k, v in terms.items()},
        mean_divisor=squeeze(divisor),
        denominator=N,
        numerator_label="Σ l/max(len,1)",
        denominator_label="N",
        notes=notes,
        shown_inputs=(),  # targets need not line up with samples; the terms show each sample's
        backward=gradient,
    )


def _gradient(lat, lp, il, nll, zero_infinity, g):
    """∂value/∂log_probs as PyTorch's CTC backward gives it, for g = ∂value/∂l_n:

        (exp(log_probs[t, n, c]) - posterior_t(c)) g_n  for t < T_n, 0 for t >= T_n,

    the posterior as `ctc_lattice.backward` computes it. Where PyTorch's formula meets inf - inf
    it gives nan, and so does this: every frame in use of a sample whose loss is inf (no
    alignment) or nan, and every entry whose log-probability is -inf. --zero-infinity zeroes
    the gradient of the samples it zeroes.
    """
    lp = np.asarray(lp)  # (a chunk read a frame at a time is read whole here: the gradient is its size)
    T, N, C = lp.shape
    grad = np.zeros(lp.shape, lp.dtype)
    seen = backward(lat, nll, grad.reshape(T, N * C))
    zeroed = (nll == np.inf) & zero_infinity
    if seen.size:
        _warn_stray_gradient()
        (at, x, m), late = stray_writes(lat, seen, nll, zeroed, T)
        np.subtract.at(grad.reshape(-1), at, np.exp(x + nll[m] - lat.flat[at]))
    used = np.arange(T)[:, None] < il  # (T, N): the frames in use
    grad[used & (np.isnan(nll) | (nll == np.inf))] = np.nan
    if not lp.min() > -np.inf:  # -inf or nan somewhere
        grad[used[:, :, None] & (lp == -np.inf)] = np.nan
    if seen.size:
        # where the sample's own terms are all -inf but a write from another sample is not,
        # PyTorch's exp(lp) - exp(log Σ + nll - lp) meets no inf - inf: written out as it is
        odd = np.isnan(nll[m]) | (nll[m] == np.inf) | (lat.flat[at] == -np.inf)
        cells, inv = np.unique(at[odd], return_inverse=True)
        res = logsumexp_at(inv, x[odd], np.full(cells.size, -np.inf, lp.dtype))
        lpc = lat.flat[cells]
        grad.reshape(-1)[cells] = np.exp(lpc) - np.exp(res + nll[(cells // C) % N] - lpc)
    grad *= g[:, None]
    grad[:, zeroed] = 0
    if seen.size:
        late(grad.reshape(-1))
    return grad


def _warn_stray_gradient():
    warn("--grad: PyTorch's CTC backward adds the gradient of a label outside [0, C) into the entry it "
         "read (another sample's or frame's), which that sample's own backward may overwrite or has "
         "already finished; losscalc gives what PyTorch gives on one thread. With several threads "
         "PyTorch's own result changes from run to run.")


def _first(lengths, width):
    """(N, width) mask of each row's first lengths[n] positions."""
    return np.arange(width) < lengths[:, None]


def _validate(log_probs, targets, input_lengths, target_lengths, blank):
    """The checks PyTorch makes, in plain words; returns (T,N,C) log-probs and (N, max S) labels."""
    if log_probs.ndim not in (2, 3):
        raise LossError(f"log_probs must be (T, N, C) or, unbatched, (T, C); got shape {shape_str(log_probs.shape)}.")
    batched = log_probs.ndim == 3
    lp = log_probs if batched else log_probs[:, None, :]
    T, N, C = lp.shape
    if lp.size == 0:
        raise LossError(f"log_probs {shape_str(log_probs.shape)} is empty; it needs at least one frame, "
                        "one sample and one class (PyTorch refuses it too).")
    if not 0 <= blank < C:
        raise LossError(f"--blank {blank} is not a class of log_probs: with C={C} classes it must be 0 to {C - 1}.")
    il, tl = input_lengths.reshape(-1), target_lengths.reshape(-1)
    for name, lengths in (("input_lengths", il), ("target_lengths", tl)):
        if lengths.size != N:
            what = f"the batch has N={N} samples" if batched else "unbatched log_probs hold one sample"
            raise LossError(f"{name} has {lengths.size} value(s), but {what} (log_probs "
                            f"{shape_str(log_probs.shape)}); give one length per sample.")
        negative = lengths < 0
        if negative.any():
            (n,) = first_index(negative)
            raise LossError(f"{name}[{n}] is {int(first_value(lengths, negative))}: a length cannot be negative.")
    too_long = il > T
    if too_long.any():
        (n,) = first_index(too_long)
        raise LossError(f"input_lengths[{n}] is {int(first_value(il, too_long))}, but log_probs has only T={T} "
                        f"frames (sample {n}); an input length can be at most T.")
    S = int(tl.max())
    if targets.ndim == 2:
        if targets.shape[0] != N:
            raise LossError(f"padded targets {shape_str(targets.shape)} must have one row per sample, N={N}.")
        if targets.shape[1] < S:
            (n,) = first_index(tl == S)
            raise LossError(f"padded targets {shape_str(targets.shape)} have {targets.shape[1]} columns, but "
                            f"target_lengths[{n}] is {S} (sample {n}): each row needs at least "
                            "max(target_lengths) columns.")
        labels = targets[:, :S]
    elif targets.ndim == 1:
        total = int(tl.sum())
        if targets.shape[0] != total:
            raise LossError(f"concatenated targets hold {targets.shape[0]} labels, but target_lengths add "
                            f"up to {total}; a 1-D targets tensor must hold exactly sum(target_lengths) labels.")
        at = np.cumsum(tl)[:, None] - tl[:, None] + np.arange(S)  # sample n's labels start at Σ_{m<n} S_m
        labels = targets[np.minimum(at, total - 1)] if total else np.zeros((N, 0), np.int64)
    else:
        raise LossError(f"targets must be padded (N, S) or concatenated 1-D; got shape {shape_str(targets.shape)}.")
    labels = np.where(_first(tl, S), labels, blank)  # padding past S_n: never read
    return lp, labels, il, tl, batched


def _first_label(mask, tl, ndim, batched) -> tuple[int, int, str]:
    """The first label `mask` (N, S) marks: its sample and position in the arrays at hand, and
    where it sits in the user's targets tensor. Padded targets (N, S) are sliced along the batch
    like log_probs' N, so the sample is counted in the whole batch; concatenated 1-D targets are
    sliced by offsets, so their position is counted from the first label the kernel was given
    (the whole tensor's when it is not chunked)."""
    n, j = first_index(mask, None)
    sample = first_index(mask, 0)[0]
    if ndim == 2:
        return n, j, f"targets[{sample}, {j}]" + (f" (sample {sample})" if batched else "")
    return n, j, f"targets[{int(tl[:n].sum()) + j}]" + (f" (sample {sample}, label {j})" if batched else "")


def _warn_labels(labels, il, tl, blank, shape, ndim, batched):
    """Labels PyTorch takes silently: the blank (ambiguous) and classes outside [0, C)."""
    T, N, C = shape
    used = _first(tl, labels.shape[1])
    odd = used & ((labels < 0) | (labels >= C))
    if odd.any():
        n, j, where = _first_label(odd, tl, ndim, batched)
        lab = int(labels[n, j])
        flat = n * C + lab
        # PyTorch reads log_probs[t] at offset n*C + label: label j at t = 0 (if j == 0) and 1..T_n-1.
        first = np.where(np.arange(labels.shape[1]) == 0, 0, 1)[None, :]
        read = odd & (il[:, None] > first)
        offs = np.arange(N)[:, None] * C + labels
        outside = read & ((first * N * C + offs < 0) | ((il[:, None] - 1) * N * C + offs >= T * N * C))
        if outside.any():
            m, k, there = _first_label(outside, tl, ndim, batched)
            raise LossError(f"{there} is {int(labels[m, k])}, outside the "
                            f"{C} classes of log_probs (0 to {C - 1}); PyTorch would read memory outside "
                            "log_probs, so the loss has no defined value. Labels must be 0 to C-1.")
        t, rest = divmod(flat, N * C)
        frame = f"t{f' + {t}' if t > 0 else f' - {-t}' if t < 0 else ''}"
        there = f"log_probs[{frame}, {rest // C}, {rest % C}]" if batched else f"log_probs[{frame}, {rest}]"
        warn(f"{where} is {lab}, outside the {C} classes of log_probs "
             f"(0 to {C - 1}){_more(int(odd.sum()))}. PyTorch does not check this: it reads whatever lies "
             f"at that offset in memory (here {there}), so its loss is meaningless; losscalc reproduces it "
             "for a contiguous tensor. Labels must be 0 to C-1 and differ from the blank.")
    same = used & (labels == blank)
    if same.any():
        warn(f"{_first_label(same, tl, ndim, batched)[2]} is {blank}, the blank{_more(int(same.sum()))}. "
             "PyTorch computes anyway, but a blank label cannot be told apart from a gap between labels; "
             "did you mean another --blank, or labels shifted by one?")


def _more(count: int) -> str:
    return f", and {count - 1} more such label(s)" if count > 1 else ""


LOG_CHECK = 1 << 16  # exp(log_probs) is checked to sum to 1 over the frames of this many log-probabilities


def _warn_not_log_softmaxed(lp, il, batched):
    """Frames in use whose probabilities do not sum to 1: logits or probabilities given by
    mistake, which show in every frame. Checked on each chunk's first frames, up to LOG_CHECK
    log-probabilities (a bounded sample, which the message says when it is one)."""
    T, N, C = lp.shape
    k = min(T, max(1, LOG_CHECK // (N * C)))
    head = np.asarray(lp[:k])
    in_use = np.arange(k)[:, None] < il[None, :]  # (k, N)
    rows = "frame(s) in use"
    if k < T or CHUNK_ITEMS.get() is not None:
        first = CHUNK_START.get()
        rows += f" checked (frames 0 to {k - 1} of samples {first} to {first + N - 1})" if batched else \
            f" checked (frames 0 to {k - 1})"
    check_probabilities(head if batched else head[:, 0], "log_probs",
                        "CTC expects log_softmax over the classes; PyTorch computes anyway. Did you pass logits "
                        "or probabilities? Apply log_softmax over C.", log=True, rows=rows,
                        in_use=in_use if batched else in_use[:, 0], batch_axis=1 if batched else None)


def _warn_infeasible(loss, il, tl, labels, zero_infinity, batched):
    """Warn about samples whose input is too short for any alignment, and other infinite losses."""
    repeats = ((labels[:, 1:] == labels[:, :-1]) & (np.arange(1, labels.shape[1]) < tl[:, None])).sum(1)
    needed = tl + repeats
    short = il < needed
    if short.any():
        outcome = "set to 0 by --zero-infinity" if zero_infinity else "inf (PyTorch gives inf too; --zero-infinity makes it 0)"
        first = CHUNK_START.get()  # samples are named by their index in the whole batch
        named = [f"{f'sample {first + n}' if batched else 'the target'} needs {int(needed[n])} frames ({int(tl[n])} "
                 f"label(s) + {int(repeats[n])} repeated pair(s), each needing a blank between) but "
                 f"input_lengths{f'[{first + n}]' if batched else ''} gives {int(il[n])}"
                 for n in np.flatnonzero(short)[:_SHOWN]]
        more = f"; and {int(short.sum()) - _SHOWN} more sample(s)" if short.sum() > _SHOWN else ""
        warn(f"no alignment exists: {'; '.join(named)}{more}. The loss is {outcome}.")
    dead = ~short & (loss == np.inf)
    if dead.any():
        warn(f"sample(s) {', '.join(str(CHUNK_START.get() + int(n)) for n in np.flatnonzero(dead)[:_SHOWN])}: every alignment "
             "passes through a log-probability of -inf, so the loss is inf"
             + (" (set to 0 by --zero-infinity)." if zero_infinity else "."))


_PATH_TERMS = ("best path", "collapsed", "-log p(best)")


def _best_paths_by_sample(lat, blank) -> dict[str, np.ndarray]:
    """_best_paths with the samples back in their own order."""
    out = {}
    for name, value in _best_paths(lat, blank).items():
        out[name] = np.empty_like(value)
        out[name][lat.order] = value
    return out


def _best_paths(lat, blank):
    """The most probable alignment of each sample (Viterbi over the same lattice; samples in the
    lattice's order), raw and run-length coded ("_×2 3×2 _ 1") and collapsed ("3 1"), and its -log p."""
    final, (up1, up2) = forward(lat, viterbi=True)
    il, tl, ext = lat.il, lat.tl, lat.ext
    score = end_score(final, tl, viterbi=True)
    rows = np.arange(len(il))
    end = np.where(final[rows, np.maximum(2 * tl - 1, 0)] > final[rows, 2 * tl], 2 * tl - 1, 2 * tl)
    steps, active = lat.steps, lat.active
    path = np.zeros((len(il), steps), np.intp)
    for t in range(steps - 1, -1, -1):  # back from each sample's last frame
        j, k = active[t + 1], active[t]
        path[j:k, t] = end[j:k]  # the samples whose last frame is t
        if j:
            after = path[:j, t + 1]
            at = lat.cell(rows[:j], after)
            path[:j, t] = after - np.where(up2[t + 1, at], 2, up1[t + 1, at])
    keep = _first(il, steps)
    moved = np.ones(path.shape, bool)
    moved[:, 1:] = path[:, 1:] != path[:, :-1]
    emitted = keep & (path % 2 == 1) & moved  # a label state entered: what the alignment emits
    labels = np.take_along_axis(ext, path, 1)
    none = ~(score > -np.inf)
    return {
        "best path": np.where(none, "(none)", _run_lengths(labels, keep, blank)),
        "collapsed": np.where(none, "(none)", _join_rows(labels, emitted, blank)),
        "-log p(best)": -score,
    }


def _run_lengths(labels, keep, blank):
    """Rows of labels (the kept frames, a prefix of each row) as runs: "_×5 1×3 _ 3×2"."""
    change = np.ones(labels.shape, bool)
    change[:, 1:] = labels[:, 1:] != labels[:, :-1]
    starts = keep & change
    frame = np.arange(labels.shape[1])
    ends = np.where(keep, frame, -1).max(axis=1, initial=-1) + 1  # each row's frames in use (none: T_n = 0)
    # a run lasts until the next start in its row, or the row's end
    next_start = np.where(starts, frame, labels.shape[1])[:, ::-1]
    next_start = np.minimum.accumulate(next_start, axis=1)[:, ::-1]
    after = np.concatenate([next_start[:, 1:], np.full((len(labels), 1), labels.shape[1])], axis=1)
    length = np.minimum(after, ends[:, None]) - frame
    times = np.where(length > 1, np.char.add("×", length.astype(str)), "")
    return _join_rows(labels, starts, blank, times)


def _join_rows(labels, keep, blank, suffix=None):
    """Rows of labels as text, keeping the marked ones (each followed by its `suffix`): one join
    for the whole batch, split at markers."""
    classes, at = np.unique(labels, return_inverse=True)  # format each class once
    tokens = np.where(classes == blank, "_", classes.astype(str))[at.reshape(labels.shape)]
    if suffix is not None:
        tokens = np.char.add(tokens, suffix)
    marked = np.concatenate([tokens, np.full((len(labels), 1), "\n")], axis=1)
    keep = np.concatenate([keep, np.ones((len(labels), 1), bool)], axis=1)
    rows = " ".join(marked[keep].tolist()).split("\n")[:-1]
    return np.char.strip(np.array(rows, dtype=str))


LOSSES = [
    Loss(
        "ctc",
        ctc,
        (
            Tensor("log_probs", help="(T, N, C) or (T, C) log-softmaxed class scores per frame", frames=True),
            Tensor("targets", "index", help="label sequences, padded (N, S) or concatenated 1-D"),
            Tensor("input_lengths", "index", help="frames used per sample, (N) or ()"),
            Tensor("target_lengths", "index", help="labels per sample, (N) or ()"),
        ),
        (
            Option("blank", int, 0, "the class index of the blank"),
            Option("zero_infinity", bool, False, "give 0 instead of inf when no alignment exists"),
        ),
        aliases=("CTCLoss", "ctc_loss"),
        layout="ctc",
        torch="CTCLoss",
        legacy=False,
        example="'[[-0.5108,-1.204,-2.3026],[-2.3026,-0.2231,-2.3026],[-0.3567,-2.3026,-1.6094],"
                "[-1.6094,-2.3026,-0.3567]]' 1,2 4 2",
        pitfalls=(
            "mean is not the mean of the losses: each sample's loss is first divided by its target "
            "length (at least 1), then those are averaged over the batch; use --reduction sum for the total.",
            "log_probs must be log_softmax output over the classes (T, N, C: time first); raw logits or "
            "probabilities are computed without complaint by PyTorch and give a meaningless loss.",
            "the blank is class 0 by default; target labels must not use it, and must be below C. PyTorch "
            "does not check: a label of C or more reads another sample's log-probabilities, and losscalc "
            "gives that same (meaningless) number with a warning; one that would read outside log_probs exits 2.",
            "a target needs one frame per label plus one per repeated pair (\"1 1\" needs a blank between); "
            "shorter inputs give inf (or 0 with --zero-infinity).",
        ),
    ),
]
