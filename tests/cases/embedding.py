"""Differential cases for losscalc/kernels/embedding.py."""

import numpy as np

from . import Case

LOSSES = ["margin_ranking", "hinge_embedding", "cosine_embedding", "triplet_margin", "triplet_margin_with_distance"]
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
    return out + _cosine_cases(rng) + _triplet_cases(rng)


LEGACY = [{"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True},
          {"size_average": False, "reduce": True}]


def _cosine_cases(rng):
    out = []
    for reduction in REDUCTIONS:
        n, d = int(rng.integers(1, 9)), int(rng.integers(1, 6))
        a, b = rng.normal(size=(n, d)), rng.normal(size=(n, d))
        for margin in [0.0, 0.3, -0.5]:
            out.append(Case("cosine_embedding", [a, b, _pm1(rng, (n,))], {"margin": margin}, reduction))
        out.append(Case("cosine_embedding", [a[0], b[0], np.array(-1.0)], {"margin": 0.1}, reduction))
        out.append(Case("cosine_embedding", [a[0], b[0], np.array(1.0)], {}, reduction))
        out.append(Case("cosine_embedding", [a, b[:1], _pm1(rng, (n,))], {}, reduction))  # broadcast input2
        out.append(Case("cosine_embedding", [a, b, np.array([1.0, 0, 2, -1, 1, -1, 0, 1, 1])[:n]], {}, reduction))
        out.append(Case("cosine_embedding", [np.zeros((3, 4)), rng.normal(size=(3, 4)), np.array([1.0, -1, 1])], {}, reduction))
        out.append(Case("cosine_embedding", [a, b, np.ones(1)], {}, reduction))  # (1) target broadcast
    for legacy in LEGACY:
        out.append(Case("cosine_embedding", [rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), _pm1(rng, (4,))], dict(legacy)))
    return out


def _triplet_cases(rng):
    out = []
    for reduction in REDUCTIONS:
        for shape in [(int(rng.integers(1, 9)), int(rng.integers(1, 6))), (5,), (2, 3, 4), ()]:
            a, p, n = (rng.normal(size=shape) for _ in range(3))
            for opts in [{}, {"margin": 0.5, "p": 1.0}, {"p": 3.0, "eps": 0.01, "swap": True},
                         {"p": float("inf"), "swap": True}, {"p": 0.5, "margin": 2.0}, {"p": 0.0}]:
                out.append(Case("triplet_margin", [a, p, n], opts, reduction))
            for opts in [{}, {"swap": True, "margin": 0.2}]:
                out.append(Case("triplet_margin_with_distance", [a, p, n], opts, reduction))
                if len(shape) >= 2:
                    out.append(Case("triplet_margin_with_distance", [a, p, n], {"distance": "cosine", **opts}, reduction))
        a, p, n = rng.normal(size=(4, 3)), rng.normal(size=(1, 3)), rng.normal(size=(4, 3))
        out.append(Case("triplet_margin", [a, p, n], {"swap": True}, reduction))  # positive broadcast
        out.append(Case("triplet_margin_with_distance", [a, p, n], {"distance": "cosine", "swap": True}, reduction))
        out.append(Case("triplet_margin_with_distance", [a, np.zeros((4, 3)), n], {"distance": "cosine"}, reduction))
    a, b = np.array([[np.inf, 0], [np.nan, 1], [0, 0]]), np.array([[1.0, 1], [1, 1], [0, 0]])
    out.append(Case("cosine_embedding", [a, b, np.array([1.0, -1, 1])], {}, "none"))  # non-finite, zero vectors
    out.append(Case("triplet_margin", [a, b, b * 2], {"swap": True}, "none"))
    for legacy in LEGACY:
        out.append(Case("triplet_margin", [rng.normal(size=(4, 3)) for _ in range(3)], dict(legacy)))
    return out


def error_cases(rng):
    return [
        Case("margin_ranking", [rng.normal(size=(2, 3)), rng.normal(size=(3,)), np.ones(3)]),
        Case("margin_ranking", [rng.normal(size=(3,)), rng.normal(size=(4,)), np.ones(3)]),
        Case("hinge_embedding", [rng.normal(size=(3,)), np.ones(4)]),
        Case("cosine_embedding", [rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), np.ones((1, 3))]),  # 2-D target
        Case("cosine_embedding", [rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), np.array(1.0)]),
        Case("cosine_embedding", [rng.normal(size=(4,)), rng.normal(size=(4,)), np.ones(1)]),
        Case("cosine_embedding", [rng.normal(size=(4,)), rng.normal(size=(3, 4)), np.array(1.0)]),
        Case("cosine_embedding", [rng.normal(size=(3, 4)), rng.normal(size=(4,)), np.ones(3)]),
        Case("cosine_embedding", [rng.normal(size=(3, 4)), rng.normal(size=(3, 5)), np.ones(3)]),
        Case("cosine_embedding", [rng.normal(size=(3, 4)), rng.normal(size=(2, 4)), np.ones(2)]),
        Case("cosine_embedding", [rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), np.ones(2)]),
        Case("triplet_margin", [rng.normal(size=(3, 4)) for _ in range(3)], {"margin": 0.0}),
        Case("triplet_margin", [rng.normal(size=(3, 4)) for _ in range(3)], {"margin": -1.0}),
        Case("triplet_margin", [rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(4,))]),
        Case("triplet_margin", [rng.normal(size=(3, 4)), rng.normal(size=(2, 4)), rng.normal(size=(3, 4))]),
        Case("triplet_margin", [rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 5))]),
        Case("triplet_margin_with_distance", [rng.normal(size=(3, 4)) for _ in range(3)], {"margin": 0.0}),
        Case("triplet_margin_with_distance", [rng.normal(size=(3, 4)), rng.normal(size=(4,)), rng.normal(size=(3, 4))]),
        Case("triplet_margin_with_distance", [rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(2, 4))]),
        Case("triplet_margin_with_distance", [rng.normal(size=(4,)) for _ in range(3)], {"distance": "cosine"}),
        Case("triplet_margin_with_distance", [rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 5))],
             {"distance": "cosine"}),
    ]


def torch_value(F, case, tensors, options):
    if case.loss == "triplet_margin_with_distance":
        options = dict(options)
        if options.pop("distance", "pairwise") == "cosine":
            options["distance_function"] = lambda x1, x2: 1 - F.cosine_similarity(x1, x2, eps=1e-8)
        else:
            options["distance_function"] = lambda x1, x2: F.pairwise_distance(x1, x2, p=2.0, eps=1e-6)
        return F.triplet_margin_with_distance_loss(*tensors, reduction=case.reduction, **options)
    fn = {"margin_ranking": F.margin_ranking_loss, "hinge_embedding": F.hinge_embedding_loss,
          "cosine_embedding": F.cosine_embedding_loss, "triplet_margin": F.triplet_margin_loss}[case.loss]
    return fn(*tensors, reduction=case.reduction, **options)
