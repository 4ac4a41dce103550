"""Several losses in one call (SPEC §11): the same values as one call each, the tensors read
once, options applied to the losses that have them."""

import json

import numpy as np
from click.testing import CliRunner

from losscalc import compute
from losscalc.cli import cli
from losscalc.engine import compute_many


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env)


def test_values_equal_one_call_each(tmp_path, monkeypatch):
    """Bit for bit, at the same chunk size (a sum's rounding depends on how it is cut)."""
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "999")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "p.npy", rng.standard_normal(5000))
    np.save(tmp_path / "y.npy", rng.standard_normal(5000))
    p, y = str(tmp_path / "p.npy"), str(tmp_path / "y.npy")
    r = run("mse,l1,huber", p, y, "--delta", "0.5", "--format", "json")
    assert r.exit_code == 0, r.output
    results = json.loads(r.stdout)["results"]
    expected = [compute("mse", p, y).value, compute("l1", p, y).value, compute("huber", p, y, delta=0.5).value]
    assert [d["loss"] for d in results] == ["mse", "l1", "huber"]
    assert [d["value"] for d in results] == [float(v) for v in expected]
    assert results[2]["options"]["delta"] == 0.5 and "delta" not in results[0]["options"]
    values = run("mse,l1,huber", p, y, "--format", "value").stdout.split()
    assert len(values) == 3


def test_the_tensors_are_read_once(monkeypatch):
    """One load of each tensor argument, and one pass of chunks for all the losses."""
    from losscalc import tensors

    loads = []
    real = tensors.load_tensor
    monkeypatch.setattr(tensors, "load_tensor", lambda text, *a, **k: loads.append(text) or real(text, *a, **k))
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "10")
    results = compute_many(["mse", "l1", "smooth_l1"], "randn(100)", "zeros(100)", seed=1)
    assert loads == ["randn(100)", "zeros(100)"]
    assert len({tuple((c.start, c.stop) for c in r.plan.chunks) for r in results}) == 1
    assert len(results[0].plan) == 10


def test_an_option_none_of_them_has_exits_2():
    r = run("mse,l1", "1", "2", "--beta", "2")
    assert r.exit_code == 2 and "--beta" in r.stderr
    r = run("mse,nll", "1", "2")
    assert r.exit_code == 0 or "class" in r.stderr  # same tensor names: allowed; nll says what is wrong
    r = run("mse,ctc", "1", "2")
    assert r.exit_code == 2 and "different tensors" in r.stderr


def test_completion_after_the_comma():
    env = {"_LOSSCALC_COMPLETE": "bash_complete", "COMP_WORDS": "losscalc mse,hub", "COMP_CWORD": "1"}
    r = CliRunner().invoke(cli, [], env=env, prog_name="losscalc")
    assert "mse,huber" in r.stdout


def test_views_for_each_loss():
    """SPEC §10 with several losses: each loss's top rows and groups, as its own call gives them."""
    args = ["randn(200)", "randn(200)", "--seed", "3", "--top", "2", "--group-by", "randint(0,3,(200,))"]
    many = json.loads(run("mse,l1", *args, "--format", "json").stdout)["results"]
    for doc, loss in zip(many, ("mse", "l1")):
        one = json.loads(run(loss, *args, "--format", "json").stdout)
        assert doc["top"] == one["top"] and doc["groups"] == one["groups"] and doc["summary"] == one["summary"]
    table = run("mse,l1", *args).stdout
    assert "── mse ──" in table and "── l1 ──" in table and "the 2 largest element losses" in table
