"""losscalc against live PyTorch, on random inputs over every family's option surface.

Skipped when torch is not importable; .ci/run installs torch 2.13 so these run in CI.
"""

import warnings

import numpy as np
import pytest

from losscalc.errors import LossError
from tests.cases import FAMILIES, family, losscalc_result, torch_result

torch = pytest.importorskip("torch")

SEEDS = [1, 2, 3]


def _cases(kind):
    for name in FAMILIES:
        module = family(name)
        for seed in SEEDS if kind == "cases" else [0]:
            for i, case in enumerate(getattr(module, kind)(np.random.default_rng(seed))):
                yield pytest.param(case, id=f"{seed}-{i}-{case.id}")


@pytest.mark.parametrize("case", list(_cases("cases")))
@pytest.mark.parametrize("dtype,rtol,atol", [("float64", 1e-10, 1e-12), ("float32", 1e-5, 1e-6)])
def test_matches_torch(case, dtype, rtol, atol):
    expected = torch_result(torch, case, dtype=getattr(np, dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = losscalc_result(case, dtype)
    assert result.value.shape == expected.shape
    assert result.value.dtype == np.dtype(dtype)
    np.testing.assert_allclose(result.value, expected, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("case", list(_cases("error_cases")))
def test_rejects_what_torch_rejects(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((RuntimeError, ValueError, IndexError)):
            torch_result(torch, case)
        with pytest.raises(LossError):
            losscalc_result(case)


def test_every_registered_loss_is_differentially_tested():
    from losscalc.registry import losses

    covered = {loss for name in FAMILIES for loss in family(name).LOSSES}
    missing = [loss.name for loss in losses() if loss.name not in covered]
    assert not missing, f"registered losses without differential cases: {missing}"
