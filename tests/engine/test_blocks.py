"""engine/plan.py's blocks: a mean or sum with no sink and no view hands an element-by-element
kernel each chunk a block at a time (engine/layout.py, BLOCKS). The answer is the same to the
last bit as that of the runs that see whole chunks (a table, JSON, --output), a warning is
said as the chunk says it, and the temporaries are a block's, not a chunk's."""

import tracemalloc
import warnings

import numpy as np
import pytest

from losscalc import compute
from losscalc.engine.layout import BLOCKS
from losscalc.registry import losses

N, D = 3001, 3  # at 1000 elements a chunk: 333 rows a chunk, 41 a block, the last ones short


def _inputs(rng):
    x, y = rng.standard_normal((N, D)), rng.standard_normal((N, D))
    pm1 = np.where(rng.random((N, D)) < 0.5, -1.0, 1.0)
    p, t = rng.uniform(0.01, 0.99, (N, D)), (rng.random((N, D)) < 0.5) * 1.0
    probs = rng.dirichlet(np.ones(D), N)
    return {
        "l1": ((x, y), {"weight": rng.random((N, D))}),  # a denominator of weights: Σ w, summed by blocks
        "mse": ((x, y), {"weight": rng.random((N, D))}),
        "smooth_l1": ((x, y), {"beta": 0.5}),
        "huber": ((x, y), {"delta": 0.7}),
        "poisson_nll": ((x, np.abs(y)), {}),
        "gaussian_nll": ((x, y, rng.uniform(0.1, 2, (N, 1))), {}),  # var cut along the batch axis too
        "bce": ((p, t), {}),
        "bce_with_logits": ((x, t), {}),
        "soft_margin": ((x, pm1), {}),
        "kl_div": ((np.log(probs), probs[::-1].copy()), {}),
        "margin_ranking": ((x, y, pm1), {}),
        "hinge_embedding": ((np.abs(x), pm1), {}),
        "sigmoid_focal": ((x, t), {}),
        "log_cosh": ((x, y), {}),
        "js_div": ((probs, probs[::-1].copy()), {}),
        "entropy": ((probs,), {}),
        "wasserstein": ((x, y), {"u_weights": rng.random((N, D))}),
        "dice": ((p, t), {}),
        "multilabel_margin": ((x, np.where(rng.random((N, D)) < 0.3, -1, rng.integers(0, D, (N, D)))), {}),
    }


BLOCKED = sorted(loss.name for loss in losses() if loss.blocks and loss.layout in ("elementwise", "gaussian_nll", "rows"))


def test_every_loss_with_blocks_is_here():
    assert set(BLOCKED) == set(_inputs(np.random.default_rng(0)))


@pytest.mark.parametrize("name", BLOCKED)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_blocks_give_the_whole_chunks_answer_to_the_last_bit(name, reduction, monkeypatch):
    """The slim run (blocks) against the same run with a summary (whole chunks, each summed by
    the same blocks), at 1 and 2 threads: one value, bit for bit; and torch's within 1e-12 of
    the one-chunk run, which test_invariants checks against torch."""
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "1000")
    tensors, options = _inputs(np.random.default_rng(1))[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        blocked = compute(name, *tensors, reduction=reduction, **options)
        assert len(blocked.plan) == 10 and blocked.plan.block == 1000 // BLOCKS // D
        chunks = compute(name, *tensors, reduction=reduction, summary=True, **options)
        one_thread = compute(name, *tensors, reduction=reduction, threads=1, **options)
        monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", str(10**9))
        whole = compute(name, *tensors, reduction=reduction, **options)
    assert blocked.value.tobytes() == chunks.value.tobytes() == one_thread.value.tobytes(), \
        (blocked.value, chunks.value, one_thread.value)
    np.testing.assert_allclose(blocked.value, whole.value, rtol=1e-12)


def test_a_warning_in_a_block_is_said_as_its_chunk_says_it(monkeypatch):
    """Targets in {0, 1} for soft_margin: every chunk warns; the counts are the chunk's (333
    rows of 3), as the run that sees whole chunks says them, not a block's."""
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "1000")
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((N, D)), np.zeros((N, D))

    def said(**settings):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            compute("soft_margin", x, t, **settings)
        return [str(w.message) for w in caught]

    assert said() == said(summary=True)
    assert any("it holds 999 other value(s)" in m for m in said())  # a block's would be 123 (41 rows of 3)


def test_a_blocked_mean_holds_under_one_chunk_of_temporaries(monkeypatch):
    """mse over 4M float64 on 2 threads: under one chunk (2**20 elements, 8 MiB) of new memory,
    where whole chunks held one chunk-sized temporary on each thread (16 MiB, tracemalloc). And
    the same value as the run that sees whole chunks."""
    monkeypatch.delenv("LOSSCALC_CHUNK_ELEMENTS", raising=False)  # (the default chunk, which the bound is of)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(4 << 20), rng.standard_normal(4 << 20)
    tracemalloc.start()
    try:
        blocked = compute("mse", x, y, threads=2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak / 2**20
    assert blocked.value == compute("mse", x, y, summary=True).value
