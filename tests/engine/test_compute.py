"""engine/__init__.py `compute` over chunks: gradients summed chunk by chunk, an error or a
warning naming the index in the whole input (not in its chunk), the elements in JSON bounded
by --max-elements while --output streams them all."""

import json
import os

import numpy as np
from click.testing import CliRunner

from losscalc import compute
from losscalc.cli import cli


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


def test_a_mean_lets_each_chunk_go_and_still_counts_its_nan(monkeypatch):
    """A mean with no sink and no view takes its chunks slim (partials only, engine/local.py);
    a chunk whose sum is not finite has its arrays read again for the NaN count."""
    import warnings

    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "10")
    x, y = np.arange(100.0), np.zeros(100)
    x[[37, 38]], x[91] = np.nan, np.inf
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = compute("mse", x, y, threads=2)
    assert len(r.plan) == 10 and np.isnan(r.value)
    assert any("2 NaN and 1 infinite" in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert r.elements[37] != r.elements[37] and r.elements[5] == 25.0  # made on demand, in full
