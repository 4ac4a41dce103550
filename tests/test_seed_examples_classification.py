"""The classification and embedding worked examples of the source documents
(/work/shared/seeds/*.txt), reproduced through the command line to the digits printed there.

The seeds ran PyTorch in float32 (torch.tensor's default), so the examples run with
--dtype float32, and float64 too where it prints the same digits.

Not reproducible, because their inputs are drawn at random and never printed: in
000_cf89e272e83e07be.txt the CrossEntropyLoss 2.0115 (torch.randn(3, 5)) and TripletMarginLoss
1.1667 (torch.randn(100, 128)) examples.

Where PyTorch 2.13 differs from the text:
- 000, CosineEmbeddingLoss: the text passes target torch.tensor([[1, -1]]) of shape (1, 2);
  PyTorch 2.13 rejects a 2-D target ("0D or 1D target tensor expected, multi-target not
  supported"), and so does losscalc (exit 2). With the 1-D target [1, -1] it prints 0.5000.
- 002, CrossEntropyLoss: the text uses the legacy size_average/reduce flags; they still work in
  2.13 (with a deprecation warning), and losscalc maps them the same way; --reduction none is
  checked too.
- 002, NLLLoss: the inputs [[0.6, 0.2, 0.2], [0.4, 1.2, 0.4]] are called "probabilities"; they
  are not log-probabilities (nor even probabilities: the second row sums to 2), so PyTorch's
  result is the formula's -w·x, and losscalc adds a warning saying so.
"""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc.cli import cli


def losscalc(*args) -> tuple:
    """Run the CLI with --format json; the value (a number or nested lists) and stderr."""
    r = CliRunner().invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)["value"], r.stderr


def printed(value, text: str) -> bool:
    """Does `value` print as `text` does (PyTorch's fixed decimals: '0.6592', '-0.7500')?"""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{float(value):.{decimals}f}" == text.rstrip(".") or f"{float(value):.{decimals}f}" == text


def assert_prints(values, texts):
    values = np.asarray(values, dtype=float).reshape(-1)
    texts = np.asarray(texts).reshape(-1)
    assert values.size == texts.size
    bad = [(v, t) for v, t in zip(values, texts) if not printed(v, t)]
    assert not bad, bad


DTYPES = pytest.mark.parametrize("dtype", ["float32", "float64"])
HALVES = "ones(2,3)*0.5"  # torch.ones(2, 3) * 0.5


# ---------------------------------------------------------------- 002_82e200a24ab9a15d.txt

@DTYPES
def test_002_cross_entropy_base(dtype):
    """002, 3 CrossEntropyLoss: base, size_average=True reduce=False -> tensor([1.0986, 1.0986])."""
    legacy, err = losscalc("ce", HALVES, "0,1", "--size-average", "--no-reduce", "--dtype", dtype)
    assert "deprecated" in err
    assert_prints(legacy, ["1.0986", "1.0986"])
    none, _ = losscalc("CrossEntropyLoss", HALVES, "0,1", "--reduction", "none", "--dtype", dtype)
    assert_prints(none, ["1.0986", "1.0986"])


def test_002_cross_entropy_hand_calculation():
    """002, 3: the hand calculation of the first sample prints 1.0986122886681098 (Python floats)."""
    value, _ = losscalc("cross_entropy", HALVES, "0,1", "--reduction", "none")
    assert repr(value[0]) == "1.0986122886681098"


@DTYPES
def test_002_cross_entropy_weight(dtype):
    """002, 3: weight [0.6, 0.2, 0.2], reduce=False -> tensor([0.6592, 0.2197])."""
    value, _ = losscalc("ce", HALVES, "0,1", "--weight", "0.6,0.2,0.2", "--size-average", "--no-reduce",
                        "--dtype", dtype)
    assert_prints(value, ["0.6592", "0.2197"])


@DTYPES
def test_002_cross_entropy_ignore_index(dtype):
    """002, 3: ignore_index 1 -> [1.0986, 0.0000, 1.0986]; ignore_index 2 -> [1.0986, 1.0986, 0.0000]."""
    for ignore, expected in [("1", ["1.0986", "0.0000", "1.0986"]), ("2", ["1.0986", "1.0986", "0.0000"])]:
        value, _ = losscalc("ce", "ones(3,3)*0.5", "0,1,2", "--ignore-index", ignore, "--no-size-average",
                            "--no-reduce", "--dtype", dtype)
        assert_prints(value, expected)


def test_002_nll_picks_minus_x_class():
    """002, 4.4: input [-1.233, 2.657, 0.534], class 2 -> loss = -input[2] = -0.534."""
    value, err = losscalc("nll", "[-1.233, 2.657, 0.534]", "2", "--dtype", "float32")
    assert_prints(value, "-0.534")
    assert "log-probabilities" in err  # exp of those does not sum to 1


def test_002_nll_none():
    """002, 4.5 1): reduction none -> tensor([-0.6000, -1.2000]); loss[0] printed as a Python float
    -0.6000000238418579 and loss[1] as -1.2000000476837158 (float32 values)."""
    value, err = losscalc("NLLLoss", "[[0.6, 0.2, 0.2], [0.4, 1.2, 0.4]]", "0,1", "--reduction", "none",
                          "--dtype", "float32")
    assert_prints(value, ["-0.6000", "-1.2000"])
    assert repr(float(np.float32(value[0]))) == "-0.6000000238418579"
    assert repr(float(np.float32(value[1]))) == "-1.2000000476837158"
    assert "log-probabilities" in err


@DTYPES
def test_002_nll_weighted_mean(dtype):
    """002, 4.5 2): weight [0.6, 0.2, 0.2], mean -> l = (-0.36, -0.24), (-0.36 - 0.24) / (0.6 + 0.2)
    = -0.75, printed tensor(-0.7500)."""
    x, w = "[[0.6, 0.2, 0.2], [0.4, 1.2, 0.4]]", "0.6,0.2,0.2"
    value, _ = losscalc("nll", x, "0,1", "--weight", w, "--dtype", dtype)
    assert_prints(value, "-0.7500")
    none, _ = losscalc("nll", x, "0,1", "--weight", w, "--reduction", "none", "--dtype", dtype)
    assert_prints(none, ["-0.36", "-0.24"])
    table = CliRunner().invoke(cli, ["nll", x, "0,1", "--weight", w, "--dtype", dtype, "--precision", "4"],
                               catch_exceptions=False).stdout
    assert "mean = Σ w·l / Σ w (items not ignored) = -0.6 / 0.8 = -0.75" in " ".join(table.split())


@DTYPES
def test_002_multi_margin(dtype):
    """002, 10: x [[0.1, 0.2, 0.4, 0.8]], y [3] -> 0.25 * ((1 - 0.8 + 0.1) + (1 - 0.8 + 0.2)
    + (1 - 0.8 + 0.4)) = 0.325 (the text gives the arithmetic, not a printed tensor)."""
    value, _ = losscalc("MultiMarginLoss", "[[0.1, 0.2, 0.4, 0.8]]", "3", "--dtype", dtype)
    assert_prints(value, "0.325")


@DTYPES
def test_002_multilabel_margin(dtype):
    """002, 11: x [[0.1, 0.2, 0.4, 0.8]], y [[3, 0, -1, 1]] -> 0.25 * ((1-(0.1-0.2)) + (1-(0.1-0.4))
    + (1-(0.8-0.2)) + (1-(0.8-0.4))) = 0.85 (labels 3 and 0; the 1 after -1 is not a label)."""
    value, _ = losscalc("MultiLabelMarginLoss", "[[0.1, 0.2, 0.4, 0.8]]", "[[3, 0, -1, 1]]", "--dtype", dtype)
    assert_prints(value, "0.85")


# ---------------------------------------------------------------- 000_cf89e272e83e07be.txt

@DTYPES
def test_000_multilabel_margin(dtype):
    """000, 多标签边界损失函数: x [[0.9, 0.2, 0.4, 0.8]], y [[3, 0, -1, 1]] -> tensor(0.4500)."""
    value, _ = losscalc("multilabel_margin", "[[0.9, 0.2, 0.4, 0.8]]", "[[3, 0, -1, 1]]", "--dtype", dtype)
    assert_prints(value, "0.4500")


@DTYPES
def test_000_multi_margin(dtype):
    """000, 多分类的折页损失: inputs [[0.3, 0.7], [0.5, 0.5]], target [0, 1] -> tensor(0.6000)."""
    value, _ = losscalc("multi_margin", "[[0.3, 0.7], [0.5, 0.5]]", "0,1", "--dtype", dtype)
    assert_prints(value, "0.6000")


@DTYPES
def test_000_cosine_embedding(dtype):
    """000, 余弦相似度: the same pair twice, target [1, -1] -> tensor(0.5000): (1 - cos) + max(0, cos)
    over 2. The text's target [[1, -1]] (shape (1, 2)) is an error in PyTorch 2.13, and here."""
    a, b = "[[0.3, 0.5, 0.7], [0.3, 0.5, 0.7]]", "[[0.1, 0.3, 0.5], [0.1, 0.3, 0.5]]"
    value, _ = losscalc("CosineEmbeddingLoss", a, b, "1,-1", "--dtype", dtype)
    assert_prints(value, "0.5000")
    r = CliRunner().invoke(cli, ["cosine", a, b, "[[1, -1]]"], catch_exceptions=False)
    assert r.exit_code == 2 and "target (1, 2)" in r.stderr
