"""losscalc.conventions against the real frameworks (SPEC §11).

Every Equivalent in `losscalc.conventions.EQUIVALENTS` has a case here (a completeness test
fails when one is missing): a maker of random inputs in several shapes and option settings,
and an oracle that calls the real framework (Keras 3 on its NumPy backend, optax on jax with
x64 enabled, scikit-learn). The oracles run live when the framework is importable; the values
they produced, committed in tests/golden/conventions.json by tests/make_golden_conventions.py,
run always. The oracles convert the inputs themselves, from the frameworks' documentation, so
the conversions in losscalc are checked too.
"""

from __future__ import annotations

import json
import os
import pathlib
import warnings

os.environ.setdefault("KERAS_BACKEND", "numpy")

import numpy as np
import pytest

from losscalc.conventions import (EQUIVALENTS, FRAMEWORKS, ConventionResult, all_equivalents, convention_value,
                                  describe, equivalents, near_misses)
from losscalc.errors import LossError

GOLDEN = pathlib.Path(__file__).parent.parent / "golden" / "conventions.json"
SEEDS = (0, 1, 2)
RTOL = {"float32": 1e-6, "float64": 1e-10}
ATOL = {"float32": 1e-6, "float64": 1e-12}


# --- the frameworks, imported once --------------------------------------------------------

_MODULES: dict = {}


def framework(name):
    """The real framework module, imported once per test session, or a skip."""
    if name not in _MODULES:
        if name == "keras":
            if os.environ.get("KERAS_BACKEND") != "numpy":
                pytest.skip("Keras must run with KERAS_BACKEND=numpy here")
            _MODULES[name] = pytest.importorskip("keras")
        elif name == "optax":
            jax = pytest.importorskip("jax")
            jax.config.update("jax_enable_x64", True)
            _MODULES[name] = pytest.importorskip("optax")
        elif name == "sklearn":
            _MODULES[name] = pytest.importorskip("sklearn.metrics")
        elif name == "torch":
            _MODULES[name] = pytest.importorskip("torch")
    return _MODULES[name]


# --- inputs ---------------------------------------------------------------------------------

def _log_softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def _softmax(x, axis):
    return np.exp(_log_softmax(x, axis))


SHAPES = [(7,), (4, 5), (3, 4, 5)]


def regression(rng, v):
    shape = SHAPES[v % 3]
    return [rng.standard_normal(shape) * 2, rng.standard_normal(shape)], {}


def huber_case(rng, v):
    tensors, _ = regression(rng, v)
    return tensors, {"delta": (1.0, 0.5, 2.0)[v % 3]}


def probabilities(rng, v):
    """Probabilities with exact 0 and 1 among them (the clipping edges), hard 0/1 targets."""
    shape = SHAPES[v % 3]
    p = rng.random(shape)
    flat = p.reshape(-1)
    flat[0], flat[-1] = 0.0, 1.0
    flat[1] = 1e-9
    t = (rng.random(shape) < 0.5).astype(float)
    t.reshape(-1)[0] = 1.0  # a certain miss
    return [p, t], {}


def logits_binary(rng, v):
    shape = SHAPES[v % 3]
    x = rng.standard_normal(shape) * 4
    x.reshape(-1)[0] = 30.0  # sigmoid rounds to 1
    t = (rng.random(shape) < 0.5).astype(float)
    return [x, t], {}


def multilabel_case(rng, v):
    shape = [(4, 5), (6,), (3, 7)][v % 3]
    x = rng.standard_normal(shape) * 3
    x.reshape(-1)[0] = -25.0  # sigmoid below Keras's clip
    return [x, (rng.random(shape) < 0.5).astype(float)], {}


def signs_case(rng, v):
    shape = SHAPES[v % 3]
    return [rng.standard_normal(shape) * 3, np.where(rng.random(shape) < 0.5, -1.0, 1.0)], {}


def focal_case(rng, v):
    tensors, _ = logits_binary(rng, v)
    return tensors, {"alpha": (0.25, -1.0, 0.6)[v % 3], "gamma": (2.0, 0.0, 1.5)[v % 3]}


def ce_probs(rng, v):
    shape = [(5,), (4, 5), (3, 5, 4)][v % 3]
    x = rng.standard_normal(shape) * 2
    t = _softmax(rng.standard_normal(shape), 0 if len(shape) == 1 else 1)
    return [x, t], {"label_smoothing": (0.0, 0.1, 0.0)[v % 3]}


def ce_indices(rng, v):
    shape = [(6, 5), (3, 5, 4), (5,)][v % 3]
    x = rng.standard_normal(shape) * 2
    c = shape[1] if len(shape) > 1 else shape[0]
    target_shape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    y = rng.integers(0, c, target_shape)
    opts = {}
    if v % 3 == 1:
        y.reshape(-1)[0] = -100  # an ignored item
    return [x, np.asarray(y, np.int64)], opts


def ce_indices_smoothed(rng, v):
    tensors, _ = ce_indices(rng, 0 if v % 2 == 0 else 2)
    return tensors, {"label_smoothing": 0.2}


def ce_indices_plain(rng, v):
    tensors, _ = ce_indices(rng, (0, 2)[v % 2])
    return tensors, {}


def nll_case(rng, v):
    shape = [(6, 5), (3, 5, 4), (4, 3)][v % 3]
    raw = rng.standard_normal(shape) * 2
    x = _log_softmax(raw, 1) if v % 3 != 2 else _log_softmax(raw, 1) - 0.5  # the last: rows of exp sum to 0.61
    y = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    return [x, np.asarray(y, np.int64)], {}


def kl_case(rng, v):
    shape = [(4, 5), (3, 2, 5), (6,)][v % 3]
    x = _log_softmax(rng.standard_normal(shape) * 2, -1)
    t = _softmax(rng.standard_normal(shape) * 2, -1)
    if v % 3 == 0:
        t[0, 0] = 0.0  # a zero target
    log_target = v % 3 == 1
    return [x, np.log(t) if log_target else t], {"log_target": log_target}


def poisson_case(rng, v):
    shape = SHAPES[v % 3]
    t = rng.poisson(2.0, shape).astype(float)
    if v % 2 == 0:
        return [rng.standard_normal(shape), t], {"log_input": True}
    return [rng.random(shape) * 3 + 0.05, t], {"log_input": False}


def dice_case(rng, v):
    shape = [(4, 6), (3, 2, 5), (8,)][v % 3]
    return [rng.random(shape), (rng.random(shape) < 0.4).astype(float)], {}


def ctc_case(rng, v, full_length=False):
    t_max, n, c, s = 12, 3, 5, 4
    blank = (0, 2, 4)[v % 3]
    raw = rng.standard_normal((t_max, n, c))
    log_probs = _log_softmax(raw, -1)
    labels_pool = np.array([k for k in range(c) if k != blank])
    tl = rng.integers(1, s + 1, n)
    targets = labels_pool[rng.integers(0, len(labels_pool), (n, s))]
    if full_length:
        il = np.full(n, t_max)
    else:
        il = rng.integers(2 * s + 1, t_max + 1, n)
    if v % 3 == 1:  # concatenated targets
        targets = np.concatenate([targets[i, :tl[i]] for i in range(n)])
    return [log_probs, np.asarray(targets, np.int64), np.asarray(il, np.int64), np.asarray(tl, np.int64)], \
        {"blank": int(blank)}


# --- oracles: the real frameworks ------------------------------------------------------------

def keras_value(cls, y_true, y_pred, reduction, dtype, **kwargs):
    keras = framework("keras")
    red = {"mean": "sum_over_batch_size", "batchmean": "sum_over_batch_size", "sum": "sum"}[reduction]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = getattr(keras.losses, cls)(reduction=red, dtype=dtype, **kwargs)
        return float(np.asarray(loss(y_true, y_pred)))


def keras_oracle(cls, convert=lambda ts, o: (ts[1], ts[0]), kwargs=lambda o: {}):
    def oracle(tensors, options, reduction, dtype):
        y_true, y_pred = convert(tensors, options)
        return keras_value(cls, y_true, y_pred, reduction, dtype, **kwargs(options))
    return oracle


def _last(x):
    return np.moveaxis(x, 1, -1) if x.ndim > 2 else x


def _one_hot_last(idx, c):
    return np.eye(c)[idx]


def k_categorical(ts, o):
    """(y_true, y_pred) for CategoricalCrossentropy: the class axis last; class indices one-hot."""
    x, t = ts
    if t.shape != x.shape:
        c = x.shape[1] if x.ndim > 1 else x.shape[0]
        return _one_hot_last(t, c), _last(x)
    return _last(t), _last(x)


def keras_sparse_oracle(from_logits):
    def oracle(tensors, options, reduction, dtype):
        x, y = tensors
        y_pred = _last(x) if from_logits else np.exp(_last(x))
        ignored = np.any(y == -100)
        kwargs = {"from_logits": from_logits}
        if ignored:
            kwargs["ignore_class"] = -100
        return keras_value("SparseCategoricalCrossentropy", y, y_pred, reduction, dtype, **kwargs)
    return oracle


def keras_ctc(tensors, options, reduction, dtype):
    log_probs, targets, il, tl = tensors
    blank = options["blank"]
    n = log_probs.shape[1]
    if targets.ndim == 1:
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]])
        padded = np.zeros((n, int(tl.max())), np.int64)
        for i in range(n):
            padded[i, :tl[i]] = targets[starts[i]:starts[i] + tl[i]]
    else:
        padded = np.where(np.arange(targets.shape[1])[None] < tl[:, None], targets, 0)[:, :int(tl.max())]
    y_pred = np.transpose(log_probs, (1, 0, 2)).copy()
    if blank:
        perm = np.arange(y_pred.shape[2])
        perm[[0, blank]] = [blank, 0]
        y_pred = y_pred[:, :, perm]
        padded = np.where(padded == 0, -1, padded)
        padded = np.where(padded == blank, 0, padded)
        padded = np.where(padded == -1, blank, padded)
        padded = np.where(np.arange(padded.shape[1])[None] < tl[:, None], padded, 0)
    return keras_value("CTC", padded, y_pred, reduction, dtype)


def optax_oracle(fn, convert=lambda ts, o: (ts[0], ts[1]), kwargs=lambda o: {}):
    def oracle(tensors, options, reduction, dtype):
        optax = framework("optax")
        import jax.numpy as jnp
        a, b = convert(tensors, options)
        a = jnp.asarray(np.asarray(a, dtype))
        b = jnp.asarray(np.asarray(b, dtype) if np.asarray(b).dtype.kind == "f" else np.asarray(b))
        values = getattr(optax.losses, fn)(a, b, **kwargs(options))
        return float(jnp.mean(values))
    return oracle


def optax_integer(tensors, options, reduction, dtype):
    optax = framework("optax")
    import jax.numpy as jnp
    x, y = tensors
    x = _last(x)
    valid = y != -100
    values = optax.losses.softmax_cross_entropy_with_integer_labels(
        jnp.asarray(np.asarray(x, dtype)), jnp.asarray(np.where(valid, y, 0)),
        where=jnp.asarray(valid) if not valid.all() else None)
    return float(jnp.mean(values))


def optax_softmax(tensors, options, reduction, dtype):
    optax = framework("optax")
    import jax.numpy as jnp
    x, t = tensors
    if t.shape != x.shape:
        c = x.shape[1] if x.ndim > 1 else x.shape[0]
        t = _one_hot_last(t, c)
    else:
        t = _last(t)
    labels = jnp.asarray(np.asarray(t, dtype))
    if options.get("label_smoothing"):
        labels = optax.smooth_labels(labels, options["label_smoothing"])
    return float(jnp.mean(optax.losses.softmax_cross_entropy(jnp.asarray(np.asarray(_last(x), dtype)), labels)))


def optax_kl(tensors, options, reduction, dtype):
    optax = framework("optax")
    import jax.numpy as jnp
    x, t = (jnp.asarray(np.asarray(a, dtype)) for a in tensors)
    fn = optax.losses.kl_divergence_with_log_targets if options["log_target"] else optax.losses.kl_divergence
    return float(jnp.mean(fn(x, t)))


def optax_ctc(tensors, options, reduction, dtype):
    optax = framework("optax")
    import jax.numpy as jnp
    log_probs, targets, il, tl = tensors
    n, t_max = log_probs.shape[1], log_probs.shape[0]
    s = int(tl.max())
    if targets.ndim == 1:
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]])
        padded = np.zeros((n, s), np.int64)
        for i in range(n):
            padded[i, :tl[i]] = targets[starts[i]:starts[i] + tl[i]]
    else:
        padded = targets[:, :s]
    logit_paddings = (np.arange(t_max)[None] >= il[:, None]).astype(dtype)
    label_paddings = (np.arange(s)[None] >= tl[:, None]).astype(dtype)
    values = optax.losses.ctc_loss(jnp.asarray(np.transpose(log_probs, (1, 0, 2)).astype(dtype)),
                                   jnp.asarray(logit_paddings), jnp.asarray(padded), jnp.asarray(label_paddings),
                                   blank_id=options["blank"])
    return float(jnp.mean(values))


def sklearn_regression(fn):
    def oracle(tensors, options, reduction, dtype):
        metrics = framework("sklearn")
        x, y = (np.asarray(a, dtype) for a in tensors)
        if x.ndim > 2:
            x, y = x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])
        return float(getattr(metrics, fn)(y, x))
    return oracle


def sklearn_binary(from_logits):
    def oracle(tensors, options, reduction, dtype):
        metrics = framework("sklearn")
        x, t = (np.asarray(a, dtype) for a in tensors)
        p = (1 / (1 + np.exp(-x))) if from_logits else x
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(metrics.log_loss(t.ravel().astype(int), p.ravel(), labels=[0, 1],
                                          normalize=reduction != "sum"))
    return oracle


def sklearn_multiclass(log_probabilities):
    def oracle(tensors, options, reduction, dtype):
        metrics = framework("sklearn")
        x, y = tensors
        x = np.asarray(x, dtype)
        c = x.shape[1] if x.ndim > 1 else x.shape[0]
        p = np.exp(x) if log_probabilities else _softmax(x, 1 if x.ndim > 1 else 0).astype(dtype)
        p = _last(p).reshape(-1, c)
        y = np.asarray(y).reshape(-1)
        keep = y != -100
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(metrics.log_loss(y[keep], p[keep], labels=list(range(c)), normalize=reduction != "sum"))
    return oracle


def _probs_kl(ts, o):
    x, t = ts
    return (np.exp(t) if o["log_target"] else t), np.exp(x)


def _poisson(ts, o):
    x, t = ts
    return t, (np.exp(x) if o["log_input"] else x)


def _focal_kwargs(o):
    return {"apply_class_balancing": o["alpha"] >= 0, "alpha": max(o["alpha"], 0.0), "gamma": o["gamma"],
            "from_logits": True}


def _optax_focal_kwargs(o):
    return {"alpha": None if o["alpha"] < 0 else o["alpha"], "gamma": o["gamma"]}


MEAN_SUM = ("mean", "sum")

#: (framework, loss, function) -> (make, oracle, reductions)
CASES = {
    ("keras", "mse", "keras.losses.MeanSquaredError"): (regression, keras_oracle("MeanSquaredError"), MEAN_SUM),
    ("keras", "l1", "keras.losses.MeanAbsoluteError"): (regression, keras_oracle("MeanAbsoluteError"), MEAN_SUM),
    ("keras", "huber", "keras.losses.Huber"): (huber_case, keras_oracle("Huber", kwargs=lambda o: {"delta": o["delta"]}), MEAN_SUM),
    ("keras", "log_cosh", "keras.losses.LogCosh"): (regression, keras_oracle("LogCosh"), MEAN_SUM),
    ("keras", "bce", "keras.losses.BinaryCrossentropy"): (probabilities, keras_oracle("BinaryCrossentropy"), MEAN_SUM),
    ("keras", "bce_with_logits", "keras.losses.BinaryCrossentropy"): (
        logits_binary, keras_oracle("BinaryCrossentropy", kwargs=lambda o: {"from_logits": True}), MEAN_SUM),
    ("keras", "multilabel_soft_margin", "keras.losses.BinaryCrossentropy"): (
        multilabel_case, keras_oracle("BinaryCrossentropy", kwargs=lambda o: {"from_logits": True}), MEAN_SUM),
    ("keras", "soft_margin", "keras.losses.BinaryCrossentropy"): (
        signs_case, keras_oracle("BinaryCrossentropy", convert=lambda ts, o: ((ts[1] + 1) / 2, ts[0]),
                                 kwargs=lambda o: {"from_logits": True}), MEAN_SUM),
    ("keras", "sigmoid_focal", "keras.losses.BinaryFocalCrossentropy"): (
        focal_case, keras_oracle("BinaryFocalCrossentropy", kwargs=_focal_kwargs), MEAN_SUM),
    ("keras", "cross_entropy", "keras.losses.CategoricalCrossentropy"): (
        ce_probs, keras_oracle("CategoricalCrossentropy", convert=k_categorical,
                               kwargs=lambda o: {"from_logits": True, "label_smoothing": o.get("label_smoothing", 0.0)}),
        MEAN_SUM),
    ("keras", "cross_entropy", "keras.losses.SparseCategoricalCrossentropy"): (ce_indices, keras_sparse_oracle(True), MEAN_SUM),
    ("keras", "nll", "keras.losses.SparseCategoricalCrossentropy"): (nll_case, keras_sparse_oracle(False), MEAN_SUM),
    ("keras", "kl_div", "keras.losses.KLDivergence"): (kl_case, keras_oracle("KLDivergence", convert=_probs_kl), ("mean", "batchmean", "sum")),
    ("keras", "poisson_nll", "keras.losses.Poisson"): (poisson_case, keras_oracle("Poisson", convert=_poisson), MEAN_SUM),
    ("keras", "dice", "keras.losses.Dice"): (dice_case, keras_oracle("Dice"), MEAN_SUM),
    ("keras", "ctc", "keras.losses.CTC"): (lambda rng, v: ctc_case(rng, v, full_length=True), keras_ctc, MEAN_SUM),
    ("optax", "mse", "optax.losses.squared_error"): (regression, optax_oracle("squared_error"), ("mean",)),
    ("optax", "mse", "optax.losses.l2_loss"): (regression, optax_oracle("l2_loss"), ("mean",)),
    ("optax", "huber", "optax.losses.huber_loss"): (huber_case, optax_oracle("huber_loss", kwargs=lambda o: {"delta": o["delta"]}), ("mean",)),
    ("optax", "log_cosh", "optax.losses.log_cosh"): (regression, optax_oracle("log_cosh"), ("mean",)),
    ("optax", "bce_with_logits", "optax.losses.sigmoid_binary_cross_entropy"): (
        logits_binary, optax_oracle("sigmoid_binary_cross_entropy"), ("mean",)),
    ("optax", "multilabel_soft_margin", "optax.losses.sigmoid_binary_cross_entropy"): (
        multilabel_case, optax_oracle("sigmoid_binary_cross_entropy"), ("mean",)),
    ("optax", "soft_margin", "optax.losses.sigmoid_binary_cross_entropy"): (
        signs_case, optax_oracle("sigmoid_binary_cross_entropy", convert=lambda ts, o: (ts[0], (ts[1] + 1) / 2)),
        ("mean",)),
    ("optax", "sigmoid_focal", "optax.losses.sigmoid_focal_loss"): (
        focal_case, optax_oracle("sigmoid_focal_loss", kwargs=_optax_focal_kwargs), ("mean",)),
    ("optax", "cross_entropy", "optax.losses.softmax_cross_entropy"): (ce_probs, optax_softmax, ("mean",)),
    ("optax", "cross_entropy", "optax.losses.softmax_cross_entropy_with_integer_labels"): (ce_indices, optax_integer, ("mean",)),
    ("optax", "nll", "optax.losses.softmax_cross_entropy_with_integer_labels"): (nll_case, optax_integer, ("mean",)),
    ("optax", "kl_div", "optax.losses.kl_divergence"): (kl_case, optax_kl, ("mean", "batchmean")),
    ("optax", "ctc", "optax.losses.ctc_loss"): (ctc_case, optax_ctc, ("mean",)),
    ("sklearn", "mse", "sklearn.metrics.mean_squared_error"): (regression, sklearn_regression("mean_squared_error"), ("mean",)),
    ("sklearn", "l1", "sklearn.metrics.mean_absolute_error"): (regression, sklearn_regression("mean_absolute_error"), ("mean",)),
    ("sklearn", "bce", "sklearn.metrics.log_loss"): (probabilities, sklearn_binary(False), MEAN_SUM),
    ("sklearn", "bce_with_logits", "sklearn.metrics.log_loss"): (logits_binary, sklearn_binary(True), MEAN_SUM),
    ("sklearn", "cross_entropy", "sklearn.metrics.log_loss"): (ce_indices, sklearn_multiclass(False), MEAN_SUM),
    ("sklearn", "nll", "sklearn.metrics.log_loss"): (nll_case, sklearn_multiclass(True), MEAN_SUM),
}

#: extra cases beyond one per Equivalent: other tensor forms that pick the same function
EXTRA = {
    ("keras", "cross_entropy", "keras.losses.CategoricalCrossentropy", "indices+smoothing"): (
        ce_indices_smoothed, keras_oracle("CategoricalCrossentropy", convert=k_categorical,
                                          kwargs=lambda o: {"from_logits": True, "label_smoothing": o["label_smoothing"]}),
        MEAN_SUM),
    ("optax", "cross_entropy", "optax.losses.softmax_cross_entropy", "indices+smoothing"): (
        ce_indices_smoothed, optax_softmax, ("mean",)),
}


def _key(e):
    return (e.framework, e.loss, e.function)


def all_cases():
    """(id, key, make, oracle, variant, seed, reduction, dtype) for every case."""
    out = []
    table = {**{k + ("",): v for k, v in CASES.items()}, **EXTRA}
    for key, (make, oracle, reductions) in table.items():
        for seed in SEEDS:
            for reduction in reductions:
                for dtype in ("float32", "float64"):
                    variant = seed
                    out.append(("-".join(x for x in key if x) + f"-s{seed}-{reduction}-{dtype}",
                                key, make, oracle, variant, seed, reduction, dtype))
    return out


def make_inputs(make, seed, variant):
    rng = np.random.default_rng(1000 + seed)
    return make(rng, variant)


def ours(key, tensors, options, reduction, dtype):
    framework_name, loss, function = key[:3]
    return convention_value(loss, framework_name, tensors, {**options, "reduction": reduction}, dtype,
                            function=function)


def close(a, b, dtype):
    if np.isnan(a) and np.isnan(b):
        return True
    return abs(a - b) <= ATOL[dtype] + RTOL[dtype] * abs(b)


# --- completeness ----------------------------------------------------------------------------

def test_every_equivalent_has_a_differential_case():
    missing = [_key(e) for e in EQUIVALENTS if _key(e) not in CASES]
    assert not missing, f"Equivalents without a differential test case: {missing}"
    stale = [k for k in CASES if k not in {_key(e) for e in EQUIVALENTS}]
    assert not stale, f"cases for equivalents that no longer exist: {stale}"


def test_every_equivalent_has_golden_values():
    golden = json.loads(GOLDEN.read_text())
    have = {tuple(c["key"][:3]) for c in golden["cases"]}
    missing = [_key(e) for e in EQUIVALENTS if _key(e) not in have]
    assert not missing, f"no golden values for {missing}: run python -m tests.make_golden_conventions"


def test_equivalents_cover_the_issue_list():
    want = {
        "keras": {"mse", "l1", "huber", "bce", "bce_with_logits", "cross_entropy", "kl_div", "poisson_nll",
                  "log_cosh", "dice", "sigmoid_focal", "ctc"},
        "optax": {"mse", "huber", "bce_with_logits", "cross_entropy", "kl_div", "log_cosh", "sigmoid_focal", "ctc"},
        "sklearn": {"bce", "cross_entropy", "mse", "l1"},
    }
    for fw, losses in want.items():
        have = {e.loss for e in EQUIVALENTS if e.framework == fw}
        assert losses <= have, (fw, losses - have)
    functions = {e.function for e in EQUIVALENTS}
    for f in ("keras.losses.SparseCategoricalCrossentropy", "keras.losses.CategoricalCrossentropy",
              "optax.losses.l2_loss", "optax.losses.squared_error",
              "optax.losses.softmax_cross_entropy_with_integer_labels"):
        assert f in functions


# --- differential: the real frameworks ---------------------------------------------------------

@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c[0])
def test_differential(case):
    _, key, make, oracle, variant, seed, reduction, dtype = case
    framework(key[0])
    tensors, options = make_inputs(make, seed, variant)
    try:
        expected = oracle(tensors, options, reduction, dtype)
    except ValueError as refused:  # the framework refuses these inputs: so must the convention
        with pytest.raises(LossError):
            ours(key, tensors, options, reduction, dtype)
        assert "probabilities above 1" in str(refused) or "greater than 1" in str(refused)
        return
    result = ours(key, tensors, options, reduction, dtype)
    assert isinstance(result, ConventionResult)
    assert result.function == key[2]
    tol = "float32" if key[0] == "keras" else dtype  # Keras 3 computes float32 whatever its dtype
    assert close(result.value, expected, tol), (result.value, expected, result)


# --- golden values (run always) ----------------------------------------------------------------

def _golden_cases():
    if not GOLDEN.exists():
        return []
    return json.loads(GOLDEN.read_text())["cases"]


def _decode(t):
    a = np.array(t["data"], dtype=t["dtype"])
    return a.reshape(t["shape"])


@pytest.mark.parametrize("case", _golden_cases(), ids=lambda c: c["id"])
def test_golden(case):
    tensors = [_decode(t) for t in case["tensors"]]
    if case.get("refused"):
        with pytest.raises(LossError):
            ours(tuple(case["key"]), tensors, case["options"], case["reduction"], case["dtype"])
        return
    result = ours(tuple(case["key"]), tensors, case["options"], case["reduction"], case["dtype"])
    tol = "float32" if case["key"][0] == "keras" else case["dtype"]
    assert close(result.value, case["value"], tol), (result.value, case["value"], case["source"])


def test_golden_values_say_where_they_came_from():
    golden = json.loads(GOLDEN.read_text())
    assert golden["generator"] == "tests/make_golden_conventions.py"
    for case in golden["cases"]:
        assert case["source"] and any(case["source"].startswith(f) for f in ("keras", "optax", "scikit-learn", "torch"))


# --- the known differences of issue 12 -------------------------------------------------------

CONFIDENT_MISS = [np.array([0.0]), np.array([1.0])]


def test_confident_miss_values():
    sk64 = convention_value("bce", "sklearn", CONFIDENT_MISS, {}, "float64")
    sk32 = convention_value("bce", "sklearn", CONFIDENT_MISS, {}, "float32")
    ke = convention_value("bce", "keras", CONFIDENT_MISS, {}, None)
    assert round(sk64.value, 2) == 36.04
    assert round(sk32.value, 2) == 15.94
    assert round(ke.value, 2) == 16.12
    assert ke.dtype == "float32"
    assert any("clipping changed 1 of 1" in d for d in ke.differences)
    assert any("36.04" in d for d in sk64.differences)


def test_confident_miss_against_the_frameworks():
    keras = framework("keras")
    metrics = framework("sklearn")
    assert float(keras.losses.BinaryCrossentropy()(np.array([1.0]), np.array([0.0]))) == pytest.approx(
        convention_value("bce", "keras", CONFIDENT_MISS, {}, None).value, rel=1e-6)
    for dtype in ("float64", "float32"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = metrics.log_loss([1], np.array([0.0], dtype), labels=[0, 1])
        assert want == pytest.approx(convention_value("bce", "sklearn", CONFIDENT_MISS, {}, dtype).value, rel=1e-6)


def test_torch_bce_on_a_confident_miss_is_100():
    torch = framework("torch")
    value = torch.nn.functional.binary_cross_entropy(torch.tensor([0.0], dtype=torch.float64),
                                                     torch.tensor([1.0], dtype=torch.float64))
    assert float(value) == 100.0
    from losscalc import compute
    assert float(compute("bce", *CONFIDENT_MISS).value) == 100.0


def test_l2_loss_halves_the_square():
    x, y = np.array([1.0, 2.0, 4.0]), np.array([0.0, 0.0, 0.0])
    sq = convention_value("mse", "optax", [x, y], {}, "float64")
    half = convention_value("mse", "optax", [x, y], {}, "float64", function="optax.losses.l2_loss")
    assert sq.function == "optax.losses.squared_error" and sq.value == 7.0
    assert half.value == 3.5
    assert any("half" in d for d in half.differences)


@pytest.mark.filterwarnings("ignore::losscalc.errors.LossWarning")
def test_kl_mean_divides_by_every_element_but_keras_and_optax_by_rows():
    rng = np.random.default_rng(3)
    x = _log_softmax(rng.standard_normal((4, 5)), 1)
    t = _softmax(rng.standard_normal((4, 5)), 1)
    from losscalc import compute
    torch_mean = float(compute("kl_div", x, t).value)
    for fw in ("keras", "optax"):
        r = convention_value("kl_div", fw, [x, t], {}, "float64")
        assert r.value == pytest.approx(torch_mean * 5, rel=1e-6)
        assert any("pytorch#6622" in d for d in r.differences)
    r = convention_value("kl_div", "keras", [x, t], {}, "float64")
    assert any("exp(input)" in c for c in r.conversions)


def test_keras_averages_the_last_axis_before_sum():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    r = convention_value("mse", "keras", [x, y], {"reduction": "sum"}, "float64")
    assert r.value == pytest.approx(float(((x - y) ** 2).sum()) / 5, rel=1e-6)  # Keras: float32
    assert any("torch's sum / 5" in d for d in r.differences)


def test_ctc_keras_does_not_divide_by_target_length():
    rng = np.random.default_rng(5)
    tensors, options = ctc_case(rng, 0, full_length=True)
    from losscalc import compute
    per_seq = np.asarray(compute("ctc", *tensors, reduction="none", **options).value)
    r = convention_value("ctc", "keras", tensors, {**options}, "float64")
    assert r.value == pytest.approx(per_seq.mean(), rel=1e-6)  # Keras: float32
    assert any("target length" in d for d in r.differences)
    r = convention_value("ctc", "optax", tensors, {**options}, "float64")
    assert r.value == pytest.approx(per_seq.mean(), rel=1e-9)


def test_ctc_impossible_alignment_costs_about_1e5_as_in_the_frameworks():
    rng = np.random.default_rng(8)
    lp = _log_softmax(rng.standard_normal((3, 2, 4)), -1)
    targets, il, tl = np.array([[1, 1, 1], [2, 3, 0]]), np.array([3, 3]), np.array([3, 2])  # 1,1,1 needs 5 frames
    tensors = [lp, targets, il, tl]
    keras_padded = np.where(np.arange(3)[None] < tl[:, None], targets, 0)
    want = {"keras": keras_value("CTC", keras_padded, lp.transpose(1, 0, 2), "mean", "float64"),
            "optax": optax_ctc(tensors, {"blank": 0}, "mean", "float64")}
    for fw, value in want.items():
        r = convention_value("ctc", fw, tensors, {}, "float64")
        assert close(r.value, value, "float32" if fw == "keras" else "float64"), (fw, r.value, value)
        assert any("cannot be aligned" in d for d in r.differences)


@pytest.mark.filterwarnings("ignore::losscalc.errors.LossWarning")
def test_unnormalised_probabilities_are_renormalised_by_keras_not_sklearn():
    rng = np.random.default_rng(6)
    tensors, options = nll_case(rng, 2)  # exp(input) rows sum to e^-0.5
    r = convention_value("nll", "keras", tensors, options, "float64")
    assert any("renormalises" in d and "4 of 4 rows" in d for d in r.differences)
    r = convention_value("nll", "optax", tensors, options, "float64")
    assert any("not log-softmaxed" in d for d in r.differences)
    r = convention_value("nll", "sklearn", tensors, options, "float64")
    assert any("does not renormalise" in d for d in r.differences)
    from losscalc import compute
    assert r.value == pytest.approx(float(compute("nll", *tensors).value), rel=1e-12)


def test_sklearn_refuses_probabilities_above_1():
    metrics = framework("sklearn")
    x, y = np.array([[1.0, -2.0], [0.5, 0.1]]), np.array([0, 1])
    with pytest.raises(ValueError, match="greater than 1"):
        metrics.log_loss(y, np.exp(x), labels=[0, 1])
    with pytest.raises(LossError, match="above 1"):
        convention_value("nll", "sklearn", [x, y], {}, None)


@pytest.mark.parametrize("loss,make", [("multilabel_soft_margin", multilabel_case), ("soft_margin", signs_case),
                                       ("mse", regression), ("huber", huber_case), ("log_cosh", regression)])
def test_exact_equivalents_equal_torch(loss, make):
    """Where optax's convention differs from torch in nothing, its value is losscalc's torch value."""
    from losscalc import compute
    for v in range(3):
        tensors, options = make(np.random.default_rng(20 + v), v)
        r = convention_value(loss, "optax", tensors, options, "float64")
        assert r.value == pytest.approx(float(compute(loss, *tensors, **options).value), rel=1e-12)
        assert r.differences == ("float64 needs jax.config.update('jax_enable_x64', True); jax computes "
                                 "float32 without it",)


def test_soft_margin_refuses_targets_other_than_pm1():
    with pytest.raises(LossError, match="±1"):
        convention_value("soft_margin", "optax", [np.zeros(3), np.array([1.0, 0.0, -1.0])], {}, None)


# --- refusals ---------------------------------------------------------------------------------

def test_no_equivalent_names_the_frameworks_that_have_one():
    x, y = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(LossError, match=r"optax has no equivalent of multi_margin; the frameworks that have one: torch\."):
        convention_value("multi_margin", "optax", [x, y], {}, None)
    with pytest.raises(LossError, match=r"sklearn has no equivalent of huber.*frameworks that have one: torch, keras, optax"):
        convention_value("huber", "sklearn", [x, x], {}, None)


def test_near_miss_is_refused_and_explained():
    x, y = np.array([0.5, -1.0]), np.array([1.0, -1.0])
    with pytest.raises(LossError, match="hinge_loss looks alike but is not"):
        convention_value("hinge_embedding", "sklearn", [x, y], {}, None)
    assert any(m.function == "sklearn.metrics.hinge_loss" for m in near_misses("hinge_embedding"))
    assert any("near-miss" in line for line in describe("hinge_embedding"))


def test_options_the_framework_cannot_honour():
    x, y = np.ones((2, 3)), np.zeros((2, 3))
    with pytest.raises(LossError, match=r"--weight.*Keras 3 keras.losses"):
        convention_value("mse", "keras", [x, y], {"weight": np.ones((2, 3))}, None)
    with pytest.raises(LossError, match=r"--reduction none"):
        convention_value("mse", "keras", [x, y], {"reduction": "none"}, None)
    with pytest.raises(LossError, match=r"--reduction sum"):
        convention_value("mse", "optax", [x, y], {"reduction": "sum"}, None)
    with pytest.raises(LossError, match=r"--pos-weight"):
        convention_value("bce_with_logits", "optax", [x, y], {"pos_weight": np.ones(3)}, None)
    with pytest.raises(LossError, match=r"--full"):
        convention_value("poisson_nll", "keras", [x, y], {"full": True}, None)
    with pytest.raises(LossError, match=r"--smooth"):
        convention_value("dice", "keras", [x, y], {"smooth": 0.5}, None)
    with pytest.raises(LossError, match=r"--label-smoothing.*scikit-learn"):
        convention_value("cross_entropy", "sklearn", [x, np.array([0, 2])], {"label_smoothing": 0.1}, None)
    with pytest.raises(LossError, match=r"--zero-infinity"):
        convention_value("ctc", "optax", list(ctc_case(np.random.default_rng(0), 0)[0]), {"zero_infinity": True}, None)
    with pytest.raises(LossError, match="soft labels"):
        convention_value("bce", "sklearn", [np.full(3, 0.5), np.full(3, 0.3)], {}, None)
    # options at their defaults are fine
    assert convention_value("mse", "keras", [x, y], {"weight": None, "reduction": "mean"}, None).value == 1.0


def test_keras_ctc_refuses_short_input_lengths():
    rng = np.random.default_rng(7)
    tensors, options = ctc_case(rng, 0, full_length=False)
    tensors[2][0] = 9
    with pytest.raises(LossError, match="input_lengths"):
        convention_value("ctc", "keras", tensors, options, None)


def test_compare_gives_every_framework_or_its_refusal():
    from losscalc.conventions import compare
    out = compare("bce", CONFIDENT_MISS, {}, None)
    assert list(out) == list(FRAMEWORKS)
    assert out["torch"] is None
    assert round(out["keras"].value, 2) == 16.12 and round(out["sklearn"].value, 2) == 36.04
    assert isinstance(out["optax"], LossError) and "frameworks that have one: torch, keras, sklearn" in str(out["optax"])


def test_torch_is_the_loss_itself():
    assert convention_value("mse", "torch", [np.ones(2), np.ones(2)], {}, None) is None
    eq = equivalents("mse")
    assert list(eq) == list(FRAMEWORKS)
    assert eq["torch"].function == "torch.nn.MSELoss"
    assert eq["keras"].args == ("target", "input")
    assert all_equivalents("multi_margin")[0].framework == "torch"


def test_unknown_convention():
    with pytest.raises(LossError, match="unknown convention"):
        convention_value("mse", "tensorflow", [np.ones(2), np.ones(2)], {}, None)


def test_describe_lists_every_equivalent():
    lines = describe("cross_entropy")
    text = "\n".join(lines)
    for e in all_equivalents("cross_entropy")[1:]:
        assert e.function in text
    assert "differs:" in text
    assert describe("multi_margin")[0].startswith("No framework")


def test_the_mapping_is_data():
    """Each equivalent is a frozen record with a compute function, not a branch somewhere."""
    import dataclasses
    for e in EQUIVALENTS:
        assert dataclasses.is_dataclass(e) and e.framework in FRAMEWORKS[1:]
        assert callable(e.compute) and e.function.split(".")[0] in ("keras", "optax", "sklearn")
        assert e.takes in ("values", "probabilities", "logits", "log_probabilities")
        assert e.differences or e.framework == "optax"


def test_no_framework_is_imported_by_losscalc():
    import subprocess
    import sys
    code = ("import sys, numpy as np; import losscalc.conventions as c; "
            "c.convention_value('bce', 'keras', [np.array([0.5]), np.array([1.0])], {}, None); "
            "print(sorted(m for m in ('keras', 'optax', 'jax', 'sklearn', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
