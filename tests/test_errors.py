"""Every error of SPEC section 4 (and the tensor errors of section 3), table-driven.

Each row is a command line, the exit code it must give, and words its stderr message must
contain: the tensor's name, the offending index or shape, and what is wrong. Where PyTorch
computes silently (a CTC target longer than its input gives inf), the row expects exit 0 and
a warning instead, as section 4 says.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc import compute
from losscalc.cli import cli
from losscalc.errors import LossError

# log_probs for CTC: T=4 frames, N=1 sample, C=3 classes, uniform (log 1/3)
LP = "zeros(4,1,3)-1.0986122886681098"
LP2 = "zeros(4,3)-1.0986122886681098"  # unbatched (T, C)


def row(id, args, code, *words, stdin=None):
    return pytest.param(args, code, words, stdin, id=id)


ROWS = [
    # --- class index out of range ------------------------------------------------------
    row("ce-index-too-big", ["cross_entropy", "[[1,2,3],[1,2,3]]", "0,3"], 2,
        "target", "class index 3", "[1]", "out of range", "0 to 2"),
    row("ce-index-negative", ["cross_entropy", "[[1,2,3],[1,2,3]]", "0,-1"], 2,
        "target", "class index -1", "[1]", "out of range"),
    row("ce-index-spatial", ["cross_entropy", "zeros(1,3,2)", "[[0,7]]"], 2,
        "target", "class index 7", "[0, 1]", "out of range"),
    row("nll-index", ["nll", "[[1,2,3],[1,2,3]]", "5,0"], 2,
        "target", "class index 5", "[0]", "out of range"),
    row("multi-margin-index", ["multi_margin", "[[1,2,3]]", "3"], 2,
        "target", "class index 3", "out of range", "0 to 2"),
    row("multilabel-margin-index", ["multilabel_margin", "[[1,2,3]]", "[[0,3,-1]]"], 2,
        "target", "3", "[0, 1]", "out of range"),
    row("ctc-label-beyond-classes", ["ctc", LP2, "1,5", "4", "2"], 2,
        "targets[1]", "5", "3 classes"),
    row("ctc-blank-beyond-classes", ["ctc", LP2, "1,2", "4", "2", "--blank", "3"], 2,
        "--blank", "3", "C=3"),
    # --- BCE input outside [0, 1] ------------------------------------------------------
    row("bce-input-above-1", ["bce", "0.5,1.5", "1,0"], 2, "input", "1.5", "[1]", "[0, 1]",
        "bce_with_logits"),
    row("bce-input-negative", ["bce", "-0.1", "0"], 2, "input", "-0.1", "[0, 1]"),
    row("bce-target-outside", ["bce", "0.5", "1.5"], 2, "target", "1.5", "[0, 1]"),
    row("bce-input-nan", ["bce", "nan,0.5", "1,0"], 2, "input", "nan", "[0, 1]"),
    # --- incompatible shapes -----------------------------------------------------------
    row("mse-shapes", ["mse", "1,2", "1,2,3"], 2, "input (2,)", "target (3,)", "broadcast"),
    row("l1-shapes-2d", ["l1", "zeros(2,3)", "zeros(3,2)"], 2, "input (2, 3)", "target (3, 2)"),
    row("bce-shapes", ["bce", "0.5,0.5", "1,0,1"], 2, "target (3,)", "input (2,)"),
    row("ce-batch", ["cross_entropy", "[[1,2,3],[1,2,3]]", "0,1,2"], 2,
        "input (2, 3)", "target", "(3,)"),
    row("nll-target-shape", ["nll", "[[1,2,3]]", "[[0]]"], 2, "target (1, 1)", "input (1, 3)"),
    row("margin-ranking-shapes", ["margin_ranking", "1,2", "1,2,3", "1,1"], 2,
        "input1 (2,)", "input2 (3,)"),
    row("cosine-shapes", ["cosine_embedding", "[[1,2]]", "[[1,2,3]]", "1,1"], 2,
        "input1 (1, 2)", "input2 (1, 3)"),
    row("triplet-shapes", ["triplet_margin", "[[1,2]]", "[[1,2,3]]", "[[1,2]]"], 2,
        "anchor (1, 2)", "positive (1, 3)"),
    row("ce-no-class-dimension", ["cross_entropy", "1", "0"], 2, "input", "class dimension"),
    # --- CTC lengths -------------------------------------------------------------------
    row("ctc-target-longer-than-padded", ["ctc", LP, "[[1,2]]", "4", "3"], 2,
        "target_lengths[0] is 3", "(1, 2)"),
    row("ctc-concatenated-sum", ["ctc", LP2, "1,2", "4", "3"], 2,
        "target_lengths", "2 labels", "3"),
    row("ctc-input-length-beyond-T", ["ctc", LP, "[[1,2]]", "5", "2"], 2,
        "input_lengths[0]", "5", "T=4"),
    row("ctc-negative-input-length", ["ctc", LP2, "1,2", "-1", "2"], 2,
        "input_lengths[0]", "-1", "negative"),
    row("ctc-negative-target-length", ["ctc", LP2, "1,2", "4", "-1"], 2,
        "target_lengths[0]", "-1", "negative"),
    row("ctc-lengths-count", ["ctc", LP2, "1,2", "4,4", "2"], 2, "input_lengths", "2 value"),
    row("ctc-target-lengths-count", ["ctc", LP, "[[1,2]]", "4", "2,2"], 2,
        "target_lengths", "2 value"),
    # PyTorch gives inf here, silently; losscalc computes it too and says why (section 4)
    row("ctc-target-longer-than-input", ["ctc", LP2, "1,2,1,2,1", "4", "5"], 0,
        "warning", "no alignment", "5", "4"),
    row("ctc-repeats-need-blanks", ["ctc", LP2, "1,1,1", "4", "3"], 0,
        "warning", "no alignment", "repeated"),
    # --- wrong weight length -----------------------------------------------------------
    row("ce-weight-length", ["cross_entropy", "--weight", "1,2", "[[1,2,3]]", "0"], 2,
        "--weight", "3 elements", "(2,)"),
    row("nll-weight-length", ["nll", "--weight", "1,2,3,4", "[[1,2,3]]", "0"], 2,
        "--weight", "3 elements", "(4,)"),
    row("multi-margin-weight-length", ["multi_margin", "--weight", "1,2", "[[1,2,3]]", "0"], 2,
        "--weight", "3 elements", "(2,)"),
    row("mse-weight-shape", ["mse", "--weight", "1,2,3", "1,2", "1,2"], 2,
        "--weight (3,)", "input (2,)"),
    row("bce-weight-shape", ["bce", "--weight", "1,2,3", "0.5,0.5", "1,0"], 2,
        "--weight (3,)", "(2,)"),
    row("multilabel-soft-weight", ["multilabel_soft_margin", "--weight", "1,2", "[[1,2,3]]",
                                   "[[0,1,0]]"], 2, "--weight (2,)", "(1, 3)"),
    # --- shapes, weights and legacy flags of the regression, binary and divergence losses ---
    row("smooth-l1-shapes", ["smooth_l1", "1,2,3", "1,2"], 2, "input (3,)", "target (2,)", "broadcast"),
    row("huber-weight-shape", ["huber", "--weight", "1,2,3", "1,2", "1,3"], 2,
        "--weight (3,)", "input (2,)"),
    row("poisson-shapes", ["poisson_nll", "1,2,3", "1,2"], 2, "input (3,)", "target (2,)"),
    row("gaussian-var-shape", ["gaussian_nll", "1,2;3,4", "1,2;3,4", "1,1,1"], 2,
        "var (3,)", "input (2, 2)"),
    row("gaussian-var-1x1", ["gaussian_nll", "1,2;3,4", "1,2;3,4", "[[1]]"], 2, "var (1, 1)"),
    row("bce-weight-2d", ["bce", "--weight", "1,2;3,4", "0.2,0.5", "1,0"], 2, "--weight (2, 2)"),
    row("bce-logits-shapes", ["bce_with_logits", "0.2,0.5", "[1]"], 2, "target (1,)", "input (2,)"),
    row("bce-logits-pos-weight", ["bce_with_logits", "--pos-weight", "1,2,3", "0.2,0.5", "1,0"], 2,
        "--pos-weight (3,)"),
    row("bce-logits-weight", ["bce_with_logits", "--weight", "1,2,3", "0.2,0.5", "1,0"], 2,
        "--weight (3,)"),
    row("soft-margin-shapes", ["soft_margin", "0.2,0.5", "1;-1"], 2,
        "target (2, 1)", "input's shape (2,)"),
    row("kl-div-shapes", ["kl_div", "-1,-2", "0.5,0.2,0.3"], 2, "input (2,)", "target (3,)"),
    # GaussianNLLLoss and HuberLoss came after the legacy flags: they have none
    row("no-legacy-flags-gaussian-nll", ["gaussian_nll", "--size-average", "1", "1", "1"], 2,
        "No such option", "--size-average"),
    row("no-legacy-flags-huber", ["huber", "--no-reduce", "1", "1"], 2, "No such option", "--no-reduce"),
    # --- the classification and embedding losses' shapes, weights and options ------------
    row("nll-1", ["nll", "randn(3,4)", "0,1,2", "--weight", "[[1,1,1,1]]", "--seed", "0"], 2,
        "--weight", "(1, 4)"),
    row("nll-2", ["nll", "randn(2,4,3)", "zeros(2,4)", "--seed", "0"], 2,
        "target (2, 4)", "(2, 3)"),
    row("cross-entropy-1", ["cross_entropy", "randn(2,4,3,2)", "zeros(2,3,3)", "--seed", "0"], 2,
        "target (2, 3, 3)", "(2, 3, 2)"),
    row("cross-entropy-2", ["cross_entropy", "randn(2,3)", "[[0.2,0.3,0.5],[0.1,0.1,0.8]]",
                            "--ignore-index", "0", "--seed", "0"], 2, "--ignore-index 0", "probability"),
    row("cross-entropy-3", ["cross_entropy", "randn(2,3)", "[[0,0,1],[1,0,0]]", "--seed", "0"], 2,
        "target (2, 3)", "floating point"),
    row("multi-margin-1", ["multi_margin", "randn(3,4)", "0,1", "--seed", "0"], 2,
        "target (2,)", "(3,)"),
    row("multilabel-margin-1", ["multilabel_margin", "randn(2,3)", "[[0,1,-1]]", "--seed", "0"], 2,
        "target (1, 3)", "(2, 3)"),
    row("multilabel-soft-margin-1", ["multilabel_soft_margin", "randn(2,3)", "ones(3,3)", "--seed",
                                     "0"], 2, "target (3, 3)", "input (2, 3)"),
    row("cosine-embedding-1", ["cosine_embedding", "randn(3,4)", "randn(3,4)", "ones(1,3)", "--seed",
                               "0"], 2, "target (1, 3)"),
    row("cosine-embedding-2", ["cosine_embedding", "randn(4)", "randn(3,4)", "1", "--seed", "0"], 2,
        "input1 (4,)", "input2 (3, 4)"),
    row("triplet-margin-1", ["triplet_margin", "randn(3,4)", "randn(3,4)", "randn(4)", "--seed", "0"],
        2, "negative (4,)", "same number of dimensions"),
    row("triplet-margin-2", ["triplet_margin", "randn(3,4)", "randn(3,4)", "randn(3,4)", "--margin", "0",
                             "--seed", "0"], 2, "--margin", "greater than 0"),
    row("triplet-margin-with-distance-1", ["triplet_margin_with_distance", "randn(4)", "randn(4)",
                                           "randn(4)", "--distance", "cosine", "--seed", "0"], 2,
        "dimension 1", "(4,)"),
    row("triplet-margin-with-distance-2", ["triplet_margin_with_distance", "randn(2,4)", "randn(2,4)",
                                           "randn(2,3)", "--seed", "0"], 2, "anchor (2, 4)",
        "negative (2, 3)"),
    # --- unknown loss, bad reduction, bad dtype, bad option values -----------------------
    row("unknown-loss", ["msee", "1", "2"], 2, "unknown loss 'msee'", "Did you mean mse"),
    row("unknown-loss-close", ["crossentropy", "1", "2"], 2, "unknown loss", "cross_entropy"),
    row("unknown-loss-far", ["zzzzzz", "1", "2"], 2, "unknown loss 'zzzzzz'", "losscalc list"),
    row("bad-reduction", ["mse", "1", "2", "--reduction", "bogus"], 2,
        "--reduction", "'bogus'", "none", "mean", "sum"),
    row("batchmean-outside-kl", ["mse", "1", "2", "--reduction", "batchmean"], 2,
        "--reduction", "'batchmean'"),
    row("bad-dtype", ["mse", "1", "2", "--dtype", "float16"], 2, "--dtype", "'float16'",
        "float64", "float32"),
    row("option-not-a-number", ["hinge_embedding", "1", "1", "--margin", "abc"], 2,
        "--margin", "'abc'", "float"),
    row("option-not-whole", ["cross_entropy", "[[1,2,3]]", "0", "--ignore-index", "1.5"], 2,
        "--ignore-index", "'1.5'", "integer"),
    row("unknown-option", ["mse", "1", "2", "--margin", "1"], 2, "No such option", "--margin"),
    row("misspelt-option", ["mse", "--wieght", "1", "1", "2"], 2, "No such option '--wieght'",
        "--weight"),
    row("huber-delta", ["huber", "1", "1", "--delta", "0"], 2, "--delta", "greater than 0"),
    row("smooth-l1-beta", ["smooth_l1", "1", "1", "--beta", "-1"], 2, "--beta", "-1"),
    row("label-smoothing", ["cross_entropy", "[[1,2,3]]", "0", "--label-smoothing", "1.5"], 2,
        "--label-smoothing", "1.5"),
    row("multi-margin-p", ["multi_margin", "[[1,2,3]]", "0", "--p", "3"], 2, "--p", "1 or 2", "3"),
    row("gaussian-negative-var", ["gaussian_nll", "1,2", "1,2", "1,-0.5"], 2,
        "var", "negative", "-0.5", "[1]"),
    # --- non-whole class indices ---------------------------------------------------------
    row("ce-index-2.5", ["cross_entropy", "[[1,2,3]]", "2.5"], 2,
        "target", "whole numbers", "2.5"),
    row("ce-index-2.5-at", ["cross_entropy", "[[1,2,3],[1,2,3]]", "0,2.5"], 2,
        "target[1]", "2.5", "whole numbers"),
    row("nll-index-1.5", ["nll", "[[1,2,3]]", "1.5"], 2, "target", "1.5", "whole numbers"),
    row("multi-margin-index-0.5", ["multi_margin", "[[1,2,3]]", "0.5"], 2, "target", "0.5"),
    row("multilabel-margin-0.5", ["multilabel_margin", "[[1,2,3]]", "[[0.5,-1,0]]"], 2,
        "target[0, 0]", "0.5", "whole numbers"),
    row("ctc-target-1.5", ["ctc", LP2, "1.5,2", "4", "2"], 2, "targets[0]", "1.5"),
    row("ctc-length-4.5", ["ctc", LP2, "1,2", "4.5", "2"], 2, "input_lengths", "4.5"),
    row("ce-index-nan", ["cross_entropy", "[[1,2,3]]", "nan"], 2, "target", "nan"),
    # --- tensors that cannot be read (section 3) -----------------------------------------
    row("ragged-nested", ["mse", "[[1,2],[3]]", "1"], 2,
        "input", "inline", "row 2 has 1 value, row 1 has 2"),
    row("ragged-rows", ["mse", "1", "1,2;3"], 2, "target", "row 2 has 1 value, row 1 has 2"),
    row("ragged-deep", ["mse", "[[[1],[2]],[[3],[4,5]]]", "1"], 2,
        "input", "element [1][1] has 2 values"),
    row("not-a-number", ["mse", "1,2,abc", "1"], 2, "input", '"abc"', "character 5"),
    row("weight-not-a-number", ["mse", "--weight", "x", "1", "1"], 2, "--weight", '"x"'),
    row("missing-file", ["mse", "nofile.npy", "1"], 2, "input", "nofile.npy", "not found"),
    row("missing-target-file", ["mse", "1", "nofile.csv"], 2, "target", "nofile.csv", "not found"),
    row("missing-weight-file", ["mse", "--weight", "w.json", "1", "1"], 2,
        "--weight", "w.json", "not found"),
    row("missing-npz-key", ["mse", "{tmp}/run.npz:nokey", "1"], 2,
        "input", "run.npz:nokey", '"nokey"', "logits"),
    row("npz-key-needed", ["mse", "{tmp}/two.npz", "1"], 2, "input", "2 arrays", "a, b"),
    row("missing-csv-column", ["mse", "{tmp}/eval.csv:nocol", "1"], 2,
        "input", "eval.csv:nocol", '"nocol"', "y_pred, y"),
    row("csv-column-number", ["mse", "{tmp}/eval.csv:7", "1"], 2, "input", '"7"', "0 to 1"),
    row("csv-ragged", ["mse", "{tmp}/ragged.csv", "1"], 2, "input", "line 2 has 1 cells"),
    row("csv-word", ["mse", "{tmp}/words.csv", "1"], 2, "input", "line 2", '"foo"'),
    row("json-broken", ["mse", "{tmp}/bad.json", "1"], 2, "input", "bad.json", "not valid JSON"),
    row("pickled-npy", ["mse", "{tmp}/object.npy", "1"], 2, "input", "object.npy", "dtype object"),
    row("truncated-npy", ["mse", "{tmp}/truncated.npy", "1"], 2, "input", "truncated"),
    row("directory", ["mse", "{tmp}", "1"], 2, "input", "directory"),
    row("two-stdin", ["mse", "-", "-"], 2, "only one tensor", "standard input", stdin=b"1,2"),
    row("two-stdin-weight", ["mse", "--weight", "-", "-", "1"], 2, "standard input",
        stdin=b"1,2"),
    row("empty-stdin", ["mse", "-", "1"], 2, "input", "standard input", "empty", stdin=b""),
    row("stdin-ragged", ["mse", "-", "1"], 2, "input", "standard input", "line 2",
        stdin=b"1,2\n3\n"),
    row("absurd-generator", ["mse", "randn(100000000000)", "1"], 2, "input", "limit"),
    row("generator-negative", ["mse", "randn(-1)", "1"], 2, "input", "-1"),
]


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "run.npz", logits=np.zeros((2, 3)))
    np.savez(tmp_path / "two.npz", a=np.zeros(2), b=np.ones(2))
    (tmp_path / "eval.csv").write_text("y_pred,y\n0.1,1\n0.2,0\n")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    (tmp_path / "words.csv").write_text("1,2\nfoo,bar\n")
    (tmp_path / "bad.json").write_text("[1, 2")
    np.save(tmp_path / "object.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    np.save(tmp_path / "full.npy", np.arange(10.0))
    (tmp_path / "truncated.npy").write_bytes((tmp_path / "full.npy").read_bytes()[:-7])
    return tmp_path


@pytest.mark.parametrize("args, code, words, stdin", ROWS)
def test_error(files, args, code, words, stdin):
    args = [a.replace("{tmp}", str(files)) for a in args]
    r = CliRunner().invoke(cli, args, input=stdin, env={"LOSSCALC_DEBUG": None},
                           catch_exceptions=False)
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    message = r.stderr
    assert message.strip()
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    if code == 2:
        assert r.stdout == "", r.stdout  # nothing but the error
        errors = [line for line in message.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, message  # one error, said once


def test_library_errors_are_loss_errors():
    """compute() raises the one error type, LossError, with the message the CLI shows."""
    with pytest.raises(LossError, match="bce_with_logits"):
        compute("bce", np.array([2.0]), np.array([1.0]))
