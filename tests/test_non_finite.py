"""NaN and infinity propagate as in PyTorch, with a warning counting them per tensor; a loss
that refuses them says why."""

from __future__ import annotations

import json

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


# A refusal of a NaN that PyTorch would compute with is allowed for one documented reason only:
# SPEC §3, "Class-index tensors ... must hold whole numbers" (PyTorch cannot be given a NaN
# index: it takes them as int64). Every other NaN must give PyTorch's answer, or be refused
# where PyTorch refuses it too (BCE's inputs outside [0, 1], Wasserstein's weights).
WHOLE_NUMBERS = "must be whole numbers"
TORCH_REFUSES = (RuntimeError, ValueError, IndexError)


def nan_slots(loss) -> list[tuple[str, str]]:
    """Every tensor of `loss` a NaN can be put in, from the registry: (key, name), the key a
    positional index as a string or an option's Python name, the name as warnings give it."""
    return [(str(i), t.name) for i, t in enumerate(loss.tensors)] + \
           [(o.name, o.flag) for o in loss.options if o.type == "tensor"]


def example_case(loss):
    """The registry example (commands.example_call) as a differential Case: each tensor as loaded
    (the example's own seed), whole-number indices as int64, the tensor options as arrays."""
    from losscalc.commands import example_call
    from tests.cases import Case

    words, settings = example_call(loss)
    rng = np.random.default_rng(settings.get("seed") or 0)
    arrays = []
    for word, spec in zip(words, loss.tensors):
        a = load_tensor(word, spec.name, rng=rng).array
        whole = spec.kind != "float" and _whole(a)
        arrays.append(a.astype(np.int64 if whole else np.float64))
    options = {}
    for o in loss.options:
        value = settings.get(o.name)
        if value is not None and o.type == "tensor":
            options[o.name] = load_tensor(value, o.flag, rng=rng).array.astype(np.float64)
        elif value is not None:
            options[o.name] = value
    return Case(loss.name, arrays, options, settings["reduction"])


def _whole(a) -> bool:
    a = np.asarray(a)
    return a.dtype.kind in "iub" or (a.size > 0 and bool(np.all(np.isfinite(a) & (a == np.round(a)))))


def cases_holding(loss, key: str) -> list:
    """The registry example if it holds the tensor `key`, else the first differential case of
    the loss that does (a tensor option the example leaves out, such as bce's --weight)."""
    from tests.cases import family_of

    def holds(case):
        t = case.tensors[int(key)] if key.isdigit() else case.options.get(key)
        return isinstance(t, np.ndarray) and t.size > 0

    example = example_case(loss)
    if holds(example):
        return [example]
    return [c for c in family_of(loss.name).cases(np.random.default_rng(0))
            if c.loss == loss.name and holds(c)][:1]


def with_nan(case, key: str):
    from tests.cases import Case

    tensors = [np.array(t, copy=True) for t in case.tensors]
    options = {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
               for k, v in case.options.items()}
    holder = tensors if key.isdigit() else options
    k = int(key) if key.isdigit() else key
    holder[k] = np.array(holder[k], dtype=np.float64)
    holder[k].flat[0] = np.nan
    return Case(case.loss, tensors, options, case.reduction)


@pytest.mark.parametrize("loss", sorted(NAMES))
def test_a_nan_in_any_tensor_propagates_as_in_pytorch_or_is_refused_for_a_documented_reason(loss):
    """Every registered loss, one NaN put in each of its tensors in turn (the positional ones
    and every option of type "tensor": --weight, --pos-weight, --u-weights, --v-weights): the
    value is PyTorch's (NaN where PyTorch's is NaN), with a warning counting the NaN for that
    tensor when it reaches the loss (engine/__init__.py `take`); or both refuse it; or, for a class-index tensor, losscalc refuses it as SPEC §3
    says. A tensor with no case to put the NaN in fails the test."""
    import warnings

    from losscalc import compute
    from losscalc.errors import LossWarning
    from tests.cases import torch_result

    torch = pytest.importorskip("torch")  # the oracle; .ci/run installs it
    entry = NAMES[loss]
    unchecked = []
    for key, name in nan_slots(entry):
        cases = cases_holding(entry, key)
        if not cases:
            unchecked.append(name)
        for base in cases:
            index = key.isdigit() and entry.tensors[int(key)].kind != "float" and \
                _whole(base.tensors[int(key)])
            case = with_nan(base, key)
            for reduction in dict.fromkeys([case.reduction, "none"]):
                case.reduction = reduction
                where = f"{case.id}: NaN in {name}"
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        got, refusal = compute(loss, *case.tensors, reduction=reduction,
                                               **case.options).value, None
                    except LossError as e:
                        got, refusal = None, str(e)
                if index:  # a NaN class index: refused, the tensor and the rule named
                    assert refusal and name in refusal and WHOLE_NUMBERS in refusal, (where, refusal)
                    continue
                try:
                    expected = torch_result(torch, case)
                except TORCH_REFUSES as e:
                    assert refusal is not None, f"{where}: PyTorch refuses ({e}), losscalc gives {got}"
                    continue
                assert refusal is None, f"{where}: refused ({refusal}), PyTorch gives {expected}"
                assert got.shape == expected.shape, where
                np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, equal_nan=True,
                                           err_msg=where)
                if not np.isnan(expected).any():
                    continue  # counted when it reaches the loss (a cut tensor is scanned then)
                said = [str(w.message) for w in caught if issubclass(w.category, LossWarning)]
                assert any(s.startswith(f"{name} holds 1 NaN and 0 infinite") for s in said), \
                    (where, said)
    assert unchecked == [], f"no case holds these tensors of {loss}: {unchecked}"


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
