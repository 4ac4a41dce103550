"""engine/layout.py: each loss's layout cuts its inputs along the batch axis (a loss whose layout
never cuts would hold its whole input in memory)."""

import warnings

from losscalc import compute


def test_every_layout_cuts_its_losses(monkeypatch):
    """Each loss's own example, stretched to many items, runs in several chunks (a loss whose
    layout never cuts would hold its whole input in memory)."""
    from losscalc.commands import example_call
    from losscalc.registry import losses

    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "1")
    for loss in losses():
        tensors, params = example_call(loss)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = compute(loss.name, *tensors, **params)
        batched = result.elements is not None and result.elements.ndim >= 1 and result.elements.shape[0] > 1
        if batched:
            assert len(result.plan) > 1, f"{loss.name}: {result.elements.shape} elements in one chunk"
