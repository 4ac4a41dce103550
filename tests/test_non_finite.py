"""NaN and infinity propagate as in PyTorch, with a warning counting them per tensor; a loss
that refuses them says why."""

from __future__ import annotations

import json
import re
import shlex

import numpy as np
import pytest

from losscalc.errors import LossError
from losscalc.registry import losses
from losscalc.tensors import load_tensor
from tests.helpers import run

NAMES = {loss.name: loss for loss in losses()}


def cli_json(*args) -> tuple[dict, str]:
    r = run(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout), r.stderr


def from_json(value) -> np.ndarray:
    """JSON numbers back to an array; "nan", "inf", "-inf" strings to floats."""
    if isinstance(value, list):
        return np.array([from_json(v) for v in value], dtype=np.float64)
    return np.float64(float(value))


def test_non_finite_inputs_are_counted_per_tensor():
    _, stderr = cli_json("mse", "--weight", "1,inf,1,nan", "nan,inf,-inf,1", "0,nan,0,0")
    assert "warning: input holds 1 NaN and 2 infinite value(s)" in stderr
    assert "warning: target holds 1 NaN and 0 infinite value(s)" in stderr
    assert "warning: --weight holds 1 NaN and 1 infinite value(s)" in stderr
    _, stderr = cli_json("mse", "1,2", "1e308,2")
    assert "NaN" not in stderr and "infinite" not in stderr


@pytest.mark.parametrize("loss", sorted(NAMES))
def test_a_nan_in_any_tensor_is_counted_or_refused(loss):
    """Every registered loss, its example with one number made NaN in each tensor word in
    turn: it computes (exit 0) and says so for that tensor, or refuses it (exit 2)."""
    example = shlex.split(NAMES[loss].example)
    for i, word in enumerate(example):
        if word.startswith("-") and not re.match(r"-\d", word) or \
                i and example[i - 1].startswith("--") and example[i - 1] != "--weight":
            continue
        mutated = re.sub(r"\d+(\.\d+)?", "nan", word, count=1)
        if mutated == word or mutated.startswith("ones"):
            continue
        r = run(loss, *example[:i], mutated, *example[i + 1:], "--format", "json")
        assert r.exit_code in (0, 2), r.output
        # counted when it reaches the loss (issue 9: a NaN nll does not gather is not its business)
        if r.exit_code == 0:
            if "nan" in json.dumps(json.loads(r.stdout)["elements"]):
                assert re.search(r"holds 1 NaN and 0 infinite", r.stderr), (mutated, r.stderr)
        else:
            assert r.stderr.strip()


@pytest.mark.parametrize("loss, args, reference", [
    ("mse", ["nan,inf,-inf,1,inf", "0,1,2,nan,inf"],
     lambda torch, F, x, y: F.mse_loss(x, y, reduction="none")),
    ("l1", ["nan,inf,-inf,1,inf", "0,1,2,nan,inf"],
     lambda torch, F, x, y: F.l1_loss(x, y, reduction="none")),
    ("bce_with_logits", ["nan,inf,-inf,1,inf,-inf", "0,1,1,nan,0,0"],
     lambda torch, F, x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none")),
    ("cross_entropy", ["[[nan,0,1],[inf,0,1],[-inf,0,1],[1,2,3],[inf,inf,0]]", "0,0,0,1,2"],
     lambda torch, F, x, y: F.cross_entropy(x, y.long(), reduction="none")),
    ("cross_entropy", ["[[-inf,0,1],[1,-inf,3]]", "0,2"],
     lambda torch, F, x, y: F.cross_entropy(x, y.long(), reduction="none")),
])
def test_non_finite_numbers_propagate_as_in_pytorch(loss, args, reference):
    torch = pytest.importorskip("torch")  # the oracle; .ci/run installs it
    import torch.nn.functional as F

    tensors_ = [torch.tensor(load_tensor(a, "t").array, dtype=torch.float64) for a in args]
    expected = reference(torch, F, *tensors_).numpy()
    for reduction in ("none", "mean", "sum"):
        doc, stderr = cli_json(loss, "--reduction", reduction, *args)
        want = {"none": expected, "mean": expected.mean(), "sum": expected.sum()}[reduction]
        np.testing.assert_allclose(from_json(doc["value"]), want, rtol=1e-12, equal_nan=True)
        assert "input holds" in stderr


def test_non_finite_numbers_match_pytorch_for_every_differential_case():
    """The differential cases of every family (tests/cases), with NaN, inf and -inf put into
    each floating-point tensor in turn: losscalc and PyTorch agree on the value, NaN for NaN,
    or both refuse."""
    torch = pytest.importorskip("torch")  # the oracle; .ci/run installs it
    import warnings

    from tests.cases import FAMILIES, Case, family, losscalc_result, torch_result

    first: dict = {}
    for name in FAMILIES:
        for case in family(name).cases(np.random.default_rng(0)):
            first.setdefault((case.loss, case.reduction), case)
    checked, mismatches = 0, []
    for case in first.values():
        for i, t in enumerate(case.tensors):
            if np.asarray(t).dtype.kind != "f" or np.size(t) == 0:
                continue
            for value in (np.nan, np.inf, -np.inf):
                changed = [np.array(u, copy=True) for u in case.tensors]
                changed[i].flat[0] = value
                c = Case(case.loss, changed, case.options, case.reduction)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        expected = torch_result(torch, c)
                    except (RuntimeError, ValueError, IndexError):
                        expected = None
                    try:
                        got = losscalc_result(c).value
                    except LossError:
                        got = None
                checked += 1
                if (expected is None) != (got is None):
                    mismatches.append(f"{c.id} tensor {i} = {value}: "
                                      f"{'only torch' if expected is None else 'only losscalc'} refuses")
                elif expected is not None and (got.shape != expected.shape or not np.allclose(
                        got, expected, rtol=1e-10, atol=1e-12, equal_nan=True)):
                    mismatches.append(f"{c.id} tensor {i} = {value}: {got} != {expected}")
    assert checked >= 100
    assert mismatches == []


@pytest.mark.parametrize("weight", ["nan,1", "inf,1", "-inf,1"])
def test_non_finite_denominator_is_written_out(weight):
    r = run("mse", "--weight", weight, "1,2", "0,0")
    assert r.exit_code == 0, r.output
    assert "mean = Σ w·l / Σ w" in r.stdout
