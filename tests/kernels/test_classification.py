"""Classification and the new embedding losses: identities, warnings, errors through the CLI,
the breakdown terms, and the chunked log-sum-exp against a direct computation."""

import csv
import json
import io
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc import compute
from losscalc.cli import cli
from losscalc.errors import LossError, LossWarning
from losscalc.kernels import classification
from tests.helpers import quiet


def log_softmax(x, axis):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


SHAPES = [((5,), ()), ((6, 4), (6,)), ((3, 4, 5), (3, 5)), ((2, 3, 2, 2), (2, 2, 2)), ((2, 3, 2, 1, 2), (2, 2, 1, 2))]


# ------------------------------------------------------------------ identities

@pytest.mark.parametrize("in_shape,t_shape", SHAPES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_is_nll_of_log_softmax(in_shape, t_shape, reduction):
    rng = np.random.default_rng(len(in_shape))
    c = in_shape[0] if len(in_shape) == 1 else in_shape[1]
    x = rng.normal(size=in_shape) * 3
    y = rng.integers(0, c, size=t_shape)
    lp = log_softmax(x, 0 if len(in_shape) == 1 else 1)
    for opts in [{}, {"weight": rng.random(c) + 0.1}, {"ignore_index": int(np.ravel(y)[0])},
                 {"weight": rng.random(c), "ignore_index": 1}]:
        ce = quiet("cross_entropy", x, y, reduction=reduction, **opts)
        nll = quiet("nll", lp, y, reduction=reduction, **opts)
        np.testing.assert_allclose(ce.value, nll.value, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_label_smoothing_is_cross_entropy_with_smoothed_probabilities(reduction):
    """Index targets with smoothing ε equal probability targets (1 - ε) one_hot + ε/C, weights included."""
    rng = np.random.default_rng(7)
    x, y, w = rng.normal(size=(5, 4, 3)), rng.integers(0, 4, size=(5, 3)), rng.random(4) + 0.5
    q = np.moveaxis(np.eye(4)[y], -1, 1)
    for eps in [0.0, 0.1, 1.0]:
        a = compute("cross_entropy", x, y, weight=w, label_smoothing=eps, reduction=reduction)
        b = compute("cross_entropy", x, q, weight=w, label_smoothing=eps, reduction=reduction)
        np.testing.assert_allclose(a.value, b.value, rtol=1e-12)


def test_smoothing_mean_divides_by_the_weights_of_items_not_ignored():
    x, y, w = np.array([[1.0, 2, 3], [0, 0, 1], [2, 1, 0]]), np.array([0, 2, 1]), np.array([0.5, 1.0, 2.0])
    r = compute("cross_entropy", x, y, weight=w, ignore_index=2, label_smoothing=0.3)
    lp = log_softmax(x, 1)
    keep = y != 2
    per = 0.7 * w[y] * -lp[np.arange(3), y] + 0.1 * (w * -lp).sum(1)
    assert r.value == pytest.approx(per[keep].sum() / w[y][keep].sum(), rel=1e-12)
    assert r.arithmetic.denominator == pytest.approx(0.5 + 1.0)


def test_float_whole_number_targets_are_class_indices():
    x = np.random.default_rng(1).normal(size=(3, 4))
    a = compute("cross_entropy", x, np.array([0.0, 3.0, 2.0]), reduction="none")
    b = compute("cross_entropy", x, np.array([0, 3, 2]), reduction="none")
    np.testing.assert_array_equal(a.value, b.value)
    with pytest.raises(LossError, match=r"whole numbers.*target\[1\]"):
        compute("cross_entropy", x, np.array([0.0, 2.5, 2.0]))


@pytest.mark.parametrize("shape", [(7, 50), (3, 40, 9), (1, 5000, 1), (300, 3), (2, 33, 17, 2)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_chunked_log_sum_exp_matches_a_direct_computation(monkeypatch, shape, dtype):
    """Tiny chunks force many blocks (rows and, for K-dim inputs, columns) and the small-C path."""
    rng = np.random.default_rng(sum(shape))
    x = rng.normal(size=shape) * 5
    c = shape[1]
    y = rng.integers(0, c, size=(shape[0], *shape[2:]))
    p = np.exp(log_softmax(rng.normal(size=shape), 1))
    w = rng.random(c) + 0.1
    expected = {}
    for chunk in [classification.CHUNK, 64]:
        monkeypatch.setattr(classification, "CHUNK", chunk)
        expected[chunk] = [compute("cross_entropy", x, y, weight=w, label_smoothing=0.2, reduction="none", dtype=dtype),
                           compute("cross_entropy", x, p, weight=w, label_smoothing=0.2, reduction="none", dtype=dtype)]
    lp = log_softmax(x, 1)
    onehot = np.moveaxis(np.eye(c)[y], -1, 1)
    wb = w.reshape((1, c) + (1,) * (len(shape) - 2))
    direct_index = -(0.8 * onehot * wb * lp).sum(1) - 0.2 / c * (wb * lp).sum(1)
    direct_probs = -((0.8 * p + 0.2 / c) * wb * lp).sum(1)
    rtol = 1e-11 if dtype == "float64" else 2e-5
    for results in expected.values():
        assert results[0].elements.dtype == np.dtype(dtype)
        np.testing.assert_allclose(results[0].elements, direct_index, rtol=rtol)
        np.testing.assert_allclose(results[1].elements, direct_probs, rtol=rtol)


# ------------------------------------------------------------------ all ignored, warnings

def test_all_targets_ignored_gives_nan_mean_zero_sum_and_says_why():
    x = np.ones((3, 4))
    for loss in ["cross_entropy", "nll"]:
        with pytest.warns(LossWarning, match=r"every target equals the ignore index 2.*0 / 0 = nan"):
            mean = compute(loss, x, np.full(3, 2), ignore_index=2)
        assert np.isnan(mean.value)
        assert mean.arithmetic.denominator == 0
        assert any("3 of 3 item(s) ignored" in n for n in mean.arithmetic.notes)
        with pytest.warns(LossWarning, match="every target equals the ignore index"):
            total = compute(loss, x, np.full(3, 2), ignore_index=2, reduction="sum")
        assert total.value == 0


def test_zero_weight_sum_warns_on_mean():
    with pytest.warns(LossWarning, match="weights of the targets not ignored sum to 0"):
        r = compute("cross_entropy", np.ones((2, 3)), [1, 1], weight=[1.0, 0, 1])
    assert np.isnan(r.value)


def test_nll_warns_on_probabilities():
    with pytest.warns(LossWarning, match=r"2 of 2 item.*sums to 4\.26.*does not look like log-probabilities: "
                                         r"its rows themselves sum to 1, as probabilities do"):
        compute("nll", [[0.6, 0.2, 0.2], [0.2, 0.3, 0.5]], [0, 1])
    with pytest.warns(LossWarning, match=r"1 of 2 item.*\(exp\(input\[1, :\]\) sums to .*nll expects"):
        compute("nll", [[0.0, -800, -800], [0.4, 0.4, 0.4]], [0, 1])
    with pytest.warns(LossWarning, match=r"all inputs are ≥ 0, as probabilities are"):
        compute("nll", [[0.9, 0.4, 0.4], [0.4, 0.4, 0.4]], [0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute("nll", log_softmax(np.random.default_rng(0).normal(size=(5, 3)), 1), [0, 1, 2, 0, 1])


def test_cross_entropy_warns_on_probability_rows_not_summing_to_one():
    x = np.zeros((2, 3))
    with pytest.warns(LossWarning, match=r"1 of 2 item\(s\).*\(target\[1, :\] sums to 1\.5\)"):
        compute("cross_entropy", x, [[0.2, 0.3, 0.5], [0.5, 0.5, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute("cross_entropy", x, [[0.2, 0.3, 0.5], [0.0, 0.0, 1.0]])


def test_negative_label_smoothing_warns_and_is_ignored_as_pytorch_does():
    x, y = np.random.default_rng(3).normal(size=(4, 3)), [0, 1, 2, 1]
    with pytest.warns(LossWarning, match="negative: PyTorch silently ignores it"):
        r = compute("cross_entropy", x, y, label_smoothing=-0.2)
    assert r.value == compute("cross_entropy", x, y).value


def test_ignore_index_with_probability_targets():
    x, p = np.zeros((2, 3)), np.full((2, 3), 1 / 3)
    with pytest.raises(LossError, match="--ignore-index 1: PyTorch does not support ignore_index"):
        compute("cross_entropy", x, p, ignore_index=1)
    with pytest.warns(LossWarning, match="no effect"):
        compute("cross_entropy", x, p, ignore_index=-1)


def test_cosine_embedding_warns_on_targets_other_than_pm1():
    with pytest.warns(LossWarning, match="only 1 and -1 for cosine_embedding"):
        r = compute("cosine_embedding", np.ones((2, 3)), np.ones((2, 3)), [1, 0], reduction="none")
    assert r.value[1] == 0


def test_multilabel_soft_margin_warns_on_broadcasting():
    with pytest.warns(LossWarning, match="broadcast"):
        compute("multilabel_soft_margin", np.zeros((2, 3)), np.ones(3))


# ------------------------------------------------------------------ errors through the CLI

# ------------------------------------------------------------------ breakdown terms

def csv_rows(*args):
    r = run(*args, "--format", "csv")
    assert r.exit_code == 0, r.stderr
    return list(csv.DictReader(io.StringIO(r.stdout)))


def test_cross_entropy_breakdown_terms_in_csv():
    rows = csv_rows("cross_entropy", "ones(3,3)*0.5", "0,1,2", "--weight", "0.6,0.2,0.2", "--ignore-index", "1",
                    "--label-smoothing", "0.1")
    assert list(rows[0]) == ["index", "target", "logit[y]", "logsumexp", "weight", "smoothing", "ignored", "loss"]
    assert [r["target"] for r in rows] == ["0", "1", "2"]
    assert [r["ignored"] for r in rows] == ["", "ignored", ""]
    assert rows[1]["loss"] == "0.0" and rows[1]["weight"] == "0.0" and rows[1]["logit[y]"] == "nan"
    assert float(rows[0]["logsumexp"]) == pytest.approx(0.5 + np.log(3))
    assert float(rows[0]["smoothing"]) == pytest.approx(0.1 / 3 * np.log(3))
    assert float(rows[0]["loss"]) == pytest.approx(0.9 * 0.6 * np.log(3) + 0.1 / 3 * np.log(3))


def test_nll_and_margin_breakdown_terms_in_csv():
    rows = csv_rows("nll", "[[-0.6,-0.2,-1.2],[-0.4,-1.2,-0.4]]", "0,1", "--weight", "0.6,0.2,0.2")
    assert list(rows[0]) == ["index", "target", "input[y]", "weight", "loss"]
    assert rows[1]["input[y]"] == "-1.2" and rows[1]["weight"] == "0.2"
    rows = csv_rows("multi_margin", "[[0.1,0.2,0.4,0.8]]", "3")
    assert list(rows[0]) == ["index", "target", "x[y]", "violations", "loss"]
    assert rows[0]["violations"] == "3"


def test_triplet_breakdown_terms_in_csv():
    rows = csv_rows("triplet_margin", "[[0,0]]", "[[3,4]]", "[[0,1]]", "--swap", "--eps", "0")
    assert list(rows[0]) == ["index", "d(a,p)", "d(a,n)", "d(p,n)", "loss"]
    assert rows[0]["d(a,p)"] == "5.0" and rows[0]["d(a,n)"] == "1.0"
    rows = csv_rows("triplet_margin_with_distance", "[[1,0]]", "[[0,1]]", "[[1,1]]", "--distance", "cosine")
    assert list(rows[0]) == ["index", "d(a,p)", "d(a,n)", "loss"]
    assert float(rows[0]["d(a,p)"]) == pytest.approx(1.0)


def test_reduction_line_shows_weighted_mean_and_ignored_count():
    r = run("cross_entropy", "ones(3,3)*0.5", "0,1,2", "--weight", "0.6,0.2,0.2", "--ignore-index", "1")
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert "mean = Σ w·l / Σ w (items not ignored) = " in text
    assert "/ 0.8 = " in text
    assert "1 of 3 item(s) ignored" in text


@pytest.mark.parametrize("alias,name", [("ce", "cross_entropy"), ("CrossEntropyLoss", "cross_entropy"),
                                        ("NLLLoss2d", "nll"), ("nll_loss", "nll"), ("NLLLoss", "nll"),
                                        ("MultiMarginLoss", "multi_margin"), ("multilabel-margin-loss", "multilabel_margin"),
                                        ("MultiLabelSoftMarginLoss", "multilabel_soft_margin")])
def test_aliases(alias, name):
    r = run(alias, "--help")
    assert r.exit_code == 0 and f"losscalc {name} " in r.stdout


def test_non_contiguous_inputs_give_the_same_losses():
    """Fortran-ordered and transposed inputs take the take_along_axis path of the gather."""
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(6, 5)), rng.integers(0, 5, 6)
    xk = rng.normal(size=(3, 4, 2, 5))
    yk = rng.integers(0, 4, (3, 2, 5))
    for loss in ["cross_entropy", "nll"]:
        for a, b, t in [(x, np.asfortranarray(x), y), (xk, np.ascontiguousarray(xk.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2), yk)]:
            assert not b.flags.c_contiguous
            opts = {"label_smoothing": 0.1} if loss == "cross_entropy" else {}
            expected, got = (quiet(loss, v, t, reduction="none", **opts) for v in (a, b))
            np.testing.assert_allclose(got.value, expected.value, rtol=1e-13)


@pytest.mark.parametrize("reduction,expected", [("mean", "nan"), ("sum", 0.0), ("none", [[]])])
def test_empty_spatial_dimension_through_the_cli(reduction, expected):
    """(N, C, 0) scores: no items; PyTorch's mean is nan (found by tests/test_fuzz_cli.py)."""
    for target in ["[[[]]]", "zeros(1,0)"]:
        r = run("cross_entropy", "[[[]]]", target, "--reduction", reduction, "--format", "json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["value"] == expected


def test_no_ignored_note_when_nothing_is_ignored():
    r = compute("cross_entropy", [[1.0, 2.0], [0.5, 0.1]], [0, 1])
    assert r.arithmetic.notes == ()
