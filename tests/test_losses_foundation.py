"""The foundation losses beyond l1/mse: identities between them, PyTorch's edge cases, the
warnings losscalc adds, and every error path through the command line."""

import json
import shlex
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc import compute
from losscalc.cli import cli
from losscalc.errors import LossError, LossWarning
from losscalc.registry import find

MINE = ["smooth_l1", "huber", "poisson_nll", "gaussian_nll", "bce", "bce_with_logits", "soft_margin", "kl_div"]
RNG = np.random.default_rng(7)


def quiet(name, *tensors, **kw):
    """compute() with warnings silenced (for identities, where warnings are beside the point)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute(name, *tensors, **kw)


def strict(name, *tensors, **kw):
    """compute() with every warning an error: for calls that must be clean."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return compute(name, *tensors, **kw)


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def valid_inputs(loss, shape=(3, 4), rng=RNG):
    """Inputs each loss accepts without a warning."""
    x, y = rng.normal(size=shape), rng.normal(size=shape)
    if loss == "poisson_nll":
        return [x, rng.poisson(2.0, size=shape).astype(float)]
    if loss == "gaussian_nll":
        return [x, y, rng.random(shape) + 0.1]
    if loss == "bce":
        return [rng.random(shape), rng.integers(0, 2, size=shape).astype(float)]
    if loss == "bce_with_logits":
        return [x, rng.random(shape)]
    if loss == "soft_margin":
        return [x, rng.choice([-1.0, 1.0], size=shape)]
    if loss == "kl_div":
        z = rng.normal(size=shape)
        log_q = z - np.log(np.exp(z).sum(-1, keepdims=True))
        p = rng.random(shape)
        return [log_q, p / p.sum(-1, keepdims=True)]
    return [x, y]


# ---------------------------------------------------------------- identities

@pytest.mark.parametrize("d", [0.1, 0.5, 1.0, 2.0, 7.5])
def test_huber_is_delta_times_smooth_l1(d):
    x, y = RNG.normal(size=(4, 5)) * 3, RNG.normal(size=(4, 5)) * 3
    h = quiet("huber", x, y, delta=d, reduction="none").value
    s = quiet("smooth_l1", x, y, beta=d, reduction="none").value
    np.testing.assert_allclose(h, d * s, rtol=1e-12, atol=1e-15)
    assert not np.allclose(h, s) or d == 1.0  # the identity is not a tautology


def test_smooth_l1_with_beta_0_is_l1():
    x, y = RNG.normal(size=(6,)), RNG.normal(size=(6,))
    for reduction in ["none", "mean", "sum"]:
        np.testing.assert_array_equal(
            quiet("smooth_l1", x, y, beta=0.0, reduction=reduction).value, quiet("l1", x, y, reduction=reduction).value
        )


def test_bce_with_logits_is_bce_of_sigmoid():
    x, y = RNG.normal(size=(5, 3)) * 2, RNG.random((5, 3))
    w = RNG.random((3,))
    a = quiet("bce_with_logits", x, y, weight=w, reduction="none").value
    b = quiet("bce", 1 / (1 + np.exp(-x)), y, weight=w, reduction="none").value
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_pos_weight_scales_only_the_positive_term():
    x = RNG.normal(size=(4, 3))
    ones, zeros = np.ones((4, 3)), np.zeros((4, 3))
    pw = np.array([1.0, 2.0, 5.0])
    np.testing.assert_allclose(quiet("bce_with_logits", x, ones, pos_weight=pw, reduction="none").value,
                               pw * quiet("bce_with_logits", x, ones, reduction="none").value, rtol=1e-12)
    np.testing.assert_allclose(quiet("bce_with_logits", x, zeros, pos_weight=pw, reduction="none").value,
                               quiet("bce_with_logits", x, zeros, reduction="none").value, rtol=1e-12)


def test_kl_div_log_target_agrees_with_probabilities():
    log_q, p = valid_inputs("kl_div")
    for reduction in ["none", "batchmean", "sum"]:
        np.testing.assert_allclose(strict("kl_div", log_q, np.log(p), log_target=True, reduction=reduction).value,
                                   strict("kl_div", log_q, p, reduction=reduction).value, rtol=1e-10, atol=1e-14)


def test_kl_div_batchmean_is_the_kl_divergence_per_row():
    log_q, p = valid_inputs("kl_div", (3, 4))
    per_row = (p * (np.log(p) - log_q)).sum(-1)
    np.testing.assert_allclose(strict("kl_div", log_q, p, reduction="batchmean").value, per_row.mean(), rtol=1e-12)


def test_poisson_log_input_agrees_with_rates():
    x, y = valid_inputs("poisson_nll")
    a = quiet("poisson_nll", x, y, full=True, reduction="none").value
    b = quiet("poisson_nll", np.exp(x), y, log_input=False, full=True, eps=0.0, reduction="none").value
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_gaussian_single_variance_equals_a_full_one():
    x, y = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    a = strict("gaussian_nll", x, y, np.array(0.7), reduction="none").value
    b = strict("gaussian_nll", x, y, np.full((3, 4), 0.7), reduction="none").value
    c = strict("gaussian_nll", x, y, np.full((3,), 0.7), reduction="none").value
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_gaussian_variance_is_clamped_to_eps():
    r = strict("gaussian_nll", np.zeros(3), np.ones(3), np.array([0.0, 1e-9, 1.0]), reduction="none")
    np.testing.assert_array_equal(r.terms["var clamped"], [1e-6, 1e-6, 1.0])
    assert r.value[0] == r.value[1] == 0.5 * (np.log(1e-6) + 1 / 1e-6)


def test_poisson_full_adds_stirling_only_above_one():
    r = strict("poisson_nll", np.zeros(4), np.array([0.0, 1.0, 1.5, 3.0]), full=True, reduction="none")
    y = np.array([1.5, 3.0])
    stirling = y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y)
    np.testing.assert_allclose(r.terms["Stirling (y > 1)"], [0.0, 0.0, *stirling], rtol=1e-14)


# ---------------------------------------------------------------- PyTorch's edge cases

def test_bce_clamps_each_log_at_minus_100():
    r = strict("bce", np.array([0.0, 1.0, 0.0, 1.0, 1e-50]), np.array([1.0, 0.0, 0.0, 1.0, 1.0]), reduction="none")
    np.testing.assert_array_equal(r.value, [100.0, 100.0, 0.0, 0.0, 100.0])
    np.testing.assert_array_equal(r.terms["log(x) clamped"][:2], [-100.0, 0.0])
    np.testing.assert_array_equal(r.terms["log(1-x) clamped"][:2], [0.0, -100.0])
    assert strict("bce", np.array([0.0, 1.0]), np.array([0.5, 0.5]), reduction="sum").value == 100.0


def test_bce_with_logits_is_stable_for_large_logits():
    r = strict("bce_with_logits", np.array([800.0, -800.0, 800.0]), np.array([0.0, 1.0, 1.0]), reduction="none")
    np.testing.assert_array_equal(r.value, [800.0, 800.0, 0.0])


def test_kl_div_target_zero_gives_zero_but_not_against_minus_inf():
    r = quiet("kl_div", np.array([-1.0, -np.inf, -2.0]), np.array([0.0, 0.0, 0.5]), reduction="none")
    assert r.value[0] == 0.0  # xlogy: 0 · log 0 = 0
    assert np.isnan(r.value[1])  # 0 - 0 · (-inf) = nan, as PyTorch
    assert r.value[2] == pytest.approx(0.5 * (np.log(0.5) + 2.0))


def test_kl_div_batchmean_divides_by_the_inputs_first_dimension():
    log_q = np.log(np.full((4,), 0.25))
    p = np.full((3, 4), 0.25) + np.array([0.1, -0.1, 0.0, 0.0])
    r = quiet("kl_div", log_q, p, reduction="batchmean")
    assert r.value == pytest.approx(quiet("kl_div", log_q, p, reduction="sum").value / 4)  # not / 3
    assert strict("kl_div", np.array(-0.5), np.array(0.5), reduction="batchmean").value == \
        strict("kl_div", np.array(-0.5), np.array(0.5), reduction="sum").value


def test_kl_div_batchmean_of_an_empty_batch_is_nan():
    assert np.isnan(strict("kl_div", np.zeros((0,)), np.zeros((0,)), reduction="batchmean").value)


@pytest.mark.parametrize("loss", ["smooth_l1", "huber", "l1", "mse"])
def test_zero_loss_where_input_equals_target(loss):
    x = RNG.normal(size=(3, 4)) * 5
    for reduction in ["none", "mean", "sum"]:
        assert not np.any(strict(loss, x, x.copy(), reduction=reduction).value)


@pytest.mark.parametrize("loss", MINE)
def test_sum_is_the_sum_of_none_and_mean_its_average(loss):
    tensors = valid_inputs(loss)
    none = strict(loss, *tensors, reduction="none")
    assert none.value.shape == (3, 4)
    np.testing.assert_allclose(strict(loss, *tensors, reduction="sum").value, none.value.sum(), rtol=1e-12)
    if loss == "kl_div":
        np.testing.assert_allclose(strict(loss, *tensors, reduction="batchmean").value, none.value.sum() / 3, rtol=1e-12)
    else:
        np.testing.assert_allclose(strict(loss, *tensors, reduction="mean").value, none.value.mean(), rtol=1e-12)


@pytest.mark.parametrize("loss", MINE)
def test_float32_stays_float32(loss):
    r = strict(loss, *valid_inputs(loss), reduction="none", dtype="float32")
    assert r.value.dtype == np.float32
    for name, term in r.terms.items():
        if np.asarray(term).dtype.kind == "f":
            assert np.asarray(term).dtype == np.float32, name
    assert strict(loss, *valid_inputs(loss), reduction="sum", dtype="float32").value.dtype == np.float32


def test_huber_weight_mean_is_a_plain_mean():
    x, y, w = np.array([0.0, 0.0]), np.array([0.5, 3.0]), np.array([2.0, 3.0])
    # as F.huber_loss: mean(w · l), not Σ w·l / Σ w as l1 and mse
    assert strict("huber", x, y, weight=w).value == pytest.approx((2 * 0.125 + 3 * 2.5) / 2)
    assert strict("l1", x, y, weight=w).value == pytest.approx((2 * 0.5 + 3 * 3.0) / 5)


# ---------------------------------------------------------------- warnings

BROADCAST = [
    ("smooth_l1", [np.zeros((3, 4)), np.zeros((4,))]),
    ("huber", [np.zeros((3, 4)), np.zeros((4,))]),
    ("poisson_nll", [np.zeros((3, 4)), np.ones((4,))]),
    ("gaussian_nll", [np.zeros((3, 4)), np.zeros((4,)), np.ones((3, 4))]),
    ("soft_margin", [np.zeros((3, 4)), np.ones((4,))]),
    ("kl_div", [np.log(np.full((3, 4), 0.25)), np.full((4,), 0.25)]),
]


@pytest.mark.parametrize("loss,tensors", BROADCAST, ids=[b[0] for b in BROADCAST])
def test_broadcasting_warns(loss, tensors):
    with pytest.warns(LossWarning, match="broadcast"):
        compute(loss, *tensors, reduction="sum")


def test_kl_div_mean_warns_and_batchmean_does_not():
    log_q, p = valid_inputs("kl_div")
    with pytest.warns(LossWarning, match="batchmean divides by the batch size"):
        compute("kl_div", log_q, p, reduction="mean")
    strict("kl_div", log_q, p, reduction="batchmean")


def test_kl_div_legacy_mean_warns_too():
    """Legacy flags become the reduction (as KLDivLoss's constructor does), so mean warns."""
    log_q, p = valid_inputs("kl_div")
    with pytest.warns(LossWarning) as record:
        r = compute("kl_div", log_q, p, size_average=True)
    assert r.reduction == "mean"
    assert any("deprecated" in str(w.message) for w in record)
    assert any("batchmean" in str(w.message) for w in record)


@pytest.mark.parametrize("input", [
    np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]),  # probabilities (seed 000's KLDiv example)
    np.array([[-3.0, -2.0, -4.0]]),  # log of something that does not sum to 1
])
def test_kl_div_warns_when_input_is_not_log_probabilities(input):
    with pytest.warns(LossWarning, match="log-probabilities"):
        compute("kl_div", input, np.full(input.shape, 1 / 3), reduction="sum")


def test_kl_div_accepts_log_probabilities_along_another_dimension():
    z = RNG.normal(size=(2, 3, 4))
    log_q = z - np.log(np.exp(z).sum(1, keepdims=True))  # log_softmax over dim 1
    p = np.exp(log_q[:, :, ::-1])
    strict("kl_div", log_q, p, reduction="sum")


def test_kl_div_warns_on_negative_target_without_log_target():
    log_q = np.log(np.full((2, 2), 0.5))
    with pytest.warns(LossWarning, match="--log-target"):
        compute("kl_div", log_q, log_q.copy(), reduction="sum")
    with pytest.warns(LossWarning, match="leave --log-target off"):
        compute("kl_div", log_q, np.full((2, 2), 0.5), log_target=True, reduction="sum")


def test_soft_margin_warns_on_targets_other_than_plus_minus_one():
    with pytest.warns(LossWarning, match="1 and -1"):
        compute("soft_margin", np.array([0.3, 0.7]), np.array([0.0, 1.0]))
    strict("soft_margin", np.array([0.3, 0.7]), np.array([-1.0, 1.0]))


def test_bce_with_logits_warns_on_targets_outside_0_1():
    with pytest.warns(LossWarning, match=r"outside \[0, 1\]"):
        compute("bce_with_logits", np.array([0.3, 0.7]), np.array([-1.0, 1.0]))


def test_poisson_warns_on_negative_rates():
    with pytest.warns(LossWarning, match="--log-input"):
        compute("poisson_nll", np.array([-0.3, 0.7]), np.array([1.0, 1.0]), log_input=False)


# ---------------------------------------------------------------- errors through the CLI

ERRORS = [  # (arguments, words the message must hold)
    (["smooth_l1", "--beta", "-1", "1,2", "1,3"], ["--beta", "-1"]),
    (["smooth_l1", "1,2,3", "1,2"], ["input (3,)", "target (2,)", "broadcast"]),
    (["huber", "--delta", "0", "1,2", "1,3"], ["--delta", "greater than 0"]),
    (["huber", "--delta", "-2", "1,2", "1,3"], ["--delta"]),
    (["huber", "--weight", "1,2,3", "1,2", "1,3"], ["--weight (3,)", "input (2,)"]),
    (["poisson_nll", "1,2,3", "1,2"], ["input (3,)", "target (2,)"]),
    (["gaussian_nll", "1,2", "1,2", "1,-0.5"], ["var", "negative", "-0.5", "[1]"]),
    (["gaussian_nll", "1,2;3,4", "1,2;3,4", "1,1,1"], ["var (3,)", "input (2, 2)"]),
    (["gaussian_nll", "1,2;3,4", "1,2;3,4", "[[1]]"], ["var (1, 1)"]),
    (["bce", "0.2,1.5", "1,0"], ["input", "1.5", "[1]", "[0, 1]", "bce_with_logits"]),
    (["bce", "0.2,nan", "1,0"], ["input", "nan", "[1]"]),
    (["bce", "0.2,0.5", "1,2"], ["target", "2.0", "[1]", "[0, 1]"]),
    (["bce", "0.2,0.5", "[1]"], ["target (1,)", "input (2,)", "same shape"]),
    (["bce", "--weight", "1,2,3", "0.2,0.5", "1,0"], ["--weight (3,)", "input's shape (2,)"]),
    (["bce", "--weight", "1,2;3,4", "0.2,0.5", "1,0"], ["--weight (2, 2)"]),
    (["bce_with_logits", "0.2,0.5", "[1]"], ["target (1,)", "input (2,)"]),
    (["bce_with_logits", "--pos-weight", "1,2,3", "0.2,0.5", "1,0"], ["--pos-weight (3,)"]),
    (["bce_with_logits", "--weight", "1,2,3", "0.2,0.5", "1,0"], ["--weight (3,)"]),
    (["soft_margin", "0.2,0.5", "1;-1"], ["target (2, 1)", "input's shape (2,)"]),
    (["kl_div", "-1,-2", "0.5,0.2,0.3"], ["input (2,)", "target (3,)"]),
    (["smooth_l1", "--reduction", "batchmean", "1,2", "1,3"], ["batchmean"]),
    (["gaussian_nll", "--size-average", "1", "1", "1"], ["--size-average"]),
    (["huber", "--no-reduce", "1", "1"], ["--no-reduce"]),
]


@pytest.mark.parametrize("args,words", ERRORS, ids=[" ".join(e[0]) for e in ERRORS])
def test_errors_exit_2_with_a_plain_message(args, words):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    assert r.stdout == ""
    for word in words:
        assert word in r.stderr, (word, r.stderr)


def test_library_errors_are_loss_errors():
    with pytest.raises(LossError, match="bce_with_logits"):
        compute("bce", np.array([2.0]), np.array([1.0]))


def test_warnings_go_to_stderr_and_stdout_stays_clean():
    r = run("kl_div", "0.5,0.3,0.2", "0.9,0.05,0.05", "--format", "value")
    assert r.exit_code == 0
    assert "warning:" in r.stderr and "log-probabilities" in r.stderr and "batchmean" in r.stderr
    y, x = np.array([0.9, 0.05, 0.05]), np.array([0.5, 0.3, 0.2])
    assert float(r.stdout) == pytest.approx(np.mean(y * (np.log(y) - x)), rel=1e-12)  # -0.2898


# ---------------------------------------------------------------- help, examples, tables

@pytest.mark.parametrize("loss", MINE)
def test_help_and_example(loss):
    entry = find(loss)
    for section in ["Formula", "Shape", "References"]:
        assert entry.section(section), (loss, section)
    r = run(loss, "--help")
    assert r.exit_code == 0 and "Example:" in r.stdout and entry.example.split()[0] in r.stdout
    r = run(loss, *shlex.split(entry.example), "--format", "json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["loss"] == loss and np.isfinite(doc["value"])
    assert "warning" not in r.stderr, r.stderr  # the examples are clean inputs


@pytest.mark.parametrize("alias,loss", [
    ("SmoothL1Loss", "smooth_l1"), ("smooth_l1_loss", "smooth_l1"), ("HuberLoss", "huber"), ("huber_loss", "huber"),
    ("BCELoss", "bce"), ("binary_cross_entropy", "bce"), ("BCEWithLogitsLoss", "bce_with_logits"),
    ("binary-cross-entropy-with-logits", "bce_with_logits"), ("SoftMarginLoss", "soft_margin"),
    ("soft_margin_loss", "soft_margin"), ("PoissonNLLLoss", "poisson_nll"), ("poisson_nll_loss", "poisson_nll"),
    ("GaussianNLLLoss", "gaussian_nll"), ("gaussian_nll_loss", "gaussian_nll"), ("KLDivLoss", "kl_div"),
    ("kl", "kl_div"), ("KLDiv", "kl_div"), ("kl-div", "kl_div"),
])
def test_aliases(alias, loss):
    assert find(alias).name == loss


@pytest.mark.parametrize("loss,columns", [
    ("bce", ["log(x) clamped", "log(1-x) clamped"]),
    ("kl_div", ["y·log y", "y·x"]),
    ("gaussian_nll", ["var clamped", "(x-y)²/var"]),
    ("smooth_l1", ["|x - y|", "branch"]),
])
def test_table_names_the_terms(loss, columns):
    r = CliRunner().invoke(cli, [loss, *shlex.split(find(loss).example)], catch_exceptions=False,
                           terminal_width=200, env={"COLUMNS": "200"})
    assert r.exit_code == 0
    for column in columns:
        assert column in r.stdout, (column, r.stdout)
