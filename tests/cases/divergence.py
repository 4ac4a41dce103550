"""Differential cases for losscalc/kernels/divergence.py."""

import numpy as np

from . import Case

LOSSES = ["kl_div"]
REDUCTIONS = ["none", "mean", "sum", "batchmean"]
LEGACY = [{"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}, {"size_average": False, "reduce": True}]


def log_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _distributions(rng, shape, zeros=True):
    """Rows of probabilities along the last dimension; with `zeros`, some exact zeros."""
    p = rng.random(shape) + 0.05
    if zeros and len(shape) and shape[-1] > 2:
        p[..., 0] = 0.0
    return p / p.sum(axis=-1, keepdims=True)



def cases(rng):
    out = []
    for shape in [(4,), (3, 5), (2, 3, 4), (int(rng.integers(1, 20)), 6)]:
        x = log_softmax(rng.normal(size=shape))
        p = _distributions(rng, shape)
        log_p = log_softmax(rng.normal(size=shape))
        for reduction in REDUCTIONS:
            out.append(Case("kl_div", [x, p], {}, reduction))
            out.append(Case("kl_div", [x, log_p], {"log_target": True}, reduction))
    x = log_softmax(rng.normal(size=(3, 4)))
    # target = 0 with input = -inf: 0 - 0·(-inf) = nan, as in PyTorch; log_target with target = -inf
    x_inf = x.copy()
    x_inf[0, 0] = -np.inf
    p = _distributions(rng, (3, 4))
    out.append(Case("kl_div", [x_inf, p], {}, "none"))
    with np.errstate(divide="ignore"):
        out.append(Case("kl_div", [x, np.log(p)], {"log_target": True}, "none"))
    # probabilities where log-probabilities are expected (PyTorch computes anyway)
    out.append(Case("kl_div", [p, _distributions(rng, (3, 4))], {}, "mean"))
    # negative and nan targets without --log-target: nan
    out.append(Case("kl_div", [x[0], np.array([-0.5, 0.5, np.nan, 1.0])], {}, "none"))
    out.append(Case("kl_div", [x[0], np.array([-0.0, 0.5, 0.5, 0.0])], {}, "none"))
    # broadcasting; batchmean divides by input.shape[0] even when the target is larger
    out.append(Case("kl_div", [log_softmax(rng.normal(size=(4,))), _distributions(rng, (3, 4))], {}, "batchmean"))
    out.append(Case("kl_div", [log_softmax(rng.normal(size=(3, 4))), _distributions(rng, (4,))], {}, "batchmean"))
    out.append(Case("kl_div", [log_softmax(rng.normal(size=(3, 1))), _distributions(rng, (3, 4))], {}, "sum"))
    # 0-d: batchmean is the sum
    for reduction in REDUCTIONS:
        out.append(Case("kl_div", [np.array(-0.7), np.array(0.4)], {}, reduction))
    # empty
    out.append(Case("kl_div", [np.zeros((0,)), np.zeros((0,))], {}, "mean"))
    out.append(Case("kl_div", [np.zeros((2, 0)), np.zeros((2, 0))], {}, "batchmean"))
    out.append(Case("kl_div", [np.zeros((0, 3)), np.zeros((0, 3))], {}, "sum"))
    for legacy in LEGACY:
        out.append(Case("kl_div", [log_softmax(rng.normal(size=(2, 3))), _distributions(rng, (2, 3))], dict(legacy)))
        out.append(Case("kl_div", [log_softmax(rng.normal(size=(2, 3))), log_softmax(rng.normal(size=(2, 3)))],
                        {"log_target": True, **legacy}))
    return out


def error_cases(rng):
    return [
        Case("kl_div", [log_softmax(rng.normal(size=(2, 3))), _distributions(rng, (2, 4))]),
        Case("kl_div", [log_softmax(rng.normal(size=(3,))), _distributions(rng, (2,))], {"log_target": True}),
    ]




def torch_value(F, case, tensors, options):
    return F.kl_div(*tensors, reduction=case.reduction, **options)
