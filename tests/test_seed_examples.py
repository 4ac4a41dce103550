"""The worked examples of the source documents (shared/seeds/*.txt, beside this repository), reproduced through
the command line to the digits printed there.

Only examples whose inputs are written out in full are here. Not reproducible, because their
inputs are drawn at random (torch.randn) and never printed: in 000_cf89e272e83e07be.txt the
BCELoss 0.5732, L1Loss 1.5729, MSELoss 1.6968, SmoothL1Loss 0.7808, PoissonNLLLoss 0.7358 and
MarginRankingLoss 0.7740 examples; in 002_82e200a24ab9a15d.txt the PoissonNLLLoss 1.1533 one.
004_fea86555a7b73af5.txt shows its BCE and BCEWithLogits (pos_weight) examples only as images,
which are not included; PyTorch's own BCEWithLogitsLoss pos_weight example stands in for them.

The seeds ran PyTorch in float32 (torch.tensor's default), so the examples run with
--dtype float32; where float64 gives the same printed digits it is checked too.

Classification and embedding examples (the second half of this file):
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
    """Does `value` print as `text` does (PyTorch's fixed decimals: '0.6764', '5.', '-0.0000')?"""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{float(value):.{decimals}f}" == text.rstrip(".") or f"{float(value):.{decimals}f}" == text


def assert_prints(values, texts):
    values = np.asarray(values, dtype=float).reshape(-1)
    texts = np.asarray(texts).reshape(-1)
    assert values.size == texts.size
    bad = [(v, t) for v, t in zip(values, texts) if not printed(v, t)]
    assert not bad, bad


# ---------------------------------------------------------------- 002_82e200a24ab9a15d.txt

L1_INPUT, L1_TARGET = "[[3., 0., 3.], [3., 0., 3.]]", "[[2., 0., 3.], [2., 0., 0.]]"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_002_l1loss_mean_sum_none(dtype):
    """002_82e200a24ab9a15d.txt, 1.3: L1Loss with reduction mean, sum and none."""
    assert_prints(losscalc("l1", L1_INPUT, L1_TARGET, "--dtype", dtype)[0], "0.8333")
    assert_prints(losscalc("l1", L1_INPUT, L1_TARGET, "--reduction", "sum", "--dtype", dtype)[0], "5.")
    none, _ = losscalc("l1", L1_INPUT, L1_TARGET, "--reduction", "none", "--dtype", dtype)
    assert np.shape(none) == (2, 3)
    assert_prints(none, ["1.", "0.", "0.", "1.", "0.", "3."])


MSE_INPUT, MSE_TARGET = "[[2., 0., 3.], [3., 0., 1.]]", "[[2., 0., 0.], [0., 3., 0.]]"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_002_mseloss_mean_sum_none(dtype):
    """002_82e200a24ab9a15d.txt, 2.3: MSELoss with reduction mean, sum and none."""
    assert_prints(losscalc("mse", MSE_INPUT, MSE_TARGET, "--dtype", dtype)[0], "4.6667")
    assert_prints(losscalc("mse", MSE_INPUT, MSE_TARGET, "--reduction", "sum", "--dtype", dtype)[0], "28.")
    none, _ = losscalc("mse", MSE_INPUT, MSE_TARGET, "--reduction", "none", "--dtype", dtype)
    assert_prints(none, ["0.", "0.", "9.", "9.", "9.", "1."])


KL_OUTPUT = "[[0.1132, 0.5477, 0.3390], [0.1132, 0.5477, 0.3390]]"
KL_TARGET = "[[0.8541, 0.0511, 0.0947], [0.1132, 0.5477, 0.3390]]"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_002_kldivloss_none_mean_batchmean(dtype):
    """002_82e200a24ab9a15d.txt, 6.3: KLDivLoss with size_average=False, reduce=False (none),
    size_average=True, reduce=True (mean), reduction='mean' and reduction='batchmean'; and
    torch.sum(loss) / 6 = mean, torch.sum(loss) / 2 = batchmean.

    The example passes probabilities where log-probabilities are expected; PyTorch computes
    silently, losscalc computes the same and warns."""
    none, err = losscalc("kl_div", KL_OUTPUT, KL_TARGET, "--no-size-average", "--no-reduce", "--dtype", dtype)
    assert_prints(none, ["-0.2314", "-0.1800", "-0.2553", "-0.2594", "-0.6297", "-0.4816"])
    assert "deprecated" in err and "log-probabilities" in err
    legacy_mean, err = losscalc("kl_div", KL_OUTPUT, KL_TARGET, "--size-average", "--reduce", "--dtype", dtype)
    assert_prints(legacy_mean, "-0.3396")
    mean, err = losscalc("kl_div", KL_OUTPUT, KL_TARGET, "--reduction", "mean", "--dtype", dtype)
    assert_prints(mean, "-0.3396")
    assert "batchmean" in err  # PyTorch's warning about mean
    batchmean, _ = losscalc("kl_div", KL_OUTPUT, KL_TARGET, "--reduction", "batchmean", "--dtype", dtype)
    assert_prints(batchmean, "-1.0187")
    total, _ = losscalc("kl_div", KL_OUTPUT, KL_TARGET, "--reduction", "sum", "--dtype", dtype)
    assert_prints(total / 6, "-0.3396")
    assert_prints(total / 2, "-1.0187")


def test_002_kldivloss_first_element_by_hand():
    """002_82e200a24ab9a15d.txt, 6.3: the first element computed by hand, -0.23138165.

    The text computes t·(log t − x) with NumPy in float32; PyTorch 2.13 computes
    xlogy(t, t) − t·x, which in float32 rounds differently in the 8th digit (-0.23138168;
    float64 gives -0.2313816653). Seven significant digits agree."""
    for dtype in ["float32", "float64"]:
        none, _ = losscalc("kl_div", KL_OUTPUT, KL_TARGET, "--reduction", "none", "--dtype", dtype)
        assert_prints(none[0][0], "-0.2313817")
        assert abs(none[0][0] - -0.23138165) < 5e-8


BCE_LOGITS = "[[-1.8626, -0.1685, 1.3190, 0.4265], [0.3094, -1.2203, -0.4972, -0.4424], [-0.1279, 0.4547, 0.7306, 0.0625]]"
BCE_TARGET = "[[0., 0., 1., 1.], [0., 0., 1., 0.], [1., 0., 1., 1.]]"
# PyTorch 2.13 on the printed (4-decimal) logits; the text's loss came from the unrounded random
# logits, so two elements differ by one in the 4th decimal: [0, 1] 0.6125 in the text (0.61244
# here) and [1, 0] 0.8597 in the text (0.85977 here).
BCE_PRINTED = ["0.1443", "0.6124", "0.2370", "0.5025", "0.8598", "0.2586", "0.9723", "0.4962",
               "0.7591", "0.9461", "0.3931", "0.6624"]
BCE_TEXT = ["0.1443", "0.6125", "0.2370", "0.5025", "0.8597", "0.2586", "0.9723", "0.4962",
            "0.7591", "0.9461", "0.3931", "0.6624"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_002_bceloss_of_sigmoid(dtype):
    """002_82e200a24ab9a15d.txt, 7.3: BCELoss(reduce=False, size_average=False) on
    F.sigmoid(input), reproduced both as bce on the sigmoids and as bce_with_logits."""
    logits = np.array(json.loads(BCE_LOGITS))
    probabilities = json.dumps((1 / (1 + np.exp(-logits))).tolist())
    for args in (["bce", probabilities], ["bce_with_logits", BCE_LOGITS]):
        loss, err = losscalc(*args, BCE_TARGET, "--reduce", "--no-reduce", "--dtype", dtype)
        assert np.shape(loss) == (3, 4)
        assert "deprecated" in err
        assert_prints(loss, BCE_PRINTED)
        np.testing.assert_allclose(np.reshape(loss, -1), np.array(BCE_TEXT, dtype=float), atol=1.0001e-4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_002_bcewithlogitsloss_none(dtype):
    """002_82e200a24ab9a15d.txt, 8.3: BCEWithLogitsLoss(reduction='none') on three logits,
    all targets 0. The text prints 0.5620 for the last element; PyTorch 2.13 on the printed
    logit -0.2820 gives 0.56205 (0.5621): the text's logit was unrounded."""
    loss, _ = losscalc("bce_with_logits", "0.1099,1.3278,-0.2820", "0,0,0", "--reduction", "none", "--dtype", dtype)
    assert_prints(loss, ["0.7496", "1.5629", "0.5621"])
    assert abs(loss[2] - 0.5620) < 1.0001e-4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_002_marginrankingloss_none(dtype):
    """002_82e200a24ab9a15d.txt, 9.2: MarginRankingLoss(reduction='none'); the target holds a 0
    (torch.empty(3).random_(2)), for which the loss is max(0, margin) = 0, with a warning."""
    loss, err = losscalc("margin_ranking", "0.2112,-0.0281,0.5583", "1.8994,-0.6425,0.9355", "1,0,1",
                         "--reduction", "none", "--dtype", dtype)
    assert_prints(loss, ["1.6882", "0.0000", "0.3772"])
    assert "1 and -1" in err


# ---------------------------------------------------------------- 000_cf89e272e83e07be.txt

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_000_kldivloss_mean(dtype):
    """000_cf89e272e83e07be.txt, KL散度: nn.KLDivLoss() (mean) = -0.3335. The inputs are
    probabilities where log-probabilities are expected: same value, and a warning."""
    value, err = losscalc("kl_div", "[[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]", "[[0.9, 0.05, 0.05], [0.1, 0.7, 0.2]]",
                          "--dtype", dtype)
    assert_prints(value, "-0.3335")
    assert "log-probabilities" in err


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_000_softmarginloss(dtype):
    """000_cf89e272e83e07be.txt, 二分类损失函数: nn.SoftMarginLoss() = 0.6764."""
    value, err = losscalc("soft_margin", "[[0.3, 0.7], [0.5, 0.5]]", "[[-1, 1], [1, -1]]", "--dtype", dtype)
    assert_prints(value, "0.6764")
    assert err == ""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_000_hingeembeddingloss(dtype):
    """000_cf89e272e83e07be.txt, HingEmBeddingLoss: nn.HingeEmbeddingLoss() = 0.7667."""
    value, err = losscalc("hinge_embedding", "[[1., 0.8, 0.5]]", "[[1, 1, -1]]", "--dtype", dtype)
    assert_prints(value, "0.7667")
    assert err == ""


# ---------------------------------------------------------------- PyTorch's documentation

def test_torch_doc_bcewithlogitsloss_pos_weight():
    """Stand-in for 004_fea86555a7b73af5.txt's pos_weight example (an image): the example of
    torch.nn.BCEWithLogitsLoss's docstring, 64 classes, batch 10, logits 1.5, pos_weight ones:
    -log(sigmoid(1.5)) = 0.20..."""
    value, _ = losscalc("bce_with_logits", "full((10,64),1.5)", "ones(10,64)", "--pos-weight", "ones(64)",
                        "--dtype", "float32")
    assert_prints(value, "0.20")
    assert value == pytest.approx(np.log1p(np.exp(-1.5)), rel=1e-6)
    tripled, _ = losscalc("bce_with_logits", "full((10,64),1.5)", "ones(10,64)", "--pos-weight", "full((64,),3.0)")
    assert tripled == pytest.approx(3 * np.log1p(np.exp(-1.5)), rel=1e-12)  # "act as if 300 positives"


# Classification and embedding ------------------------------------------------------------


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
