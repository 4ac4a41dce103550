"""CTC (losscalc/kernels/sequence.py): closed forms, brute force, infeasible inputs, warnings,
errors through the CLI, and the alignment in the breakdown. Needs no torch."""

import csv
import io
import itertools
import json
import re
import warnings
from functools import partial

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc import compute
from losscalc.cli import cli
from losscalc.errors import LossError, LossWarning
from tests import helpers
from tests.cases.sequence import log_softmax

quiet = partial(helpers.quiet, "ctc")  # compute('ctc', ...) with warnings silenced


def run(*args):
    return CliRunner().invoke(cli, ["ctc", *args], catch_exceptions=False)


def inline(a) -> str:
    return json.dumps(np.asarray(a).tolist())


RNG = np.random.default_rng(7)
LP = log_softmax(RNG.normal(size=(5, 2, 6)) * 2)  # T=5, N=2, C=6


def test_target_as_long_as_input_is_the_sum_of_its_log_probs():
    # 5 distinct labels in 5 frames: the one alignment is the target itself, no blank anywhere
    targets = np.array([[1, 2, 3, 4, 5], [5, 3, 1, 2, 4]])
    result = quiet(LP, targets, [5, 5], [5, 5], reduction="none")
    expected = -LP[np.arange(5)[:, None], np.arange(2), targets.T].sum(axis=0)
    np.testing.assert_allclose(result.value, expected, rtol=1e-13)
    assert list(result.terms["best path"]) == ["1 2 3 4 5", "5 3 1 2 4"]
    concatenated = quiet(LP, targets.reshape(-1), [5, 5], [5, 5], reduction="none")
    np.testing.assert_array_equal(concatenated.value, result.value)


def test_empty_target_is_minus_the_blank_log_probs_over_the_input_frames():
    result = quiet(LP, np.zeros((2, 0), np.int64), [5, 3], [0, 0], blank=2, reduction="none")
    np.testing.assert_allclose(result.value, [-LP[:, 0, 2].sum(), -LP[:3, 1, 2].sum()], rtol=1e-13)
    assert quiet(LP, np.zeros((2, 0), np.int64), [0, 3], [0, 0], reduction="none").value[0] == 0


def brute_force(lp, target, blank):
    """-log Σ and -log max over every alignment (C**T of them) that collapses to the target."""
    T, C = lp.shape
    paths = np.array(list(itertools.product(range(C), repeat=T)))
    keep = np.ones(paths.shape, bool)
    keep[:, 1:] = paths[:, 1:] != paths[:, :-1]
    keep &= paths != blank
    hits = np.array([list(p[k]) == list(target) for p, k in zip(paths, keep)])
    scores = lp[np.arange(T), paths[hits]].sum(axis=1)
    return -np.logaddexp.reduce(scores), -scores.max(), paths[hits][np.argmax(scores)]


@pytest.mark.parametrize("target,blank", [([1, 2], 0), ([1, 1], 0), ([2, 0, 2], 1), ([], 3), ([3, 3, 3], 0)])
def test_forward_and_best_path_against_every_alignment(target, blank):
    lp = log_softmax(RNG.normal(size=(6, 4)) * 1.5)
    result = quiet(lp, np.array(target, np.int64), len(lp), len(target), blank=blank, reduction="none")
    total, best, path = brute_force(lp, target, blank)
    np.testing.assert_allclose(result.value, total, rtol=1e-12)
    np.testing.assert_allclose(result.terms["-log p(best)"], best, rtol=1e-12)
    runs = [(c, len(list(g))) for c, g in itertools.groupby(path)]  # run-length coded: "_×2 3"
    assert str(result.terms["best path"]) == " ".join(("_" if c == blank else str(c)) + (f"×{n}" if n > 1 else "")
                                                      for c, n in runs)
    assert str(result.terms["collapsed"]) == " ".join(str(c) for c in target).replace(str(blank), "_")


def test_frames_past_the_input_length_do_not_count():
    changed = LP.copy()
    changed[3:, 1] = 0.0  # garbage (not log-softmaxed) past input_lengths[1] = 3: no warning either
    targets = np.array([[1, 2], [3, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = compute("ctc", LP, targets, [5, 3], [2, 1], reduction="none").value
        b = compute("ctc", changed, targets, [5, 3], [2, 1], reduction="none").value
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_sample_does_not_leak_into_its_neighbours(bad):
    spoilt = LP.copy()
    spoilt[:, 1] = bad  # sample 1 of 3: its neighbours share the flat lattice buffer
    three = np.concatenate([spoilt, LP[:, :1]], axis=1)
    targets = np.array([[1, 2], [3, 4], [5, 5]])
    together = quiet(three, targets, [5, 5, 5], [2, 2, 2], reduction="none").value
    alone = [quiet(three[:, [n]], targets[[n]], [5], [2], reduction="none").value[0] for n in (0, 2)]
    np.testing.assert_array_equal(together[[0, 2]], alone)
    assert not np.isfinite(together[1])


def test_mean_divides_each_loss_by_its_target_length_first():
    targets, lengths = np.array([[1, 2, 3], [4, 0, 0]]), np.array([3, 0])
    none = quiet(LP, targets, [5, 5], lengths, reduction="none").value
    mean = quiet(LP, targets, [5, 5], lengths, reduction="mean")
    assert mean.value == pytest.approx((none[0] / 3 + none[1] / 1) / 2, rel=1e-14)
    assert mean.arithmetic.numerator_label == "Σ l/max(len,1)" and mean.arithmetic.denominator == 2
    assert quiet(LP, targets, [5, 5], lengths, reduction="sum").value == pytest.approx(none.sum(), rel=1e-14)


def test_keeps_float32_and_unbatched_shape():
    result = quiet(LP[:, 0], np.array([1, 2]), 5, 2, reduction="none", dtype="float32")
    assert result.value.dtype == np.float32 and result.value.shape == ()
    assert quiet(LP[:, 0], np.array([[1, 2]]), [5], [2], reduction="none").value.shape == ()


# ---------------------------------------------------------------- alignments that cannot exist


def test_infeasible_target_is_inf_with_a_warning_naming_sample_and_frames():
    targets = np.array([[1, 2, 3], [2, 2, 3]])  # sample 1: 3 labels + 1 repeated pair = 4 frames
    with pytest.warns(LossWarning, match=r"sample 1 needs 4 frames .* input_lengths\[1\] gives 3") as caught:
        result = compute("ctc", LP, targets, [5, 3], [3, 3], reduction="none")
    assert np.isfinite(result.value[0]) and result.value[1] == np.inf
    assert "sample 0" not in str(caught[0].message)
    assert list(result.terms["best path"])[1] == "(none)"
    with pytest.warns(LossWarning, match="set to 0 by --zero-infinity"):
        zeroed = compute("ctc", LP, targets, [5, 3], [3, 3], reduction="none", zero_infinity=True)
    np.testing.assert_array_equal(zeroed.value, [result.value[0], 0.0])
    assert quiet(LP, targets, [5, 3], [3, 3], reduction="mean", zero_infinity=True).value == pytest.approx(
        result.value[0] / 3 / 2, rel=1e-14)


def test_repeats_fit_exactly_when_each_pair_has_its_blank():
    # "1 1 1" needs 5 frames: 1 _ 1 _ 1
    result = compute("ctc", LP[:, 0], np.array([1, 1, 1]), 5, 3, reduction="none")
    expected = -(LP[[0, 2, 4], 0, 1].sum() + LP[[1, 3], 0, 0].sum())
    assert float(result.value) == pytest.approx(expected, rel=1e-13)
    assert str(result.terms["best path"]) == "1 _ 1 _ 1"


# ---------------------------------------------------------------- warnings where PyTorch is silent


def test_warns_about_a_label_equal_to_the_blank():
    with pytest.warns(LossWarning, match=r"targets\[0, 1\] \(sample 0\) is 0, the blank"):
        compute("ctc", LP, np.array([[1, 0], [2, 3]]), [5, 5], [2, 2])


def test_label_beyond_c_warns_and_reads_the_next_sample_as_pytorch_does():
    # PyTorch reads log_probs[t, 0, 6] at memory offset 6 of the contiguous (T, N, C) tensor, i.e. log_probs[t, 1, 0]
    with pytest.warns(LossWarning, match=r"targets\[0, 0\] \(sample 0\) is 6, outside the 6 classes.*log_probs\[t, 1, 0\]"):
        odd = compute("ctc", LP, np.array([[6], [1]]), [5, 5], [1, 1], reduction="none").value
    moved = np.concatenate([LP, LP[:, :, :1]], axis=2)
    moved[:, 0, 6] = LP[:, 1, 0]
    expected = quiet(moved, np.array([[6], [1]]), [5, 5], [1, 1], reduction="none").value
    np.testing.assert_allclose(odd, expected, rtol=1e-14)


def test_label_reading_outside_log_probs_entirely_is_an_error():
    with pytest.raises(LossError, match=r"targets\[1, 0\] \(sample 1\) is 6.*outside log_probs"):
        quiet(LP, np.array([[1], [6]]), [5, 5], [1, 1])
    with pytest.raises(LossError, match=r"targets\[0, 0\] \(sample 0\) is -1"):
        quiet(LP, np.array([[-1], [2]]), [5, 5], [1, 1])


def test_warns_when_log_probs_are_not_log_softmaxed():
    with pytest.warns(LossWarning, match=r"exp\(log_probs\) does not sum to 1 in 10 of 10 frame\(s\) in use.*log_softmax"):
        compute("ctc", np.exp(LP), np.array([[1, 2], [3, 4]]), [5, 5], [2, 2])


# ---------------------------------------------------------------- errors through the CLI


@pytest.mark.parametrize("targets,input_lengths,target_lengths,options,message", [
    ("[[1,2],[3,4]]", "5,6", "2,2", [], r"input_lengths\[1\] is 6, but log_probs has only T=5 frames \(sample 1\)"),
    ("[[1,2],[3,4]]", "5,5", "2,3", [], r"padded targets \(2, 2\) have 2 columns, but target_lengths\[1\] is 3 \(sample 1\)"),
    ("[[1,2],[3,4]]", "5,5", "2,2", ["--blank", "6"], r"--blank 6 is not a class of log_probs: with C=6 classes"),
    ("[[1,2],[3,4]]", "5,-1", "2,2", [], r"input_lengths\[1\] is -1: a length cannot be negative"),
    ("[[1,2],[3,4]]", "5,5", "-2,2", [], r"target_lengths\[0\] is -2: a length cannot be negative"),
    ("[[1,2],[3,4]]", "5,5,5", "2,2", [], r"input_lengths has 3 value\(s\), but the batch has N=2 samples"),
    ("1,2,3", "5,5", "2,2", [], r"concatenated targets hold 3 labels, but target_lengths add up to 4"),
    ("[[1,2],[3,4],[1,1]]", "5,5", "2,2", [], r"padded targets \(3, 2\) must have one row per sample, N=2"),
])
def test_cli_errors_exit_2_naming_the_tensor(targets, input_lengths, target_lengths, options, message):
    r = run(inline(LP), targets, input_lengths, target_lengths, *options)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert r.stderr.startswith("Error: ")
    assert re.search(message, r.stderr), r.stderr


def test_cli_empty_log_probs_exit_2():
    r = run("[]", "1", "0", "0")
    assert r.exit_code == 2 and "log_probs" in r.stderr and "Traceback" not in r.output


# ---------------------------------------------------------------- the breakdown


def test_alignment_in_csv():
    # frames that say, almost surely: _ 3 3 _ 1 _ 1 2
    frames = [0, 3, 3, 0, 1, 0, 1, 2]
    lp = log_softmax(np.eye(5)[frames] * 12.0)
    r = run(inline(lp), "3,1,1,2", "8", "4", "--format", "csv", "--reduction", "none")
    assert r.exit_code == 0, r.output
    row = next(csv.DictReader(io.StringIO(r.stdout)))
    assert row["target"] == "3 1 1 2"
    assert row["best path"] == "_ 3×2 _ 1 _ 1 2"
    assert row["collapsed"] == "3 1 1 2"
    assert row["input len"] == "8" and row["target len"] == "4"
    assert float(row["l/max(len,1)"]) == pytest.approx(float(row["loss"]) / 4, rel=1e-15)
    assert float(row["-log p(best)"]) >= float(row["loss"])


def test_alignment_per_sample_with_variable_lengths_in_csv():
    lp = log_softmax(RNG.normal(size=(7, 3, 4)))
    r = run(inline(lp), "[[1,2,2],[3,0,0],[1,2,3]]", "7,2,4", "3,1,0", "--format", "csv", "--reduction", "none")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["target"] for row in rows] == ["1 2 2", "3", ""]
    assert [row["collapsed"] for row in rows] == ["1 2 2", "3", ""]
    def frames(path):  # run-length coded: "_×2 3" is three frames
        return sum(int(run.partition("×")[2] or 1) for run in path.split())

    assert [frames(row["best path"]) for row in rows] == [7, 2, 4]  # one symbol per frame in use
    assert rows[2]["best path"] == "_×4"


def test_best_paths_are_skipped_with_a_note_when_the_lattice_is_too_large(monkeypatch):
    from losscalc.kernels import sequence

    monkeypatch.setattr(sequence, "_PATH_CELLS", 5 * 2 * 5 - 1)  # T=5, N=2, 2S+1=5 states
    result = quiet(LP, np.array([[1, 2], [3, 4]]), [5, 5], [2, 2], reduction="none")
    assert "best path" not in result.terms and "target" in result.terms
    assert "best paths not shown: the lattice has 50 cells" in result.arithmetic.notes[0]
    monkeypatch.setattr(sequence, "_PATH_CELLS", 50)
    assert "best path" in quiet(LP, np.array([[1, 2], [3, 4]]), [5, 5], [2, 2]).terms


def test_cli_zero_infinity_and_blank_options():
    lp = inline(LP[:, 0])  # unbatched (T=5, C=6)
    r = run(lp, "2,2,2", "4", "3", "--format", "value")  # "2 2 2" needs 5 frames
    assert r.exit_code == 0 and r.stdout == "inf\n"
    assert "the target needs 5 frames (3 label(s) + 2 repeated pair(s)" in r.stderr and "gives 4" in r.stderr
    r = run(lp, "2,2,2", "4", "3", "--zero-infinity", "--format", "value")
    assert r.exit_code == 0 and r.stdout == "0.0\n" and "set to 0 by --zero-infinity" in r.stderr
    r = run(lp, "1,2", "5", "2", "--blank", "5", "--format", "value", "--reduction", "sum")
    expected = quiet(LP[:, 0], np.array([1, 2]), 5, 2, blank=5, reduction="sum").value
    assert r.exit_code == 0 and float(r.stdout) == float(expected) and r.stderr == ""


def test_samples_without_frames_have_empty_best_paths():
    """T_n = 0 for every sample (a whole batch, or a chunk of one): the only alignment is the
    empty one, of probability 1 (loss 0, as PyTorch gives), and the best-path terms are empty
    (this crashed on a chunk of such samples)."""
    lp = np.log(np.full((3, 2, 4), 0.25))
    r = compute("ctc", lp, np.array([[1], [2]]), np.array([0, 0]), np.array([0, 0]), reduction="none")
    assert np.asarray(r.value).tolist() == [0.0, 0.0]
    assert r.terms["best path"].tolist() == ["", ""] and r.terms["collapsed"].tolist() == ["", ""]
