"""The chunked engine (SPEC §9): answers that do not depend on the chunk size or the threads,
files of any size read chunk by chunk, --output streamed, JSON bounded.

The expected values are the committed PyTorch golden values (tests/golden/*.json, written by
tests/make_golden.py from torch 2.13): every golden case is computed again with tiny chunks,
so that each item (a row, a sample, an element) is a chunk of its own or nearly, on one thread
and on two, and must agree with torch as the one-chunk run does, and with that run to 1e-12.
"""

import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc import compute
from losscalc.cli import cli
from tests.test_golden import decode, load

CASES = list(load())


def _compute(record, **engine):
    tensors = [decode(t) for t in record["tensors"]]
    options = {k: decode(v) if isinstance(v, dict) else v for k, v in record["options"].items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute(record["loss"], *tensors, reduction=record["reduction"], **options, **engine)


@pytest.mark.parametrize("size", ["1", "7", "50"])
def test_golden_values_hold_for_any_chunk_size_and_thread_count(size, monkeypatch):
    chunked = 0
    for param in CASES:
        record = param.values[0]
        monkeypatch.delenv("LOSSCALC_CHUNK_ELEMENTS", raising=False)
        whole = _compute(record)
        monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", size)
        one, two = _compute(record, threads=1), _compute(record, threads=2)
        expected = decode(record["expected"])
        np.testing.assert_allclose(one.value, expected, rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=param.id)
        np.testing.assert_allclose(one.value, whole.value, rtol=1e-12, atol=1e-300, equal_nan=True, err_msg=param.id)
        np.testing.assert_array_equal(one.value, two.value, err_msg=param.id)  # bit-identical
        chunked += len(one.plan) > 1
    assert chunked > 100, "too few golden cases were cut into chunks to show anything"


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


def test_chunk_elements_must_be_a_whole_number(monkeypatch):
    for bad in ("0", "-3", "1.5", "many"):
        r = CliRunner().invoke(cli, ["mse", "1,2", "0,0"], env={"LOSSCALC_CHUNK_ELEMENTS": bad})
        assert r.exit_code == 2 and "LOSSCALC_CHUNK_ELEMENTS" in r.stderr, (bad, r.output)


def test_grad_is_the_same_in_chunks(monkeypatch):
    rng = np.random.default_rng(3)
    x, y, w = rng.standard_normal((40, 5)), rng.integers(0, 5, 40), rng.random(5)
    whole = compute("cross_entropy", x, y, weight=w, grad=True)
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "12")
    chunked = compute("cross_entropy", x, y, weight=w, grad=True)
    assert len(chunked.plan) > 1
    np.testing.assert_allclose(chunked.grads["input"], whole.grads["input"], rtol=1e-12, atol=1e-15)


def test_errors_and_warnings_name_the_index_in_the_whole_input(monkeypatch, tmp_path):
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "6")
    target = np.zeros(10)
    target[7] = 2.5
    np.save(tmp_path / "t.npy", target)
    np.save(tmp_path / "x.npy", np.zeros((10, 3)))
    r = CliRunner().invoke(cli, ["nll", str(tmp_path / "x.npy"), str(tmp_path / "t.npy")])
    assert r.exit_code == 2 and "target[7] is 2.5" in r.stderr, r.stderr
    r = CliRunner().invoke(cli, ["nll", "zeros(10,3)", "0,0,0,0,0,0,0,0,0,4"])
    assert r.exit_code == 2 and "index [9]" in r.stderr, r.stderr


def test_json_elements_are_bounded_and_output_streams(tmp_path):
    x = np.arange(5000, dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "e.npy"
    args = ["mse", str(tmp_path / "x.npy"), "0", "--reduction", "none", "--format", "json",
            "--max-elements", "100", "-o", str(out)]
    r = CliRunner().invoke(cli, args, env={"LOSSCALC_CHUNK_ELEMENTS": "700"})
    doc = json.loads(r.stdout)
    assert doc["elements"] is None and doc["value"] is None and doc["elements_count"] == 5000
    np.testing.assert_array_equal(np.load(out), (x.astype(np.float64)) ** 2)
    for suffix in ("json", "csv"):
        path = tmp_path / f"e.{suffix}"
        r = CliRunner().invoke(cli, ["mse", "randn(30,4)", "0", "--seed", "1", "--reduction", "none",
                                     "--format", "value", "-o", str(path)], env={"LOSSCALC_CHUNK_ELEMENTS": "7"})
        expected = compute("mse", "randn(30,4)", 0, seed=1, reduction="none").elements
        got = json.loads(path.read_text()) if suffix == "json" else np.loadtxt(path, delimiter=",")
        np.testing.assert_array_equal(np.asarray(got), expected)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".losscalc-")]


def test_file_names_starting_with_a_dash_and_a_digit(tmp_path, monkeypatch):
    """Issue 10: no text rewriting of words that look like numbers."""
    monkeypatch.chdir(tmp_path)
    np.save("-1.npy", np.array([1.0, 2.0]))
    r = CliRunner().invoke(cli, ["mse", "-1.npy", "-1,-2", "--format", "value", "--output", "-1.json"])
    assert r.exit_code == 0, r.output
    assert r.stdout == "10.0\n" and json.loads(open("-1.json").read()) == [4.0, 16.0]
    r = CliRunner().invoke(cli, ["mse", "--wieght", "1", "1", "2"])
    assert r.exit_code == 2 and "No such option '--wieght'" in r.stderr and "--weight" in r.stderr


def _peak(args, cwd):
    """Run losscalc in a child process and sample its RssAnon (anonymous memory: not the
    mapped pages of its input files) from this one every few milliseconds."""
    child = subprocess.Popen([sys.executable, "-m", "losscalc", *args], cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    peak = 0
    try:
        while child.poll() is None:
            try:
                with open(f"/proc/{child.pid}/status") as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.01)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    return out, peak / 1024


def test_a_file_beyond_the_old_limit_in_bounded_memory(tmp_path):
    """3e8 float32 elements a file (1.2 GB each, over the 2**28 limit of in-memory tensors),
    reduced and saved with --reduction none --output, in bounded anonymous memory."""
    n = 300_000_000  # python -m losscalc alone: ~25 MiB of RssAnon
    for name, fill in (("a.npy", 1.5), ("b.npy", 0.5)):
        m = np.lib.format.open_memmap(tmp_path / name, "w+", np.float32, (n,))
        for i in range(0, n, 1 << 24):
            m[i:i + (1 << 24)] = fill
        m.flush()
        del m
    try:
        out, peak = _peak(["mse", "a.npy", "b.npy", "--format", "json"], tmp_path)
        assert json.loads(out)["value"] == 1.0 and json.loads(out)["elements"] is None
        assert peak < 400, f"{peak:.0f} MiB"
    finally:
        for name in ("a.npy", "b.npy"):
            os.unlink(tmp_path / name)
