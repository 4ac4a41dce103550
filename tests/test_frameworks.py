"""--convention, --compare and explain's other frameworks through the command line (SPEC §11).
The values themselves are checked against Keras, optax and scikit-learn in tests/conventions/test_against_frameworks.py;
here the expected values are losscalc.conventions' own, and the known figures of issue 12."""

import json

from click.testing import CliRunner

from losscalc.cli import cli
from losscalc.conventions import convention_value


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_convention_value_json_and_table():
    args = ["bce", "0.9,0.2,0.6", "1,0,1"]
    for framework in ("keras", "sklearn"):
        expected = convention_value("bce", framework, [[0.9, 0.2, 0.6], [1.0, 0.0, 1.0]], {"reduction": "mean"})
        r = run(*args, "--convention", framework, "--format", "value")
        assert r.exit_code == 0 and float(r.stdout) == expected.value
        doc = json.loads(run(*args, "--convention", framework, "--format", "json").stdout)
        assert doc["value"] == expected.value and doc["convention"]["function"] == expected.function
        assert doc["elements"] is None and doc["convention"]["torch_value"] != doc["value"] or framework == "sklearn"
    table = run(*args, "--convention", "keras").stdout
    assert "keras.losses.BinaryCrossentropy" in table and "PyTorch (torch.nn.BCELoss)" in table


def test_one_confident_miss_costs_what_each_framework_says():
    """Issue 12's figures: PyTorch's BCE clamps log at -100, scikit-learn clips at the dtype's
    eps (36.04 in float64, 15.94 in float32), Keras at 1e-7 (16.12)."""
    args = ["bce", "[0]", "[1]", "--compare", "all", "--format", "json"]
    doc = json.loads(run(*args).stdout)["conventions"]
    assert doc["torch"]["value"] == 100.0
    assert round(doc["sklearn"]["value"], 2) == 36.04 and round(doc["keras"]["value"], 2) == 16.12
    assert "refused" in doc["optax"]
    doc = json.loads(run(*args, "--dtype", "float32").stdout)["conventions"]
    assert round(doc["sklearn"]["value"], 2) == 15.94


def test_no_equivalent_exits_2_naming_the_frameworks_that_have_one():
    r = CliRunner().invoke(cli, ["multi_margin", "[[1,2,3]]", "0", "--convention", "optax"])
    assert r.exit_code == 2 and "optax has no equivalent of multi_margin" in r.stderr and "torch" in r.stderr
    r = CliRunner().invoke(cli, ["mse", "1", "2", "--compare", "torch,jax"])
    assert r.exit_code == 2 and "jax" in r.stderr


def test_explain_lists_the_equivalents():
    out = run("explain", "kl_div").stdout
    assert "Other frameworks" in out and "keras.losses.KLDivergence" in out and "optax" in out
