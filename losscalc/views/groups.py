"""Per-group count, mean numerator and denominator, and element sum, streamed.

`Groups` is fed each chunk's group labels broadcast to the chunk's elements, the elements,
and the per-element numerators and denominators of the loss's mean (plain mean: the element
and 1; weighted losses: w·l and w, 0 for an ignored item; CTC: l / clamp(target_length, 1)
and 1). A group's value under `mean` is then Σ numerators / Σ denominators: what PyTorch's
`reduction='mean'` gives on that group alone. All sums are float64.

Labels are integers (bool and unsigned included) or floats; each distinct value is a group,
`NaN` one group of its own and `-0.0` the same group as `0.0`. Counts are exact and do not
depend on chunking or merge order; the float64 sums are added in the order given (equal to
1e-12 relative for any chunking, bit-identical for the same one).
"""

from __future__ import annotations

import numpy as np

from ..errors import LossError

MAX_GROUPS = 1_000_000


def _labels(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a).reshape(-1)
    if a.dtype.kind in "biu":
        return a.astype(np.int64)
    if a.dtype.kind == "f":
        return a.astype(np.float64) + 0.0  # -0.0 + 0.0 is 0.0: one zero group
    raise LossError(f"group labels must be numbers, not {a.dtype}")


class Groups:
    """Per-group sums. `add(labels, elements, numerators, denominators)`: four arrays of the
    same shape for one chunk. `merge(other)` folds in another Groups. `finish(reduction)`:
    one dict per group, sorted by value descending (NaN values first, as NaN is largest in
    `--top`; equal values by group ascending, a NaN group last).

    At most `max_groups` distinct labels (default 1e6); beyond, a LossError.
    """

    def __init__(self, max_groups: int = MAX_GROUPS):
        self.max_groups = int(max_groups)
        self.keys = np.zeros(0, dtype=np.int64)
        self.count = np.zeros(0, dtype=np.int64)
        self.num = np.zeros(0, dtype=np.float64)
        self.den = np.zeros(0, dtype=np.float64)
        self.sum = np.zeros(0, dtype=np.float64)

    def _fold(self, keys, count, num, den, total) -> None:
        """Add sums for `keys` (sorted, distinct). When every key is already known (the usual
        case after the first chunks) the sums are added in place, without a new np.unique;
        the float64 results are the same either way (state + new, in that order)."""
        if keys.dtype != self.keys.dtype and self.keys.size == 0:
            self.keys = self.keys.astype(keys.dtype)
        if self.keys.size and keys.dtype == self.keys.dtype:
            at = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
            known = self.keys[at] == keys
            if keys.dtype.kind == "f":
                known |= np.isnan(self.keys[at]) & np.isnan(keys)
            if known.all():
                self.count[at] += np.asarray(count, dtype=np.int64)
                self.num[at] += num
                self.den[at] += den
                self.sum[at] += total
                return
        all_keys = np.concatenate([self.keys, keys])
        uniq, inv = np.unique(all_keys, return_inverse=True)  # NaNs collapse into one group
        if uniq.size > self.max_groups:
            raise LossError(
                f"--group-by: more than {self.max_groups} distinct groups; "
                "group by something coarser (a class, a bucket of a column)"
            )
        m = uniq.size
        self.count = np.bincount(inv, weights=np.concatenate([self.count, count]), minlength=m).astype(np.int64)
        self.num = np.bincount(inv, weights=np.concatenate([self.num, num]), minlength=m)
        self.den = np.bincount(inv, weights=np.concatenate([self.den, den]), minlength=m)
        self.sum = np.bincount(inv, weights=np.concatenate([self.sum, total]), minlength=m)
        self.keys = uniq

    def add(self, labels, elements, numerators, denominators) -> None:
        labels = _labels(labels)
        e = np.asarray(elements, dtype=np.float64).reshape(-1)
        n = np.asarray(numerators, dtype=np.float64).reshape(-1)
        d = np.asarray(denominators, dtype=np.float64).reshape(-1)
        if not (labels.size == e.size == n.size == d.size):
            raise ValueError("labels, elements, numerators and denominators must have the same size")
        if labels.size == 0:
            return
        uniq, inv, m, present = self._codes(labels)
        sums = [np.bincount(inv, weights=w, minlength=m) for w in (None, n, d, e)]
        if present is not None:
            sums = [a[present] for a in sums]
        self._fold(uniq, *sums)

    @staticmethod
    def _codes(labels: np.ndarray):
        """(distinct labels, each element's code, number of codes, codes in use or None).
        Integer labels in a narrow range (classes) are coded by offset, without a sort."""
        if labels.dtype.kind == "i":
            lo, hi = int(labels.min()), int(labels.max())
            if hi - lo < max(4 * labels.size, 1 << 16):
                inv = labels - lo
                present = np.bincount(inv, minlength=hi - lo + 1) > 0
                return np.flatnonzero(present) + lo, inv, hi - lo + 1, present
        uniq, inv = np.unique(labels, return_inverse=True)
        return uniq, inv.reshape(-1), uniq.size, None

    def merge(self, other: "Groups") -> "Groups":
        if other.keys.size:
            self._fold(other.keys, other.count, other.num, other.den, other.sum)
        return self

    def finish(self, reduction: str = "mean") -> list[dict]:
        """`[{"group", "count", "value", "sum", "share"}]`. value: Σ num / Σ den for `mean`
        (and `batchmean`, whose denominators the caller makes), the element sum for `sum`,
        the mean of the elements for `none`. share: the group's element sum over the total."""
        with np.errstate(divide="ignore", invalid="ignore"):
            if reduction in ("mean", "batchmean"):
                value = self.num / self.den
            elif reduction == "sum":
                value = self.sum.copy()
            elif reduction == "none":
                value = self.sum / self.count
            else:
                raise ValueError(f"unknown reduction {reduction!r}")
            total = self.sum.sum()
            share = self.sum / total
        keys = self.keys
        key_nan = np.isnan(keys) if keys.dtype.kind == "f" else np.zeros(keys.size, bool)
        vnan = np.isnan(value)
        order = np.lexsort((key_nan, np.where(key_nan, 0, keys), -np.where(vnan, 0.0, value), ~vnan))
        as_key = float if keys.dtype.kind == "f" else int
        return [
            {
                "group": as_key(keys[i]),
                "count": int(self.count[i]),
                "value": float(value[i]),
                "sum": float(self.sum[i]),
                "share": float(share[i]),
            }
            for i in order
        ]
