"""Differential cases for losscalc/kernels/embedding.py."""

import numpy as np

from . import Case

LOSSES = ["margin_ranking", "hinge_embedding"]
REDUCTIONS = ["none", "mean", "sum"]


def _pm1(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


def cases(rng):
    out = []
    for reduction in REDUCTIONS:
        for n in [1, 7]:
            x1, x2 = rng.normal(size=(n,)), rng.normal(size=(n,))
            for margin in [0.0, 0.5]:
                out.append(Case("margin_ranking", [x1, x2, _pm1(rng, (n,))], {"margin": margin}, reduction))
        for shape in [(6,), (3, 4)]:
            d = np.abs(rng.normal(size=shape)) * 2
            for margin in [1.0, 0.3]:
                out.append(Case("hinge_embedding", [d, _pm1(rng, shape)], {"margin": margin}, reduction))
        out.append(Case("hinge_embedding", [rng.normal(size=(5,)), np.array([1.0, -1, 0, 2, 1])], {}, reduction))
    out.append(Case("margin_ranking", [rng.normal(size=(4,)), rng.normal(size=(4,)), np.ones(1)]))
    out.append(Case("margin_ranking", [rng.normal(size=(4,)), rng.normal(size=(4,)), _pm1(rng, (4,))], {"reduce": False}))
    return out


def error_cases(rng):
    return [
        Case("margin_ranking", [rng.normal(size=(2, 3)), rng.normal(size=(3,)), np.ones(3)]),
        Case("margin_ranking", [rng.normal(size=(3,)), rng.normal(size=(4,)), np.ones(3)]),
        Case("hinge_embedding", [rng.normal(size=(3,)), np.ones(4)]),
    ]


def torch_value(F, case, tensors, options):
    fn = {"margin_ranking": F.margin_ranking_loss, "hinge_embedding": F.hinge_embedding_loss}[case.loss]
    return fn(*tensors, reduction=case.reduction, **options)
