"""Margin classification losses: scores over C classes against a class index (multi-class
hinge) or a set of labels (multi-label hinge and soft margin)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import LossError, warn
from ..registry import Loss, Option, Tensor, one_of
from .common import KernelOut, at_index, broadcast, check_class_indices, first_index, first_value, row_blocks, shape_str
from .classification import CHUNK, CLASS_WEIGHT, class_weight, lazy


def _matrix(input: np.ndarray, loss: str) -> np.ndarray:
    """input (), (C) or (N, C) with C ≥ 1, as (N, C), as PyTorch's multi-margin losses accept it."""
    if input.ndim > 2 or (input.ndim >= 1 and input.shape[-1] == 0):
        raise LossError(f"input {shape_str(input.shape)}: {loss} expects (C) or (N, C) scores with C ≥ 1.")
    return input.reshape(1, -1) if input.ndim < 2 else input


_P = Option("p", int, 1, "the power of the hinge", one_of(1, 2, why="the only powers PyTorch supports"))


def multi_margin(input, target, *, p=1, margin=1.0, weight=None):
    """Multi-class hinge loss: the target class's score should beat every other by `margin`.

    Formula:
        l_n = Σ_{i ≠ y_n} w_{y_n} max(0, margin - x_{n,y_n} + x_{n,i})^p / C      (p = 1 or 2)
        mean = Σ l_n / N

    Shape:
        input (C) or (N, C); target () or (1) for (C), (N) for (N, C), class indices in [0, C);
        weight (C); output (N) (or () for a scalar target), or () when reduced.

    Args:
        input: scores over C classes.
        target: class indices.
        p: the power of the hinge, 1 or 2 (default 1).
        margin: the margin by which the target's score should win (default 1.0).
        weight: per-class weights w_c (C), or None; mean = Σ w_y·l / Σ w_y.

    References:
        torch.nn.MultiMarginLoss, torch.nn.functional.multi_margin_loss
    """
    _P.check(p)
    x = _matrix(input, "multi_margin")
    n, c = x.shape
    if target.ndim > 1 or target.size != n:
        raise LossError(f"target {shape_str(target.shape)} should be 1-D with one class index per item of "
                        f"input {shape_str(input.shape)}: shape ({n},).")
    weight = class_weight(weight, c)
    if target.size and not (target.min() >= 0 and target.max() < c):
        check_class_indices(target, c, "target")
    y = target.reshape(n)
    x_y = _at(x, y)
    wy = None if weight is None else weight[y]
    total = np.empty(n, x.dtype)
    ones = np.ones(c, x.dtype)
    for r, z in _class_margins(x, x_y, y, margin):
        np.fmax(z, 0, out=z)  # NaN margins count as 0, as in PyTorch's `if (z > 0)`
        if p == 2:
            np.multiply(z, z, out=z)
        np.dot(z, ones, out=total[r])  # a BLAS product: faster than z.sum(axis=1)
    if wy is not None:
        total *= wy
    elements = total / x.dtype.type(c)

    def violations():
        counts = np.empty(n, np.int64)
        for r, z in _class_margins(x, x_y, y, margin):
            np.sum(z > 0, axis=1, out=counts[r])
        return counts

    terms = {"x[y]": x_y, "violations": lazy(violations)}
    if wy is not None:
        terms["weight"] = wy
    shape = (n,) if target.ndim else ()
    return KernelOut(elements.reshape(shape), {k: _reshaped(v, shape) for k, v in terms.items()},
                     backward=_multi_margin_backward(x, x_y, y, p, margin, wy, input.shape))


def _at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x[i, y_i] for x (N, C)."""
    if x.flags.c_contiguous:
        return x.reshape(-1)[np.arange(0, x.size, x.shape[1]) + y]
    return x[np.arange(x.shape[0]), y]


def _reshaped(v, shape):
    return (lambda: v().reshape(shape)) if callable(v) else v.reshape(shape)


def _class_margins(x, x_y, y, margin):
    """Blocks of about CHUNK elements of rows r with the margins z_i = margin - x_y + x_i (rows, C),
    in PyTorch's order of operations, and 0 at the target class (which PyTorch skips), in a
    buffer reused from block to block."""
    n, c = x.shape
    blocks = row_blocks(n, c, CHUNK)
    buf = np.empty((blocks[0].stop if blocks else 0, c), x.dtype)
    shift = x.dtype.type(margin) - x_y
    for r in blocks:
        z = np.add(x[r], shift[r, None], out=buf[: r.stop - r.start])
        z.reshape(-1)[np.arange(0, z.size, c) + y[r]] = 0
        yield r, z


def _multi_margin_backward(x, x_y, y, p, margin, wy, shape):
    """∂l_n/∂x_{n,i} = h_i for i ≠ y_n and -Σ_i h_i at y_n, where h_i = w_{y_n} (1 or 2 z_i) / C for the
    violated margins z_i = margin - x_{n,y_n} + x_{n,i} > 0 (strictly: a margin exactly at the hinge
    and a NaN margin give 0, as PyTorch's `if (z > 0)` in MultiMarginCriterion.cpp)."""
    n, c = x.shape
    dt = x.dtype

    def backward(g):
        scale = np.reshape(g, n).astype(dt, copy=False) / dt.type(c)
        if wy is not None:
            scale = scale * wy
        out = np.empty((n, c), dt)
        for r, z in _class_margins(x, x_y, y, margin):
            h, violated = out[r], z > 0
            h.fill(0)  # where no margin is violated, 0 even for an inf or NaN g (PyTorch's `if`)
            if p == 1:
                np.copyto(h, scale[r, None], where=violated)
            else:
                np.multiply(z, 2 * scale[r, None], out=h, where=violated)
            h.reshape(-1)[np.arange(0, h.size, c) + y[r]] = -h.sum(axis=1)  # z = 0 there: h held 0
        return {"input": out.reshape(shape)}

    return backward


def multilabel_margin(input, target):
    """Multi-label hinge loss: every target class should beat every non-target class by 1.

    Formula:
        l_n = Σ_{j: target labels} Σ_{i: not a target} max(0, 1 - (x_{n,y_{n,j}} - x_{n,i})) / C
        (the target labels of a row are its entries before the first -1)
        mean = Σ l_n / N

    Shape:
        input (C) or (N, C); target of the same shape, class indices in [0, C) padded with -1
        (e.g. [3, 0, -1, 1] means classes 3 and 0); output (N), or () for (C) or when reduced.

    Args:
        input: scores over C classes.
        target: the class indices of each row, padded with -1 (the first -1 ends the row's labels).

    References:
        torch.nn.MultiLabelMarginLoss, torch.nn.functional.multilabel_margin_loss
    """
    x = _matrix(input, "multilabel_margin")
    n, c = x.shape
    ok = target.shape == input.shape if input.ndim == 2 else (target.ndim <= 1 and target.size == c)
    if not ok:
        raise LossError(f"target {shape_str(target.shape)} should have the input's shape {shape_str(input.shape)}: "
                        "one row of labels per item, padded with -1.")
    if target.size and not (target.min() >= -1 and target.max() < c):
        bad = (target < -1) | (target >= c)
        raise LossError(f"target: label {int(first_value(target, bad))}{at_index(first_index(bad))} is out of "
                        f"range; expected class indices 0 to {c - 1}, or -1 to end a row's labels.")
    y = target.reshape(n, c)
    neg = y < 0
    labels = np.where(neg.any(axis=1), neg.argmax(axis=1), c)  # the entries before the first -1
    total, ones = np.zeros(n, x.dtype), np.ones(c, x.dtype)
    for r, xs, a, order, ends, _, z in _label_blocks(x, y, labels):
        acc = np.zeros(len(order), x.dtype)
        for s, p in enumerate(ends):
            b = _margins(xs, a, s, p, z)
            np.fmax(b, 0, out=b)  # NaN margins count as 0, as PyTorch's `if (z > 0)`
            acc[:p] += b @ ones  # a BLAS product: faster than b.sum(axis=1)
        total[r][order] = acc
    shape = (n,) if input.ndim == 2 else ()
    elements = (total / x.dtype.type(c)).reshape(shape)
    return KernelOut(elements, {"labels": labels.reshape(shape)},
                     backward=_multilabel_margin_backward(x, y, labels, input.shape))


def _label_blocks(x, y, labels):
    """Blocks of about CHUNK elements of rows r of x (N, C), each with what the margins
    z_k = 1 - x_{y_s} + x_k of its label slots s need, the rows reordered by their number of
    labels, most first (`order`), so that slot s is a prefix of ends[s] rows:
    xs: the block's scores in that order with every label's own class set to -inf (a label
    is no non-label: its margins are -inf or NaN, and count 0), a: 1 - x_{y_s} (rows, slots),
    ys: the labels (rows, slots; 0 past a row's labels), z: a scratch buffer for the margins.
    Rows without labels are left out (their loss is 0)."""
    n, c = x.shape
    blocks = row_blocks(n, c, CHUNK)
    buf, z = (np.empty((blocks[0].stop if blocks else 0, c), x.dtype) for _ in range(2))
    for r in blocks:
        counts = labels[r]
        t = int(counts.max()) if counts.size else 0
        if t == 0:
            continue
        order = np.argsort(-counts, kind="stable")
        counts = counts[order]
        ends = np.searchsorted(-counts, -np.arange(t), side="left")  # rows with more than s labels
        xs = np.take(x[r], order, axis=0, out=buf[: len(order)])
        slot = np.arange(t) < counts[:, None]
        ys = np.where(slot, y[r][order, :t], 0)
        a = x.dtype.type(1) - np.take_along_axis(xs, ys, axis=1)
        xs[np.nonzero(slot)[0], ys[slot]] = -np.inf
        yield r, xs, a, order, ends, ys, z


def _margins(xs, a, s, p, z):
    """z = (1 - x_{y_s}) + x_k (PyTorch's order of operations) for the first p rows of a block, in z."""
    return np.add(xs[:p], a[:p, s, None], out=z[:p])


def _multilabel_margin_backward(x, y, labels, shape):
    """∂l_n/∂x_{n,k} = (#counted margins with k as the non-label - #counted margins of the labels
    equal to k) / C: each counted margin adds 1/C to its non-label and takes 1/C from its label,
    as MultiLabelMarginCriterion.cpp accumulates them (a repeated label counts each time)."""
    n, c = x.shape
    dt = x.dtype

    def backward(g):
        scale = np.reshape(g, (n, 1)).astype(dt, copy=False) / dt.type(c)
        out = np.zeros((n, c), dt)
        for r, xs, a, order, ends, ys, z in _label_blocks(x, y, labels):
            grad = np.zeros((len(order), c), dt)
            for s, p in enumerate(ends):
                counted = _margins(xs, a, s, p, z) > 0  # NaN and the labels' own -inf: not counted
                grad[:p] += counted
                grad[np.arange(p), ys[:p, s]] -= counted.sum(axis=1)
            grad *= scale[r][order]
            out[r][order] = grad
        return {"input": out.reshape(shape)}

    return backward


def multilabel_soft_margin(input, target, *, weight=None):
    """Multi-label one-versus-all logistic loss, averaged over the classes.

    Formula:
        l_n = -Σ_c w_c [y_{n,c} log σ(x_{n,c}) + (1 - y_{n,c}) log σ(-x_{n,c})] / C
        mean = Σ l_n / N

    Shape:
        input (N, C) or (C); target of the input's shape with values in [0, 1] (usually 0 or 1);
        weight (C); output (N), or () for (C) or when reduced. (As in PyTorch, target and weight
        are broadcast with the input, and the loss is summed over dimension input.ndim - 1.)

    Args:
        input: scores (logits) over C classes.
        target: 0 or 1 per class.
        weight: per-class weights w_c (C), or None.

    References:
        torch.nn.MultiLabelSoftMarginLoss, torch.nn.functional.multilabel_soft_margin_loss
    """
    if input.ndim == 0:
        raise LossError("input must have a class dimension, (C) or (N, C); got a scalar.")
    arrays = {"input": input, "target": target}
    if weight is not None:
        arrays["--weight"] = weight
    x, t, *w = broadcast(arrays)
    if x.shape != input.shape or target.shape != input.shape:
        shapes = ", ".join(f"{k} {shape_str(v.shape)}" for k, v in arrays.items())
        warn(f"{shapes} are broadcast to {shape_str(x.shape)}, as PyTorch does silently; target should "
             "have the input's shape and --weight shape (C).")
    axis = input.ndim - 1
    w = w[0] if w else None
    elements = np.empty(x.shape[:axis] + x.shape[axis + 1:], x.dtype)
    if axis and x.shape[0]:  # by blocks of rows (axis 0), in buffers reused from block to block
        blocks = row_blocks(x.shape[0], math.prod(x.shape[1:]), CHUNK)
        buf = np.empty((3, blocks[0].stop, *x.shape[1:]), x.dtype)
        for r in blocks:
            _soft_margin_sum(x[r], t[r], None if w is None else w[r], axis, buf[:, : r.stop - r.start], elements[r])
    else:
        _soft_margin_sum(x, t, w, axis, np.empty((3, *x.shape), x.dtype), elements)
    elements /= x.dtype.type(input.shape[-1])
    return KernelOut(elements, {"Σ target": lazy(lambda: t.sum(axis=axis))},
                     backward=_soft_margin_backward(x, t, w, axis, input.shape[-1]))


def _soft_margin_sum(x, t, w, axis, buf, out):
    """out = -Σ_axis w (t log σ(x) + (1 - t) log σ(-x)), with log σ(±x) as PyTorch's log_sigmoid
    computes them: min(±x, 0) - log1p(exp(-|x|)), in the buffers `buf` (3 of x's shape)."""
    soft, pos, neg = buf
    np.abs(x, out=soft)
    np.negative(soft, out=soft)
    np.exp(soft, out=soft)
    np.log1p(soft, out=soft)
    np.minimum(x, 0, out=pos)
    np.negative(x, out=neg)
    np.minimum(neg, 0, out=neg)
    pos -= soft  # log σ(x)
    neg -= soft  # log σ(-x)
    pos *= t
    np.subtract(x.dtype.type(1), t, out=soft)
    neg *= soft
    pos += neg
    if w is not None:
        pos *= w
    np.sum(pos, axis=axis, out=out)
    np.negative(out, out=out)


def _soft_margin_backward(x, t, weight, axis, c):
    """∂l/∂x = w ((1 - y) σ(x) - y σ(-x)) / C (= w (σ(x) - y) / C, written as PyTorch's log_sigmoid
    backward has it, accurate where σ(-x) is tiny) and ∂l/∂y = -w x / C (= -w (log σ(x) - log σ(-x)) / C:
    PyTorch differentiates the target too). In the broadcast shape; the engine sums back."""
    dt = x.dtype

    def backward(g):
        ge = np.expand_dims(np.asarray(g, dt), axis) / dt.type(c)
        gx, gt = np.empty(x.shape, dt), np.empty(x.shape, dt)
        blocks = [slice(None)]  # by blocks of rows when the classes are not axis 0: temporaries of a block's size
        if axis and x.shape[0]:
            blocks = row_blocks(x.shape[0], math.prod(x.shape[1:]), CHUNK)
        for r in blocks:
            xb, tb, s = x[r], t[r], ge[r] if axis else ge
            if weight is not None:
                s = s * weight[r]
            e = np.exp(-np.abs(xb))
            sig = np.where(xb >= 0, 1, e) / (1 + e)  # σ(x) and σ(-x) without overflow
            sig_neg = np.where(xb >= 0, e, 1) / (1 + e)
            one = dt.type(1)
            np.multiply(s, (one - tb) * sig - tb * sig_neg, out=gx[r])
            np.multiply(s, -xb, out=gt[r])
        return {"input": gx, "target": gt}

    return backward


LOSSES = [
    Loss(
        "multi_margin", multi_margin,
        (Tensor("input", help="scores over C classes"), Tensor("target", "index", "class indices")),
        (_P,
         Option("margin", float, 1.0, "the margin by which the target score should win"), CLASS_WEIGHT),
        layout="rows",
        blocks=False,  # (its kernel works by blocks of rows already)
        aliases=("MultiMarginLoss", "multi_margin_loss", "multiclass_hinge"), torch="MultiMarginLoss",
        example="'[[0.1,0.2,0.4,0.8]]' 3",
    ),
    Loss(
        "multilabel_margin", multilabel_margin,
        (Tensor("input", help="scores over C classes"),
         Tensor("target", "index", "class indices of each row, padded with -1")),
        layout="rows",  # (run by blocks too: its chunk-wide label masks shrink to a block's)
        aliases=("MultiLabelMarginLoss", "multilabel_margin_loss"), torch="MultiLabelMarginLoss",
        example="'[[0.1,0.2,0.4,0.8]]' '[[3,0,-1,1]]'",
        pitfalls=("labels after the first -1 are ignored; 0 is a class, not padding.",),
    ),
    Loss(
        "multilabel_soft_margin", multilabel_soft_margin,
        (Tensor("input", help="scores (logits) over C classes"), Tensor("target", help="0 or 1 per class")),
        (Option("weight", "tensor", None, "per-class weights (C)"),),
        layout="rows",
        blocks=False,  # (its kernel works by blocks of rows already)
        aliases=("MultiLabelSoftMarginLoss", "multilabel_soft_margin_loss"), torch="MultiLabelSoftMarginLoss",
        example="'[[0.3,-1.2,2.0]]' '[[1,0,1]]'",
    ),
]
