"""The streaming views (losscalc/views): top/bottom K, groups, summary and histogram, drawing.

Oracles: torch 2.13 (`torch.topk`, `reduction='mean'` on each group alone, `torch.quantile`)
and NumPy. Every view is fed under several chunk splits and merged under several groupings.
"""

import io
import math
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from losscalc.errors import LossError
from losscalc.views import Groups, QuantileSketch, Summary, TopK
from losscalc.views import draw
from losscalc.views.summary import QUANTILES, SKETCH_K


def splits(n, sizes=(1, 3, 7, 64, 10**9)):
    """For each chunk size, the (start, stop) pairs covering range(n)."""
    for size in sizes:
        yield [(s, min(s + size, n)) for s in range(0, max(n, 1), size)]


def fold(parts, how):
    """Merge a list of accumulators: left fold, right fold, or a balanced tree."""
    if how == "left":
        acc = parts[0]
        for p in parts[1:]:
            acc = acc.merge(p)
        return acc
    if how == "right":
        acc = parts[-1]
        for p in reversed(parts[:-1]):
            acc = p.merge(acc)
        return acc
    while len(parts) > 1:
        parts = [parts[i].merge(parts[i + 1]) if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
    return parts[0]


def copy(acc):
    return pickle.loads(pickle.dumps(acc))


# --- top / bottom -------------------------------------------------------------------------


def tricky(n=300, seed=0):
    """Few distinct values (many exact ties), NaN, ±inf and both zeros."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, n).astype(np.float64)
    x[rng.random(n) < 0.1] = np.nan
    x[rng.random(n) < 0.05] = np.inf
    x[rng.random(n) < 0.05] = -np.inf
    x[rng.random(n) < 0.05] = -0.0
    return x


def reference_top(x, k, largest):
    """Stable order: NaN largest, ties to the lower index."""
    nan = np.isnan(x)
    v = np.where(nan, 0.0, x)
    order = np.lexsort((np.arange(x.size), -v, ~nan)) if largest else np.lexsort((np.arange(x.size), v, nan))
    return order[:k]


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [0, 1, 5, 40, 299, 300, 400])
def test_top_matches_torch_and_stable_order_whatever_the_split(k, largest):
    torch = pytest.importorskip("torch")
    x = tricky()
    expected = reference_top(x, k, largest)
    kk = min(k, x.size)
    tv = torch.topk(torch.from_numpy(x), kk, largest=largest).values.numpy()
    results = set()
    for chunks in splits(x.size):
        parts = []
        for s, e in chunks:
            t = TopK(k, largest)
            t.add(s, x[s:e])
            parts.append(t)
        streamed = TopK(k, largest)
        for s, e in chunks:
            streamed.add(s, x[s:e])
        for how in ("left", "right", "tree"):
            got = fold([copy(p) for p in parts], how).finish()
            assert [i for i, _ in got] == expected.tolist()
            values = np.array([v for _, v in got])
            np.testing.assert_array_equal(values, tv)  # same values as torch.topk, NaN included
            np.testing.assert_array_equal(np.signbit(values), np.signbit(x[expected]))
            results.add(repr(got))
        assert repr(streamed.finish()) in results
    assert len(results) == 1


def test_bottom_takes_nan_only_when_too_few_numbers():
    torch = pytest.importorskip("torch")
    x = np.array([np.nan, 2.0, np.nan, 1.0, 1.0])
    t = TopK(4, largest=False)
    t.add(0, x[:2])
    t.add(2, x[2:])
    assert [i for i, _ in t.finish()] == [3, 4, 1, 0]
    tv = torch.topk(torch.from_numpy(x), 4, largest=False).values.numpy()
    np.testing.assert_array_equal([v for _, v in t.finish()], tv)
    top = TopK(3)
    top.add(10, x)
    assert [i for i, _ in top.finish()] == [10, 12, 11]


def test_top_start_offsets_and_large_chunks():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(200_000)
    x[[5, 150_000]] = 9.0  # an exact tie, across chunks
    t = TopK(10)
    for s in range(0, x.size, 65_536):
        t.add(s, x[s : s + 65_536])
    got = t.finish()
    assert [i for i, _ in got] == reference_top(x, 10, True).tolist()
    assert got[0] == (5, 9.0) and got[1] == (150_000, 9.0)


# --- groups -------------------------------------------------------------------------------


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


# --- summary and histogram ---------------------------------------------------------------


def feed_summary(x, chunks, how="left", **kw):
    parts = []
    for s, e in chunks:
        acc = Summary(**kw)
        acc.add(x[s:e])
        parts.append(acc)
    return fold([copy(p) for p in parts], how).finish()


def check_histogram(h, finite):
    assert sum(h["counts"]) + h["zeros"] == finite.size
    assert len(h["edges"]) == len(h["counts"]) + 1
    edges = np.array(h["edges"])
    assert (np.diff(edges) > 0).all()
    inside = finite[finite > 0] if h["scale"] == "log" else finite
    if h["scale"] == "log":
        assert h["zeros"] == np.count_nonzero(finite == 0)
    assert edges[0] <= inside.min() and inside.max() < edges[-1]
    if np.isfinite(edges[-1]) and inside.size <= 10**6:
        np.testing.assert_array_equal(np.histogram(inside, bins=edges)[0], h["counts"])


@pytest.mark.parametrize(
    "name",
    ["normal", "lognormal_zeros_nan_inf", "constant", "tiny_range", "empty", "all_nan"],
)
def test_summary_against_numpy_whatever_the_split(name):
    rng = np.random.default_rng(5)
    x = {
        "normal": lambda: rng.standard_normal(1000) * 3 + 1,
        "lognormal_zeros_nan_inf": lambda: np.concatenate([rng.lognormal(0, 3, 997), [0.0, np.nan, np.inf, -0.0]]),
        "constant": lambda: np.full(50, 2.5),
        "tiny_range": lambda: 1000 + rng.random(300) * 1e-9,
        "empty": lambda: np.zeros(0),
        "all_nan": lambda: np.full(5, np.nan),
    }[name]()
    finite = x[np.isfinite(x)]
    outs = []
    for chunks in splits(x.size, sizes=(1, 13, 10**9)):
        for how in ("left", "right", "tree"):
            out = feed_summary(x, chunks, how)
            s = out["summary"]
            assert s["count"] == x.size and s["nan"] == np.isnan(x).sum()
            assert s["posinf"] == (x == np.inf).sum() and s["neginf"] == (x == -np.inf).sum()
            assert s["quantiles_exact"] and s["rank_error"] == 0
            if finite.size:
                assert (s["min"], s["max"]) == (finite.min(), finite.max())
                assert s["mean"] == pytest.approx(finite.mean(), rel=1e-12)
                qs = np.quantile(finite, [p for _, p in QUANTILES])
                assert [s[k] for k, _ in QUANTILES] == qs.tolist()  # exact, bit for bit
                if finite.size > 1:
                    # streaming loses what float64 cannot hold of x - mean: a few ulps of the mean
                    slack = 8 * np.spacing(abs(finite.mean()))
                    assert s["std"] == pytest.approx(finite.std(ddof=1), rel=1e-9, abs=slack)
                check_histogram(out["histogram"], finite)
            else:
                assert all(math.isnan(s[k]) for k in ("min", "max", "mean", "std", "p50"))
                assert out["histogram"]["counts"] == []
            outs.append(out)
    exact = lambda o: (o["histogram"], {k: v for k, v in o["summary"].items() if k not in ("mean", "std")})  # noqa: E731
    assert all(repr(exact(o)) == repr(exact(outs[0])) for o in outs)


def test_summary_quantiles_match_torch_quantile():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).standard_normal(5000)
    acc = Summary()
    acc.add(x)
    s = acc.finish()["summary"]
    want = torch.quantile(torch.from_numpy(x), torch.tensor([p for _, p in QUANTILES], dtype=torch.float64))
    np.testing.assert_allclose([s[k] for k, _ in QUANTILES], want.numpy(), rtol=1e-12)
    assert s["std"] == pytest.approx(float(torch.from_numpy(x).std()), rel=1e-12)


def test_histogram_scales():
    def hist(x):
        acc = Summary()
        acc.add(np.asarray(x, dtype=float))
        return acc.finish()["histogram"]

    h = hist([0.0, 0.0, 0.01, 0.5, 1.0, 3.0])  # >= 0, spans 300x: log, zeros apart
    assert h["scale"] == "log" and h["zeros"] == 2 and sum(h["counts"]) == 4
    assert hist([0.01, 0.5, 0.99])["scale"] == "linear"  # 99x: linear
    h = hist([-1.0, 0.0, 1e6])
    assert h["scale"] == "linear" and h["zeros"] == 0 and sum(h["counts"]) == 3
    assert len(h["counts"]) <= 20


def test_exact_limit_switch_is_seamless_for_the_exact_parts():
    rng = np.random.default_rng(7)
    x = rng.gamma(2.0, size=20_000)
    full = feed_summary(x, [(0, x.size)])
    chunks = [(0, 12_000)] + [(s, min(s + 999, x.size)) for s in range(12_000, x.size, 999)]  # one past the limit
    for how in ("left", "right", "tree"):  # exact partials into a sketch and the other way
        small = feed_summary(x, chunks, how, exact_limit=5_000, sketch_k=256)
        assert small["histogram"] == full["histogram"]
        assert not small["summary"]["quantiles_exact"] and full["summary"]["quantiles_exact"]
        for key in ("count", "min", "max"):
            assert small["summary"][key] == full["summary"][key]
        assert small["summary"]["mean"] == pytest.approx(full["summary"]["mean"], rel=1e-12)
        xs = np.sort(x)
        for key, p in QUANTILES:
            r = p * (x.size - 1)
            lo = xs[max(0, math.floor(r - small["summary"]["rank_error"]))]
            hi = xs[min(x.size - 1, math.floor(r + small["summary"]["rank_error"]))]
            assert lo <= small["summary"][key] <= hi


def rank_error(x, value, r):
    """How far the 0-based rank r is from the ranks [#{x < v}, #{x <= v} - 1] that the value
    v holds in the data x (0 when inside)."""
    lo = int(np.count_nonzero(x < value))
    hi = int(np.count_nonzero(x <= value)) - 1
    return 0.0 if lo <= r <= hi else min(abs(r - lo), abs(r - hi))


def test_sketch_rank_error_within_its_bound_small_k():
    """Many merges in a tree with a small k: the reported bound holds, and the worst case."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal(200_000)
    parts = []
    for s in range(0, x.size, 3_000):
        q = QuantileSketch(k=512)
        q.add(x[s : s + 3_000])
        parts.append(q)
    q = fold(parts, "tree")
    n = x.size
    assert 0 < q.error <= n * (math.floor(math.log2(n / 512)) + 1) / 512
    for p in (0.0, 0.001, 0.01, 0.5, 0.9, 0.999, 1.0):
        (v,) = q.quantiles([p])
        assert rank_error(x, v, p * (n - 1)) <= q.error


N_BIG = 30_000_000


@pytest.mark.parametrize("dist", ["normal", "sorted_uniform", "few_values"])  # lognormal: below
def test_streaming_quantiles_on_3e7_elements(dist):
    rng = np.random.default_rng(9)
    x = {
        "normal": lambda: rng.standard_normal(N_BIG),
        "sorted_uniform": lambda: np.cumsum(rng.random(N_BIG)),  # ascending: a sketch's worst order
        "few_values": lambda: rng.integers(0, 50, N_BIG).astype(np.float64),
    }[dist]()
    acc = Summary()
    for s in range(0, N_BIG, 1_000_000):
        acc.add(x[s : s + 1_000_000])
    out = acc.finish()
    s = out["summary"]
    assert not s["quantiles_exact"]
    bound = N_BIG * (math.floor(math.log2(N_BIG / SKETCH_K)) + 1) / SKETCH_K  # the documented one
    assert 0 < s["rank_error"] <= bound <= 0.0005 * N_BIG
    worst = max(rank_error(x, s[k], p * (N_BIG - 1)) for k, p in QUANTILES)
    assert worst <= s["rank_error"]
    # measured (seed 9): worst rank error ~2e2 of 3e7 (7e-6), bound reported 1234 (4e-5)
    check_histogram(out["histogram"], x)


MEMORY_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from losscalc.views import Groups, Summary, TopK

    def rss_anon():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024

    rng = np.random.default_rng(0)
    summary, top, bottom, groups = Summary(), TopK(100), TopK(100, largest=False), Groups()
    before = peak = rss_anon()
    n, chunk = 30_000_000, 1_000_000
    for s in range(0, n, chunk):
        x = rng.standard_normal(chunk)
        np.exp(2 * x, out=x)  # lognormal, heavy-tailed
        summary.add(x)
        top.add(s, x)
        bottom.add(s, x)
        labels = (np.arange(s, s + chunk) % 1000)
        groups.add(labels, x, x, np.ones(chunk))
        peak = max(peak, rss_anon())
    out = summary.finish(), top.finish(), bottom.finish(), groups.finish("mean")
    peak = max(peak, rss_anon())
    s = out[0]["summary"]
    assert not s["quantiles_exact"] and 0 < s["rank_error"] <= 0.0005 * n
    assert sum(out[0]["histogram"]["counts"]) + out[0]["histogram"]["zeros"] == n
    print((peak - before) / 2**20)
    """
)


def test_memory_bounded_on_3e7_elements():
    proc = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, check=True)
    grown_mib = float(proc.stdout.strip().splitlines()[-1])  # measured: ~100 MiB
    assert grown_mib < 300, f"RssAnon grew by {grown_mib:.0f} MiB"


def test_accumulators_pickle_midstream():
    x = tricky(1000, seed=11)
    accs = [TopK(7), TopK(7, largest=False), Summary(), Groups()]
    labels = np.arange(1000) % 4
    finite = np.where(np.isfinite(x), x, 0.0)

    def feed(acc, s, e):
        if isinstance(acc, TopK):
            acc.add(s, x[s:e])
        elif isinstance(acc, Summary):
            acc.add(x[s:e])
        else:
            acc.add(labels[s:e], finite[s:e], finite[s:e], np.ones(e - s))

    for acc in accs:
        feed(acc, 0, 500)
        resumed = copy(acc)
        feed(acc, 500, 1000)
        feed(resumed, 500, 1000)
        a = acc.finish("mean") if isinstance(acc, Groups) else acc.finish()
        b = resumed.finish("mean") if isinstance(resumed, Groups) else resumed.finish()
        assert repr(a) == repr(b)


# --- drawing ------------------------------------------------------------------------------


def render(renderable, width):
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, markup=False, highlight=False, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def drawing_case():
    """A small fixed case: 36 log-spaced losses, two zeros, a NaN and an inf, in 7 slices."""
    x = np.concatenate([[0.0, 0.0, np.nan, np.inf], np.geomspace(0.001, 50, 36)])
    summary = Summary()
    summary.add(x[:17])
    summary.add(x[17:])
    out = summary.finish()
    top = TopK(3)
    top.add(0, x)

    def terms(i):
        return {
            "target": i % 5,
            "logit[y]": float(-x[i] * 1.234567891),
            "logsumexp": float(np.log1p(i * 3.3)),
            "path": "_×5 1×3 _ 3×2 4×7 _×2 5×3 6",
        }

    groups = Groups()
    finite = np.where(np.isfinite(x), x, 0.0)
    groups.add(np.arange(x.size) % 7, finite, finite, np.ones(x.size))
    return [
        draw.summary_table(out["summary"]),
        draw.HistogramView(out["histogram"], out["summary"]),
        draw.top_section(top.finish(), terms=terms, index_text=lambda i: f"{i // 8},{i % 8}"),
        draw.groups_section(groups.finish("mean"), limit=4, by="slice"),
    ]


def render_case(width):
    return "".join(render(r, width) for r in drawing_case())


EXPECTED = {  # the exact text at each width
    60: (
        'summary of the element losses\n'
        '┏━━━━━━━━━━━┳━━━━━━━━━┓\n'
        '┃ statistic ┃   value ┃\n'
        '┡━━━━━━━━━━━╇━━━━━━━━━┩\n'
        '│ count     │      40 │\n'
        '│ NaN       │       1 │\n'
        '│ +inf      │       1 │\n'
        '│ -inf      │       0 │\n'
        '│ min       │       0 │\n'
        '│ max       │      50 │\n'
        '│ mean      │   4.948 │\n'
        '│ std       │ 11.0174 │\n'
        '│ p1        │       0 │\n'
        '│ p50       │ 0.16611 │\n'
        '│ p90       │ 16.0971 │\n'
        '│ p99       │ 45.0805 │\n'
        '│ p99.9     │  49.508 │\n'
        '└───────────┴─────────┘\n'
        'histogram of the losses: 16 log bins [lo, hi)\n'
        '0.000977 – 0.00195  █████████████████████████████████████  3\n'
        ' 0.00195 – 0.00391  ████████████████████████▋              2\n'
        ' 0.00391 – 0.00781  ████████████████████████▋              2\n'
        ' 0.00781 –  0.0156  ████████████████████████▋              2\n'
        '  0.0156 –  0.0312  █████████████████████████████████████  3\n'
        '  0.0312 –  0.0625  ████████████████████████▋              2\n'
        '  0.0625 –   0.125  ████████████████████████▋              2\n'
        '   0.125 –    0.25  ████████████████████████▋              2\n'
        '    0.25 –     0.5  █████████████████████████████████████  3\n'
        '     0.5 –       1  ████████████████████████▋              2\n'
        '       1 –       2  ████████████████████████▋              2\n'
        '       2 –       4  ████████████████████████▋              2\n'
        '       4 –       8  █████████████████████████████████████  3\n'
        '       8 –      16  ████████████████████████▋              2\n'
        '      16 –      32  ████████████████████████▋              2\n'
        '      32 –      64  ████████████████████████▋              2\n'
        '             zeros  ████████████████████████▋              2\n'
        '               NaN  ████████████▍                          1\n'
        '              +inf  ████████████▍                          1\n'
        'the 3 largest element losses\n'
        '┏━━━━━━━┳━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━┓\n'
        '┃ index ┃ loss ┃ target ┃   logit[y] ┃ logsumexp ┃    path ┃\n'
        '┡━━━━━━━╇━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━┩\n'
        '│ 0,2   │  nan │      2 │        nan │ 2.0281482 │ _×5 1×… │\n'
        '│ 0,3   │  inf │      3 │       -inf │ 2.3887628 │ _×5 1×… │\n'
        '│ 4,7   │   50 │      4 │ -61.728395 │ 4.8652241 │ _×5 1×… │\n'
        '└───────┴──────┴────────┴────────────┴───────────┴─────────┘\n'
        '7 groups by slice, largest value first\n'
        '┏━━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┓\n'
        '┃ slice ┃ count ┃   value ┃     sum ┃    share ┃\n'
        '┡━━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━┩\n'
        '│ 4     │     6 │ 9.41479 │ 56.4887 │ 30.0433% │\n'
        '│ 3     │     6 │ 6.91109 │ 41.4665 │ 22.0538% │\n'
        '│ 2     │     6 │  5.0733 │ 30.4398 │ 16.1893% │\n'
        '│ 1     │     6 │ 3.72421 │ 22.3453 │ 11.8843% │\n'
        '└───────┴───────┴─────────┴─────────┴──────────┘\n'
        '… 3 more groups with smaller values left out\n'
    ),
    80: (
        'summary of the element losses\n'
        '┏━━━━━━━━━━━┳━━━━━━━━━┓\n'
        '┃ statistic ┃   value ┃\n'
        '┡━━━━━━━━━━━╇━━━━━━━━━┩\n'
        '│ count     │      40 │\n'
        '│ NaN       │       1 │\n'
        '│ +inf      │       1 │\n'
        '│ -inf      │       0 │\n'
        '│ min       │       0 │\n'
        '│ max       │      50 │\n'
        '│ mean      │   4.948 │\n'
        '│ std       │ 11.0174 │\n'
        '│ p1        │       0 │\n'
        '│ p50       │ 0.16611 │\n'
        '│ p90       │ 16.0971 │\n'
        '│ p99       │ 45.0805 │\n'
        '│ p99.9     │  49.508 │\n'
        '└───────────┴─────────┘\n'
        'histogram of the losses: 16 log bins [lo, hi)\n'
        '0.000977 – 0.00195  █████████████████████████████████████████████████████████  3\n'
        ' 0.00195 – 0.00391  ██████████████████████████████████████                     2\n'
        ' 0.00391 – 0.00781  ██████████████████████████████████████                     2\n'
        ' 0.00781 –  0.0156  ██████████████████████████████████████                     2\n'
        '  0.0156 –  0.0312  █████████████████████████████████████████████████████████  3\n'
        '  0.0312 –  0.0625  ██████████████████████████████████████                     2\n'
        '  0.0625 –   0.125  ██████████████████████████████████████                     2\n'
        '   0.125 –    0.25  ██████████████████████████████████████                     2\n'
        '    0.25 –     0.5  █████████████████████████████████████████████████████████  3\n'
        '     0.5 –       1  ██████████████████████████████████████                     2\n'
        '       1 –       2  ██████████████████████████████████████                     2\n'
        '       2 –       4  ██████████████████████████████████████                     2\n'
        '       4 –       8  █████████████████████████████████████████████████████████  3\n'
        '       8 –      16  ██████████████████████████████████████                     2\n'
        '      16 –      32  ██████████████████████████████████████                     2\n'
        '      32 –      64  ██████████████████████████████████████                     2\n'
        '             zeros  ██████████████████████████████████████                     2\n'
        '               NaN  ███████████████████                                        1\n'
        '              +inf  ███████████████████                                        1\n'
        'the 3 largest element losses\n'
        '┏━━━━━━━┳━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━┓\n'
        '┃ index ┃ loss ┃ target ┃     logit[y] ┃   logsumexp ┃                    path ┃\n'
        '┡━━━━━━━╇━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━┩\n'
        '│ 0,2   │  nan │      2 │          nan │ 2.028148247 │ _×5 1×3 _ 3×2 4×7 _×2 … │\n'
        '│ 0,3   │  inf │      3 │         -inf │ 2.388762789 │ _×5 1×3 _ 3×2 4×7 _×2 … │\n'
        '│ 4,7   │   50 │      4 │ -61.72839455 │ 4.865224091 │ _×5 1×3 _ 3×2 4×7 _×2 … │\n'
        '└───────┴──────┴────────┴──────────────┴─────────────┴─────────────────────────┘\n'
        '7 groups by slice, largest value first\n'
        '┏━━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┓\n'
        '┃ slice ┃ count ┃   value ┃     sum ┃    share ┃\n'
        '┡━━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━┩\n'
        '│ 4     │     6 │ 9.41479 │ 56.4887 │ 30.0433% │\n'
        '│ 3     │     6 │ 6.91109 │ 41.4665 │ 22.0538% │\n'
        '│ 2     │     6 │  5.0733 │ 30.4398 │ 16.1893% │\n'
        '│ 1     │     6 │ 3.72421 │ 22.3453 │ 11.8843% │\n'
        '└───────┴───────┴─────────┴─────────┴──────────┘\n'
        '… 3 more groups with smaller values left out\n'
    ),
    120: (
        'summary of the element losses\n'
        '┏━━━━━━━━━━━┳━━━━━━━━━┓\n'
        '┃ statistic ┃   value ┃\n'
        '┡━━━━━━━━━━━╇━━━━━━━━━┩\n'
        '│ count     │      40 │\n'
        '│ NaN       │       1 │\n'
        '│ +inf      │       1 │\n'
        '│ -inf      │       0 │\n'
        '│ min       │       0 │\n'
        '│ max       │      50 │\n'
        '│ mean      │   4.948 │\n'
        '│ std       │ 11.0174 │\n'
        '│ p1        │       0 │\n'
        '│ p50       │ 0.16611 │\n'
        '│ p90       │ 16.0971 │\n'
        '│ p99       │ 45.0805 │\n'
        '│ p99.9     │  49.508 │\n'
        '└───────────┴─────────┘\n'
        'histogram of the losses: 16 log bins [lo, hi)\n'
        '0.000977 – 0.00195  ████████████████████████████████████████████████████████████  3\n'
        ' 0.00195 – 0.00391  ████████████████████████████████████████                      2\n'
        ' 0.00391 – 0.00781  ████████████████████████████████████████                      2\n'
        ' 0.00781 –  0.0156  ████████████████████████████████████████                      2\n'
        '  0.0156 –  0.0312  ████████████████████████████████████████████████████████████  3\n'
        '  0.0312 –  0.0625  ████████████████████████████████████████                      2\n'
        '  0.0625 –   0.125  ████████████████████████████████████████                      2\n'
        '   0.125 –    0.25  ████████████████████████████████████████                      2\n'
        '    0.25 –     0.5  ████████████████████████████████████████████████████████████  3\n'
        '     0.5 –       1  ████████████████████████████████████████                      2\n'
        '       1 –       2  ████████████████████████████████████████                      2\n'
        '       2 –       4  ████████████████████████████████████████                      2\n'
        '       4 –       8  ████████████████████████████████████████████████████████████  3\n'
        '       8 –      16  ████████████████████████████████████████                      2\n'
        '      16 –      32  ████████████████████████████████████████                      2\n'
        '      32 –      64  ████████████████████████████████████████                      2\n'
        '             zeros  ████████████████████████████████████████                      2\n'
        '               NaN  ████████████████████                                          1\n'
        '              +inf  ████████████████████                                          1\n'
        'the 3 largest element losses\n'
        '┏━━━━━━━┳━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓\n'
        '┃ index ┃ loss ┃ target ┃     logit[y] ┃   logsumexp ┃                        path ┃\n'
        '┡━━━━━━━╇━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩\n'
        '│ 0,2   │  nan │      2 │          nan │ 2.028148247 │ _×5 1×3 _ 3×2 4×7 _×2 5×3 6 │\n'
        '│ 0,3   │  inf │      3 │         -inf │ 2.388762789 │ _×5 1×3 _ 3×2 4×7 _×2 5×3 6 │\n'
        '│ 4,7   │   50 │      4 │ -61.72839455 │ 4.865224091 │ _×5 1×3 _ 3×2 4×7 _×2 5×3 6 │\n'
        '└───────┴──────┴────────┴──────────────┴─────────────┴─────────────────────────────┘\n'
        '7 groups by slice, largest value first\n'
        '┏━━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┓\n'
        '┃ slice ┃ count ┃   value ┃     sum ┃    share ┃\n'
        '┡━━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━┩\n'
        '│ 4     │     6 │ 9.41479 │ 56.4887 │ 30.0433% │\n'
        '│ 3     │     6 │ 6.91109 │ 41.4665 │ 22.0538% │\n'
        '│ 2     │     6 │  5.0733 │ 30.4398 │ 16.1893% │\n'
        '│ 1     │     6 │ 3.72421 │ 22.3453 │ 11.8843% │\n'
        '└───────┴───────┴─────────┴─────────┴──────────┘\n'
        '… 3 more groups with smaller values left out\n'
    ),
}


@pytest.mark.parametrize("width", [60, 80, 120])
def test_drawing_at_60_80_120_columns(width):
    text = render_case(width)
    assert text == EXPECTED[width]
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    # every table row is one line: no number wrapped onto a second one
    body = [line for line in lines if line.startswith("│")]
    assert len(body) == 13 + 3 + 4  # summary, top, groups
    for line in body:
        for cell in line.strip("│").split("│")[1:]:
            cell = cell.strip()
            if cell and not cell.startswith("_"):
                float(cell.rstrip("%"))  # a whole number, never a piece of one


def test_drawing_shortens_numbers_never_cuts_them():
    rows = [["0", 1.2345678901234567, -9.87654321e-7, "a long text cell that can be cut"]]
    for width in (40, 50, 60):
        text = render(draw.FittedTable(["index", "loss", "term", "note"], rows), width)
        line = next(line for line in text.splitlines() if line.startswith("│"))
        loss, term = (c.strip() for c in line.strip("│").split("│")[1:3])
        assert abs(float(loss) - 1.2345678901234567) < 10 ** -(len(loss.replace(".", "")) - 2)
        assert float(term) == pytest.approx(-9.87654321e-7, rel=0.06)
        assert max(len(line) for line in text.splitlines()) <= width


def test_short_and_bar():
    values = (1.0, 0.5, 1000.0, 123456.0, 1.5e-7, -2.0e12, 0.001, math.nan, -math.inf)
    assert [draw.short(v, 3) for v in values] == [
        "1", "0.5", "1000", "1.23e5", "1.5e-7", "-2e12", "0.001", "nan", "-inf",
    ]  # fmt: skip
    assert draw.bar(0, 10, 8) == "" and draw.bar(1, 1000, 8) == "▏"
    assert draw.bar(10, 10, 8) == "█" * 8 and draw.bar(5, 10, 3) == "█▌"


def test_rows_given_as_strings_are_shortened_too():
    rows = [["3,1", "0.12345678901234566", "-12345.678901234567", "7"]]
    text = render(draw.rows_section("top", ["index", "loss", "logit[y]", "target"], rows), 40)
    line = next(line for line in text.splitlines() if line.startswith("│"))
    cells = [c.strip() for c in line.strip("│").split("│")]
    assert cells[0] == "3,1" and cells[3] == "7"  # an index and an int stay whole
    assert cells[1:3] == ["0.123457", "-12345.7"]  # 6 digits fit in 40 columns
    assert max(len(line) for line in text.splitlines()) <= 40


@pytest.mark.parametrize(
    "x",
    [
        [-1e308, 1e308, 0.0],
        [5e-324, 1e-320, 2.2e-308],
        [1e300, 1e300 * (1 + 2**-52)],
        [-5.0, -5.0, -5.0],
        [0.0, 0.0, 1e-300, 1e300],
        [-1.79e308, 1.79e308],  # a top edge past the largest double: inf
    ],
)
def test_histogram_extremes(x):
    x = np.array(x)
    out = feed_summary(x, [(0, 1), (1, x.size)])
    check_histogram(out["histogram"], x)
    whole = feed_summary(x, [(0, x.size)])
    assert out["histogram"] == whole["histogram"]
    assert [out["summary"][k] for k in ("min", "max", "p50")] == [whole["summary"][k] for k in ("min", "max", "p50")]
