"""Differential cases for losscalc/kernels/classification.py and margin.py."""

import numpy as np

from . import Case

LOSSES = ["cross_entropy", "nll", "multi_margin", "multilabel_margin", "multilabel_soft_margin"]
REDUCTIONS = ["none", "mean", "sum"]
LEGACY = [{"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True},
          {"size_average": False, "reduce": True}]


def _log_softmax(x, axis):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _softmax(x, axis):
    return np.exp(_log_softmax(x, axis))


def _index_shapes(rng):
    """(input shape, target shape) pairs: (C), (N, C), (N, C, d1), (N, C, d1, d2), 5-D."""
    c = int(rng.integers(2, 7))
    n = int(rng.integers(1, 6))
    return [((c,), ()), ((1,), ()), ((n, c), (n,)), ((n, c, 3), (n, 3)), ((2, c, 3, 2), (2, 3, 2)),
            ((2, c, 2, 1, 3), (2, 2, 1, 3)), ((int(rng.integers(20, 60)), 11), None)]


def _targets(rng, shape, c):
    return rng.integers(0, c, size=shape)


def _classification_surface(rng, loss):
    out = []
    for in_shape, t_shape in _index_shapes(rng):
        if t_shape is None:
            t_shape = in_shape[:1]
        c = in_shape[1] if len(in_shape) > 1 else in_shape[0]
        x = rng.normal(size=in_shape) * rng.choice([1.0, 4.0])
        if loss == "nll":
            x = _log_softmax(x, 0 if len(in_shape) == 1 else 1)
        y = _targets(rng, t_shape, c)
        present = int(np.ravel(y)[0])
        big = x.size > 100
        smoothings = [0.0, 0.15, 1.0] if loss == "cross_entropy" else [None]
        for reduction in REDUCTIONS:
            for weight in [None, rng.random(c) * 2 + 0.1]:
                for ignore in [-100, present]:
                    for eps in smoothings:
                        if big and (reduction == "none" or eps == 1.0):
                            continue  # keep the golden file small: the big shape only reduced
                        opts = {}
                        if weight is not None:
                            opts["weight"] = weight
                        if ignore != -100:
                            opts["ignore_index"] = ignore
                        if eps:
                            opts["label_smoothing"] = eps
                        out.append(Case(loss, [x, y], opts, reduction))
    return out


def _cross_entropy_extra(rng):
    out = []
    for shape in [(5,), (4, 3), (3, 4, 2), (2, 3, 2, 2)]:
        axis = 0 if len(shape) == 1 else 1
        x = rng.normal(size=shape) * 2
        p = _softmax(rng.normal(size=shape) * 2, axis)
        c = shape[axis]
        for reduction in REDUCTIONS:
            out.append(Case("cross_entropy", [x, p], {}, reduction))
            out.append(Case("cross_entropy", [x, p], {"weight": rng.random(c) + 0.2, "label_smoothing": 0.3}, reduction))
            out.append(Case("cross_entropy", [x, p], {"label_smoothing": 0.2}, reduction))
        out.append(Case("cross_entropy", [x, rng.random(shape) * 2], {"weight": rng.random(c)}))  # rows not summing to 1
        out.append(Case("cross_entropy", [x, p], {"ignore_index": -3}))  # a negative ignore_index is allowed
        out.append(Case("cross_entropy", [x, p], {"label_smoothing": -0.4}))  # PyTorch ignores it
    x = rng.normal(size=(6, 4))
    y = np.array([3, 1, 3, 3, 0, 2])
    for reduction in REDUCTIONS:
        out.append(Case("cross_entropy", [x, np.full(6, 2)], {"ignore_index": 2}, reduction))  # all ignored
        out.append(Case("cross_entropy", [x, np.full(6, 2)], {"ignore_index": 2, "label_smoothing": 0.1,
                                                              "weight": rng.random(4)}, reduction))
        out.append(Case("cross_entropy", [x, np.array([3, 7, 3, 7, 0, 2])], {"ignore_index": 7, "label_smoothing": 0.2,
                                                                            "weight": rng.random(4)}, reduction))
        out.append(Case("cross_entropy", [x, y], {"weight": np.array([1.0, 0, 2, 0])}, reduction))
        out.append(Case("cross_entropy", [x * 300, y], {"label_smoothing": 0.05}, reduction))  # large logits
        out.append(Case("nll", [x, np.full(6, 1)], {"ignore_index": 1}, reduction))
        out.append(Case("cross_entropy", [rng.normal(size=(0, 4)), np.zeros(0, np.int64)], {}, reduction))
        out.append(Case("cross_entropy", [rng.normal(size=(0, 4)), np.zeros((0, 4))], {}, reduction))
    out.append(Case("cross_entropy", [x, np.array([3, -1, 3, -1, 0, 2])], {"ignore_index": -1}))
    out.append(Case("cross_entropy", [x, np.full(6, 1)], {"weight": np.array([1.0, 0, 2, 0])}))  # Σ w = 0: nan
    out.append(Case("cross_entropy", [rng.normal(size=(5,)), np.array([2])], {}, "none"))  # (C) with a (1) target
    out.append(Case("cross_entropy", [rng.normal(size=(2, 0)), np.zeros((2, 0))], {}, "mean"))  # C = 0
    for reduction in REDUCTIONS:  # an empty spatial dimension
        out.append(Case("cross_entropy", [np.zeros((1, 1, 0)), np.zeros((1, 1, 0))], {}, reduction))
        out.append(Case("cross_entropy", [np.zeros((2, 3, 0)), np.zeros((2, 0), np.int64)], {"label_smoothing": 0.1}, reduction))
        out.append(Case("nll", [np.zeros((2, 3, 0, 2)), np.zeros((2, 0, 2), np.int64)], {}, reduction))
    out.append(Case("nll", [rng.normal(size=(3, 4)), np.array([1, 2, 0])], {}, "mean"))  # not log-probs
    odd = np.array([[np.inf, 0, 1], [-np.inf, 0, 1], [-np.inf, -np.inf, -np.inf], [np.nan, 0, 1], [1, 2, 3]])
    for opts in [{}, {"label_smoothing": 0.2, "weight": np.array([1.0, 2, 3])}, {"ignore_index": 1}]:
        out.append(Case("cross_entropy", [odd, np.array([1, 0, 2, 1, 1])], opts, "none"))  # non-finite logits
        out.append(Case("cross_entropy", [odd, np.tile([0.2, 0.3, 0.5], (5, 1))], {}, "none"))
        out.append(Case("nll", [odd, np.array([1, 0, 2, 1, 1])], opts if "weight" not in opts else {}, "sum"))
    for legacy in LEGACY:
        for loss in ["cross_entropy", "nll"]:
            out.append(Case(loss, [x, y], {"weight": rng.random(4), **legacy}))
    return out


def _margins(rng):
    out = []
    for reduction in REDUCTIONS:
        for shape in [(4,), (1, 5), (6, 3), (int(rng.integers(10, 30)), 7)]:
            x = rng.normal(size=shape)
            c = shape[-1]
            y = rng.integers(0, c, size=shape[:1] if len(shape) == 2 else ())
            for p in [1, 2]:
                for margin in [1.0, 0.4]:
                    out.append(Case("multi_margin", [x, y], {"p": p, "margin": margin}, reduction))
                out.append(Case("multi_margin", [x, y], {"p": p, "weight": rng.random(c) * 2}, reduction))
            # -1-terminated multi-label targets, with repeats and labels after the -1
            labels = rng.integers(-1, c, size=shape)
            out.append(Case("multilabel_margin", [x, labels], {}, reduction))
            first = np.argsort(rng.random(shape), axis=-1)
            out.append(Case("multilabel_margin", [x, np.where(rng.random(shape) < 0.3, -1, first)], {}, reduction))
            t01 = (rng.random(shape) < 0.4).astype(float)
            out.append(Case("multilabel_soft_margin", [x * 3, t01], {}, reduction))
            out.append(Case("multilabel_soft_margin", [x, rng.random(shape)], {"weight": rng.random(c)}, reduction))
        out.append(Case("multi_margin", [rng.normal(size=(5,)), np.array([1])], {"p": 2}, reduction))
        out.append(Case("multi_margin", [np.array(0.7), np.array(0)], {}, reduction))
        out.append(Case("multilabel_margin", [rng.normal(size=(3, 4)), np.full((3, 4), -1)], {}, reduction))
        out.append(Case("multilabel_margin", [rng.normal(size=(3, 4)), np.tile([1, 1, 2, 3], (3, 1))], {}, reduction))
        out.append(Case("multilabel_soft_margin", [rng.normal(size=(3, 4)), (rng.random(4) < 0.5) * 1.0], {}, reduction))
    odd = np.array([[np.inf, 0, 1], [-np.inf, 0, 1], [np.nan, 0, 1], [1, np.nan, 3], [-np.inf, 0, np.inf]])
    for p in [1, 2]:  # PyTorch skips NaN margins (`if (z > 0)`)
        out.append(Case("multi_margin", [odd, np.array([1, 0, 1, 1, 2])], {"p": p}, "none"))
    out.append(Case("multilabel_margin", [odd, np.tile([1, -1, 0], (5, 1))], {}, "none"))
    out.append(Case("multilabel_soft_margin", [odd, np.ones((5, 3))], {}, "none"))
    for legacy in LEGACY:
        x = rng.normal(size=(4, 3))
        out.append(Case("multi_margin", [x, rng.integers(0, 3, 4)], dict(legacy)))
        out.append(Case("multilabel_margin", [x, rng.integers(-1, 3, (4, 3))], dict(legacy)))
        out.append(Case("multilabel_soft_margin", [x, (rng.random((4, 3)) < 0.5) * 1.0], {"weight": rng.random(3), **legacy}))
    return out


def cases(rng):
    return (_classification_surface(rng, "cross_entropy") + _classification_surface(rng, "nll")
            + _cross_entropy_extra(rng) + _margins(rng))


def error_cases(rng):
    x = rng.normal(size=(3, 4))
    y = np.array([0, 1, 3])
    lp = _log_softmax(x, 1)
    p = _softmax(x, 1)
    out = []
    for loss, inp in [("cross_entropy", x), ("nll", lp)]:
        out += [
            Case(loss, [inp, np.array([0, 4, 1])]),  # class index out of range
            Case(loss, [inp, np.array([0, -1, 1])]),  # negative, not the ignore index
            Case(loss, [inp, np.array([0, 4, 1])], {"ignore_index": 1}),
            Case(loss, [inp, y], {"weight": np.ones(3)}),  # weight of the wrong length
            Case(loss, [inp, y], {"weight": np.ones((1, 4))}),
            Case(loss, [inp, np.array([0, 1])]),  # batch size
            Case(loss, [inp, np.array([[0, 1, 1]])]),
            Case(loss, [inp, np.array(1)]),
            Case(loss, [rng.normal(size=(2, 4, 3)), np.zeros((2, 4), np.int64)]),  # K-dim sizes
            Case(loss, [rng.normal(size=(2, 4, 3, 2)), np.zeros((2, 3), np.int64)]),
            Case(loss, [rng.normal(size=(2, 4, 3, 2, 2)), np.zeros((2, 3, 2, 1), np.int64)]),
            Case(loss, [rng.normal(size=(4,)), np.array([1, 2])]),
            Case(loss, [rng.normal(size=(4,)), np.array(4)]),
        ]
    out += [
        Case("cross_entropy", [x, y], {"label_smoothing": 1.5}),
        Case("cross_entropy", [x, p], {"label_smoothing": 1.01}),
        Case("cross_entropy", [x, p], {"ignore_index": 1}),  # ignore_index with probability targets
        Case("cross_entropy", [x, p], {"ignore_index": 0}),
        Case("cross_entropy", [x, np.ones((3, 4), np.int64)]),  # integer probabilities
        Case("cross_entropy", [x, p[:, :3]]),
        Case("cross_entropy", [rng.normal(size=(4,)), np.array([1])], {"label_smoothing": 0.1}, "none"),
        Case("cross_entropy", [np.array(1.0), np.array(0)]),
        Case("cross_entropy", [rng.normal(size=(2, 0)), np.zeros(2, np.int64)]),
        Case("multi_margin", [x, y], {"p": 3}),
        Case("multi_margin", [x, y], {"p": 0}),
        Case("multi_margin", [x, np.array([0, 4, 1])]),
        Case("multi_margin", [x, np.array([0, -1, 1])]),
        Case("multi_margin", [x, np.array([0, 1])]),
        Case("multi_margin", [x, np.array([[0, 1, 1]])]),
        Case("multi_margin", [x, y], {"weight": np.ones(3)}),
        Case("multi_margin", [x, y], {"weight": np.ones((1, 4))}),
        Case("multi_margin", [rng.normal(size=(2, 3, 4)), np.array([0, 1])]),
        Case("multi_margin", [rng.normal(size=(2, 0)), np.array([0, 0])]),
        Case("multilabel_margin", [x, np.tile([0, 4, -1, 1], (3, 1))]),
        Case("multilabel_margin", [x, np.tile([0, 1, -2, 1], (3, 1))]),
        Case("multilabel_margin", [x, np.tile([0, 1, -1, 9], (3, 1))]),  # checked after the -1 too
        Case("multilabel_margin", [x, np.tile([0, 1, -1], (3, 1))]),
        Case("multilabel_margin", [x[0], np.array([0, 1, -1])]),
        Case("multilabel_margin", [rng.normal(size=(2, 3, 4)), np.zeros((2, 3, 4), np.int64)]),
        Case("multilabel_soft_margin", [x, np.ones((2, 4))]),
        Case("multilabel_soft_margin", [x, np.ones((3, 4))], {"weight": np.ones(3)}),
        Case("multilabel_soft_margin", [np.array(1.0), np.array(1.0)]),
    ]
    return out


def torch_value(F, case, tensors, options):
    fn = {"cross_entropy": F.cross_entropy, "nll": F.nll_loss, "multi_margin": F.multi_margin_loss,
          "multilabel_margin": F.multilabel_margin_loss,
          "multilabel_soft_margin": F.multilabel_soft_margin_loss}[case.loss]
    return fn(*tensors, reduction=case.reduction, **options)
