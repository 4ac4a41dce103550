"""Every registry entry is complete: what it matches, a runnable example, a documented kernel."""

import pytest

from losscalc.registry import losses


@pytest.mark.parametrize("loss", losses(), ids=lambda loss: loss.name)
def test_every_entry_is_complete(loss):
    assert loss.matches, "a torch.nn class or, for a loss PyTorch lacks, a reference"
    assert loss.example, "a runnable example"
    for section in ("Formula", "Shape", "References"):
        assert loss.section(section), f"the kernel's docstring has no {section}: section"
    assert loss.summary and not loss.summary.endswith(":")
