"""Beyond PyTorch (SPEC §7): losses torch.nn lacks, with SciPy, torchvision and Keras as their
references: the Jensen-Shannon divergence and the Shannon entropy of probability rows, the 1-D
Wasserstein distance, the sigmoid focal loss, the log-cosh loss and the soft Dice loss.

Probability rows are taken as given, not normalised (SciPy's jensenshannon and entropy divide
each row by its sum first): a row that does not sum to 1 is warned about, as kl_div and
cross_entropy warn, and the gradient is the plain partial derivative of the formula shown.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import LossError, warn
from ..registry import Loss, Option, Tensor, at_least
from .classification import CHUNK
from .common import (KernelOut, at_index, check_probabilities, check_same_shape, first_index, first_value, row_blocks,
                     shape_str)
from .numerics import log_sigmoid, sigmoid, xlogy

LOG2 = math.log(2.0)


def _check_nonnegative(t: np.ndarray, name: str, hint: str) -> None:
    negative = t < 0
    if negative.any():
        raise LossError(f"{name}: the value {first_value(t, negative)}{at_index(first_index(negative))} is negative "
                        f"({int(negative.sum())} such value(s)); {hint}")


def _check_rows(t: np.ndarray, name: str, loss: str) -> None:
    if t.ndim == 0:
        raise LossError(f"{name} is a single number; {loss} takes rows of probabilities along the last "
                        "dimension, so it needs at least one dimension, e.g. (C) or (N, C).")


def _warn_unless_rows_sum_to_1(p: np.ndarray, name: str, loss: str) -> None:
    check_probabilities(p, name, f"{loss} takes probability rows as they are; SciPy would divide each row by its "
                                 "sum first. Normalise the rows yourself (or apply a softmax to logits) if that is "
                                 "what you meant.")


def _warn_outside_unit(t: np.ndarray, name: str, hint: str) -> None:
    """Warn when t holds a value outside [0, 1]; NaN is not outside. Two passes (min and max)
    when every value is inside, the values looked at one by one only when one is not."""
    if not t.size or (t.min() >= 0 and t.max() <= 1):
        return
    outside = (t < 0) | (t > 1)
    if outside.any():
        warn(f"{name} holds {int(outside.sum())} value(s) outside [0, 1], first {first_value(t, outside)}"
             f"{at_index(first_index(outside))}; {hint}")


def js_div(p, q):
    """Jensen-Shannon divergence between probability rows (base e, the square of SciPy's distance).

    Formula:
        m = (p + q) / 2, row by row (along the last dimension)
        l_n = ½ Σ_i p_i log(p_i / m_i) + ½ Σ_i q_i log(q_i / m_i)   (0 log 0 = 0)
            = ½ KL(p‖m) + ½ KL(q‖m), between 0 and log 2
        rows are used as given (a warning when one does not sum to 1)
        ∂l/∂p_i = ½ log(p_i / m_i): -inf where p_i = 0 < q_i,
                  ½ log 2 where p_i = q_i = 0 (the one-sided derivative)

    Shape:
        p (*, C) of probabilities (>= 0) in rows along the last dimension, q the same shape;
        output (*), one value per row ((), for a single row (C)), or () when reduced.

    Args:
        p: probabilities, in rows along the last dimension.
        q: probabilities, the same shape as p.

    References:
        scipy.spatial.distance.jensenshannon(p, q, axis=-1) ** 2 (which first divides each
        row by its sum); Lin, "Divergence measures based on the Shannon entropy", IEEE
        Trans. Inf. Theory 37, 1991
    """
    _check_rows(p, "p", "js_div")
    check_same_shape(p, q, "p", "q", " (one row of q for each row of p)")
    for t, name in ((p, "p"), (q, "q")):
        _check_nonnegative(t, name, "js_div takes probabilities; apply a softmax to logits first.")
    for t, name in ((p, "p"), (q, "q")):
        _warn_unless_rows_sum_to_1(t, name, "js_div")
    m = np.add(p, q)
    np.divide(m, 2, out=m)
    with np.errstate(all="ignore"):  # SciPy's rel_entr(p, m), p / m made its own log's array
        kl_p = xlogy(p, r := np.divide(p, m), out=r).sum(axis=-1)
        kl_q = xlogy(q, r := np.divide(q, m), out=r).sum(axis=-1)
        del r

    def backward(g):
        with np.errstate(all="ignore"):
            half_log = lambda t: np.where(m == 0, LOG2 / 2, (np.log(t) - np.log(m)) / 2)  # noqa: E731
            return {"p": g[..., None] * half_log(p), "q": g[..., None] * half_log(q)}

    return KernelOut((kl_p + kl_q) / 2, {"KL(p‖m)": kl_p, "KL(q‖m)": kl_q}, backward=backward)


def entropy(p):
    """Shannon entropy of probability rows, base e (in nats).

    Formula:
        l_n = -Σ_i p_i log p_i, row by row (the last dimension)   (0 log 0 = 0)
        rows are used as given (a warning when one does not sum to 1)
        ∂l/∂p_i = -(log p_i + 1): +inf where p_i = 0

    Shape:
        p (*, C) of probabilities (>= 0) in rows along the last dimension; output (*), one
        value per row ((), for a single row (C)), or () when reduced.

    Args:
        p: probabilities, in rows along the last dimension.

    References:
        scipy.stats.entropy(p, axis=-1) (which first divides each row by its sum);
        Shannon, "A Mathematical Theory of Communication", 1948
    """
    _check_rows(p, "p", "entropy")
    _check_nonnegative(p, "p", "entropy takes probabilities; apply a softmax to logits first.")
    _warn_unless_rows_sum_to_1(p, "p", "entropy")
    elements = -xlogy(p, p).sum(axis=-1)

    def backward(g):
        with np.errstate(all="ignore"):
            return {"p": -g[..., None] * (np.log(p) + 1)}

    terms = {"Σ p": p.sum(axis=-1), "exp(H)": np.exp(elements)}
    return KernelOut(elements, terms, backward=backward)


def _check_samples(t: np.ndarray, name: str) -> None:
    if t.ndim == 0:
        raise LossError(f"{name} is a single number; wasserstein takes samples (n) or rows of samples (*, n).")
    if t.shape[-1] == 0:
        raise LossError(f"{name} {shape_str(t.shape)} holds no samples: a distribution can't be empty "
                        "(SciPy refuses it too).")


def _sample_weights(w, values: np.ndarray, flag: str, name: str) -> np.ndarray:
    """Weights of `values`' shape, >= 0, each row's sum positive and finite (SciPy's rules)."""
    if w is None:
        return np.broadcast_to(np.ones((), values.dtype), values.shape)
    check_same_shape(values, w, name, flag, " (one weight per sample)")
    _check_nonnegative(w, flag, "weights must be 0 or more.")
    sums = w.sum(axis=-1)
    bad = ~((sums > 0) & (sums < np.inf))
    if bad.any():
        pos = first_index(bad)
        row = f"the weights of row {list(pos)}" if pos else "the weights"
        raise LossError(f"{flag}: {row} sum to {float(first_value(sums, bad)):.6g}; each row's sum must be positive and finite "
                        "(the weights are normalised to sum 1). Leave the option out for equal weights.")
    return w


def wasserstein(u_values, v_values, *, u_weights=None, v_weights=None):
    """1-D Wasserstein (earth mover's) distance between two empirical distributions.

    Formula:
        l_n = ∫ |U(x) - V(x)| dx = Σ_k |U(z_k) - V(z_k)| (z_{k+1} - z_k)
        U, V: the empirical CDFs of u and v (weighted: weights sum to 1 per row;
              unweighted: each of n samples weighs 1/n)
        z: the u and v values of a row, merged and sorted
        histograms over the same bins: the bin centres as both u_values and
              v_values, the bin masses as --u-weights and --v-weights
        ∂l/∂z_k = |U - V| left of z_k - |U - V| right of z_k (the a.e.
              derivative; at ties, in the stable sort order, u before v)

    Shape:
        u_values (*, n) and v_values (*, m): one distribution per row (n and m samples may
        differ; the leading dimensions must match); weights of their values' shapes;
        output (*), () for one pair of 1-D samples, or () when reduced.

    Args:
        u_values: samples of the first distribution, in rows along the last dimension.
        v_values: samples of the second distribution.
        u_weights: a weight per u sample (or a histogram's masses), normalised per row; None: equal weights.
        v_weights: a weight per v sample (or a histogram's masses), normalised per row; None: equal weights.

    References:
        scipy.stats.wasserstein_distance(u_values, v_values, u_weights, v_weights), row
        by row; Ramdas, Garcia and Cuturi, "On Wasserstein Two Sample Testing and Related
        Families of Nonparametric Tests", Entropy 19, 2017
    """
    u, v = u_values, v_values
    _check_samples(u, "u_values")
    _check_samples(v, "v_values")
    if u.shape[:-1] != v.shape[:-1]:
        raise LossError(f"u_values {shape_str(u.shape)} and v_values {shape_str(v.shape)} must have the same "
                        "leading dimensions (one pair of distributions per row); only the last, the number "
                        "of samples, may differ.")
    wu = _sample_weights(u_weights, u, "--u-weights", "u_values")
    wv = _sample_weights(v_weights, v, "--v-weights", "v_values")
    batch, n, m = u.shape[:-1], u.shape[-1], v.shape[-1]
    rows = [a.reshape(-1, a.shape[-1]) for a in (u, v, wu, wv)]
    elements = np.empty(rows[0].shape[0], np.result_type(u, v))
    for r in row_blocks(elements.size, n + m, CHUNK // 8):  # by blocks of rows: the sort's arrays are a block's
        _, zs, gap = _merged_rows(*(a[r] for a in rows))
        with np.errstate(all="ignore"):
            np.sum(gap * np.diff(zs, axis=1), axis=1, out=elements[r])

    def mean(x, w):
        with np.errstate(all="ignore"):
            return (w * x).sum(axis=-1) / w.sum(axis=-1)

    def backward(g):
        order, _, gap = _merged_rows(*rows)
        pad = np.zeros((order.shape[0], 1), gap.dtype)
        slope = np.concatenate([pad, gap], axis=1) - np.concatenate([gap, pad], axis=1)
        grad = np.empty(order.shape, gap.dtype)
        np.put_along_axis(grad, order, slope * g.reshape(-1, 1), axis=1)
        return {"u_values": grad[:, :n].reshape(u.shape), "v_values": grad[:, n:].reshape(v.shape)}

    return KernelOut(elements.reshape(batch), {"E[u]": lambda: mean(u, wu), "E[v]": lambda: mean(v, wv)},
                     shown_inputs=(), backward=backward)


def _merged_rows(u, v, wu, wv):
    """Rows of u (k, n) and v (k, m) merged: the stable sort's order of their values side by side
    (u's first), the sorted values zs, and |U - V| right of each but the last (k, n + m - 1)."""
    z = np.concatenate([u, v], axis=1)
    order = np.argsort(z, axis=1, kind="stable")
    zs = np.take_along_axis(z, order, axis=1)
    zero_u, zero_v = np.zeros(u.shape, z.dtype), np.zeros(v.shape, z.dtype)
    cum_u = np.take_along_axis(np.concatenate([wu, zero_v], axis=1), order, axis=1).cumsum(axis=1)
    cum_v = np.take_along_axis(np.concatenate([zero_u, wv], axis=1), order, axis=1).cumsum(axis=1)
    with np.errstate(all="ignore"):
        gap = np.abs(cum_u / cum_u[:, -1:] - cum_v / cum_v[:, -1:])[:, :-1]
    return order, zs, gap


def sigmoid_focal(input, target, *, alpha=0.25, gamma=2.0):
    """Sigmoid focal loss (torchvision.ops.sigmoid_focal_loss): binary cross entropy on logits,
    scaled down for well-classified elements.

    Formula:
        p_n = σ(x_n), ce_n = bce_with_logits(x_n, y_n) = (1 - y_n) x_n - log σ(x_n)
        p_t = p_n y_n + (1 - p_n)(1 - y_n)
        l_n = α_t ce_n (1 - p_t)^γ,   α_t = α y_n + (1 - α)(1 - y_n)
        α_t = 1 when --alpha is negative
        (--gamma 0 with a negative --alpha is bce_with_logits)

    Shape:
        input (*) of logits, target the same shape with labels 0 or 1 (or soft labels in
        [0, 1]); output the input's shape, or () when reduced.

    Args:
        input: logits x_n (any real numbers).
        target: labels y_n, 0 or 1.
        alpha: the positive class's weight (the negatives get 1 - alpha); negative: no weighting (default 0.25).
        gamma: the focusing exponent on (1 - p_t); 0 with a negative alpha is bce_with_logits (default 2.0).

    References:
        torchvision.ops.sigmoid_focal_loss (torchvision/ops/focal_loss.py); Lin, Goyal,
        Girshick, He and Dollár, "Focal Loss for Dense Object Detection", ICCV 2017
    """
    check_same_shape(input, target, "input", "target", " (as torchvision's sigmoid_focal_loss requires)")
    _warn_outside_unit(target, "target", "sigmoid_focal expects labels 0 and 1 (or soft labels in [0, 1]); "
                                         "did you mean {0, 1} rather than {-1, 1}? torchvision computes anyway.")
    if gamma < 0:
        warn(f"--gamma {gamma} is negative: the loss then grows for well-classified elements, without bound "
             "(the focal loss has γ >= 0). torchvision computes anyway.")
    if alpha > 1:
        warn(f"--alpha {alpha} is above 1, so the negative class gets the negative weight 1 - α; α is the "
             "positive class's share, in [0, 1] (or negative for no weighting). torchvision computes anyway.")
    x, t = input, target
    weighted = alpha >= 0

    def cross_entropy():
        """ce = (1 - t) x - log σ(x), in one new array (three at once)."""
        with np.errstate(all="ignore"):
            log_p = log_sigmoid(x)
            ce = np.asarray(np.subtract(1, t))
            np.multiply(ce, x, out=ce)
            return np.subtract(ce, log_p, out=ce)

    # (1 - p_t)^γ first, then ce, whose array becomes the elements: three arrays of the input's
    # size at once at most. σ(x), ce, (1 - p_t)^γ and α_t are made again when shown.
    with np.errstate(all="ignore"):
        mod = _one_minus_pt(sigmoid(x), t)
        mod **= gamma  # (1 - p_t)^γ in place (the same fast paths as a ** γ)
        elements = cross_entropy()
        np.multiply(elements, mod, out=elements)
        del mod
        if weighted:
            np.multiply(_alpha_t(t, alpha), elements, out=elements)
    terms = {"p = σ(x)": lambda: sigmoid(x), "ce": cross_entropy,
             "(1-p_t)^γ": lambda: _one_minus_pt(sigmoid(x), t) ** gamma}
    if weighted:
        terms["α_t"] = lambda: _alpha_t(t, alpha)

    def backward(g):
        p, ce = sigmoid(x), cross_entropy()
        with np.errstate(all="ignore"):
            a = _one_minus_pt(p, t)
            mod = a ** gamma
            alpha_t = _alpha_t(t, alpha) if weighted else np.ones((), x.dtype)
            g_mod = g * alpha_t * ce
            g_a = np.zeros_like(a) if gamma == 0 else g_mod * (gamma * a ** (gamma - 1))
            g_ce = g * alpha_t * mod
            g_pt = -g_a  # through p_t = p t + (1 - p)(1 - t), term by term as autograd goes (inf·0 = nan)
            grad_x = g_ce * (p - t) + (g_pt * t - g_pt * (1 - t)) * (1 - p) * p
            grad_t = -g_ce * x + (g_pt * p - g_pt * (1 - p))
            if weighted:
                grad_t = grad_t + g * (ce * mod) * (2 * alpha - 1)
        return {"input": grad_x, "target": grad_t}

    return KernelOut(elements, terms, backward=backward)


def _one_minus_pt(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """1 - p_t, p_t = p t + (1 - p)(1 - t) (torchvision's), in one new array (two at once)."""
    q = np.asarray(np.subtract(1, p))
    pt = np.asarray(np.subtract(1, t))
    np.multiply(q, pt, out=q)  # (1 - p)(1 - t)
    np.multiply(p, t, out=pt)
    np.add(pt, q, out=pt)
    return np.subtract(1, pt, out=pt)


def _alpha_t(t: np.ndarray, alpha: float) -> np.ndarray:
    """α_t = α t + (1 - α)(1 - t) (torchvision's), in one new array."""
    at = np.asarray(np.multiply(t, t.dtype.type(alpha)))
    u = np.asarray(np.subtract(1, t))
    np.multiply(u, t.dtype.type(1 - alpha), out=u)
    return np.add(at, u, out=at)


def log_cosh(input, target):
    """Log-cosh loss (Keras's LogCosh): about ½ (x - y)² near 0 and |x - y| - log 2 far from it.

    Formula:
        l_n = log(cosh(d_n)), d_n = x_n - y_n
            = |d| + log(1 + exp(-2|d|)) - log 2, computed so (stable)
        Keras's d + softplus(-2d) - log 2 is the same for finite d
              (at d = -inf Keras gives nan, losscalc inf)
        ∂l/∂x_n = tanh(d_n)
        Keras's log_cosh averages the l_n over the last axis (per sample);
              --reduction mean equals keras.losses.LogCosh()(y, x)

    Shape:
        input (*), target the same shape; output the input's shape, or () when reduced.

    Args:
        input: the predictions x_n.
        target: the true values y_n, broadcastable with input.

    References:
        keras.losses.LogCosh, keras.losses.log_cosh (note Keras's order: y_true, y_pred)
    """
    check_same_shape(input, target, "input", "target")
    d = input - target
    z = np.abs(d)
    with np.errstate(over="ignore"):
        elements = np.asarray(np.multiply(z, z.dtype.type(-2)))  # |d| + log1p(exp(-2|d|)) - log 2, in one array
        np.log1p(np.exp(elements, out=elements), out=elements)
        np.add(z, elements, out=elements)
        np.subtract(elements, LOG2, out=elements)

    def backward(g):
        slope = g * np.tanh(d)
        return {"input": slope, "target": -slope}

    return KernelOut(elements, {"x - y": d}, backward=backward)


_SMOOTH = Option("smooth", float, 1.0, "added to the numerator and the denominator", at_least(0))


def dice(input, target, *, smooth=1.0):
    """Soft Dice loss per sample: one minus the smoothed Dice coefficient of prediction and target.

    Formula:
        l_n = 1 - (2 Σ_i x_ni y_ni + smooth) / (Σ_i x_ni + Σ_i y_ni + smooth)
        Σ_i: over every dimension but the first (the batch); a 1-D input is
              one sample

    Shape:
        input (N, *) of probabilities (e.g. sigmoid or softmax output), or (*) for one
        sample when 1-D; target the same shape (usually 0 or 1); output (N), or () for a
        1-D input, or () when reduced.

    Args:
        input: probabilities (sigmoid or softmax output).
        target: 0 or 1 masks, of the input's shape.
        smooth: added to the numerator and the denominator, 0 or more (default 1.0).

    References:
        Milletari, Navab and Ahmadi, "V-Net: Fully Convolutional Neural Networks for
        Volumetric Medical Image Segmentation", 3DV 2016 (without the squares in the
        denominator, with the common additive smoothing in numerator and denominator)
    """
    check_same_shape(input, target, "input", "target")
    _SMOOTH.check(smooth)
    _warn_outside_unit(input, "input", "dice expects probabilities (apply a sigmoid or softmax to logits first).")
    _warn_outside_unit(target, "target", "dice expects targets in [0, 1], usually 0 or 1.")
    axes = tuple(range(1, input.ndim)) if input.ndim >= 2 else tuple(range(input.ndim))
    overlap = (input * target).sum(axis=axes)
    sum_x, sum_y = input.sum(axis=axes), target.sum(axis=axes)
    with np.errstate(all="ignore"):
        numerator = 2 * overlap + smooth
        denominator = sum_x + sum_y + smooth
        coefficient = numerator / denominator
    elements = 1 - coefficient

    def backward(g):
        expand = (slice(None),) + (None,) * len(axes) if input.ndim >= 2 else ()
        with np.errstate(all="ignore"):
            common = (g * numerator / denominator ** 2)[expand]
            scale = (2 * g / denominator)[expand]
        return {"input": common - scale * target, "target": common - scale * input}

    terms = {"Σ x·y": overlap, "Σ x": sum_x, "Σ y": sum_y, "dice": coefficient}
    return KernelOut(elements, terms, shown_inputs=(), backward=backward)


_PQ = (Tensor("p", help="probabilities, in rows along the last dimension"),
       Tensor("q", help="probabilities, the same shape as p"))

def _beyond(name, kernel, tensors, options, reference, aliases, example, pitfalls, layout="elementwise") -> Loss:
    """The entry of a loss PyTorch lacks: checked against `reference` instead, and without the
    legacy size_average/reduce flags, which only PyTorch's own losses have."""
    return Loss(name, kernel, tensors, options, layout=layout, reference=reference, aliases=aliases, legacy=False,
                example=example, pitfalls=pitfalls)


LOSSES = [
    _beyond("js_div", js_div, _PQ, (), "scipy.spatial.distance.jensenshannon (squared)",
            ("jensen_shannon", "jensenshannon", "js_divergence", "jsd"),
            "\"0.7,0.2,0.1;0.1,0.2,0.7\" \"0.6,0.3,0.1;0.3,0.3,0.4\"",
            ("this is the divergence, the square of scipy.spatial.distance.jensenshannon (a distance), in nats.",
             "rows are used as given: SciPy divides each row by its sum first; losscalc warns instead."), "rows"),
    _beyond("wasserstein", wasserstein,
            (Tensor("u_values", help="samples of the first distribution"),
             Tensor("v_values", help="samples of the second distribution")),
            (Option("u_weights", "tensor", None, "a weight per u sample (or a histogram's masses); normalised per row"),
             Option("v_weights", "tensor", None, "a weight per v sample (or a histogram's masses); normalised per row")),
            "scipy.stats.wasserstein_distance",
            ("wasserstein_distance", "earth_mover", "earth_movers_distance", "emd", "wasserstein1"),
            "--u-weights 1.4,0.9,3.1,7.2 --v-weights 3.2,3.5 3.4,3.9,7.5,7.8 4.5,1.4",
            ("2-D tensors are rows of separate distributions, not one distribution of vectors.",
             "histograms: pass the bin centres as the values of both and the masses as the weights."), "rows"),
    _beyond("entropy", entropy, (Tensor("p", help="probabilities, in rows along the last dimension"),), (),
            "scipy.stats.entropy", ("shannon_entropy",), "\"0.5,0.25,0.25;0.9,0.05,0.05\"",
            ("base e (nats): divide by log 2 for bits.",
             "rows are used as given: scipy.stats.entropy divides each row by its sum first; losscalc warns instead."),
            "rows"),
    _beyond("sigmoid_focal", sigmoid_focal,
            (Tensor("input", help="logits (any real numbers)"), Tensor("target", help="labels 0 or 1")),
            (Option("alpha", float, 0.25, "the positive class's weight (negatives get 1 - alpha); negative: no weighting"),
             Option("gamma", float, 2.0, "the focusing exponent on (1 - p_t); 0 with a negative alpha is bce_with_logits")),
            "torchvision.ops.sigmoid_focal_loss", ("sigmoid_focal_loss", "focal", "focal_loss"),
            "2.0,-1.0,0.5,-3.0 1,0,0,1",
            ("the input is logits, not probabilities, as for bce_with_logits.",
             "--alpha 0.25 weights the positive class (target 1) by 0.25 and the negative by 0.75.")),
    _beyond("log_cosh", log_cosh, (Tensor("input", help="predictions"), Tensor("target", help="true values")), (),
            "keras.losses.LogCosh", ("logcosh", "log_cosh_loss"), "1,2,3 1.5,2,5",
            ("Keras's log_cosh takes (y_true, y_pred) and averages over the last axis; "
             "losscalc takes (input, target), PyTorch's order, and gives every element.",)),
    _beyond("dice", dice,
            (Tensor("input", help="probabilities (sigmoid or softmax output)"), Tensor("target", help="0 or 1 masks")),
            (_SMOOTH,), "the soft Dice loss of V-Net (Milletari et al., 2016)", ("dice_loss", "soft_dice", "DiceLoss"),
            "\"0.9,0.8,0.1;0.2,0.1,0.7\" \"1,1,0;0,0,1\"",
            ("the first dimension is the batch: (N, C) is N samples of C values; a 1-D input is one sample.",
             "with --smooth 0, an empty prediction against an empty target is 0/0 = nan."), "rows"),
]
