"""The losses beyond PyTorch (SPEC §7) against their own references.

- SciPy on random inputs, to 1e-10: js_div = scipy.spatial.distance.jensenshannon² and
  entropy = scipy.stats.entropy (on rows that sum to 1: SciPy normalises rows, losscalc uses
  them as given and warns), wasserstein = scipy.stats.wasserstein_distance row by row. The
  torch-op references of tests/cases/beyond.py, which make the golden values and the --grad
  reference (tests/test_differential_grad.py), are checked against SciPy here too.
- sigmoid_focal against the semantics torchvision's docstring gives sigmoid_focal_loss;
  log_cosh against log(cosh(·)) and Keras's per-sample mean; dice against hand calculations.
- Gradients by finite differences, without torch (wasserstein's is the a.e. derivative of a
  piecewise-linear function), and at zero probabilities, where they are infinite.
- The command line: each error exits 2 naming the tensor; each warning says what was meant.
"""

import math
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy
from scipy.stats import wasserstein_distance

from losscalc import compute
from losscalc.cli import cli
from losscalc.errors import LossWarning
from losscalc.registry import find
from tests.helpers import quiet
from tests.cases.beyond import rows

RTOL, ATOL = 1e-10, 1e-12
SEEDS = range(5)


def elements(name, *tensors, **options):
    return quiet(name, *tensors, reduction="none", **options).value


def torch_ref(name, *tensors, **options):
    """The torch-op reference of tests/cases/beyond.py, unreduced, as NumPy."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    from tests.cases import Case, torch_result

    return torch_result(torch, Case(name, list(tensors), options, "none"))


# SciPy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(5,), (4, 7), (2, 3, 6)])
def test_js_div_is_scipy_jensenshannon_squared(seed, shape):
    rng = np.random.default_rng(seed)
    p, q = rows(rng, shape), rows(rng, shape, zeros=seed % 2 == 0)
    expected = jensenshannon(p, q, axis=-1) ** 2
    np.testing.assert_allclose(elements("js_div", p, q), expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(torch_ref("js_div", p, q), expected, rtol=RTOL, atol=ATOL)
    assert np.all(elements("js_div", p, q) <= math.log(2))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(5,), (4, 7), (2, 3, 6)])
def test_entropy_is_scipy_entropy(seed, shape):
    p = rows(np.random.default_rng(seed), shape, zeros=seed % 2 == 0)
    expected = scipy_entropy(p, axis=-1)
    np.testing.assert_allclose(elements("entropy", p), expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(torch_ref("entropy", p), expected, rtol=RTOL, atol=ATOL)


def test_rows_that_do_not_sum_to_1_are_used_as_given_and_warned():
    rng = np.random.default_rng(7)
    p, q = rows(rng, (3, 4), zeros=False), rows(rng, (3, 4), zeros=False)
    counts, other = 10 * p, 4 * q
    with pytest.warns(LossWarning, match=r"p: 3 of 3 row\(s\) do not sum to 1.*SciPy would divide"):
        js = compute("js_div", counts, q, reduction="none").value
    m = (counts + q) / 2
    by_hand = 0.5 * (counts * np.log(counts / m)).sum(-1) + 0.5 * (q * np.log(q / m)).sum(-1)
    np.testing.assert_allclose(js, by_hand, rtol=RTOL)
    np.testing.assert_allclose(torch_ref("js_div", counts, q), by_hand, rtol=RTOL)
    assert not np.allclose(js, jensenshannon(counts, q, axis=-1) ** 2)  # SciPy normalises first
    with pytest.warns(LossWarning, match=r"q: 3 of 3 row\(s\)"):
        compute("js_div", p, other)
    with pytest.warns(LossWarning, match="do not sum to 1"):
        h = compute("entropy", counts, reduction="none").value
    np.testing.assert_allclose(h, -(counts * np.log(counts)).sum(-1), rtol=RTOL)
    np.testing.assert_allclose(h, torch_ref("entropy", counts), rtol=RTOL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rows that sum to 1: no warning
        compute("js_div", p, q), compute("entropy", p)


def test_js_div_bounds_and_symmetry():
    p, q = np.array([1.0, 0, 0]), np.array([0.0, 0.5, 0.5])
    assert elements("js_div", p, q) == pytest.approx(math.log(2), rel=1e-15)  # disjoint supports
    rng = np.random.default_rng(3)
    a, b = rows(rng, (6, 5)), rows(rng, (6, 5))
    np.testing.assert_allclose(elements("js_div", a, b), elements("js_div", b, a), rtol=1e-14)
    np.testing.assert_array_equal(elements("js_div", a, a.copy()), np.zeros(6))


def _wasserstein_rows(u, v, wu=None, wv=None):
    """scipy.stats.wasserstein_distance for each row (SciPy's is 1-D only)."""
    u2, v2 = u.reshape(-1, u.shape[-1]), v.reshape(-1, v.shape[-1])
    wu2 = None if wu is None else wu.reshape(u2.shape)
    wv2 = None if wv is None else wv.reshape(v2.shape)
    out = [wasserstein_distance(u2[i], v2[i], None if wu2 is None else wu2[i], None if wv2 is None else wv2[i])
           for i in range(u2.shape[0])]
    return np.array(out).reshape(u.shape[:-1])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n, m, batch", [(6, 6, ()), (3, 9, ()), (1, 1, ()), (5, 4, (3,)), (7, 2, (2, 3))])
@pytest.mark.parametrize("weighted", [False, True])
def test_wasserstein_is_scipy_wasserstein_distance(seed, n, m, batch, weighted):
    rng = np.random.default_rng(seed)
    u, v = rng.normal(size=(*batch, n)), rng.normal(size=(*batch, m)) * 2 + 0.3
    options = {}
    if weighted:
        options = {"u_weights": rng.random((*batch, n)) * 3, "v_weights": rng.random((*batch, m))}
    expected = _wasserstein_rows(u, v, options.get("u_weights"), options.get("v_weights"))
    np.testing.assert_allclose(elements("wasserstein", u, v, **options), expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(torch_ref("wasserstein", u, v, **options), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_wasserstein_with_ties_zero_weights_and_histograms(seed):
    rng = np.random.default_rng(seed)
    u, v = rng.integers(0, 4, size=(4, 8)).astype(float), rng.integers(1, 5, size=(4, 5)).astype(float)
    wu = rng.random((4, 8))
    wu[:, :3] = 0.0
    for options in ({}, {"u_weights": wu}):
        expected = _wasserstein_rows(u, v, options.get("u_weights"))
        np.testing.assert_allclose(elements("wasserstein", u, v, **options), expected, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(torch_ref("wasserstein", u, v, **options), expected, rtol=RTOL, atol=ATOL)
    # histograms over the same bins: the bin centres as values, the masses (counts) as weights
    centres = np.linspace(0.5, 9.5, 10)
    a, b = rng.integers(0, 20, size=10).astype(float) + 1, rng.integers(0, 20, size=10).astype(float) + 1
    got = elements("wasserstein", centres, centres, u_weights=a, v_weights=b)
    assert got == pytest.approx(wasserstein_distance(centres, centres, a, b), rel=RTOL)
    cdf_gap = np.abs(np.cumsum(a / a.sum()) - np.cumsum(b / b.sum()))[:-1]
    assert got == pytest.approx((cdf_gap * np.diff(centres)).sum(), rel=1e-12)  # Σ |ΔCDF| · bin width


def test_wasserstein_scipy_documented_examples():
    assert elements("wasserstein", [0.0, 1, 3], [5.0, 6, 8]) == 5.0
    assert elements("wasserstein", [0.0, 1], [0.0, 1], u_weights=[3.0, 1], v_weights=[2.0, 2]) == 0.25
    got = elements("wasserstein", [3.4, 3.9, 7.5, 7.8], [4.5, 1.4], u_weights=[1.4, 0.9, 3.1, 7.2],
                   v_weights=[3.2, 3.5])
    assert got == pytest.approx(4.0781331438047861, rel=1e-15)


def test_float32_agrees_with_scipy():
    rng = np.random.default_rng(11)
    p, q = rows(rng, (4, 6)), rows(rng, (4, 6))
    u, v = rng.normal(size=(3, 5)), rng.normal(size=(3, 7))
    for got, want in [
        (quiet("js_div", p, q, reduction="none", dtype="float32").value, jensenshannon(p, q, axis=-1) ** 2),
        (quiet("entropy", p, reduction="none", dtype="float32").value, scipy_entropy(p, axis=-1)),
        (quiet("wasserstein", u, v, reduction="none", dtype="float32").value, _wasserstein_rows(u, v)),
    ]:
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# torchvision's focal loss, Keras's log-cosh, the Dice loss -------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_focal_without_alpha_and_gamma_is_bce_with_logits():
    rng = np.random.default_rng(1)
    x, t = rng.normal(size=(4, 5)) * 3, (rng.random((4, 5)) < 0.5).astype(float)
    bce = elements("bce_with_logits", x, t)
    np.testing.assert_allclose(elements("sigmoid_focal", x, t, alpha=-1.0, gamma=0.0), bce, rtol=1e-14)
    np.testing.assert_allclose(torch_ref("sigmoid_focal", x, t, alpha=-1.0, gamma=0.0), bce, rtol=1e-14)


def test_focal_alpha_weights_the_positive_class_and_gamma_the_easy_examples():
    """torchvision's docstring: alpha in (0, 1) weights positive vs negative examples (the
    positives by alpha, the negatives by 1 - alpha), -1 for none; gamma: exponent of the
    modulating factor (1 - p_t) that balances easy vs hard examples."""
    rng = np.random.default_rng(2)
    x, t = rng.normal(size=(20,)) * 3, (rng.random(20) < 0.5).astype(float)
    bce = elements("bce_with_logits", x, t)
    plain = elements("sigmoid_focal", x, t, alpha=0.25, gamma=0.0)
    np.testing.assert_allclose(plain, np.where(t == 1, 0.25, 0.75) * bce, rtol=1e-14)
    p = _sigmoid(x)
    p_t = np.where(t == 1, p, 1 - p)  # the probability given to the true class
    for gamma in (0.5, 1.0, 2.0, 5.0):
        focal = elements("sigmoid_focal", x, t, alpha=-1.0, gamma=gamma)
        np.testing.assert_allclose(focal, bce * (1 - p_t) ** gamma, rtol=1e-12)
        np.testing.assert_allclose(torch_ref("sigmoid_focal", x, t, alpha=-1.0, gamma=gamma), focal, rtol=1e-12)
    # easy examples are scaled down far more than hard ones
    easy, hard = elements("sigmoid_focal", [4.0, -4.0], [1.0, 1.0]) / elements("bce_with_logits", [4.0, -4.0], [1.0, 1.0])
    assert easy < 1e-3 < 0.5 < hard / 0.25
    # by hand: x = 0, t = 1: p = 1/2, ce = log 2, α_t = 0.25, (1 - p_t)^2 = 1/4
    assert elements("sigmoid_focal", 0.0, 1.0) == pytest.approx(math.log(2) / 16, rel=1e-15)
    assert quiet("sigmoid_focal", x, t).value == pytest.approx(elements("sigmoid_focal", x, t).mean(), rel=1e-14)


def test_log_cosh_is_log_of_cosh_and_stable_far_out():
    d = np.linspace(-20, 20, 401)
    got = elements("log_cosh", d, np.zeros_like(d))
    np.testing.assert_allclose(got, np.log(np.cosh(d)), rtol=1e-10, atol=1e-15)
    far = elements("log_cosh", [1000.0, -1000.0, np.inf, -np.inf], [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(far, [1000 - math.log(2), 1000 - math.log(2), np.inf, np.inf], rtol=1e-15)
    small = elements("log_cosh", [1e-3], [0.0])
    assert small[0] == pytest.approx(0.5e-6, rel=1e-6)  # ½ d² near 0


def test_log_cosh_mean_is_keras_logcosh_of_per_sample_means():
    """keras.losses.log_cosh(y_true, y_pred) = mean over the last axis of d + softplus(-2d) -
    log 2 (d = y_pred - y_true); keras.losses.LogCosh() then averages over the samples."""
    rng = np.random.default_rng(4)
    y_pred, y_true = rng.normal(size=(5, 3)) * 2, rng.normal(size=(5, 3)) * 2
    d = y_pred - y_true
    keras_per_sample = (d + np.logaddexp(0, -2 * d) - math.log(2)).mean(axis=-1)
    np.testing.assert_allclose(elements("log_cosh", y_pred, y_true).mean(axis=-1), keras_per_sample, rtol=1e-12)
    assert quiet("log_cosh", y_pred, y_true).value == pytest.approx(keras_per_sample.mean(), rel=1e-12)


def test_dice_by_hand_and_per_sample():
    got = elements("dice", [[0.9, 0.8, 0.1], [0.2, 0.1, 0.7]], [[1.0, 1, 0], [0.0, 0, 1]])
    np.testing.assert_allclose(got, [1 - 4.4 / 4.8, 1 - 2.4 / 3.0], rtol=1e-14)
    rng = np.random.default_rng(5)
    x, t = rng.random((3, 2, 4, 4)), (rng.random((3, 2, 4, 4)) < 0.3).astype(float)
    per_sample = elements("dice", x, t, smooth=0.5)
    assert per_sample.shape == (3,)
    np.testing.assert_allclose(per_sample, elements("dice", x.reshape(3, -1), t.reshape(3, -1), smooth=0.5), rtol=1e-14)
    single = elements("dice", x[0].reshape(-1), t[0].reshape(-1), smooth=0.5)
    assert single.shape == () and single == pytest.approx(per_sample[0], rel=1e-14)  # 1-D: one sample
    np.testing.assert_allclose(torch_ref("dice", x, t, smooth=0.5), per_sample, rtol=1e-12)


def test_dice_edges():
    t = np.array([[1.0, 0, 1], [0.0, 1, 1]])
    np.testing.assert_array_equal(elements("dice", t, t.copy(), smooth=0.0), [0.0, 0.0])  # perfect
    empty = np.zeros((2, 3))
    np.testing.assert_array_equal(elements("dice", empty, empty), [0.0, 0.0])  # smooth 1: (0+1)/(0+1)
    assert np.isnan(elements("dice", empty, empty, smooth=0.0)).all()  # 0/0
    assert elements("dice", np.ones(4), np.zeros(4), smooth=0.0) == 1.0  # disjoint


# Gradients without torch -------------------------------------------------------------------


def central_differences(name, tensors, index, options, h=1e-6):
    """∂(Σ elements)/∂tensors[index] by central differences."""
    base = [np.array(t, dtype=float) for t in tensors]
    grad = np.zeros_like(base[index])
    for flat in range(base[index].size):
        values = []
        for step in (h, -h):
            moved = [t.copy() for t in base]
            moved[index].flat[flat] += step
            values.append(quiet(name, *moved, reduction="sum", **options).value)
        grad.flat[flat] = (values[0] - values[1]) / (2 * h)
    return grad


def _check_fd(name, tensors, options=None, rtol=1e-6, atol=1e-8):
    options = options or {}
    result = quiet(name, *tensors, reduction="sum", grad=True, **options)
    names = [t.name for t in find(name).tensors]
    assert set(result.grads) == set(names)
    for i, tensor_name in enumerate(names):
        np.testing.assert_allclose(result.grads[tensor_name], central_differences(name, tensors, i, options),
                                   rtol=rtol, atol=atol, err_msg=tensor_name)


@pytest.mark.parametrize("seed", SEEDS)
def test_wasserstein_gradient_is_the_derivative_between_ties(seed):
    """Piecewise linear in the values: away from ties, central differences are exact."""
    rng = np.random.default_rng(seed)
    u, v = rng.normal(size=(2, 6)), rng.normal(size=(2, 4)) + 0.5
    _check_fd("wasserstein", [u, v])
    _check_fd("wasserstein", [u, v], {"u_weights": rng.random((2, 6)) + 0.1, "v_weights": rng.random((2, 4))})
    # every u left of every v: W = E[v] - E[u], so ∂W/∂u_i = -1/n and ∂W/∂v_j = 1/m
    g = compute("wasserstein", [0.0, 1, 3], [5.0, 6, 8], grad=True).grads
    np.testing.assert_allclose(g["u_values"], [-1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(g["v_values"], [1 / 3] * 3, rtol=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_smooth_losses_gradients_by_finite_differences(seed):
    rng = np.random.default_rng(seed)
    p, q = rows(rng, (3, 4), zeros=False), rows(rng, (3, 4), zeros=False)
    _check_fd("js_div", [p, q])
    _check_fd("entropy", [p])
    x, t = rng.normal(size=(3, 4)) * 2, rng.random((3, 4))
    for options in ({}, {"alpha": -1.0, "gamma": 0.5}, {"alpha": 0.7, "gamma": 0.0}):
        _check_fd("sigmoid_focal", [x, t], options)
    _check_fd("log_cosh", [x, rng.normal(size=(3, 4))])
    _check_fd("dice", [rng.random((2, 3, 2)), rng.random((2, 3, 2))], {"smooth": 0.3})


def test_gradients_at_zero_probabilities():
    p = np.array([0.5, 0.0, 0.5, 0.0])
    q = np.array([0.0, 0.0, 0.5, 0.5])
    g = quiet("js_div", p, q, grad=True).grads  # ½ log(p/m); ½ log 2 where p = q = 0
    half_log2 = math.log(2) / 2
    np.testing.assert_allclose(g["p"], [half_log2, half_log2, 0.0, -np.inf], rtol=1e-15)
    np.testing.assert_allclose(g["q"], [-np.inf, half_log2, 0.0, half_log2], rtol=1e-15)
    g = quiet("entropy", np.array([0.0, 0.5, 0.5]), grad=True).grads["p"]
    np.testing.assert_allclose(g, [np.inf, math.log(2) - 1, math.log(2) - 1], rtol=1e-15)


# The command line ------------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "100"})


@pytest.mark.parametrize("args, words", [
    (["js_div", "0.5,-0.5,1", "0.2,0.3,0.5"], ["p:", "-0.5", "index [1]", "negative"]),
    (["js_div", "0.5,0.5,0", "[[0.2,0.3,0.5],[0.1,0.1,-0.8]]"], ["q", "p"]),
    (["js_div", "0.2,0.3,0.5", "0.2,0.3,-inf"], ["q:", "index [2]"]),
    (["js_div", "0.5", "0.5"], ["p is a single number"]),
    (["entropy", "[[0.5,0.5],[1.5,-0.5]]"], ["p:", "index [1, 1]", "negative"]),
    (["entropy", "1"], ["p is a single number"]),
    (["wasserstein", "zeros(0)", "1,2"], ["u_values", "empty"]),
    (["wasserstein", "1,2", "zeros(2,0)"], ["v_values"]),
    (["wasserstein", "randn(2,3)", "randn(3,3)"], ["u_values (2, 3)", "v_values (3, 3)", "leading"]),
    (["wasserstein", "--u-weights", "1,-1", "0,1", "2,3"], ["--u-weights", "index [1]", "negative"]),
    (["wasserstein", "--v-weights", "0,0", "0,1", "2,3"], ["--v-weights", "sum to 0", "positive and finite"]),
    (["wasserstein", "--v-weights", "1,inf", "0,1", "2,3"], ["--v-weights", "sum to inf"]),
    (["wasserstein", "--u-weights", "1,1,1", "0,1", "2,3"], ["--u-weights (3,)", "u_values (2,)"]),
    (["sigmoid_focal", "1,2", "1,0,1"], ["target (3,)", "input (2,)"]),
    (["log_cosh", "1,2", "1"], ["target ()", "input (2,)"]),
    (["dice", "--smooth", "-1", "0.5", "1"], ["--smooth", "-1"]),
    (["dice", "0.5,0.5", "1,0,1"], ["target (3,)"]),
])
def test_errors_exit_2_naming_the_tensor(args, words):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    for word in words:
        assert word in r.stderr, (word, r.stderr)


@pytest.mark.parametrize("args, words", [
    (["js_div", "1,2,3", "0.2,0.3,0.5"], ["warning: p: 1 of 1 row(s) do not sum to 1", "(p[:] sums to 6)"]),
    (["js_div", "[[0.2,0.8],[0.5,0.5]]", "[[0.5,0.5],[1,1]]"], ["q: 1 of 2 row(s)", "q[1, :] sums to 2"]),
    (["entropy", "1,1"], ["p: 1 of 1 row(s) do not sum to 1", "softmax"]),
    (["sigmoid_focal", "1,2", "1,-1"], ["target holds 1 value(s) outside [0, 1]", "{-1, 1}"]),
    (["sigmoid_focal", "--gamma", "-1", "1,2", "1,0"], ["--gamma -1.0 is negative"]),
    (["sigmoid_focal", "--alpha", "2", "1,2", "1,0"], ["--alpha 2.0 is above 1"]),
    (["dice", "2,-1", "1,0"], ["input holds 2 value(s) outside [0, 1]", "sigmoid"]),
    (["dice", "0.5,0.5", "1,2"], ["target holds 1 value(s) outside [0, 1]"]),
])
def test_warnings_say_what_was_probably_meant(args, words):
    r = run(*args, "--format", "value")
    assert r.exit_code == 0, r.output
    float(r.stdout)
    for word in words:
        assert word in r.stderr, (word, r.stderr)


@pytest.mark.parametrize("name", ["js_div", "wasserstein", "entropy", "sigmoid_focal", "log_cosh", "dice"])
def test_examples_run_without_warnings(name):
    import shlex

    r = run(name, *shlex.split(find(name).example), "--grad")
    assert r.exit_code == 0 and r.stderr == "", r.stderr


def test_grad_in_json_and_aliases():
    import json

    r = run("emd", "0,1,3", "5,6,8", "--grad", "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["loss"] == "wasserstein" and doc["value"] == 5.0
    np.testing.assert_allclose(doc["grad"]["u_values"], [-1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(doc["grad"]["v_values"], [1 / 3] * 3, rtol=1e-15)
    for alias, name in [("jsd", "js_div"), ("jensen-shannon", "js_div"), ("shannon_entropy", "entropy"),
                        ("focal", "sigmoid_focal"), ("sigmoid_focal_loss", "sigmoid_focal"),
                        ("LogCosh", "log_cosh"), ("DiceLoss", "dice"), ("earth_mover", "wasserstein")]:
        assert find(alias).name == name
    r = run("log_cosh", "1,2", "0,0", "--size-average")
    assert r.exit_code == 2  # no legacy flags: these losses have no PyTorch class
