"""SPEC §10 through the engine: --top/--bottom, --group-by and the summary, against torch's
reduction='none' (and its reduction='mean' on each group alone) and NumPy, float64 to 1e-10,
whatever the chunk size. The accumulators themselves are tested in tests/views/."""

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc import compute
from losscalc.cli import cli

torch = pytest.importorskip("torch")
F = torch.nn.functional
SIZES = [None, "1", "13", "1000"]


def _run(monkeypatch, size, *args, **kwargs):
    if size is None:
        monkeypatch.delenv("LOSSCALC_CHUNK_ELEMENTS", raising=False)
    else:
        monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute(*args, **kwargs)


@pytest.mark.parametrize("size", SIZES)
def test_top_and_bottom_with_nan_and_ties(monkeypatch, size):
    x = np.round(np.random.default_rng(0).standard_normal((60, 4)), 1)
    x[5, 2] = np.nan
    r = _run(monkeypatch, size, "mse", x, np.zeros((60, 4)), reduction="none", top=6, bottom=6)
    e = F.mse_loss(torch.tensor(x), torch.zeros(60, 4, dtype=torch.float64), reduction="none").numpy().ravel()
    order = np.argsort(np.where(np.isnan(e), -np.inf, -e), kind="stable")  # NaN largest, ties to the lower index
    assert [i for i, _ in r.views["top"]] == order[:6].tolist()
    assert r.views["top"][0][0] == 5 * 4 + 2 and np.isnan(r.views["top"][0][1])
    low = np.argsort(np.where(np.isnan(e), np.inf, e), kind="stable")[:6]
    assert [i for i, _ in r.views["bottom"]] == low.tolist()
    np.testing.assert_allclose([v for _, v in r.views["bottom"]], e[low], rtol=1e-10)


def _groups(r):
    return {g["group"]: g for g in r.views["groups"]}


@pytest.mark.parametrize("size", SIZES)
def test_groups_of_cross_entropy_with_weight_and_ignore_index(monkeypatch, size):
    rng = np.random.default_rng(1)
    for shape in [(50, 4), (6, 4, 3, 5)]:  # (N, C) and the K-dim form
        x = rng.standard_normal(shape)
        y = rng.integers(0, 4, (shape[0], *shape[2:]))
        w = rng.random(4)
        labels = rng.integers(0, 3, y.shape)
        r = _run(monkeypatch, size, "cross_entropy", x, y, weight=w, ignore_index=1, group_by=labels)
        for g, got in _groups(r).items():
            mask = labels == g
            xs = np.moveaxis(x, 1, -1)[mask]  # the items of group g, as (n, C)
            expected = F.cross_entropy(torch.tensor(xs), torch.tensor(y[mask]), weight=torch.tensor(w),
                                       ignore_index=1).item()
            np.testing.assert_allclose(got["value"], expected, rtol=1e-10, equal_nan=True)
            assert got["count"] == mask.sum()


@pytest.mark.parametrize("size", SIZES)
def test_groups_of_nll_ctc_and_mse(monkeypatch, size):
    rng = np.random.default_rng(2)
    lp = np.log(rng.dirichlet(np.ones(5), 40))
    y = rng.integers(0, 5, 40)
    r = _run(monkeypatch, size, "nll", lp, y, group_by="target")
    for g, got in _groups(r).items():
        m = y == g
        np.testing.assert_allclose(got["value"], F.nll_loss(torch.tensor(lp[m]), torch.tensor(y[m])).item(),
                                   rtol=1e-10)
    T, N, C = 12, 8, 4
    logp = torch.randn(T, N, C, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).log_softmax(2)
    tgt = torch.randint(1, C, (N, 4), generator=torch.Generator().manual_seed(1))
    il, tl = torch.full((N,), T), torch.tensor([4, 3, 2, 4, 1, 3, 4, 2])
    labels = np.array([0, 1, 0, 1, 1, 0, 2, 2])
    r = _run(monkeypatch, size, "ctc", logp.numpy(), tgt.numpy(), il.numpy(), tl.numpy(), group_by=labels)
    for g, got in _groups(r).items():
        m = torch.tensor(labels == g)
        expected = F.ctc_loss(logp[:, m], tgt[m], il[m], tl[m]).item()  # its per-length mean
        np.testing.assert_allclose(got["value"], expected, rtol=1e-10)
    x, t = rng.standard_normal((30, 3)), rng.standard_normal((30, 3))
    rows = np.repeat([0, 1, 2], 10)  # one label per row: aligned on the left
    r = _run(monkeypatch, size, "mse", x, t, group_by=rows)
    total = ((x - t) ** 2).sum()
    for g, got in _groups(r).items():
        m = rows == g
        np.testing.assert_allclose(got["value"], F.mse_loss(torch.tensor(x[m]), torch.tensor(t[m])).item(),
                                   rtol=1e-10)
        np.testing.assert_allclose(got["share"], ((x[m] - t[m]) ** 2).sum() / total, rtol=1e-10)


@pytest.mark.parametrize("size", SIZES)
def test_summary_and_histogram(monkeypatch, size):
    e = np.abs(np.random.default_rng(3).standard_normal(5000)) ** 3
    e[:7] = 0
    e[10] = np.nan
    r = _run(monkeypatch, size, "l1", e, np.zeros_like(e), summary=True)
    s, h = r.views["summary"], r.views["histogram"]
    finite = e[np.isfinite(e)]
    assert s["count"] == 5000 and s["nan"] == 1
    np.testing.assert_allclose([s["min"], s["max"], s["mean"], s["std"]],
                               [finite.min(), finite.max(), finite.mean(), finite.std(ddof=1)], rtol=1e-10)
    np.testing.assert_allclose(s["p99"], np.quantile(finite, 0.99), rtol=1e-12)
    assert sum(h["counts"]) + h["zeros"] == finite.size


def test_cli_sections_in_json_csv_and_table():
    args = ["cross_entropy", "randn(40,3)", "randint(0,3,(40,))", "--seed", "4", "--top", "2", "--group-by", "target"]
    doc = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).stdout)
    assert len(doc["top"]) == 2 and {"index", "loss", "terms"} <= set(doc["top"][0])
    assert "logsumexp" in doc["top"][0]["terms"]
    assert sorted(g["group"] for g in doc["groups"]) == [0, 1, 2]
    assert doc["summary"]["count"] == 40 and sum(doc["histogram"]["counts"]) + doc["histogram"]["zeros"] == 40
    csv = CliRunner().invoke(cli, [*args, "--format", "csv"]).stdout.splitlines()
    assert csv[0].startswith("view,index,loss") and len(csv) == 3
    table = CliRunner().invoke(cli, [*args, "--max-rows", "4"]).stdout
    assert "the 2 largest element losses" in table and "3 groups by target" in table and "p99.9" in table


def test_3e7_elements_with_every_view_in_bounded_memory(tmp_path, monkeypatch):
    """Issue 11: a summary (a streaming quantile estimate past 10**7), top and bottom rows and
    groups over 3e7 elements, through the command line, in bounded anonymous memory (sampled
    from outside the process; the mapped input pages are not anonymous)."""
    from tests.engine.test_local import _peak

    monkeypatch.delenv("LOSSCALC_CHUNK_ELEMENTS", raising=False)  # (the default chunk, which the bound is of)
    n = 30_000_000
    x = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.float32, (n,))
    g = np.lib.format.open_memmap(tmp_path / "g.npy", "w+", np.int8, (n,))
    for i in range(0, n, 1 << 22):
        x[i:i + (1 << 22)] = np.random.default_rng(i).standard_normal(min(1 << 22, n - i))
        g[i:i + (1 << 22)] = np.arange(i, min(i + (1 << 22), n)) % 7
    x.flush(), g.flush()
    del x, g
    out, peak = _peak(["l1", "x.npy", "0", "--top", "3", "--bottom", "3", "--group-by", "g.npy",
                       "--format", "json"], tmp_path)
    doc = json.loads(out)
    assert doc["summary"]["count"] == n and doc["summary"]["quantiles_exact"] is False
    assert sum(doc["histogram"]["counts"]) + doc["histogram"]["zeros"] == n
    assert len(doc["top"]) == 3 and len(doc["groups"]) == 7 and sum(grp["count"] for grp in doc["groups"]) == n
    assert peak < 400, f"{peak:.0f} MiB"
