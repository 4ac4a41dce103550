"""Shards (SPEC §9, losscalc/readers/shards.py and tensors.py `_shards`): a quoted glob or a
directory of .npy files is one tensor, the shards concatenated along axis 0 in natural order
(part-2 before part-10). Shards of different lengths give the value of the concatenated
array, also when the chunks straddle shard boundaries; a mismatched shard, an empty glob and
a junk file exit 2, naming what is wrong; JSON `inputs.NAME.source` gives the pattern and the
number of shards."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import losscalc
from losscalc.cli import cli

LENGTHS = (5, 1, 12, 3, 7)  # shards of different lengths: 28 rows in all


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def as_json(*args, env=None) -> dict:
    r = run(*args, "--format", "json", env=env)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def write_shards(folder, arrays, stem="part", suffix=".npy"):
    """Save `arrays` as stem-1, stem-2, ... (natural numbering) in `folder`; the files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, a in enumerate(arrays, 1):
        path = folder / f"{stem}-{i}{suffix}"
        np.save(path, a)
        paths.append(path)
    return paths


def split(whole: np.ndarray, lengths=LENGTHS) -> list[np.ndarray]:
    return np.split(whole, np.cumsum(lengths)[:-1])


@pytest.fixture
def regression(tmp_path):
    """Predictions and targets of 28 rows, each written as shards of different lengths."""
    rng = np.random.default_rng(9)
    pred, target = rng.normal(size=(sum(LENGTHS), 3)), rng.normal(size=(sum(LENGTHS), 3))
    write_shards(tmp_path / "pred", split(pred))
    write_shards(tmp_path / "target", split(target))
    return pred, target


@pytest.fixture
def logits(tmp_path):
    """Logits (28, 4) and their labels, as shards of different lengths."""
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(sum(LENGTHS), 4)), rng.integers(0, 4, size=sum(LENGTHS))
    write_shards(tmp_path / "logits", split(x))
    write_shards(tmp_path / "labels", split(y))
    return x, y


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_shards_of_different_lengths_are_the_concatenated_array(tmp_path, regression, reduction):
    pred, target = regression
    whole = losscalc.compute("mse", pred, target, reduction=reduction).value
    got = as_json("mse", tmp_path / "pred" / "part-*.npy", tmp_path / "target" / "part-*.npy",
                  "--reduction", reduction)
    assert got["value"] == pytest.approx(float(whole), rel=1e-12, abs=0)
    assert got["inputs"]["input"]["shape"] == [sum(LENGTHS), 3]
    # the library face reads the same glob
    lib = losscalc.compute("mse", str(tmp_path / "pred" / "part-*.npy"),
                           str(tmp_path / "target" / "part-*.npy"), reduction=reduction).value
    assert float(lib) == pytest.approx(float(whole), rel=1e-12, abs=0)


def test_sharded_logits_match_the_concatenated_array(tmp_path, logits):
    x, y = logits
    whole = losscalc.compute("cross_entropy", np.concatenate(split(x)), np.concatenate(split(y))).value
    got = as_json("cross_entropy", tmp_path / "logits" / "part-*.npy", tmp_path / "labels" / "part-*.npy")
    assert got["value"] == pytest.approx(float(whole), rel=1e-12, abs=0)


def test_shards_agree_with_torch_on_the_concatenated_array(tmp_path, regression, logits):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    pred, target = regression
    got = as_json("mse", tmp_path / "pred" / "part-*.npy", tmp_path / "target" / "part-*.npy")
    expected = F.mse_loss(torch.from_numpy(pred), torch.from_numpy(target)).item()
    assert got["value"] == pytest.approx(expected, rel=1e-12, abs=0)
    x, y = logits
    got = as_json("cross_entropy", tmp_path / "logits" / "part-*.npy", tmp_path / "labels" / "part-*.npy")
    expected = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(y)).item()
    assert got["value"] == pytest.approx(expected, rel=1e-12, abs=0)


def natural_order_files(folder):
    """part-1 (1 row), part-2 (2 rows), part-10 (3 rows), each with its own values, written in
    an order that is neither natural nor lexicographic (lexicographic puts part-10 second)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {10: np.array([100.0, 101.0, 102.0]), 1: np.array([1.0]), 2: np.array([20.0, 21.0])}
    for n, a in arrays.items():
        np.save(folder / f"part-{n}.npy", a)
    return np.concatenate([arrays[1], arrays[2], arrays[10]])


def test_natural_order_reduction_none(tmp_path):
    expected = natural_order_files(tmp_path / "s")
    got = as_json("mse", tmp_path / "s" / "part-*.npy", ",".join(["0"] * 6), "--reduction", "none")
    assert got["elements"] == (expected ** 2).tolist()  # part-1, part-2, part-10: not part-1, part-10, part-2
    assert got["inputs"]["input"]["source"].endswith("(3 shards)")


def test_natural_order_matters_against_a_target(tmp_path):
    """With a target in natural order the loss is zero; in lexicographic order it would not be."""
    expected = natural_order_files(tmp_path / "s")
    np.save(tmp_path / "target.npy", expected)
    got = as_json("l1", tmp_path / "s" / "part-*.npy", tmp_path / "target.npy", "--reduction", "sum")
    assert got["value"] == 0.0


def test_a_directory_of_shards(tmp_path, regression):
    pred, target = regression
    (tmp_path / "pred" / "notes.txt").write_text("not a shard: only .npy files are members\n")
    got = as_json("mse", tmp_path / "pred", tmp_path / "target", "--reduction", "none")
    assert np.array_equal(np.array(got["elements"]), (pred - target) ** 2)
    source = got["inputs"]["input"]["source"]
    assert str(tmp_path / "pred") in source and f"({len(LENGTHS)} shards)" in source


def test_a_directory_in_natural_order(tmp_path):
    expected = natural_order_files(tmp_path / "d")
    got = as_json("mse", tmp_path / "d", "0,0,0,0,0,0", "--reduction", "none")
    assert got["elements"] == (expected ** 2).tolist()


def test_a_glob_of_npz_files_with_a_key(tmp_path, regression):
    pred, target = regression
    folder = tmp_path / "npz"
    folder.mkdir()
    for i, (p, t) in enumerate(zip(split(pred), split(target)), 1):
        np.savez(folder / f"batch-{i}.npz", pred=p, target=t)
    got = as_json("mse", f"{folder}/batch-*.npz:pred", f"{folder}/batch-*.npz:target", "--reduction", "sum")
    assert got["value"] == pytest.approx(float(np.sum((pred - target) ** 2)), rel=1e-12, abs=0)
    source = got["inputs"]["target"]["source"]
    assert "batch-*.npz:target" in source and f"({len(LENGTHS)} shards)" in source


def test_json_source_gives_the_pattern_and_the_number_of_shards(tmp_path, regression):
    pattern = str(tmp_path / "pred" / "part-*.npy")
    got = as_json("mse", pattern, tmp_path / "target" / "part-*.npy")
    assert got["inputs"]["input"]["source"] == f"{pattern} ({len(LENGTHS)} shards)"


def test_one_shard_is_said_in_the_singular(tmp_path):
    np.save(tmp_path / "only-1.npy", np.arange(3.0))
    got = as_json("mse", tmp_path / "only-*.npy", "0,0,0")
    assert got["inputs"]["input"]["source"] == f"{tmp_path / 'only-*.npy'} (1 shard)"


@pytest.mark.parametrize("bad, words", [
    (np.zeros((2, 4)), ["shape", "every axis but the first"]),   # trailing shape (2, 4) against (n, 3)
    (np.zeros((2, 3), np.float32), ["dtype", "float32"]),         # float32 among float64
])
def test_a_mismatched_shard_exits_2_naming_it(tmp_path, regression, bad, words):
    np.save(tmp_path / "pred" / "part-7.npy", bad)
    r = run("mse", tmp_path / "pred" / "part-*.npy", "0")
    assert r.exit_code == 2
    assert "part-7.npy" in r.stderr
    for word in words:
        assert word in r.stderr
    assert r.stdout == ""


def test_a_mismatched_shard_in_a_directory_exits_2_naming_it(tmp_path, regression):
    np.save(tmp_path / "pred" / "part-2b.npy", np.zeros((1, 5)))
    r = run("mse", tmp_path / "pred", "0")
    assert r.exit_code == 2 and "part-2b.npy" in r.stderr


def test_an_empty_glob_exits_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short pattern: a long one is shortened in the message
    r = run("mse", "nothing-*.npy", "0")
    assert r.exit_code == 2
    assert "matches no files" in r.stderr and "nothing-*.npy" in r.stderr
    assert r.stdout == ""


def test_a_directory_without_npy_files_exits_2(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run("mse", tmp_path / "empty", "0")
    assert r.exit_code == 2 and "directory" in r.stderr


def test_a_junk_file_among_the_shards_exits_2_naming_it(tmp_path, regression):
    (tmp_path / "pred" / "part-3.npy").write_bytes(b"this is not a .npy file at all\n")
    for where in (tmp_path / "pred" / "part-*.npy", tmp_path / "pred"):
        r = run("mse", where, tmp_path / "target" / "part-*.npy")
        assert r.exit_code == 2, r.output
        assert "part-3.npy" in r.stderr and "not a valid .npy" in r.stderr
        assert "Traceback" not in r.output


def test_a_truncated_shard_exits_2_naming_it(tmp_path, regression):
    path = tmp_path / "pred" / "part-4.npy"
    path.write_bytes(path.read_bytes()[:-8])  # a header promising more data than the file holds
    r = run("mse", tmp_path / "pred" / "part-*.npy", tmp_path / "target" / "part-*.npy")
    assert r.exit_code == 2, r.output
    assert "part-4.npy" in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize("chunk", ["3", "5", "7"])
def test_chunks_straddling_shard_boundaries_do_not_change_the_value(tmp_path, regression, logits, chunk):
    """Chunks of 3, 5 or 7 elements (one or two rows) cut across the shards' boundaries."""
    pred, target = regression
    x, y = logits
    env = {"LOSSCALC_CHUNK_ELEMENTS": chunk}
    for reduction in ("mean", "sum"):
        got = as_json("mse", tmp_path / "pred" / "part-*.npy", tmp_path / "target" / "part-*.npy",
                      "--reduction", reduction, env=env)
        whole = losscalc.compute("mse", pred, target, reduction=reduction).value
        assert got["value"] == pytest.approx(float(whole), rel=1e-12, abs=0)
    got = as_json("mse", tmp_path / "pred", tmp_path / "target", "--reduction", "none", env=env)
    assert np.array_equal(np.array(got["elements"]), (pred - target) ** 2)
    got = as_json("cross_entropy", tmp_path / "logits" / "part-*.npy", tmp_path / "labels" / "part-*.npy",
                  env=env)
    whole = losscalc.compute("cross_entropy", x, y).value
    assert got["value"] == pytest.approx(float(whole), rel=1e-12, abs=0)
    # 1-D shards: a chunk of 3 elements is 3 items, so chunks start inside shards (5 = 3 + 2)
    flat = pred[:, 0].copy()
    write_shards(tmp_path / "flat", split(flat))
    for reduction in ("mean", "sum"):
        got = as_json("huber", tmp_path / "flat" / "part-*.npy", "0.25", "--reduction", reduction,
                      "--delta", "0.5", env=env)
        whole = losscalc.compute("huber", flat, np.full_like(flat, 0.25), reduction=reduction, delta=0.5).value
        assert got["value"] == pytest.approx(float(whole), rel=1e-12, abs=0)


def test_library_compute_with_small_chunks_over_shards(tmp_path, regression, monkeypatch):
    pred, target = regression
    expected = float(losscalc.compute("mse", pred, target).value)
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "3")
    got = losscalc.compute("mse", str(tmp_path / "pred"), str(tmp_path / "target" / "part-*.npy"), threads=2)
    assert float(got.value) == pytest.approx(expected, rel=1e-12, abs=0)
    assert len(got.plan) > len(LENGTHS)  # many chunks, cut across the shards


def test_the_broadcast_warning_names_the_whole_sharded_tensor(tmp_path, regression):
    pattern = tmp_path / "pred" / "part-*.npy"
    whole = run("mse", pattern, "0", "--format", "value")
    assert whole.exit_code == 0 and "input (28, 3)" in whole.stderr  # one chunk: the whole tensor
    chunked = run("mse", pattern, "0", "--format", "value", env={"LOSSCALC_CHUNK_ELEMENTS": "3"})
    assert chunked.exit_code == 0
    assert float(chunked.stdout) == pytest.approx(float(whole.stdout), rel=1e-12, abs=0)
    assert "input (28, 3)" in chunked.stderr, chunked.stderr
