"""The K largest (or smallest) element losses, streamed chunk by chunk.

`TopK` keeps at most K (flat index, loss) pairs. Order is total, so the kept set never depends
on how the elements were split into chunks or how partial results were merged:

- largest (`--top`): NaN first (NaN counts largest, as in `torch.topk`), then by value
  descending; ties, NaN included, to the lower flat index.
- smallest (`--bottom`): by value ascending, NaN last (`torch.topk(largest=False)` also treats
  NaN as the largest value, so a NaN is among the K smallest only when fewer than K elements
  are not NaN); ties to the lower flat index.

`-0.0` and `0.0` are equal values (so the lower index wins); each keeps its own sign.
torch.topk itself gives no guaranteed order among ties; the values it selects are the same.
"""

from __future__ import annotations

import numpy as np


def _select(values: np.ndarray, k: int, largest: bool) -> np.ndarray:
    """Positions (ascending) of the k values to keep, NaN largest, ties to the lower position.

    Vectorised: a partition finds the k-th value t; every value strictly beyond t is kept and
    the first of those equal to t fill the rest (np.flatnonzero returns them in order)."""
    n = values.size
    if k >= n:
        return np.arange(n)
    if k <= 0:
        return np.arange(0)
    nan = np.isnan(values)
    n_nan = int(np.count_nonzero(nan))
    if largest:
        if n_nan >= k:
            return np.flatnonzero(nan)[:k]
        rest = k - n_nan
        finite = values[~nan] if n_nan else values
        t = np.partition(finite, finite.size - rest)[finite.size - rest]
        beyond = nan | (values > t)
    else:
        n_real = n - n_nan
        if n_real <= k:  # every non-NaN value, then the first NaNs
            return np.sort(np.concatenate([np.flatnonzero(~nan), np.flatnonzero(nan)[: k - n_real]]))
        real = values[~nan] if n_nan else values
        t = np.partition(real, k - 1)[k - 1]
        beyond = values < t
    n_beyond = int(np.count_nonzero(beyond))
    ties = np.flatnonzero(values == t)[: k - n_beyond]
    return np.sort(np.concatenate([np.flatnonzero(beyond), ties]))


def _order(values: np.ndarray, index: np.ndarray, largest: bool) -> np.ndarray:
    """The permutation putting (value, index) pairs in the section's order."""
    nan = np.isnan(values)
    v = np.where(nan, 0.0, values)
    if largest:
        return np.lexsort((index, -v, ~nan))  # NaN first, value descending, index ascending
    return np.lexsort((index, v, nan))  # value ascending, NaN last, index ascending


class TopK:
    """The K largest (`largest=True`) or smallest element losses with their flat indices.

    `add(start, elements_flat)`: one chunk; `start` is the flat (C-order) index, in the whole
    elements array, of the chunk's first element; `elements_flat` any float array, read in C
    order. `merge(other)` folds in another TopK of the same K and direction (any grouping
    gives the same result, bit for bit). `finish()` is the list of `(flat_index, loss)` in the
    section's order. Memory: O(K).
    """

    def __init__(self, k: int, largest: bool = True):
        if k < 0:
            raise ValueError("k must be >= 0")
        self.k = int(k)
        self.largest = bool(largest)
        self.index = np.zeros(0, dtype=np.int64)
        self.values = np.zeros(0, dtype=np.float64)

    def _keep(self, index: np.ndarray, values: np.ndarray) -> None:
        keep = _select(values, self.k, self.largest)
        self.index, self.values = index[keep], values[keep]

    def add(self, start: int, elements_flat: np.ndarray) -> None:
        chunk = np.asarray(elements_flat, dtype=np.float64).reshape(-1)
        if self.k == 0 or chunk.size == 0:
            return
        pos = _select(chunk, self.k, self.largest)
        index = np.concatenate([self.index, pos.astype(np.int64) + int(start)])
        values = np.concatenate([self.values, chunk[pos]])
        self._merge_arrays(index, values)

    def _merge_arrays(self, index: np.ndarray, values: np.ndarray) -> None:
        order = _order(values, index, self.largest)[: self.k]
        self.index, self.values = index[order], values[order]

    def merge(self, other: "TopK") -> "TopK":
        if other.k != self.k or other.largest != self.largest:
            raise ValueError("merging TopK accumulators of different K or direction")
        self._merge_arrays(np.concatenate([self.index, other.index]), np.concatenate([self.values, other.values]))
        return self

    def finish(self) -> list[tuple[int, float]]:
        order = _order(self.values, self.index, self.largest)
        return [(int(i), float(v)) for i, v in zip(self.index[order], self.values[order])]
