"""A tensor read a frame at a time (registry `Tensor.frames`, casts.Frames, plan.arrays): CTC's
log_probs in a file are given to each chunk uncopied and cast frame by frame, with the values
and gradients of the same log_probs held in memory, in chunks or whole, and a peak memory that
does not hold the chunk's log-probabilities."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from losscalc import compute
from losscalc.casts import Frames
from losscalc.engine.plan import Plan
from losscalc.registry import find
from tests.helpers import RSS_ANON


def _ctc_inputs(T=12, N=9, C=5, S=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C))
    lp = (x - np.log(np.exp(x).sum(-1, keepdims=True))).astype(np.float32)
    targets = rng.integers(1, C, (N, S))
    return lp, targets, rng.integers(S * 2, T + 1, N), rng.integers(1, S + 1, N)


@pytest.fixture
def lp_file(tmp_path):
    lp, *rest = _ctc_inputs()
    np.save(tmp_path / "lp.npy", lp)
    return np.load(tmp_path / "lp.npy", mmap_mode="r"), lp, rest


def test_a_chunk_of_a_memory_map_is_given_uncopied_or_as_frames(lp_file):
    mapped, _, (targets, il, tl) = lp_file
    inputs = {"log_probs": mapped, "targets": targets, "input_lengths": il, "target_lengths": tl}
    kinds = {"log_probs": "float", "targets": "index", "input_lengths": "index", "target_lengths": "index"}
    for dtype, kind in ((np.float32, np.ndarray), (np.float64, Frames)):
        plan = Plan(find("ctc"), inputs, kinds, {"blank": 0, "zero_infinity": False}, dtype, size=40)
        assert len(plan) > 1
        part = plan.arrays(plan.chunks[1])["log_probs"]
        assert isinstance(part, kind) and part.shape == (12, plan.chunks[1].stop - plan.chunks[1].start, 5)
        if kind is np.ndarray:
            assert np.shares_memory(part, mapped)  # a view of the file, not a copy
        else:
            assert part[3].dtype == np.float64 and np.array_equal(part[3], mapped[3, plan.chunks[1].start:plan.chunks[1].stop])


@pytest.mark.parametrize("chunk", ["7", "40", "100000"])
def test_values_from_frames_equal_the_in_memory_ones_and_never_read_the_chunk_whole(lp_file, chunk, monkeypatch):
    mapped, lp, (targets, il, tl) = lp_file
    expected = compute("ctc", lp.astype(np.float64), targets, il, tl, reduction="none", threads=1)
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", chunk)
    monkeypatch.setattr(Frames, "__array__", lambda *a, **k: pytest.fail("a chunk of log_probs was read whole"))
    for threads in (1, 2):
        got = compute("ctc", mapped, targets, il, tl, reduction="none", threads=threads)
        np.testing.assert_allclose(np.asarray(got.value), np.asarray(expected.value), rtol=1e-13)


def test_gradients_from_frames_equal_the_in_memory_ones(lp_file, monkeypatch):
    """A differentiated chunk reads its log_probs whole (its gradient is their size anyway)."""
    mapped, lp, (targets, il, tl) = lp_file
    expected = compute("ctc", lp.astype(np.float64), targets, il, tl, grad=True, threads=1)
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "40")
    got = compute("ctc", mapped, targets, il, tl, grad=True)
    assert got.value == pytest.approx(expected.value, rel=1e-13)
    np.testing.assert_allclose(got.grads["log_probs"], expected.grads["log_probs"], rtol=1e-12, atol=1e-16)


MEMORY_SCRIPT = RSS_ANON + textwrap.dedent(
    """
    import sys, threading, time
    import numpy as np
    from losscalc import compute

    T, N, C, S = 400, 3000, 40, 10
    rng = np.random.default_rng(0)
    lp = np.lib.format.open_memmap(sys.argv[1], mode="w+", dtype=np.float32, shape=(T, N, C))
    for t in range(0, T, 50):
        x = rng.standard_normal((50, N, C), dtype=np.float32)
        lp[t:t + 50] = x - np.log(np.exp(x).sum(-1, keepdims=True))
    del lp, x
    lp = np.load(sys.argv[1], mmap_mode="r")
    targets, il, tl = rng.integers(1, C, (N, S)), np.full(N, T), rng.integers(1, S + 1, N)
    before = peak = rss_anon()
    done = False

    def sample():
        global peak
        while not done:
            peak = max(peak, rss_anon())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    value = compute("ctc", lp, targets, il, tl).value
    done = True
    sampler.join()
    assert np.isfinite(value)
    print((peak - before) / 2**20)
    """
)


def test_memory_holds_the_lattice_not_the_log_probs(tmp_path):
    """(400, 3000, 40) float32 log_probs, 192 MB in the file, computed in float64: a chunk's
    log-probabilities in float64 alone would be 24 MiB (the usual chunk times CTC_WIDER)."""
    proc = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path / "lp.npy")],
                          capture_output=True, text=True, check=True)
    grown_mib = float(proc.stdout.strip().splitlines()[-1])
    assert grown_mib < 24, f"RssAnon grew by {grown_mib:.0f} MiB"  # measured: 15 MiB (381 when compute cast a memory map whole)
