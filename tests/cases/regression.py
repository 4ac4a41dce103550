"""Differential cases for losscalc/kernels/regression.py."""

import numpy as np

from . import Case

LOSSES = ["l1", "mse"]
REDUCTIONS = ["none", "mean", "sum"]
LEGACY = [{"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}, {"size_average": False, "reduce": True}]


def _shapes(rng):
    return [(), (5,), (3, 4), (2, 3, 4), (int(rng.integers(1, 50)),)]


def cases(rng):
    out = []
    for loss in ["l1", "mse"]:
        for shape in _shapes(rng):
            x, y = rng.normal(size=shape), rng.normal(size=shape)
            for reduction in REDUCTIONS:
                out.append(Case(loss, [x, y], {}, reduction))
                out.append(Case(loss, [x, y], {"weight": rng.random(shape) * 2}, reduction))
        out.append(Case(loss, [rng.normal(size=(3, 4)), rng.normal(size=(4,))], {}, "mean"))  # broadcast
        out.append(Case(loss, [rng.normal(size=(0,)), rng.normal(size=(0,))], {}, "mean"))  # empty: nan
        for legacy in LEGACY:
            out.append(Case(loss, [rng.normal(size=(4,)), rng.normal(size=(4,))], dict(legacy)))
    return out


def error_cases(rng):
    return [
        Case("mse", [rng.normal(size=(3,)), rng.normal(size=(4,))]),
        Case("l1", [rng.normal(size=(3,)), rng.normal(size=(3,))], {"weight": rng.random((2,))}),
    ]


def torch_value(F, case, tensors, options):
    fn = {"l1": F.l1_loss, "mse": F.mse_loss}[case.loss]
    return fn(*tensors, reduction=case.reduction, **options)
