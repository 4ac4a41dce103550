"""views/top.py: top and bottom K against torch.topk, in a stable order (NaN largest, ties to
the lower index) whatever the chunk split and the merge order."""

import numpy as np
import pytest

from losscalc.views import TopK
from tests.views.streaming import copy, fold, splits, tricky


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
