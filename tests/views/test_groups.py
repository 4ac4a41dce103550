"""views/groups.py: --group-by against a NumPy group-by and against torch's reduction='mean' on
each group alone (cross_entropy with weights and ignore_index, nll, mse, ctc), whatever the
chunk split and the merge order."""

import math

import numpy as np
import pytest

from losscalc.errors import LossError
from losscalc.views import Groups
from tests.views.streaming import copy, fold, splits


def feed_groups(labels, elements, num, den, chunks, how="left"):
    parts = []
    for s, e in chunks:
        g = Groups()
        g.add(labels[s:e], elements[s:e], num[s:e], den[s:e])
        parts.append(g)
    return fold([copy(p) for p in parts], how)


def test_groups_against_a_numpy_groupby():
    rng = np.random.default_rng(1)
    n = 500
    labels = rng.integers(0, 7, n)
    x = rng.standard_normal(n) ** 2
    w = rng.random(n)
    for reduction in ("mean", "sum", "none"):
        for chunks in splits(n):
            for how in ("left", "tree"):
                got = feed_groups(labels, x, w * x, w, chunks, how).finish(reduction)
                by = {r["group"]: r for r in got}
                assert sorted(by) == sorted(set(labels.tolist()))
                for g in set(labels.tolist()):
                    m = labels == g
                    want = {"mean": (w * x)[m].sum() / w[m].sum(), "sum": x[m].sum(), "none": x[m].mean()}[reduction]
                    assert by[g]["count"] == m.sum()
                    assert by[g]["value"] == pytest.approx(want, rel=1e-12)
                    assert by[g]["sum"] == pytest.approx(x[m].sum(), rel=1e-12)
                    assert by[g]["share"] == pytest.approx(x[m].sum() / x.sum(), rel=1e-12)
                values = [r["value"] for r in got]
                assert values == sorted(values, reverse=True)


def test_groups_float_labels_nan_group_and_order():
    labels = np.array([0.5, np.nan, -0.0, 0.0, np.nan, 0.5, 2.0])
    x = np.array([1.0, 5.0, 2.0, 2.0, 1.0, np.nan, 2.0])
    g = Groups()
    g.add(labels[:3], x[:3], x[:3], np.ones(3))
    g.add(labels[3:], x[3:], x[3:], np.ones(4))
    got = g.finish("mean")
    assert [r["group"] for r in got][:1] == [0.5]  # a NaN value sorts first
    assert math.isnan(got[0]["value"])
    rest = [(r["group"], r["count"], r["value"]) for r in got[1:]]
    assert rest[0][1:] == (2, 3.0) and math.isnan(rest[0][0])  # NaN labels: one group
    assert rest[1:] == [(0.0, 2, 2.0), (2.0, 1, 2.0)]  # equal values: lower group first


def test_groups_refuse_too_many():
    g = Groups(max_groups=10)
    with pytest.raises(LossError, match="more than 10 distinct groups"):
        g.add(np.arange(11), np.ones(11), np.ones(11), np.ones(11))
    g = Groups(max_groups=10)
    g.add(np.arange(6), np.ones(6), np.ones(6), np.ones(6))
    with pytest.raises(LossError):
        g.add(np.arange(6, 12), np.ones(6), np.ones(6), np.ones(6))


@pytest.mark.parametrize("kdim", [False, True])
def test_groups_cross_entropy_weight_ignore_index_against_torch(kdim):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    N, C, D = (40, 5, 6) if kdim else (300, 5, None)
    x = torch.from_numpy(rng.standard_normal((N, C, D) if kdim else (N, C)))
    y = torch.from_numpy(rng.integers(0, C, (N, D) if kdim else (N,)))
    y[torch.from_numpy(rng.random(tuple(y.shape)) < 0.2)] = -100  # ignored
    w = torch.from_numpy(rng.random(C) + 0.1)
    elements = F.cross_entropy(x, y, weight=w, ignore_index=-100, reduction="none")
    kept = y != -100
    wy = torch.where(kept, w[y.clamp(min=0)], torch.zeros((), dtype=w.dtype))
    num, den = elements.numpy().ravel(), wy.numpy().ravel()  # elements are already w[y]·l
    slices = rng.integers(0, 3, N)  # a per-sample slice label, broadcast to the elements
    for labels_t in (y, torch.from_numpy(np.broadcast_to(slices[:, None], (N, D)).copy() if kdim else slices)):
        labels = labels_t.numpy().ravel()
        # what torch gives on each group alone
        want = {}
        for g in np.unique(labels).tolist():
            m = torch.from_numpy(labels == g)
            if kdim:  # a group of the K-dim form: its items as (M, C) rows
                xs = x.permute(0, 2, 1).reshape(-1, C)[m]
            else:
                xs = x[m]
            want[g] = float(F.cross_entropy(xs, y.reshape(-1)[m], weight=w, ignore_index=-100, reduction="mean"))
        for chunks in splits(labels.size, sizes=(1, 17, 10**9)):
            got = {r["group"]: r for r in feed_groups(labels, num, num, den, chunks, "tree").finish("mean")}
            for g, v in want.items():
                if math.isnan(v):  # every item of the group ignored: torch's nan, as here
                    assert math.isnan(got[g]["value"])
                else:
                    assert got[g]["value"] == pytest.approx(v, rel=1e-10, abs=1e-12)


def test_groups_nll_mse_ctc_against_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    # nll with a weight
    lp = torch.log_softmax(torch.from_numpy(rng.standard_normal((200, 4))), 1)
    y = torch.from_numpy(rng.integers(0, 4, 200))
    w = torch.from_numpy(rng.random(4) + 0.5)
    el = F.nll_loss(lp, y, weight=w, reduction="none").numpy()
    g = Groups()
    g.add(y.numpy(), el, el, w[y].numpy())
    for r in g.finish("mean"):
        m = y == r["group"]
        assert r["value"] == pytest.approx(float(F.nll_loss(lp[m], y[m], weight=w)), rel=1e-10)
    # mse, a plain mean
    a, b = (torch.from_numpy(rng.standard_normal(300)) for _ in range(2))
    labels = rng.integers(0, 5, 300)
    el = F.mse_loss(a, b, reduction="none").numpy()
    g = Groups()
    for s in range(0, 300, 64):
        g.add(labels[s : s + 64], el[s : s + 64], el[s : s + 64], np.ones(el[s : s + 64].size))
    for r in g.finish("mean"):
        m = torch.from_numpy(labels == r["group"])
        assert r["value"] == pytest.approx(float(F.mse_loss(a[m], b[m])), rel=1e-10)
    # ctc: the mean of l / clamp(target_length, 1)
    T, N, C, S = 12, 30, 5, 4
    log_probs = torch.log_softmax(torch.from_numpy(rng.standard_normal((T, N, C))), 2)
    targets = torch.from_numpy(rng.integers(1, C, (N, S)))
    il = torch.from_numpy(rng.integers(8, T + 1, N))
    tl = torch.from_numpy(rng.integers(0, S + 1, N))
    el = F.ctc_loss(log_probs, targets, il, tl, reduction="none").numpy()
    labels = tl.numpy()  # group by target length
    g = Groups()
    g.add(labels, el, el / np.maximum(labels, 1), np.ones(N))
    for r in g.finish("mean"):
        m = tl == r["group"]
        want = F.ctc_loss(log_probs[:, m], targets[m], il[m], tl[m], reduction="mean")
        assert r["value"] == pytest.approx(float(want), rel=1e-10)
