"""Differential cases for losscalc/kernels/regression.py."""

import numpy as np

from . import Case

LOSSES = ["l1", "mse", "smooth_l1", "huber", "poisson_nll", "gaussian_nll"]
REDUCTIONS = ["none", "mean", "sum"]
LEGACY = [{"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}, {"size_average": False, "reduce": True}]


def _shapes(rng):
    return [(), (5,), (3, 4), (2, 3, 4), (int(rng.integers(1, 50)),)]


def _pair(rng, shape, scale=2.0):
    """Input and target far enough apart that both branches of smooth_l1/huber are taken."""
    return rng.normal(size=shape) * scale, rng.normal(size=shape) * scale


def _l1_mse(rng):
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


def _smooth_l1_huber(rng):
    out = []
    for shape in _shapes(rng):
        x, y = _pair(rng, shape)
        for reduction in REDUCTIONS:
            for beta in [1.0, 0.5, 0.0, 2.5]:
                out.append(Case("smooth_l1", [x, y], {"beta": beta}, reduction))
            for delta in [1.0, 0.3, 2.0]:
                out.append(Case("huber", [x, y], {"delta": delta}, reduction))
                out.append(Case("huber", [x, y], {"delta": delta, "weight": rng.random(shape) * 2}, reduction))
    x = rng.normal(size=(6,))
    out.append(Case("smooth_l1", [x, x.copy()], {}, "sum"))  # zero loss
    out.append(Case("huber", [x, x.copy()], {"delta": 0.5}, "mean"))
    # |x - y| exactly at beta / delta: the linear branch (PyTorch tests z < beta)
    out.append(Case("smooth_l1", [np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.0, -1.5])], {}, "none"))
    out.append(Case("huber", [np.array([0.0, 1.0, -2.0]), np.array([0.5, 0.0, -1.5])], {"delta": 0.5}, "none"))
    for loss, opts in [("smooth_l1", {"beta": 0.7}), ("huber", {"delta": 0.7})]:
        out.append(Case(loss, [*_pair(rng, (3, 4))[:1], rng.normal(size=(4,))], opts, "mean"))  # broadcast
        out.append(Case(loss, [rng.normal(size=(4,)), rng.normal(size=(2, 4))], opts, "none"))  # broadcast up
        out.append(Case(loss, [np.zeros((0,)), np.zeros((0,))], opts, "mean"))  # empty: nan
        out.append(Case(loss, [np.zeros((0, 3)), np.zeros((0, 3))], opts, "sum"))  # empty: 0
        out.append(Case(loss, [np.array([np.nan, np.inf, 1.0]), np.array([0.5, np.inf, -np.inf])], opts, "none"))
    # huber weight of the input's shape with a target that broadcasts the input up
    out.append(Case("huber", [rng.normal(size=(3,)), rng.normal(size=(2, 3))], {"weight": rng.random((3,))}, "mean"))
    for legacy in LEGACY:
        out.append(Case("smooth_l1", list(_pair(rng, (4,))), dict(legacy)))
        out.append(Case("smooth_l1", list(_pair(rng, (4,))), {"beta": 0.0, **legacy}))
    return out


def _counts(rng, shape):
    """Poisson targets: 0, 1 and counts above 1, so the Stirling mask is exercised."""
    return rng.poisson(2.0, size=shape).astype(float)


def _poisson(rng):
    out = []
    for shape in _shapes(rng):
        y = _counts(rng, shape)
        log_rate = rng.normal(size=shape)
        rate = rng.random(shape) * 3
        for reduction in REDUCTIONS:
            for full in [False, True]:
                out.append(Case("poisson_nll", [log_rate, y], {"full": full}, reduction))
                out.append(Case("poisson_nll", [rate, y], {"log_input": False, "full": full}, reduction))
    edge_x = np.array([0.0, 0.0, 1e-9, 2.0, 5.0, 0.5])
    edge_y = np.array([0.0, 3.0, 2.0, 1.0, 1.5, 0.7])
    for eps in [1e-8, 0.1, 0.0]:
        out.append(Case("poisson_nll", [edge_x, edge_y], {"log_input": False, "full": True, "eps": eps}, "none"))
    out.append(Case("poisson_nll", [edge_x, edge_y], {"full": True}, "none"))
    out.append(Case("poisson_nll", [rng.normal(size=(5,)), rng.normal(size=(5,))], {"full": True}, "none"))  # negative targets
    out.append(Case("poisson_nll", [rng.normal(size=(3, 4)), _counts(rng, (4,))], {"full": True}, "mean"))  # broadcast
    out.append(Case("poisson_nll", [rng.normal(size=(4,)), _counts(rng, (2, 4))], {"full": True}, "none"))
    out.append(Case("poisson_nll", [np.zeros((0,)), np.zeros((0,))], {}, "mean"))
    out.append(Case("poisson_nll", [np.array([np.nan, 1.0]), np.array([2.0, np.inf])], {"full": True}, "none"))
    for legacy in LEGACY:
        out.append(Case("poisson_nll", [rng.normal(size=(4,)), _counts(rng, (4,))], dict(legacy)))
    return out


# (input shape, var shape): every shape rule of F.gaussian_nll_loss that accepts the var
GAUSSIAN_SHAPES = [
    ((3, 4), (3, 4)),  # heteroscedastic
    ((3, 4), (3,)),  # one dimension short: unsqueezed at the end
    ((3, 4), (3, 1)),  # last dimension 1
    ((2, 3, 4), (2, 1, 4)),  # a middle dimension 1
    ((2, 3, 4), (1, 3, 4)),  # the first dimension 1
    ((2, 3, 4), (2, 3)),
    ((3, 1), (3,)),
    ((4,), (1,)),
    ((4,), ()),  # a single number
    ((3, 4), ()),  # a single number: PyTorch's float var
    ((), ()),
]


def _gaussian(rng):
    out = []
    for shape, vshape in GAUSSIAN_SHAPES:
        x, y = rng.normal(size=shape), rng.normal(size=shape)
        var = rng.random(vshape) * 2
        for reduction in REDUCTIONS:
            out.append(Case("gaussian_nll", [x, y, var], {}, reduction))
        out.append(Case("gaussian_nll", [x, y, var], {"full": True}, "mean"))
        out.append(Case("gaussian_nll", [x, y, var], {"eps": 0.5}, "none"))
    small = np.array([0.0, 1e-9, 1e-6, 1e-3, 1.0])
    x, y = rng.normal(size=(5,)), rng.normal(size=(5,))
    for eps in [1e-6, 1e-2, 0.0]:
        out.append(Case("gaussian_nll", [x, y, small], {"eps": eps, "full": True}, "none"))
    out.append(Case("gaussian_nll", [x, x.copy(), np.ones(5)], {}, "sum"))
    out.append(Case("gaussian_nll", [rng.normal(size=(3, 4)), rng.normal(size=(4,)), rng.random((3, 4))], {}, "mean"))
    out.append(Case("gaussian_nll", [rng.normal(size=(4,)), rng.normal(size=(2, 4)), rng.random((4,))], {}, "none"))
    out.append(Case("gaussian_nll", [np.zeros((0,)), np.zeros((0,)), np.zeros((0,))], {}, "mean"))
    out.append(Case("gaussian_nll", [np.zeros((0, 3)), np.zeros((0, 3)), np.ones((0,))], {}, "sum"))
    out.append(Case("gaussian_nll", [np.zeros(3), np.ones(3), np.array([np.nan, 0.0, 1.0])], {}, "none"))
    return out



def cases(rng):
    return _l1_mse(rng) + _smooth_l1_huber(rng) + _poisson(rng) + _gaussian(rng)


def error_cases(rng):
    x3, y3 = rng.normal(size=(3,)), rng.normal(size=(3,))
    x34, y34 = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    return [
        Case("mse", [x3, rng.normal(size=(4,))]),
        Case("l1", [x3, y3], {"weight": rng.random((2,))}),
        Case("smooth_l1", [x3, y3], {"beta": -1.0}),
        Case("smooth_l1", [x3, rng.normal(size=(4,))]),
        Case("huber", [x3, y3], {"delta": 0.0}),
        Case("huber", [x3, y3], {"delta": -0.5}),
        Case("huber", [x3, y3], {"weight": rng.random((1,))}),
        Case("huber", [x3, rng.normal(size=(2, 3))], {"weight": rng.random((2, 3))}),
        Case("poisson_nll", [x3, rng.normal(size=(2,))]),
        Case("gaussian_nll", [x3, y3, np.array([1.0, -0.5, 1.0])]),
        Case("gaussian_nll", [x3, y3, np.array(-0.5)]),
        Case("gaussian_nll", [x34, y34, np.array([-1.0, 1.0])]),  # negative is reported before the shape
        Case("gaussian_nll", [x34, y34, np.ones((1, 1))]),  # two dimensions of size 1
        Case("gaussian_nll", [x34, y34, np.ones((4,))]),  # the last dimension, not the first
        Case("gaussian_nll", [x34, y34, np.ones((3, 4, 1))]),
        Case("gaussian_nll", [x34, y34, np.ones((0, 1))]),  # passes the shape rule, cannot broadcast
        Case("gaussian_nll", [rng.normal(size=(1, 4)), rng.normal(size=(1, 4)), np.ones((2, 4))]),
        Case("gaussian_nll", [rng.normal(size=(4,)), rng.normal(size=(4,)), np.ones((2,))]),
        Case("gaussian_nll", [np.array(1.0), np.array(1.0), np.ones((1,))]),
        Case("gaussian_nll", [x3, rng.normal(size=(2,)), np.ones((3,))]),
    ]




def torch_value(F, case, tensors, options):
    fn = {
        "l1": F.l1_loss, "mse": F.mse_loss, "smooth_l1": F.smooth_l1_loss, "huber": F.huber_loss,
        "poisson_nll": F.poisson_nll_loss, "gaussian_nll": F.gaussian_nll_loss,
    }[case.loss]
    if case.loss == "gaussian_nll" and tensors[2].dim() == 0:
        tensors = [tensors[0], tensors[1], float(tensors[2])]  # a single number: PyTorch's float var
    return fn(*tensors, reduction=case.reduction, **options)
