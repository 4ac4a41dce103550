"""Softmax classification losses: scores or log-probabilities over C classes against class
indices or class probabilities (cross_entropy, nll), with a blocked log-sum-exp."""

from __future__ import annotations

import numpy as np

from ..errors import LossError, warn
from ..registry import Loss, Option, Tensor, at_most
from .common import CHUNK_START, KernelOut, check_class_indices, check_probabilities, check_size, shape_str, sums_to_1

CHUNK = 1 << 17  # elements per block of the log-sum-exp: 0.5-1 MiB, in the L2 cache of one core with its buffer (1 << 18: ~3-5% slower, 1 << 20: ~10%)
LOG_CHECK = 1 << 12  # nll: exp(input) is checked to sum to 1 over the items of this many elements (a mistake shows in every row)
SMALL_C = 32  # up to this many classes the row max runs class by class (faster in NumPy)


def lazy(make):
    """A term made on demand (`KernelOut.terms`), with NumPy's floating-point warnings off, as
    the engine has them while a kernel runs (a term may be made after the kernel returned)."""
    def term():
        with np.errstate(all="ignore"):
            return make()

    return term


def _as_ncd(input: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Scores (C), (N, C) or (N, C, d1..dk) as an (N, C, D) view, and the shape of one loss per item."""
    if input.ndim == 0:
        raise LossError("input must have a class dimension: (C), (N, C) or (N, C, d1, ..., dk); got a scalar.")
    if input.ndim == 1:
        return input.reshape(1, input.shape[0], 1), ()
    n, c = input.shape[:2]
    return input.reshape(n, c, int(np.prod(input.shape[2:]))), (n, *input.shape[2:])


def _index_target(input: np.ndarray, target: np.ndarray, n: int, d: int) -> np.ndarray:
    """Check a class-index target's shape against the input's; return it as (N, D)."""
    if input.ndim == 1:
        if target.ndim == 0 or target.shape == (1,):
            return target.reshape(1, 1)
        raise LossError(f"target {shape_str(target.shape)}: for an input of one item, {shape_str(input.shape)} "
                        "(C classes), the target is one class index: a scalar, or shape (1,).")
    expected = (n, *input.shape[2:])
    if target.ndim == 0 or target.shape[0] != n:
        got = "a scalar" if target.ndim == 0 else f"{target.shape[0]} (target shape {shape_str(target.shape)})"
        raise LossError(f"batch size mismatch: input {shape_str(input.shape)} has {n} item(s) in its first "
                        f"dimension but target has {got}; target should have shape {shape_str(expected)}.")
    if target.shape != expected:
        raise LossError(f"target {shape_str(target.shape)} does not fit input {shape_str(input.shape)}: the target "
                        f"should have shape {shape_str(expected)}, the input's shape without dimension 1 (the classes).")
    return target.reshape(n, d)


def _blocks(n: int, c: int, d: int):
    """Slices (rows, columns of D) of an (N, C, D) array in blocks of about CHUNK elements."""
    rows = max(1, CHUNK // max(c * d, 1))
    cols = d if c * d <= CHUNK else max(1, CHUNK // max(c, 1))
    for r0 in range(0, n, rows):
        for c0 in range(0, d, cols):
            yield slice(r0, min(r0 + rows, n)), slice(c0, min(c0 + cols, d))


def _lse_blocks(x: np.ndarray, vec=None, probs=None, smoothing: float = 0.0, y=None):
    """Row statistics of scores x (N, C, D) over the classes, block by block (~CHUNK elements,
    preallocated buffers): the max m, log Σ_c exp(x_c - m), and when asked `dot` = Σ_c v_c (x_c - m)
    for a class vector v; with probability targets p, q = (p (1 - ε) + ε/C) · v and
    `dot` = Σ_c q_c (x_c - m), `qsum` = Σ_c q_c; with class indices y (N, D), `xm` = x_y - m,
    taken from the block while it is in cache. Returns (m, logs, dot, qsum, xm), each (N, D)."""
    n, c, d = x.shape
    dt = x.dtype
    m, logs = np.empty((n, d), dt), np.empty((n, d), dt)
    dot = np.zeros((n, d), dt) if vec is not None or probs is not None else None
    qsum = np.zeros((n, d), dt) if probs is not None else None
    xm = None if y is None else np.empty((n, d), dt)
    if c == 0 or n * d == 0:  # no classes: log Σ exp = -inf (and no blocks of zero width)
        m.fill(-np.inf), logs.fill(-np.inf)
        return m, logs, dot, qsum, xm
    buf = _buffer(x)
    qbuf = np.empty_like(buf) if probs is not None else None
    ones = np.ones(c, dt)
    for r, k in _blocks(n, c, d):
        xb, b, mb, sb = x[r, :, k], _view(buf, r, k), m[r, k], logs[r, k]
        if c <= SMALL_C and b.shape[2] == 1:  # class by class: NumPy's reduction over a short last axis is slow
            np.copyto(mb, xb[:, 0])
            for j in range(1, c):
                np.maximum(mb, xb[:, j], out=mb)
        else:
            np.max(xb, axis=1, out=mb)
        np.subtract(xb, mb[:, None, :], out=b)
        if y is not None:
            np.take(b.reshape(-1), _target_index(y[r, k], *b.shape), out=xm[r, k], mode="clip")  # (y checked)
        if probs is not None:
            q = _smoothed(probs[r, :, k], smoothing, vec, _view(qbuf, r, k))
            _class_sum(q, ones, qsum[r, k])
            q *= b
            _class_sum(q, ones, dot[r, k])
        elif vec is not None:
            _class_sum(b, vec, dot[r, k])
        np.exp(b, out=b)
        _class_sum(b, ones, sb)
        np.log(sb, out=sb)
    return m, logs, dot, qsum, xm


def _buffer(x: np.ndarray) -> np.ndarray:
    """An uninitialised buffer for the largest block of x (N, C, D)."""
    n, c, d = x.shape
    r, k = next(_blocks(n, c, d))
    return np.empty((r.stop - r.start, c, k.stop - k.start), x.dtype)


def _view(buf: np.ndarray, r: slice, k: slice) -> np.ndarray:
    return buf[: r.stop - r.start, :, : k.stop - k.start]


def _class_sum(a: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """out = Σ_c v_c a[:, c, :], a BLAS matrix-vector product (2-3 times faster than einsum)."""
    if a.shape[2] == 1:
        np.dot(a[:, :, 0], v, out=out[:, 0])
    else:
        np.matmul(v, a, out=out)


def _smoothed(p: np.ndarray, smoothing: float, vec, out: np.ndarray) -> np.ndarray:
    """q = (p (1 - ε) + ε/C) · v, PyTorch's smoothed probability target times the class weights."""
    dt = out.dtype
    np.multiply(p, dt.type(1 - smoothing), out=out)
    if smoothing:
        out += dt.type(smoothing / p.shape[1])
    if vec is not None:
        out *= vec[:, None]
    return out


def _target_index(y: np.ndarray, n: int, c: int, d: int) -> np.ndarray:
    """Flat indices of x[i, y[i, j], j] in a C-contiguous (N, C, D) array, for y (N, D)."""
    if d == 1:
        idx = np.arange(0, n * c, c)
        idx += y[:, 0]
        return idx.reshape(n, 1)
    idx = y * d
    idx += (np.arange(n) * (c * d))[:, None]
    idx += np.arange(d)
    return idx


def _pick(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x[i, y[i, j], j] for x (N, C, D) and y (N, D), y's indices checked already: flat indices,
    taken in "clip" mode, which skips the bounds checks of the default mode. (N, C) = (1e5, 1000)
    float64: 0.39 ms, against 0.73 ms in the default mode and 2.8 ms for take_along_axis."""
    if not x.flags.c_contiguous:
        return np.take_along_axis(x, y[:, None, :], axis=1)[:, 0, :]
    return np.take(x.reshape(-1), _target_index(y, *x.shape), mode="clip")


# Gradients. PyTorch builds cross_entropy from log_softmax and nll_loss (aten LossNLL.cpp), so
# autograd gives, for G = ∂L/∂log_softmax(x): ∂L/∂x = G - softmax(x) Σ_c G_c. With G = -(a onehot(y)
# + b v) for class indices and G = -g q for probabilities, that is softmax(x) s - a onehot(y) - b v
# and g (softmax(x) Σ_c q_c - q). Nothing is masked after the fact: a NaN softmax times a zero
# coefficient stays NaN, as in PyTorch (an ignored item with NaN logits has a NaN gradient).

def _index_backward(x, m, logs, y, ignored, wy, weight, eps, shape):
    """∂/∂input of cross entropy with class indices: softmax(x) s - a onehot(y) - b w per item, where
    a = g (1 - ε) w_y (nll_loss: -w_y g_out / Σw), b = g ε / C (the smoothing term) and
    s = a + b Σ_c w_c; g = ∂value/∂l, exactly 0 for ignored items (PyTorch skips them)."""
    n, c, d = x.shape
    dt = x.dtype

    def backward(g):
        g = _unless_ignored(ignored, np.reshape(g, (n, d)).astype(dt, copy=False))
        a = g * dt.type(1 - eps) if wy is None else g * dt.type(1 - eps) * wy
        s, b = a, None
        if eps:
            b = g * dt.type(eps / c)
            bw = b * (dt.type(c) if weight is None else weight.sum(dtype=dt))
            if weight is not None and not np.isfinite(b).all():  # inf · w_c: NaN at a zero weight, as PyTorch sums
                bw = np.where(np.isfinite(b), bw, (b[..., None] * weight).sum(axis=-1))
            s = a + bw
        # softmax(x) s = exp(x - lse): PyTorch's log_softmax is x - (m + log Σ exp(x - m)). Where every s
        # is positive (the usual case) it goes into the exponent, exp(x - (lse - log s)), saving a pass.
        shift = m + logs
        fold = bool(np.all(s > 0) and np.isfinite(s).all())
        if fold:
            shift -= np.log(s)
        out = np.empty(x.shape, dt)
        if out.size:
            buf = _buffer(x) if eps and weight is not None else None
            for r, k in _blocks(n, c, d):
                o = out[r, :, k]
                np.subtract(x[r, :, k], shift[r, None, k], out=o)
                np.exp(o, out=o)
                if not fold:
                    o *= s[r, None, k]
                if b is not None and weight is None:
                    o -= b[r, None, k]
                elif b is not None:
                    bv = _view(buf, r, k)
                    np.multiply(b[r, None, k], weight[:, None], out=bv)
                    o -= bv
            out.reshape(-1)[_target_index(y, n, c, d)] -= a
        return {"input": out.reshape(shape)}

    return backward


def _probs_backward(x, p, m, logs, qsum, weight, eps, shape):
    """∂/∂input = g (softmax(x) Σ_c q_c - q) and ∂/∂target = -g (1 - ε) w_c log_softmax(x)_c, with
    q = (p (1 - ε) + ε/C) w (PyTorch differentiates the probability target too)."""
    n, c, d = x.shape
    dt = x.dtype

    def backward(g):
        g = np.reshape(g, (n, d)).astype(dt, copy=False)
        gt = -(g * dt.type(1 - eps))
        gx, gp = np.empty(x.shape, dt), np.empty(x.shape, dt)
        lse = m + logs
        if gx.size:
            buf = _buffer(x)
            for r, k in _blocks(n, c, d):
                lp, o = gp[r, :, k], gx[r, :, k]
                np.subtract(x[r, :, k], lse[r, None, k], out=lp)  # log_softmax, as PyTorch computes it
                q = _smoothed(p[r, :, k], eps, weight, _view(buf, r, k))
                np.exp(lp, out=o)
                o *= qsum[r, None, k]
                o -= q
                o *= g[r, None, k]
                lp *= gt[r, None, k]
                if weight is not None:
                    lp *= weight[:, None]
        return {"input": gx.reshape(shape), "target": gp.reshape(shape)}

    return backward


def _unless_1d_with_1_target(input, target, backward):
    """PyTorch computes a (C) input with a (1,) target but its backward stops with "size mismatch":
    no gradient then (with a warning), as autograd gives none."""
    if input.ndim == 1 and target.ndim == 1:
        def refused(g):
            warn("no gradient: PyTorch computes a 1-D input with a (1,)-shaped target, but its backward "
                 "stops with 'size mismatch'. Give the target as a scalar to get the gradient.")
            return {}

        return refused
    return backward


def _nll_backward(x, y, ignored, wy, shape):
    """∂/∂input of nll: -w_y g at the target class, 0 elsewhere and for ignored items."""
    n, c, d = x.shape
    dt = x.dtype

    def backward(g):
        g = _unless_ignored(ignored, np.reshape(g, (n, d)).astype(dt, copy=False))
        out = np.zeros(x.shape, dt)
        out.reshape(-1)[_target_index(y, n, c, d)] = -g if wy is None else -(wy * g)
        return {"input": out.reshape(shape)}

    return backward


_LABEL_SMOOTHING = Option("label_smoothing", float, 0.0, "ε: mix ε/C of every class into the target",
                          at_most(1, nan=True, why="PyTorch refuses more; it ignores a negative value"))


def _smoothing(label_smoothing: float) -> float:
    _LABEL_SMOOTHING.check(label_smoothing)
    if not label_smoothing >= 0:
        what = "negative" if label_smoothing < 0 else "not a number"
        warn(f"--label-smoothing {label_smoothing} is {what}: PyTorch silently ignores it and computes without "
             "smoothing, and so does losscalc. Did you mean a value in [0, 1]?")
    return label_smoothing if label_smoothing > 0 else 0.0


def class_weight(weight, c: int):
    return weight if weight is None else check_size(weight, c, "--weight", "one weight per class") or weight


def _ignored(y: np.ndarray, c: int, target: np.ndarray, ignore_index: int) -> tuple[np.ndarray | None, np.ndarray]:
    """Check the class indices y (target's, as (N, D)) against C, and return the mask of ignored
    items (None when none is) and targets safe to index with (an ignored item's set to class 0
    when the ignore index is no class; its class counts for nothing). The range is read from
    the minimum and maximum (each index is only looked at again when one is out of range, to say
    which). How many were ignored is the reducer's to say (over the whole input, not one chunk):
    `KernelOut.ignored`."""
    lo, hi = (int(y.min()), int(y.max())) if y.size else (0, -1)
    if not (lo >= 0 and hi < c):
        check_class_indices(target, c, "target", ignore_index)
    if lo <= ignore_index <= hi:
        ignored = y == ignore_index
        if ignored.any():  # an ignore index that is a class is a safe index already
            return ignored, y if 0 <= ignore_index < c else np.where(ignored, 0, y)
    return None, y


def _unless_ignored(ignored, a: np.ndarray, fill=0) -> np.ndarray:
    """a, with `fill` where the item is ignored."""
    return a if ignored is None else np.where(ignored, a.dtype.type(fill), a)


def _weighted_out(elements, ignored, weight, wy, terms, ignore_index, out_shape, backward) -> KernelOut:
    """The weighted mean PyTorch's nll_loss takes: Σ w_y l / Σ w_y over the items not ignored."""
    k = 0 if ignored is None else int(np.count_nonzero(ignored))
    if weight is None:
        den, num_label, den_label = int(elements.size - k), "Σ l", "N (items not ignored)"
    else:
        den, num_label, den_label = wy.sum(dtype=elements.dtype), "Σ w·l", "Σ w (items not ignored)"
    weights = None
    if k:
        terms["ignored"] = lambda: np.where(ignored, "ignored", "").reshape(out_shape)
        weights = (~ignored).astype(elements.dtype) if weight is None else wy
    elif weight is not None:
        weights = wy
    return KernelOut(elements.reshape(out_shape), terms, denominator=den, numerator_label=num_label,
                     denominator_label=den_label, weights=None if weights is None else weights.reshape(out_shape),
                     ignored=(k, ignore_index), backward=backward)


def cross_entropy(input, target, *, weight=None, ignore_index=-100, label_smoothing=0.0):
    """Cross entropy between softmax(input) and the target: log-softmax and NLL in one step.

    Formula:
        class-index target y:   l_n = (1 - ε) w_{y_n} (logsumexp(x_n) - x_{n,y_n})
                                      + (ε / C) Σ_c w_c (logsumexp(x_n) - x_{n,c})
                                mean = Σ l_n / Σ w_{y_n}, over the items not ignored
                                (l_n = 0 where y_n = ignore_index; w_c = 1 without --weight)
        probability target p:   l_n = -Σ_c w_c q_{n,c} log_softmax(x_n)_c,
                                q = (1 - ε) p + ε / C;  mean = Σ l_n / N
        (ε = --label-smoothing; PyTorch ignores a negative ε.)

    Shape:
        input (C), (N, C) or (N, C, d1, ..., dk) of unnormalised scores (logits);
        target () or (N) or (N, d1, ..., dk) of class indices in [0, C) (integers, or floats
        holding whole numbers), or class probabilities of the input's shape (floats);
        weight (C); output (), (N) or (N, d1, ..., dk), or () when reduced.

    Args:
        input: scores (logits) over C classes, the class axis 1 (or 0 unbatched).
        target: class indices, or class probabilities of the input's shape.
        weight: per-class weights w_c (C), or None; mean = Σ w_y·l / Σ w_y.
        ignore_index: the target value whose items are left out of the loss and of the mean (default -100).
        label_smoothing: ε, at most 1: ε/C of every class mixed into the target (default 0.0).

    References:
        torch.nn.CrossEntropyLoss, torch.nn.functional.cross_entropy
    """
    x, out_shape = _as_ncd(input)
    n, c, d = x.shape
    weight = class_weight(weight, c)
    eps = _smoothing(label_smoothing)
    if target.shape == input.shape:
        return _cross_entropy_probs(x, target, weight, ignore_index, eps, out_shape)
    if target.dtype.kind == "f":
        from ..casts import as_index

        target = as_index(target, "target", CHUNK_START.get())
    y = _index_target(input, target, n, d)
    if eps and input.ndim == 1 and target.ndim == 1:
        raise LossError("target (1,): PyTorch cannot use label smoothing with a (1,)-shaped target for a "
                        "1-D input; give the target as a scalar.")
    ignored, ysafe = _ignored(y, c, target, ignore_index)
    m, logs, dot, _, x_m = _lse_blocks(x, vec=(weight if weight is not None else np.ones(c, x.dtype)) if eps else None,
                                       y=ysafe)
    nll_y = np.subtract(logs, x_m, out=x_m)
    wy = None if weight is None else _unless_ignored(ignored, weight[ysafe])
    elements = nll_y if weight is None else wy * nll_y
    terms = {"logit[y]": lazy(lambda: _unless_ignored(ignored, _pick(x, ysafe), np.nan).reshape(out_shape)),
             "logsumexp": lazy(lambda: (m + logs).reshape(out_shape))}
    if weight is not None:
        terms["weight"] = wy.reshape(out_shape)
    if eps:
        total_w = weight.sum(dtype=x.dtype) if weight is not None else x.dtype.type(c)
        smooth = (total_w * logs - dot) * x.dtype.type(eps / c)
        elements = x.dtype.type(1 - eps) * elements + smooth
        terms["smoothing"] = lazy(lambda: _unless_ignored(ignored, smooth).reshape(out_shape))
    elements = _unless_ignored(ignored, elements)
    backward = _unless_1d_with_1_target(input, target, _index_backward(x, m, logs, ysafe, ignored, wy, weight, eps,
                                                                       input.shape))
    return _weighted_out(elements, ignored, weight, wy, terms, ignore_index, out_shape, backward)


def _cross_entropy_probs(x, target, weight, ignore_index, eps, out_shape) -> KernelOut:
    if target.dtype.kind != "f":
        raise LossError(f"target {shape_str(target.shape)} has the input's shape, so it is read as class probabilities, "
                        "which must be floating point; it holds integers. Write them as floats (1.0, 0.0) for "
                        "probabilities, or give class indices of shape (N).")
    if ignore_index >= 0:
        raise LossError(f"--ignore-index {ignore_index}: PyTorch does not support ignore_index with class-probability "
                        "targets (a target of the input's shape). Leave it at -100, or give class indices.")
    if ignore_index != -100:
        warn(f"--ignore-index {ignore_index} has no effect with class-probability targets (PyTorch ignores it).")
    n, c, d = x.shape
    p = target.reshape(x.shape)
    if c:
        check_probabilities(target, "target", "A target of the input's shape is read as class probabilities; PyTorch "
                                              "computes anyway. Did you mean a softmax of the target, or class indices?",
                            axis=1 if target.ndim > 1 else 0, rows="item(s)")
    m, logs, dot, qsum, _ = _lse_blocks(x, vec=weight, probs=p, smoothing=eps)
    elements = qsum * logs - dot
    terms = {"Σ target": lazy(lambda: p.sum(axis=1).reshape(out_shape)),
             "logsumexp": lazy(lambda: (m + logs).reshape(out_shape))}
    return KernelOut(elements.reshape(out_shape), terms, denominator=0 if c == 0 else None,  # C = 0: nan, as PyTorch
                     backward=_probs_backward(x, p, m, logs, qsum, weight, eps, target.shape))


def nll(input, target, *, weight=None, ignore_index=-100):
    """Negative log-likelihood of the target class, given log-probabilities.

    Formula:
        l_n = -w_{y_n} x_{n,y_n}     (l_n = 0 where y_n = ignore_index; w_c = 1 without --weight)
        mean = Σ l_n / Σ w_{y_n}, over the items not ignored

    Shape:
        input (C), (N, C) or (N, C, d1, ..., dk) of log-probabilities (log_softmax output);
        target () or (N) or (N, d1, ..., dk) of class indices in [0, C); weight (C);
        output (), (N) or (N, d1, ..., dk), or () when reduced.

    Args:
        input: log-probabilities over C classes (log_softmax output), the class axis 1 (or 0 unbatched).
        target: class indices.
        weight: per-class weights w_c (C), or None; mean = Σ w_y·l / Σ w_y.
        ignore_index: the target value whose items are left out of the loss and of the mean (default -100).

    References:
        torch.nn.NLLLoss (and the old NLLLoss2d), torch.nn.functional.nll_loss
    """
    x, out_shape = _as_ncd(input)
    n, c, d = x.shape
    weight = class_weight(weight, c)
    y = _index_target(input, target, n, d)
    ignored, ysafe = _ignored(y, c, target, ignore_index)
    _warn_unless_log_probs(input, x)
    elements = _pick(x, ysafe)  # x_y, made -w_y x_y in place (a new array costs its page faults)
    wy = None
    if weight is not None:
        wy = np.take(weight, ysafe)
        if ignored is not None:
            wy[ignored] = 0
        elements *= wy
    np.negative(elements, out=elements)
    if ignored is not None:
        elements[ignored] = 0
    terms = {"input[y]": lazy(lambda: _unless_ignored(ignored, _pick(x, ysafe), np.nan).reshape(out_shape))}
    if weight is not None:
        terms["weight"] = wy.reshape(out_shape)
    return _weighted_out(elements, ignored, weight, wy, terms, ignore_index, out_shape,
                         _unless_1d_with_1_target(input, target, _nll_backward(x, ysafe, ignored, wy, input.shape)))


def _warn_unless_log_probs(input: np.ndarray, x: np.ndarray) -> None:
    """Warn when exp(input) rows do not sum to 1 (checked on the items of the first ~LOG_CHECK
    elements of the first chunk only: a bounded sample, which the message says)."""
    n, c, d = x.shape
    if not x.size or CHUNK_START.get():
        return
    head, axis = (input[: max(1, LOG_CHECK // (c * d))], 1) if input.ndim > 1 else (input, 0)
    with np.errstate(all="ignore"):
        sums = np.exp(head).sum(axis=axis)
    if (sums_to_1(sums) | np.isnan(sums)).all():  # what check_probabilities would find: nothing
        return
    hint = ": all inputs are ≥ 0, as probabilities are" if (head >= 0).all() else ""
    if sums_to_1(head.sum(axis=axis)).all():
        hint = ": its rows themselves sum to 1, as probabilities do"
    check_probabilities(head, "input", f"It does not look like log-probabilities{hint}. nll expects log_softmax "
                                       "output: take the log of probabilities first, or use cross_entropy on raw "
                                       "scores.", axis=axis, log=True, rows="item(s) checked")


_IGNORE = Option("ignore_index", int, -100, "target value whose items are left out of the loss and of the mean")
CLASS_WEIGHT = Option("weight", "tensor", None, "per-class weights (C); mean = Σ w_y·l / Σ w_y")

LOSSES = [
    Loss(
        "cross_entropy", cross_entropy,
        (Tensor("input", help="scores (logits) over C classes"),
         Tensor("target", "any", "class indices, or class probabilities of the input's shape")),
        (CLASS_WEIGHT, _IGNORE,
         _LABEL_SMOOTHING),
        layout="rows",
        blocks=False,  # (its kernel works by blocks of rows already)
        aliases=("CrossEntropyLoss", "ce", "xent", "softmax_cross_entropy", "categorical_crossentropy"),
        torch="CrossEntropyLoss",
        example="--weight 0.6,0.2,0.2 'ones(2,3)*0.5' 0,1",
        pitfalls=("input is raw scores (logits): do not apply softmax first.",
                  "with --weight the mean divides by Σ w_y of the items, not by N.",
                  "a float target of the input's shape is read as class probabilities, not indices."),
    ),
    Loss(
        "nll", nll,
        (Tensor("input", help="log-probabilities (log_softmax output)"), Tensor("target", "index", "class indices")),
        (CLASS_WEIGHT, _IGNORE),
        layout="gather",
        aliases=("NLLLoss", "NLLLoss2d", "nll_loss", "negative_log_likelihood"), torch="NLLLoss",
        example="--weight 0.6,0.2,0.2 '[[-0.51,-1.61,-1.61],[-1.61,-0.51,-1.61]]' 0,1",
        pitfalls=("input must be log-probabilities; probabilities give negative, meaningless losses.",),
    ),
]
