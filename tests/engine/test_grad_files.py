"""--grad with --output (engine `_gradients`, output.ArrayFile): each gradient is written chunk
by chunk to OUT.grad.NAME.npy and held memory-mapped, equal to the gradients kept in memory, for
every loss of the registry; inputs over the in-memory limit are refused without --output; a run
that fails part way leaves no file behind."""

import os

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc import compute
from losscalc.cli import cli
from losscalc.commands import example_call
from losscalc.errors import LossError
from losscalc.registry import losses


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "2")  # the examples split into chunks


@pytest.mark.parametrize("loss", losses(), ids=lambda loss: loss.name)
def test_gradient_files_equal_the_gradients_in_memory(loss, small_chunks, tmp_path):
    tensors, settings = example_call(loss)
    settings["grad"] = True
    try:
        kept = compute(loss.name, *tensors, **settings)
    except LossError as e:
        assert "not available" in str(e)
        return
    out = tmp_path / "e.npy"
    filed = compute(loss.name, *tensors, **settings, grad_files=str(out))
    assert set(filed.grads) == set(kept.grads)
    for name, g in kept.grads.items():
        path = tmp_path / f"e.grad.{name.lstrip('-').replace('-', '_')}.npy"
        np.testing.assert_array_equal(np.load(path), g)
        assert isinstance(filed.grads[name], np.memmap)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".losscalc-")]


def test_big_inputs_write_their_gradients_beside_the_output(monkeypatch, small_chunks, tmp_path):
    monkeypatch.setattr("losscalc.limits.MAX_ELEMENTS", 16)  # the inputs below count as big
    monkeypatch.setattr("losscalc.readers.npy.MMAP_THRESHOLD", 0)  # and are memory-mapped, as big files are
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal(3)  # y broadcast: its gradient is summed
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    args = ["mse", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--grad", "--format", "value"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and "--output" in r.stderr and "OUT.grad.NAME.npy" in r.stderr, r.stderr
    r = CliRunner().invoke(cli, [*args, "--output", str(tmp_path / "e.npy")])
    assert r.exit_code == 0, r.stderr
    d = x - y  # ∂ mean((x - y)²) / ∂x = 2 (x - y) / N; ∂/∂y summed over the rows it is broadcast along
    np.testing.assert_allclose(np.load(tmp_path / "e.grad.input.npy"), 2 * d / d.size, rtol=1e-12)
    np.testing.assert_allclose(np.load(tmp_path / "e.grad.target.npy"), -(2 * d / d.size).sum(0), rtol=1e-12)


def test_a_run_that_fails_part_way_leaves_no_gradient_file(monkeypatch, small_chunks, tmp_path):
    import losscalc.engine.grad as engine

    calls = []
    real = engine.upstream

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(engine, "upstream", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compute("mse", np.ones((8, 3)), np.zeros((8, 3)), grad=True, grad_files=str(tmp_path / "e.npy"))
    assert os.listdir(tmp_path) == []
