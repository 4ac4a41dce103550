"""Every registry entry is complete: what it matches, a clean runnable example, a documented
kernel; aliases resolve to their loss."""

import warnings

import numpy as np
import pytest

from losscalc import compute
from losscalc.commands import example_call
from losscalc.registry import find, losses


@pytest.mark.parametrize("loss", losses(), ids=lambda loss: loss.name)
def test_every_entry_is_complete(loss):
    assert loss.matches, "a torch.nn class or, for a loss PyTorch lacks, a reference"
    assert loss.example, "a runnable example"
    for section in ("Formula", "Shape", "References"):
        assert loss.section(section), f"the kernel's docstring has no {section}: section"
    assert loss.summary and not loss.summary.endswith(":")


@pytest.mark.parametrize("loss", losses(), ids=lambda loss: loss.name)
def test_every_example_is_clean(loss):
    """The example runs without a warning and gives a finite value: `explain` shows it as the
    worked example, so it must be an input the loss expects."""
    tensors, settings = example_call(loss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compute(loss.name, *tensors, **settings)
    assert np.all(np.isfinite(result.value))


@pytest.mark.parametrize("alias,loss", [
    ("SmoothL1Loss", "smooth_l1"), ("smooth_l1_loss", "smooth_l1"), ("HuberLoss", "huber"), ("huber_loss", "huber"),
    ("BCELoss", "bce"), ("binary_cross_entropy", "bce"), ("BCEWithLogitsLoss", "bce_with_logits"),
    ("binary-cross-entropy-with-logits", "bce_with_logits"), ("SoftMarginLoss", "soft_margin"),
    ("soft_margin_loss", "soft_margin"), ("PoissonNLLLoss", "poisson_nll"), ("poisson_nll_loss", "poisson_nll"),
    ("GaussianNLLLoss", "gaussian_nll"), ("gaussian_nll_loss", "gaussian_nll"), ("KLDivLoss", "kl_div"),
    ("kl", "kl_div"), ("KLDiv", "kl_div"), ("kl-div", "kl_div"),
])
def test_aliases(alias, loss):
    assert find(alias).name == loss
