"""Sequence losses: CTC, the loss of an unsegmented label sequence under per-frame class scores.

The forward algorithm runs in log space over the extended label sequence (the target with a
blank before, between and after its labels: 2S+1 states), vectorised over the batch and the
states and looping over time only. The same lattice with max in place of log-sum-exp gives the
most probable alignment (Viterbi) for the breakdown.
"""

from __future__ import annotations

import numpy as np

from ..errors import LossError, warn
from ..registry import Loss, Option, Tensor
from .common import KernelOut, shape_str

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

    Shape:
        log_probs (T, N, C) or unbatched (T, C), log-softmaxed over C;
        targets padded (N, S) with S >= max(target_lengths), or concatenated
        (sum(target_lengths)) (an unbatched 1-D target is concatenated: exactly S_n labels);
        input_lengths and target_lengths (N), or () / (1) unbatched;
        output (N), or () unbatched or reduced.

    References:
        torch.nn.CTCLoss, torch.nn.functional.ctc_loss;
        Graves et al., "Connectionist Temporal Classification", ICML 2006.
    """
    lp, labels, il, tl, batched = _validate(log_probs, targets, input_lengths, target_lengths, blank)
    T, N, C = lp.shape
    _warn_labels(labels, il, tl, blank, lp.shape, targets.ndim, batched)
    _warn_not_log_softmaxed(lp, il, batched)
    ext, skip = _extended(labels, blank)
    order = np.argsort(-il, kind="stable")  # longest inputs first: the active samples are a prefix
    flat = np.ascontiguousarray(lp).reshape(-1)
    base = order[:, None] * C + ext[order]  # flat offset of log_probs[0, n, ext[n, s]], read as PyTorch does
    lattice = (flat, base, skip[order], il[order])
    final, _ = _sweep(*lattice, N * C, viterbi=False)
    loss = np.empty(N, lp.dtype)
    loss[order] = -_end_score(final, tl[order])
    _warn_infeasible(loss, il, tl, labels, zero_infinity, batched)
    if zero_infinity:
        loss[loss == np.inf] = 0
    divisor = np.maximum(tl, 1).astype(lp.dtype)
    share = loss / divisor
    terms = {"input len": il, "target len": tl, "target": _join_rows(labels, _first(tl, labels.shape[1]), blank),
             "l/max(len,1)": share}
    notes = []
    if int(il.max()) * base.size <= _PATH_CELLS:
        for name, value in _best_paths(*lattice, tl[order], ext[order], blank, N * C).items():
            terms[name] = np.empty_like(value)
            terms[name][order] = value
    else:
        notes.append(f"best paths not shown: the lattice has {int(il.max()) * base.size} cells "
                     f"(frames × samples × states), more than the {_PATH_CELLS} the breakdown keeps.")
    squeeze = (lambda a: a) if batched else (lambda a: a.reshape(()))
    return KernelOut(
        squeeze(loss),
        {k: squeeze(v) for k, v in terms.items()},
        mean_divisor=squeeze(divisor),
        denominator=N,
        numerator_label="Σ l/max(len,1)",
        denominator_label="N",
        notes=notes,
        shown_inputs=(),  # targets need not line up with samples; the terms show each sample's
    )


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
        if (lengths < 0).any():
            n = int(np.argmax(lengths < 0))
            raise LossError(f"{name}[{n}] is {int(lengths[n])}: a length cannot be negative.")
    if (il > T).any():
        n = int(np.argmax(il > T))
        raise LossError(f"input_lengths[{n}] is {int(il[n])}, but log_probs has only T={T} frames "
                        f"(sample {n}); an input length can be at most T.")
    S = int(tl.max())
    if targets.ndim == 2:
        if targets.shape[0] != N:
            raise LossError(f"padded targets {shape_str(targets.shape)} must have one row per sample, N={N}.")
        if targets.shape[1] < S:
            n = int(np.argmax(tl))
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


def _where(n, j, tl, ndim, batched) -> str:
    """Where label j of sample n sits in the user's targets tensor."""
    if ndim == 2:
        return f"targets[{n}, {j}]" + (f" (sample {n})" if batched else "")
    return f"targets[{int(tl[:n].sum()) + j}]" + (f" (sample {n}, label {j})" if batched else "")


def _warn_labels(labels, il, tl, blank, shape, ndim, batched):
    """Labels PyTorch takes silently: the blank (ambiguous) and classes outside [0, C)."""
    T, N, C = shape
    used = _first(tl, labels.shape[1])
    odd = used & ((labels < 0) | (labels >= C))
    if odd.any():
        n, j = (int(i) for i in np.argwhere(odd)[0])
        lab = int(labels[n, j])
        flat = n * C + lab
        # PyTorch reads log_probs[t] at offset n*C + label: label j at t = 0 (if j == 0) and 1..T_n-1.
        first = np.where(np.arange(labels.shape[1]) == 0, 0, 1)[None, :]
        read = odd & (il[:, None] > first)
        offs = np.arange(N)[:, None] * C + labels
        outside = read & ((first * N * C + offs < 0) | ((il[:, None] - 1) * N * C + offs >= T * N * C))
        if outside.any():
            m, k = (int(i) for i in np.argwhere(outside)[0])
            raise LossError(f"{_where(m, k, tl, ndim, batched)} is {int(labels[m, k])}, outside the "
                            f"{C} classes of log_probs (0 to {C - 1}); PyTorch would read memory outside "
                            "log_probs, so the loss has no defined value. Labels must be 0 to C-1.")
        t, rest = divmod(flat, N * C)
        frame = f"t{f' + {t}' if t > 0 else f' - {-t}' if t < 0 else ''}"
        there = f"log_probs[{frame}, {rest // C}, {rest % C}]" if batched else f"log_probs[{frame}, {rest}]"
        warn(f"{_where(n, j, tl, ndim, batched)} is {lab}, outside the {C} classes of log_probs "
             f"(0 to {C - 1}){_more(int(odd.sum()))}. PyTorch does not check this: it reads whatever lies "
             f"at that offset in memory (here {there}), so its loss is meaningless; losscalc reproduces it "
             "for a contiguous tensor. Labels must be 0 to C-1 and differ from the blank.")
    same = used & (labels == blank)
    if same.any():
        n, j = (int(i) for i in np.argwhere(same)[0])
        warn(f"{_where(n, j, tl, ndim, batched)} is {blank}, the blank{_more(int(same.sum()))}. "
             "PyTorch computes anyway, but a blank label cannot be told apart from a gap between labels; "
             "did you mean another --blank, or labels shifted by one?")


def _more(count: int) -> str:
    return f", and {count - 1} more such label(s)" if count > 1 else ""


def _warn_not_log_softmaxed(lp, il, batched):
    """Frames in use whose probabilities do not sum to 1: logits or probabilities given by mistake."""
    with np.errstate(all="ignore"):
        total = np.exp(lp).sum(axis=2)  # (T, N)
    in_use = np.arange(lp.shape[0])[:, None] < il[None, :]
    bad = in_use & ~(np.abs(total - 1) <= 1e-3) & ~np.isnan(total)
    if bad.any():
        t, n = (int(i) for i in np.argwhere(bad)[0])
        frame = f"log_probs[{t}, {n}, :]" if batched else f"log_probs[{t}, :]"
        warn(f"log_probs: {int(bad.sum())} of the {int(in_use.sum())} frames in use do not log-sum-exp to 0 "
             f"(first: Σ exp({frame}) = {total[t, n]:.6g}). CTC expects log_softmax over the classes; "
             "PyTorch computes anyway. Did you pass logits or probabilities? Apply log_softmax over C.")


def _extended(labels, blank):
    """The extended labels (blank, y1, blank, y2, ..., blank) and the additive skip mask: 0 where
    state s may be entered from s-2 (a label unlike the one before it), -inf elsewhere."""
    N, S = labels.shape
    ext = np.full((N, 2 * S + 1), blank, np.int64)
    ext[:, 1::2] = labels
    skip = np.full(ext.shape, -np.inf)
    skip[:, 2:][ext[:, 2:] != ext[:, :-2]] = 0.0
    return ext, skip


def _sweep(flat, base, skip, il, stride, *, viterbi):
    """The recursion over time for samples sorted by input length (longest first).

    alpha_t(s) = lse(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2) + skip(s)) + log p_t(ext(s)),
    or max in place of lse (viterbi), which also records the winning move at each frame and
    position: `up1` (from s-1 rather than s) and `up2` (from s-2, over both).
    Returns each sample's row at its last frame, t = T_n - 1 (alpha_{-1} = [0, -inf, ...]).

    Layout: alpha is one flat buffer of rows of W = L + 2, two -inf pads before each sample's L
    states, so s, s-1 and s-2 are three 1-D views (1-D ufuncs are several times cheaper than
    strided 2-D ones). Pads are computed with the rest, then set back to -inf.
    """
    n, L = base.shape
    W, dt = L + 2, flat.dtype
    steps = int(il[0]) if n else 0
    active = _active(il, steps)
    # exp and log are several times slower on -inf, 0 and results that underflow; so the shift is
    # never -inf and differences stop at `low`, where exp still gives a normal number that cannot
    # change a sum holding exp(0) = 1 (the largest term): exact, and fast.
    floor, low = np.finfo(dt).min, np.log(np.finfo(dt).tiny) + 1
    rows = [np.full(n * W, -np.inf, dt) for _ in range(2)]  # alpha_{t-1} and alpha_t, by turns
    grid = [r.reshape(n, W) for r in rows]
    at = np.empty((n, W), base.dtype)  # where each position reads log_probs[0]; pads: anywhere valid
    at[:, :2], at[:, 2:] = base[:, :1], base
    sk = np.full((n, W), -np.inf, dt)
    sk[:, 2:] = skip
    at, sk = at.reshape(-1), sk.reshape(-1)
    m, c, e, x, g = (np.empty(n * W, dt) for _ in range(5))
    idx = np.empty(n * W, base.dtype)
    up1, up2 = (np.zeros((steps, n * W), bool) for _ in range(2)) if viterbi else (None, None)
    final = np.full((n, L), -np.inf, dt)
    if not steps:
        final[:, 0] = 0.0  # T_n = 0: the empty alignment
        return final, (up1, up2)
    final[active[0]:, 0] = 0.0
    k = active[0]
    grid[0][:k, 2:4] = flat.take(base[:k, :2], mode="clip")  # t = 0: the blank or the first label
    final[active[1]:k] = grid[0][active[1]:k, 2:]  # T_n = 1
    cached = None
    for t in range(1, steps):
        k = active[t]
        if k != cached:  # views of the first k samples, made again only when a sample ends
            cached, hi = k, k * W
            shifts = [(r[2:hi], r[1:hi - 1], r[:hi - 2]) for r in rows]  # states s, s-1, s-2
            mk, ck, ek, xk, gk, ik, ak, sk_k = m[2:hi], c[2:hi], e[2:hi], x[2:hi], g[2:hi], idx[2:hi], at[2:hi], sk[2:hi]
        x1, x2, x3 = shifts[(t - 1) % 2]
        np.add(x3, sk_k, out=xk)
        np.add(ak, t * stride, out=ik)
        flat.take(ik, out=gk, mode="clip")
        np.maximum(x1, x2, out=mk)
        if viterbi:
            np.greater(x2, x1, out=up1[t, 2:hi])
            np.greater(xk, mk, out=up2[t, 2:hi])
            np.maximum(mk, xk, out=mk)
        else:  # lse = m + log Σ exp(max(x - c, low)), c = max(m, floor): never exp of -inf or nan from -inf
            np.maximum(mk, xk, out=mk)
            np.maximum(mk, floor, out=ck)
            _exp_diff(x1, ck, low, ek)
            _exp_diff(xk, ck, low, xk)
            np.add(ek, xk, out=ek)
            _exp_diff(x2, ck, low, xk)
            np.add(ek, xk, out=ek)
            np.log(ek, out=ek)
            np.add(mk, ek, out=mk)  # m itself, so every term -inf gives -inf + log p, as PyTorch
        np.add(mk, gk, out=shifts[t % 2][0])
        grid[t % 2][1:k, :2] = -np.inf  # the pads, computed with the rest
        final[active[t + 1]:k] = grid[t % 2][active[t + 1]:k, 2:]
    return final, (up1, up2)


def _exp_diff(x, shift, low, out):
    """out = exp(max(x - shift, low))"""
    np.subtract(x, shift, out=out)
    np.maximum(out, low, out=out)
    np.exp(out, out=out)


def _active(il, steps):
    """active[t]: how many samples (sorted by input length, longest first) have T_n > t; active[steps] = 0."""
    return np.append(np.searchsorted(-il, -np.arange(steps), side="left"), 0)


def _end_score(final, tl, viterbi=False):
    """Log-sum-exp (or max) of the last two states, 2S_n and 2S_n - 1 (state 0 alone when S_n = 0)."""
    rows = np.arange(final.shape[0])
    last = final[rows, 2 * tl]
    prev = np.where(tl > 0, final[rows, np.maximum(2 * tl - 1, 0)], -np.inf).astype(final.dtype)
    if viterbi:
        return np.maximum(last, prev)
    m = np.maximum(np.maximum(last, prev), np.finfo(final.dtype).min)
    return np.where(tl > 0, np.log(np.exp(last - m) + np.exp(prev - m)) + m, last)  # S_n = 0: state 0 as it is


def _warn_infeasible(loss, il, tl, labels, zero_infinity, batched):
    """Warn about samples whose input is too short for any alignment, and other infinite losses."""
    repeats = ((labels[:, 1:] == labels[:, :-1]) & (np.arange(1, labels.shape[1]) < tl[:, None])).sum(1)
    needed = tl + repeats
    short = il < needed
    if short.any():
        outcome = "set to 0 by --zero-infinity" if zero_infinity else "inf (PyTorch gives inf too; --zero-infinity makes it 0)"
        named = [f"{f'sample {n}' if batched else 'the target'} needs {int(needed[n])} frames ({int(tl[n])} "
                 f"label(s) + {int(repeats[n])} repeated pair(s), each needing a blank between) but "
                 f"input_lengths{f'[{n}]' if batched else ''} gives {int(il[n])}"
                 for n in np.flatnonzero(short)[:_SHOWN]]
        more = f"; and {int(short.sum()) - _SHOWN} more sample(s)" if short.sum() > _SHOWN else ""
        warn(f"no alignment exists: {'; '.join(named)}{more}. The loss is {outcome}.")
    dead = ~short & (loss == np.inf)
    if dead.any():
        warn(f"sample(s) {', '.join(str(int(n)) for n in np.flatnonzero(dead)[:_SHOWN])}: every alignment "
             "passes through a log-probability of -inf, so the loss is inf"
             + (" (set to 0 by --zero-infinity)." if zero_infinity else "."))


def _best_paths(flat, base, skip, il, tl, ext, blank, stride):
    """The most probable alignment of each sample (Viterbi over the same lattice; samples sorted
    as for the forward pass), raw ("_ 3 3 _ 1") and collapsed ("3 1"), and its -log p."""
    final, (up1, up2) = _sweep(flat, base, skip, il, stride, viterbi=True)
    score = _end_score(final, tl, viterbi=True)
    rows = np.arange(len(il))
    end = np.where(final[rows, np.maximum(2 * tl - 1, 0)] > final[rows, 2 * tl], 2 * tl - 1, 2 * tl)
    steps = up1.shape[0]
    active = _active(il, steps)
    path = np.zeros((len(il), steps), np.intp)
    for t in range(steps - 1, -1, -1):  # back from each sample's last frame
        j, k = active[t + 1], active[t]
        path[j:k, t] = end[j:k]  # the samples whose last frame is t
        if j:
            after = path[:j, t + 1]
            at = rows[:j] * (ext.shape[1] + 2) + 2 + after  # the flat position of (sample, state)
            path[:j, t] = after - np.where(up2[t + 1, at], 2, up1[t + 1, at])
    keep = _first(il, steps)
    moved = np.ones(path.shape, bool)
    moved[:, 1:] = path[:, 1:] != path[:, :-1]
    emitted = keep & (path % 2 == 1) & moved  # a label state entered: what the alignment emits
    labels = np.take_along_axis(ext, path, 1)
    none = ~(score > -np.inf)
    return {
        "best path": np.where(none, "(none)", _join_rows(labels, keep, blank)),
        "collapsed": np.where(none, "(none)", _join_rows(labels, emitted, blank)),
        "-log p(best)": -score,
    }


def _join_rows(labels, keep, blank):
    """Rows of labels as text, keeping the marked ones: one join for the whole batch, split at markers."""
    classes, at = np.unique(labels, return_inverse=True)  # format each class once
    tokens = np.where(classes == blank, "_", classes.astype(str))[at.reshape(labels.shape)]
    marked = np.concatenate([tokens, np.full((len(labels), 1), "\n")], axis=1)
    keep = np.concatenate([keep, np.ones((len(labels), 1), bool)], axis=1)
    rows = " ".join(marked[keep].tolist()).split("\n")[:-1]
    return np.char.strip(np.array(rows, dtype=str))


LOSSES = [
    Loss(
        "ctc",
        ctc,
        (
            Tensor("log_probs", help="(T, N, C) or (T, C) log-softmaxed class scores per frame"),
            Tensor("targets", "index", help="label sequences, padded (N, S) or concatenated 1-D"),
            Tensor("input_lengths", "index", help="frames used per sample, (N) or ()"),
            Tensor("target_lengths", "index", help="labels per sample, (N) or ()"),
        ),
        (
            Option("blank", int, 0, "the class index of the blank"),
            Option("zero_infinity", bool, False, "give 0 instead of inf when no alignment exists"),
        ),
        aliases=("CTCLoss", "ctc_loss"),
        torch="CTCLoss",
        legacy=False,
        example="'[[-0.5108,-1.204,-2.3026],[-2.3026,-0.2231,-2.3026],[-0.3567,-2.3026,-1.6094],"
                "[-1.6094,-2.3026,-0.3567]]' 1,2 4 2",
        pitfalls=(
            "mean is not the mean of the losses: each sample's loss is first divided by its target "
            "length (at least 1), then those are averaged over the batch; use --reduction sum for the total.",
            "log_probs must be log_softmax output over the classes (T, N, C: time first); raw logits or "
            "probabilities are computed without complaint by PyTorch and give a meaningless loss.",
            "the blank is class 0 by default; target labels must not use it, and must be below C.",
            "a target needs one frame per label plus one per repeated pair (\"1 1\" needs a blank between); "
            "shorter inputs give inf (or 0 with --zero-infinity).",
        ),
    ),
]
