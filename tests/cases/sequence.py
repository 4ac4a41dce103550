"""Differential cases for losscalc/kernels/sequence.py (CTC)."""

import numpy as np

from . import Case

LOSSES = ["ctc"]
REDUCTIONS = ["none", "mean", "sum"]


def log_softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def batch(rng, T, N, C, S, *, blank=0, concatenated=False, min_input=0, repeats=False, target_lengths=None):
    """Random log-probs, labels avoiding the blank, random lengths (some 0), PyTorch's order."""
    log_probs = log_softmax(rng.normal(size=(T, N, C)) * 2)
    labels = rng.integers(0, C - 1, size=(N, S))
    labels = labels + (labels >= blank)  # never the blank
    if repeats:
        labels[:, 1::2] = labels[:, 0::2][:, : S // 2]  # pairs "a a b b ...": one blank between each
    input_lengths = rng.integers(min_input, T + 1, size=N)
    if target_lengths is None:
        target_lengths = rng.integers(0, S + 1, size=N)
    target_lengths = np.asarray(target_lengths)
    if concatenated:
        targets = labels[np.arange(S) < target_lengths[:, None]]
    else:
        targets = np.where(np.arange(S) < target_lengths[:, None], labels, -1)  # padding is never read
    return [log_probs, targets, input_lengths, target_lengths]


def unbatched(rng, T, C, S, *, two_d=False, lengths_1=False):
    log_probs, targets, il, tl = batch(rng, T, 1, C, S, concatenated=not two_d, min_input=S)
    il, tl = (il, tl) if lengths_1 else (il[0], tl[0])
    return [log_probs[:, 0], targets, np.asarray(il), np.asarray(tl)]


def cases(rng):
    out = []
    for reduction in REDUCTIONS:
        out += [
            Case("ctc", batch(rng, 12, 4, 6, 4), {}, reduction),
            Case("ctc", batch(rng, 15, 5, 7, 5, blank=6, concatenated=True), {"blank": 6}, reduction),
            Case("ctc", batch(rng, 10, 3, 5, 4, blank=2, repeats=True, min_input=6), {"blank": 2}, reduction),
            Case("ctc", unbatched(rng, 9, 5, 3), {}, reduction),
            Case("ctc", unbatched(rng, 9, 5, 3, two_d=True, lengths_1=True), {}, reduction),
        ]
        for zero_infinity in (False, True):  # sample 0 cannot be aligned: 3 labels + 1 repeat in 3 frames
            log_probs, targets, il, tl = batch(rng, 8, 3, 5, 4, min_input=5)
            targets[0, :3], il[0], tl[0] = [2, 2, 3], 3, 3
            out.append(Case("ctc", [log_probs, targets, il, tl], {"zero_infinity": zero_infinity}, reduction))
    log_probs, targets, il, tl = batch(rng, 6, 3, 4, 3, min_input=3)
    il[1], tl[1], tl[2] = 0, 0, 0  # no frames and no labels: loss 0; frames but no labels: -Σ log p(blank)
    out.append(Case("ctc", [log_probs, targets, il, tl], {}, "none"))
    long_lp, long_tg, long_il, long_tl = batch(rng, 1000, 2, 4, 120, min_input=900, target_lengths=[120, 97])
    out.append(Case("ctc", [long_lp, long_tg, long_il, long_tl], {}, "mean"))  # T = 1000
    out.append(Case("ctc", [long_lp[:300], long_tg, np.minimum(long_il, 300), long_tl], {}, "none"))
    blank_label = batch(rng, 7, 2, 4, 3, min_input=5, target_lengths=[3, 2])
    blank_label[1][0, 0] = 0  # a label equal to the blank (PyTorch computes)
    out.append(Case("ctc", blank_label, {}, "none"))
    beyond = batch(rng, 7, 2, 4, 3, min_input=5, target_lengths=[3, 1])
    beyond[1][0, 1] = 4  # label C: PyTorch reads log_probs[t, 1, 0] (contiguous memory)
    out.append(Case("ctc", beyond, {}, "none"))
    logits = batch(rng, 6, 2, 5, 2, min_input=3)
    logits[0] = rng.normal(size=(6, 2, 5))  # not log-softmaxed: PyTorch computes anyway
    out.append(Case("ctc", logits, {}, "sum"))
    return out


def error_cases(rng):
    lp, tg, il, tl = batch(rng, 6, 2, 5, 3, min_input=4, target_lengths=[3, 2])
    cat = tg[np.arange(3) < tl[:, None]]
    return [
        Case("ctc", [lp, tg, np.array([6, 7]), tl]),  # input length > T
        Case("ctc", [lp, tg[:, :2], il, tl]),  # padded targets shorter than a target length
        Case("ctc", [lp, tg, il, tl], {"blank": 5}),  # blank outside [0, C)
        Case("ctc", [lp, tg, il, tl], {"blank": -1}),
        Case("ctc", [lp, tg, np.array([4, -1]), tl]),  # negative lengths
        Case("ctc", [lp, tg, il, np.array([-1, 2])]),
        Case("ctc", [lp[:0], tg, np.array([0, 0]), tl]),  # empty log_probs
        Case("ctc", [lp[:, :, :0], tg, il, tl]),
        Case("ctc", [lp, tg, np.array([6, 5, 4]), tl]),  # lengths not matching the batch
        Case("ctc", [lp, tg, il, np.array([3])]),
        Case("ctc", [lp, cat[:-1], il, tl]),  # concatenated targets of the wrong length
        Case("ctc", [lp, np.concatenate([cat, cat[:1]]), il, tl]),
        Case("ctc", [lp, tg[:1], il, tl]),  # padded targets with the wrong number of rows
        Case("ctc", [lp[:, 0], cat[:2], il[:1], tl[:1]]),  # unbatched 1-D targets are exactly S long
        Case("ctc", [lp[None], tg, il, tl]),  # 4-D log_probs
        Case("ctc", [lp, tg[None], il, tl]),  # 3-D targets
    ]


def torch_value(F, case, tensors, options):
    return F.ctc_loss(*tensors, reduction=case.reduction, **options)
