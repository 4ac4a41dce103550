"""What the views' tests share: chunk splits, merge orders, tricky inputs and summary feeding."""

import pickle

import numpy as np

from losscalc.views import Summary


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


def tricky(n=300, seed=0):
    """Few distinct values (many exact ties), NaN, ±inf and both zeros."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, n).astype(np.float64)
    x[rng.random(n) < 0.1] = np.nan
    x[rng.random(n) < 0.05] = np.inf
    x[rng.random(n) < 0.05] = -np.inf
    x[rng.random(n) < 0.05] = -0.0
    return x


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
