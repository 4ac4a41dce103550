"""The invariants of shared/STYLE.md, over every registered loss (issue 10), and the chunk
invariance of the engine (SPEC §9).

For each loss: its registry example (commands.example_call) and its committed golden cases
(tests/golden/*.json, random inputs over the loss's option surface and layout, with the
values torch 2.13 gave, written by tests/make_golden.py). On each:

- `sum` equals the sum of the `none` elements;
- the `none` shape is PyTorch's (the golden `none` records hold torch's shape);
- `mean` is what the one reducer gives: its arithmetic's numerator over its denominator, the
  numerator the sum of the elements where the mean is a plain or weighted one, and
  `batchmean` the sum over the batch size;
- float32 stays float32 and within 1e-5 of float64 (relative to the largest element);
- the answer does not depend on the chunk size or the threads: under small odd
  LOSSCALC_CHUNK_ELEMENTS it is torch's golden value, the one-chunk value to 1e-12, and
  bit-identical on one thread and on two;
- --grad answers, a gradient in each differentiated tensor's own shape and in the dtype asked
  for (its values against autograd are tests/test_differential_grad.py's).

A completeness test fails when a registered loss has no case here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from losscalc import compute
from losscalc.commands import example_call
from losscalc.registry import losses
from tests.test_golden import decode, load

NAMES = sorted(loss.name for loss in losses())
GOLDEN: dict[str, list] = {}
for _param in load():
    GOLDEN.setdefault(_param.values[0]["loss"], []).append((_param.id, _param.values[0]))

CHUNK_SIZES = ["1", "3", "7"]  # small and odd: items straddle chunk boundaries
F32_RTOL = 1e-5


def golden_call(record) -> tuple[list, dict]:
    tensors = [decode(t) for t in record["tensors"]]
    options = {k: decode(v) if isinstance(v, dict) else v for k, v in record["options"].items()}
    return tensors, options


def example(name: str) -> tuple[list, dict]:
    """The registry example as (tensors, loss options): no reduction, no engine settings."""
    from losscalc.registry import find

    loss = find(name)
    tensors, settings = example_call(loss)
    options = {o.name: settings[o.name] for o in loss.options if settings.get(o.name) is not None}
    if settings.get("seed") is not None:
        options["seed"] = settings["seed"]
    return tensors, options


LEGACY = ("size_average", "reduce")  # they would override the reduction each test asks for


def calls(name: str):
    """(id, tensors, options) for the loss's example and each of its golden cases, the legacy
    flags left out."""
    yield f"{name}-example", *example(name)
    for id_, record in GOLDEN.get(name, []):
        tensors, options = golden_call(record)
        yield id_, tensors, {k: v for k, v in options.items() if k not in LEGACY}


def quiet(name, tensors, options, **settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute(name, *tensors, **options, **settings)


def test_every_registered_loss_has_invariant_cases():
    """Completeness: the example and golden cases of every registered loss, a golden `none`
    case among them (for the shape), and nothing here for a loss no longer registered."""
    assert sorted(GOLDEN) == NAMES, (set(NAMES) ^ set(GOLDEN))
    no_none = [n for n in NAMES if not any(r["reduction"] == "none" for _, r in GOLDEN[n])]
    assert no_none == [], f"no golden reduction='none' case: {no_none}"


@pytest.mark.parametrize("name", NAMES)
def test_sum_is_the_sum_of_none(name):
    for id_, tensors, options in calls(name):
        if "sum" not in _reductions(name):
            continue
        none = quiet(name, tensors, options, reduction="none").value
        total = quiet(name, tensors, options, reduction="sum").value
        np.testing.assert_allclose(total, np.sum(none), rtol=1e-12, atol=1e-300, equal_nan=True,
                                   err_msg=id_)


@pytest.mark.parametrize("name", NAMES)
def test_none_shape_is_pytorchs(name):
    checked = 0
    for id_, record in GOLDEN[name]:
        if record["reduction"] != "none":
            continue
        tensors, options = golden_call(record)
        got = quiet(name, tensors, options, reduction="none")  # a none record has no legacy flag
        assert got.value.shape == tuple(record["expected"]["shape"]), id_
        assert got.elements.shape == got.value.shape, id_
        checked += 1
    assert checked


@pytest.mark.parametrize("name", NAMES)
def test_mean_is_what_the_reducer_gives(name):
    reductions = _reductions(name)
    for id_, tensors, options in calls(name):
        none = quiet(name, tensors, options, reduction="none").value
        if "mean" in reductions:
            r = quiet(name, tensors, options, reduction="mean")
            a = r.arithmetic
            with np.errstate(divide="ignore", invalid="ignore"):
                want = np.float64(a.numerator) / np.float64(a.denominator)
            np.testing.assert_allclose(r.value, want, rtol=1e-15, equal_nan=True, err_msg=id_)
            if a.numerator_label in ("Σ l", "Σ w·l"):  # a plain or weighted mean of the elements
                np.testing.assert_allclose(a.numerator, np.sum(none), rtol=1e-12, atol=1e-300,
                                           equal_nan=True, err_msg=id_)
        if "batchmean" in reductions:
            r = quiet(name, tensors, options, reduction="batchmean")
            batch = np.shape(r.inputs["input"].array)[0] if np.ndim(r.inputs["input"].array) else 1
            with np.errstate(divide="ignore", invalid="ignore"):
                want = np.float64(np.sum(none)) / batch
            np.testing.assert_allclose(r.value, want, rtol=1e-12, equal_nan=True, err_msg=id_)


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32_and_within_1e_5(name):
    checked = 0
    for id_, tensors, options in calls(name):
        f64 = quiet(name, tensors, options, reduction="none").value
        f32 = quiet(name, tensors, options, reduction="none", dtype="float32")
        assert f32.value.dtype == np.float32, id_
        for term, value in f32.terms.items():
            if np.asarray(value).dtype.kind == "f":
                assert np.asarray(value).dtype == np.float32, (id_, term)
        for reduction in _reductions(name) - {"none"}:
            assert quiet(name, tensors, options, reduction=reduction, dtype="float32").value.dtype \
                == np.float32, (id_, reduction)
        finite = np.isfinite(f64)
        if not finite.any() or not _float32_range(tensors, options):
            continue
        scale = np.max(np.abs(f64[finite]))
        np.testing.assert_allclose(f32.value.astype(np.float64)[finite], f64[finite],
                                   rtol=F32_RTOL, atol=F32_RTOL * scale, err_msg=id_)
        checked += 1
    assert checked


@pytest.mark.parametrize("name", NAMES)
def test_chunk_size_and_threads_do_not_change_the_answer(name, monkeypatch):
    """Every golden case of the loss under LOSSCALC_CHUNK_ELEMENTS 1, 3 and 7: torch's value,
    the one-chunk value to 1e-12, bit-identical on one thread and two; some cut in chunks."""
    chunked = 0
    for id_, record in GOLDEN[name]:
        tensors, options = golden_call(record)
        reduction = record["reduction"]
        monkeypatch.delenv("LOSSCALC_CHUNK_ELEMENTS", raising=False)
        whole = quiet(name, tensors, options, reduction=reduction)
        expected = decode(record["expected"])
        for size in CHUNK_SIZES:
            monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", size)
            one = quiet(name, tensors, options, reduction=reduction, threads=1)
            two = quiet(name, tensors, options, reduction=reduction, threads=2)
            where = f"{id_} in chunks of {size}"
            np.testing.assert_allclose(one.value, expected, rtol=1e-10, atol=1e-12, equal_nan=True,
                                       err_msg=where)
            np.testing.assert_allclose(one.value, whole.value, rtol=1e-12, atol=1e-300,
                                       equal_nan=True, err_msg=where)
            np.testing.assert_array_equal(one.value, two.value, err_msg=where)  # bit-identical
            chunked += len(one.plan) > 1
    assert chunked, f"no golden case of {name} was cut into chunks"


@pytest.mark.parametrize("name", NAMES)
def test_grad_has_each_tensors_shape_and_dtype(name):
    tensors, options = example(name)
    result = compute(name, *tensors, **options, grad=True)
    assert result.grads, f"{name}: no gradient"
    for tensor, g in result.grads.items():
        assert g.shape == result.inputs[tensor].array.shape, tensor
        assert g.dtype == np.float64, tensor
    f32 = quiet(name, tensors, options, grad=True, dtype="float32")
    assert set(f32.grads) == set(result.grads)
    for tensor, g in f32.grads.items():
        assert g.dtype == np.float32, tensor


def _reductions(name: str) -> set[str]:
    from losscalc.registry import find

    return set(find(name).reductions)


def _float32_range(tensors, options) -> bool:
    """Whether every number given is finite and inside float32's normal range (else float32
    overflows or flushes, as torch's float32 does, and 1e-5 means nothing)."""
    tiny, big = np.finfo(np.float32).tiny, np.finfo(np.float32).max
    for t in [*tensors, *options.values()]:
        a = np.asarray(t)
        if a.dtype.kind != "f" or not a.size:
            continue
        magnitude = np.abs(a[a != 0])
        if not np.all(np.isfinite(a)) or (magnitude.size and (magnitude.min() < tiny or magnitude.max() > big)):
            return False
    return True
