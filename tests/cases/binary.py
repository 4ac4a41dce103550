"""Differential cases for losscalc/kernels/binary.py."""

import numpy as np

from . import Case

LOSSES = ["bce", "bce_with_logits", "soft_margin"]
REDUCTIONS = ["none", "mean", "sum"]
LEGACY = [{"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}, {"size_average": False, "reduce": True}]
SHAPES = [(), (5,), (3, 4), (2, 3, 4)]


def _probabilities(rng, shape, exact=True):
    """Probabilities in [0, 1]; with `exact`, some of them exactly 0 and 1 (the -100 clamp)."""
    p = rng.random(shape)
    if exact and p.ndim and p.size >= 4:
        flat = p.reshape(-1)
        flat[:4] = [0.0, 1.0, 0.0, 1.0]
    return p


def _labels(rng, shape):
    return rng.integers(0, 2, size=shape).astype(float)


def _weights(rng, shape):
    """None, the full shape, the last dimension only (broadcast) and a single number."""
    out = [None, rng.random(shape) * 2, np.array(1.5)]
    if shape:
        out.append(rng.random(shape[-1:]) * 2)
        out.append(rng.random((1,) * (len(shape) - 1) + shape[-1:]))
    return out


def _bce(rng):
    out = []
    for shape in SHAPES:
        x = _probabilities(rng, shape)
        for y in [_labels(rng, shape), rng.random(shape)]:
            for reduction in REDUCTIONS:
                for w in _weights(rng, shape):
                    out.append(Case("bce", [x, y], {} if w is None else {"weight": w}, reduction))
    # every combination of an exact 0 or 1 input with a 0, 1 or soft target: the -100 clamp
    x = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1e-50, 1 - 1e-17, 0.5])
    y = np.array([0.0, 1.0, 0.3, 0.0, 1.0, 0.3, 1.0, 0.0, 0.5])
    for reduction in REDUCTIONS:
        out.append(Case("bce", [x, y], {}, reduction))
    out.append(Case("bce", [x, y], {"weight": -rng.random(x.shape)}, "mean"))  # negative weights pass
    out.append(Case("bce", [np.zeros((0,)), np.zeros((0,))], {}, "mean"))
    out.append(Case("bce", [np.zeros((0, 3)), np.zeros((0, 3))], {"weight": np.ones(3)}, "sum"))
    for legacy in LEGACY:
        out.append(Case("bce", [_probabilities(rng, (4,)), _labels(rng, (4,))], dict(legacy)))
    return out


def _bce_with_logits(rng):
    out = []
    for shape in SHAPES:
        x = rng.normal(size=shape) * 3
        for y in [_labels(rng, shape), rng.random(shape)]:
            for reduction in REDUCTIONS:
                for w in _weights(rng, shape)[:3]:
                    for pw in _weights(rng, shape)[::2]:
                        opts = {}
                        if w is not None:
                            opts["weight"] = w
                        if pw is not None:
                            opts["pos_weight"] = pw
                        out.append(Case("bce_with_logits", [x, y], opts, reduction))
    # pos_weight per class, (C,), on (N, C): the usual multi-label use
    x, y = rng.normal(size=(4, 3)), _labels(rng, (4, 3))
    for reduction in REDUCTIONS:
        out.append(Case("bce_with_logits", [x, y], {"pos_weight": np.array([1.0, 3.0, 0.5])}, reduction))
        out.append(Case("bce_with_logits", [x, y], {"pos_weight": rng.random((3,)) * 4, "weight": rng.random((4, 1))}, reduction))
    # large logits: the stable form keeps them finite
    big = np.array([800.0, -800.0, 40.0, -40.0, 0.0, 1e-20, 50.0, -50.0])
    tgt = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 1.0, 0.3, 0.7])
    for reduction in REDUCTIONS:
        out.append(Case("bce_with_logits", [big, tgt], {}, reduction))
    out.append(Case("bce_with_logits", [big, tgt], {"pos_weight": np.array(2.5)}, "none"))
    out.append(Case("bce_with_logits", [big[:3], np.array([2.0, -1.0, 1.0])], {"pos_weight": np.array([1.0, -1.0, 3.0])}, "none"))
    out.append(Case("bce_with_logits", [np.array([np.nan, np.inf, -np.inf]), np.array([1.0, 1.0, 0.0])], {}, "none"))
    out.append(Case("bce_with_logits", [np.zeros((0,)), np.zeros((0,))], {}, "mean"))
    for legacy in LEGACY:
        out.append(Case("bce_with_logits", [rng.normal(size=(4,)), _labels(rng, (4,))], {"pos_weight": np.array(2.0), **legacy}))
    return out


def _soft_margin(rng):
    out = []
    for shape in SHAPES + [(int(rng.integers(1, 40)),)]:
        x = rng.normal(size=shape) * 2
        y = rng.choice([-1.0, 1.0], size=shape)
        for reduction in REDUCTIONS:
            out.append(Case("soft_margin", [x, y], {}, reduction))
    out.append(Case("soft_margin", [rng.normal(size=(6,)), rng.integers(0, 2, size=(6,)).astype(float)], {}, "none"))  # {0, 1}
    out.append(Case("soft_margin", [rng.normal(size=(3, 4)), rng.choice([-1.0, 1.0], size=(4,))], {}, "mean"))  # broadcast
    out.append(Case("soft_margin", [rng.normal(size=(3, 4)), np.array(1.0)], {}, "sum"))
    out.append(Case("soft_margin", [np.array([-800.0, 800.0, 30.0, -30.0]), np.array([1.0, 1.0, 1.0, -1.0])], {}, "none"))
    out.append(Case("soft_margin", [np.zeros((0,)), np.zeros((0,))], {}, "mean"))
    for legacy in LEGACY:
        out.append(Case("soft_margin", [rng.normal(size=(4,)), rng.choice([-1.0, 1.0], size=(4,))], dict(legacy)))
    return out



def cases(rng):
    return _bce(rng) + _bce_with_logits(rng) + _soft_margin(rng)


def error_cases(rng):
    p3, y3 = rng.random(3), _labels(rng, (3,))
    x3 = rng.normal(size=(3,))
    return [
        Case("bce", [np.array([0.2, 1.5, 0.3]), y3]),
        Case("bce", [np.array([0.2, -0.1, 0.3]), y3]),
        Case("bce", [np.array([0.2, np.nan, 0.3]), y3]),
        Case("bce", [np.array(1.2), np.array(1.0)]),
        Case("bce", [p3, np.array([0.0, 1.0, 2.0])]),
        Case("bce", [p3, np.array([0.0, np.nan, 1.0])]),
        Case("bce", [p3, np.array([1.0])]),  # sizes differ: PyTorch will not broadcast
        Case("bce", [rng.random((2, 3)), _labels(rng, (3,))]),
        Case("bce", [p3, y3], {"weight": np.ones(2)}),
        Case("bce", [p3, y3], {"weight": np.ones((2, 3))}),  # would enlarge the output
        Case("bce", [p3, y3], {"weight": np.ones((1, 3))}),
        Case("bce_with_logits", [x3, np.array([1.0])]),
        Case("bce_with_logits", [x3, _labels(rng, (2, 3))]),
        Case("bce_with_logits", [x3, y3], {"pos_weight": np.ones(2)}),
        Case("bce_with_logits", [x3, y3], {"pos_weight": np.ones((2, 3))}),
        Case("bce_with_logits", [x3, y3], {"weight": np.ones(4)}),
        Case("bce_with_logits", [x3, y3], {"weight": np.ones((2, 3))}),
        Case("soft_margin", [x3, np.ones((2, 3))]),  # would enlarge the output
        Case("soft_margin", [np.array([1.0]), np.ones(3)]),
        Case("soft_margin", [x3, np.ones(2)]),
    ]




def torch_value(F, case, tensors, options):
    fn = {
        "bce": F.binary_cross_entropy,
        "bce_with_logits": F.binary_cross_entropy_with_logits,
        "soft_margin": F.soft_margin_loss,
    }[case.loss]
    return fn(*tensors, reduction=case.reduction, **options)
