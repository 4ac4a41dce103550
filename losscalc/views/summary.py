"""Summary statistics, quantiles and a histogram of the element losses, streamed.

`Summary.add(elements)` takes one chunk; `merge` folds in another Summary; `finish()` gives
`{"summary": {...}, "histogram": {...}}`. Memory is bounded whatever the number of elements:
at most `EXACT_LIMIT` float64 values (80 MB) plus a few MB.

Statistics. count, NaN, +inf and -inf counts are over all elements; min, max, mean, std and
the quantiles over the finite ones (NaN when there are none; -0.0 is taken as 0.0). std is the sample standard
deviation (correction=1, as `torch.std`), from per-chunk count/mean/M2 in float64 merged with
Chan et al.'s formula (exact to ~1e-15 relative, plus a few ulps of the mean when chunks
are tiny and std is far below |mean|). A chunk's M2 is Σx² - n·mean² when that keeps at
least half of Σx² (the std is about the mean or more: the loss elements' usual case, and
twice the rounding of a second pass at most), else Σ(x - mean)², a second pass.

Magnitudes. The positive values, and apart the magnitudes of the negative ones, are counted
exactly by the top bits of their float64: key = bits >> (52 - f), so a bucket is
[m, m + 1)·2**(E - f) inside the octave [2**E, 2**(E + 1)). f is the most mantissa bits
(at most 52) for which the keys from the side's smallest value to its largest span at most
`FINE_WINDOW` (2**18) buckets: 2**12 buckets an octave for values spanning up to 64 octaves,
more for narrower ones, at least 2**6 for any doubles at all. f depends on the extremes alone,
so the counts do not depend on the chunking or the merge order. Each bucket also keeps one of
its values: the smallest of those offered to it (one of every `REP_STRIDE` of a chunk's values),
so merging in any order keeps the same one.

Quantiles p1 p50 p90 p99 p99.9. Up to `EXACT_LIMIT` (10**7) finite elements the values are
kept and the quantiles are exact: `np.quantile`'s default 'linear' method, as
`torch.quantile`. Beyond, they come from the magnitudes' buckets: for rank r = p·(n - 1),
0-based, the bucket holding the element of rank floor(r) gives the estimate, its kept value
(or its middle), so the estimate's relative error is below 2**-f (2.4e-4 at f = 12) and it
is exact when the bucket holds one distinct value (integers, ties). `rank_error` is a bound E
in elements, the largest count of those buckets: the estimate lies between the exact order
statistics x[floor(r - E)] and x[floor(r + E)]. It depends on the data, not on their order:
for smooth distributions over a few decades it is near n·2**-f times the density of log x
(measured on 3e7 elements: 2.1e-5 n for normals, 7e-5 n for uniforms).

Histogram. Two exact, mergeable histograms of integer counts are kept during the pass, and
the one that fits is coarsened at finish, so every count is exact and does not depend on the
chunking, the merge order or the exact limit:
- log: over the positive values, their magnitudes' buckets merged at finish to `LOG_BITS` mantissa bits
  (4 buckets an octave, edges (1, 1.25, 1.5, 1.75)·2**e). Drawn
  when every finite value is >= 0 and max / (smallest positive) >= 100; exact zeros
  (and -0.0) are then counted apart in `zeros`. Display bins are whole buckets merged:
  quarter, half, one or 2**j octaves.
- linear: bins of width 2**e aligned on multiples of 2**e, at most `LINEAR_FINE` of them;
  when the data outgrow them, e grows by one and neighbours merge (exactly). A chunk with no
  negative value whose magnitudes' buckets nest in its bins is counted from the buckets. The display
  bins are power-of-two multiples of the fine width; `zeros` is 0 (zeros are in the bins).
Bins are half-open [lo, hi). counts plus zeros add up to the finite elements.
"""

from __future__ import annotations

import math
import threading

import numpy as np

EXACT_LIMIT = 10**7
FINE_WINDOW = 2**18
REP_STRIDE = 16
LOG_BITS = 2
LINEAR_FINE = 1024
MAX_BINS = 20
QUANTILES = (("p1", 0.01), ("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999))
_TOP_BITS = 0x7FF0000000000000  # the bits of +inf: keys at or above it are past the largest double


_SCRATCH = threading.local()  # per thread: the buffers a chunk's pass reuses, by name
_SCRATCH_MAX = 1 << 22  # elements: a larger buffer (a whole input given as one chunk) is not kept


def _scratch(name: str, like: np.ndarray, dtype) -> np.ndarray:
    """A buffer of `like`'s size in `dtype`, this thread's own and reused chunk after chunk: on
    these VMs, memory freed and allocated again per chunk costs page faults (~1.5 ms a MiB)."""
    if like.size > _SCRATCH_MAX:
        return np.empty(like.size, dtype)
    buf = getattr(_SCRATCH, name, None)
    if buf is None or buf.size < like.size or buf.dtype != dtype:
        buf = np.empty(like.size, dtype)
        setattr(_SCRATCH, name, buf)
    return buf[:like.size]


def _bits_value(bits: int) -> float:
    """The double whose bits are `bits` (inf at or past the bits of inf)."""
    if bits >= _TOP_BITS:
        return math.inf
    return float(np.array(bits, dtype=np.int64).view(np.float64))


class _Magnitudes:
    """Exact counts of positive doubles by their top bits (see the module docstring), with one
    value kept per bucket. `lo`/`hi`: the bits of the smallest and largest value counted."""

    def __init__(self, window: int = FINE_WINDOW):
        if window < (_TOP_BITS >> (52 - LOG_BITS)):
            raise ValueError("window must hold every quarter-octave of the doubles (2**13)")
        self.window = int(window)
        self.lo = self.hi = None
        self.shift = 0
        self.counts = np.zeros(0, dtype=np.int64)  # keys (lo >> shift) ... (hi >> shift)
        self.reps = np.zeros(0)  # one value per bucket, NaN where none was kept

    def _shift_for(self, lo: int, hi: int) -> int:
        s = 0
        while (hi >> s) - (lo >> s) + 1 > self.window:
            s += 1
        return s

    def add(self, positive: np.ndarray, lo: float, hi: float) -> "_Magnitudes | None":
        """The positive finite values `positive`, whose min and max are lo and hi. Returns
        their own counts (merged into this one), or None when there are none."""
        if not positive.size:
            return None
        blo, bhi = (int(np.array(v).view(np.int64)) for v in (lo, hi))
        shift = self._shift_for(blo, bhi)
        keys = np.right_shift(positive.view(np.int64), shift, out=_scratch("keys", positive, np.int64))
        keys -= blo >> shift
        counts = np.bincount(keys, minlength=(bhi >> shift) - (blo >> shift) + 1)
        reps = np.full(counts.size, np.nan)
        reps[keys[::REP_STRIDE].copy()] = positive[::REP_STRIDE]  # (of values in one bucket, the last written)
        return self.take(blo, bhi, shift, counts, reps)

    def take(self, blo: int, bhi: int, shift: int, counts: np.ndarray, reps: np.ndarray) -> "_Magnitudes":
        """Merge in a chunk's counts and values (keys blo >> shift ... bhi >> shift); returns them."""
        part = _Magnitudes(self.window)
        part.lo, part.hi, part.shift, part.counts, part.reps = blo, bhi, shift, counts, reps
        if self.lo is None:  # a new accumulator (a chunk's, on the engine's threads): it is the part
            self.lo, self.hi, self.shift, self.counts, self.reps = blo, bhi, shift, counts, reps
        else:
            self.merge(part)
        return part

    def nests_in(self, e: int) -> bool:
        """Whether every bucket lies inside one bin of width 2**e aligned on multiples of it
        (the widest is the top one's: the ulp of the largest value, times 2**shift)."""
        return self.lo is not None and max(self.hi >> 52, 1) - 1075 + self.shift <= e

    def counts_between(self, edges: np.ndarray) -> np.ndarray:
        """The counts between consecutive `edges` (ascending doubles >= 0, each a bucket's
        edge, as bins in which the buckets nest have): [edges[i], edges[i + 1])."""
        cum = np.concatenate([[0], np.cumsum(self.counts)])
        at = np.clip((edges.view(np.int64) >> self.shift) - (self.lo >> self.shift), 0, self.counts.size)
        return np.diff(cum[at])

    def _on(self, shift: int, k0: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """This one's counts and values on the keys k0 ... k0 + size - 1 at `shift` >= its own;
        a coarse bucket keeps the smallest of its fine buckets' values."""
        counts, reps = np.zeros(size, dtype=np.int64), np.full(size, np.nan)
        if self.lo is None:
            return counts, reps
        at = (((self.lo >> self.shift) + np.arange(self.counts.size)) >> (shift - self.shift)) - k0
        counts += np.bincount(at, weights=self.counts, minlength=size).astype(np.int64)  # (exact below 2**53)
        starts = np.flatnonzero(np.diff(at, prepend=-1))  # `at` ascends: each coarse bucket's first
        reps[at[starts]] = np.fmin.reduceat(self.reps, starts)
        return counts, reps

    def merge(self, other: "_Magnitudes") -> "_Magnitudes":
        """Fold in `other`: counts add up; a bucket keeps the smaller value (fmin: NaN is none)."""
        if other.lo is None:
            return self
        if self.lo is None:
            self.lo, self.hi, self.shift = other.lo, other.hi, other.shift
            self.counts, self.reps = other.counts.copy(), other.reps.copy()
            return self
        lo, hi = min(self.lo, other.lo), max(self.hi, other.hi)
        shift = max(self._shift_for(lo, hi), self.shift, other.shift)
        k0, size = lo >> shift, (hi >> shift) - (lo >> shift) + 1
        if (shift, lo, hi) == (self.shift, self.lo, self.hi):
            counts, reps = self.counts, self.reps
        else:
            counts, reps = self._on(shift, k0, size)
        if other.shift == shift:  # the usual case: a slice of ours
            at = (other.lo >> shift) - k0
            counts[at:at + other.counts.size] += other.counts
            view = reps[at:at + other.reps.size]
            np.fmin(view, other.reps, out=view)
        else:
            theirs, their_reps = other._on(shift, k0, size)
            counts += theirs
            np.fmin(reps, their_reps, out=reps)
        self.lo, self.hi, self.shift, self.counts, self.reps = lo, hi, shift, counts, reps
        return self

    def buckets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The non-empty buckets in ascending order: lower edges, upper edges, counts, values."""
        if self.lo is None:
            return np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros(0)
        nz = np.flatnonzero(self.counts)
        keys = (self.lo >> self.shift) + nz
        lower = (keys << self.shift).view(np.float64)
        upper = np.array([_bits_value(int(k + 1) << self.shift) for k in keys[-1:]])
        upper = np.concatenate([((keys[:-1] + 1) << self.shift).view(np.float64), upper])
        return lower, upper, self.counts[nz], self.reps[nz]

    def log_display(self, max_bins: int) -> tuple[list[float], list[int]]:
        """The counts merged to LOG_BITS-bit keys, then to at most max_bins display bins."""
        if self.lo is None:
            return [], []
        shift = 52 - LOG_BITS
        counts, _ = self._on(shift, self.lo >> shift, (self.hi >> shift) - (self.lo >> shift) + 1)
        k0 = self.lo >> shift
        nz = np.flatnonzero(counts)
        first, last = k0 + int(nz[0]), k0 + int(nz[-1])
        t = 0
        while (last >> t) - (first >> t) + 1 > max_bins:
            t += 1
        d0, d1 = first >> t, last >> t
        keys = np.arange(first, last + 1)
        binned = np.bincount((keys >> t) - d0, weights=counts[first - k0:last - k0 + 1], minlength=d1 - d0 + 1)
        edges = [_bits_value((d << t) << shift) for d in range(d0, d1 + 2)]  # the top one may be inf
        return edges, binned.astype(np.int64).tolist()


def _floor_div_pow2(x: np.ndarray, e: int, offset: int = 0) -> np.ndarray:
    """floor(x / 2**e) - offset as int64, exact (e is never below the ulp of the largest |x|,
    and the results are integers below 2**53)."""
    if -1022 <= e <= 1023:  # 2**-e is a normal double: multiplying by it is ldexp, faster
        scaled = np.multiply(x, 2.0**-e, out=np.empty(np.shape(x)))
    else:
        scaled = np.ldexp(x, -e, out=np.empty(np.shape(x)))
    np.floor(scaled, out=scaled)
    if offset:
        scaled -= offset
    return scaled.astype(np.int64)


class _LinearHistogram:
    """Counts of floor(x / 2**e) over a window of at most LINEAR_FINE bins, e the smallest that
    fits (and no finer than the ulp of the largest |x|): the same e for any chunking."""

    def __init__(self):
        self.e: int | None = None
        self.j0 = 0
        self.counts = np.zeros(0, dtype=np.int64)

    @staticmethod
    def _fit(e: int, j0: int, j1: int) -> tuple[int, int, int]:
        while j1 - j0 + 1 > LINEAR_FINE:
            e, j0, j1 = e + 1, j0 >> 1, j1 >> 1
        return e, j0, j1

    def _rebin(self, e: int, j0: int, j1: int) -> np.ndarray:
        """This histogram's counts on the grid (e, j0..j1), e >= self.e."""
        out = np.zeros(j1 - j0 + 1, dtype=np.int64)
        if self.e is not None and self.counts.size:
            j = (self.j0 + np.arange(self.counts.size, dtype=np.int64)) >> (e - self.e)
            np.add.at(out, j - j0, self.counts)
        return out

    def _combine(self, e, j0, j1, other_counts) -> None:
        e, j0, j1 = self._fit(e, j0, j1)
        counts = self._rebin(e, j0, j1)
        counts += other_counts(e, j0, j1)
        self.e, self.j0, self.counts = e, j0, counts

    def add(self, x: np.ndarray, lo: float, hi: float, buckets: "_Magnitudes | None" = None, zeros: int = 0) -> None:
        """The finite values x, whose min and max are lo and hi. `buckets`: when x holds no
        negative value, the magnitudes' counts of its positive ones (and `zeros`, its zeros):
        where the buckets nest in the bins, the bins are counted from them, not from x."""
        if not x.size:
            return
        top = max(abs(lo), abs(hi))
        e = max(math.frexp(top)[1] - 53, -1074) if top else -1074
        span = hi / 2 - lo / 2
        if span > 0:  # start near the answer; _fit finishes exactly
            e = max(e, math.floor(math.log2(span)) + 1 - int(math.log2(LINEAR_FINE)) - 1)
        e_new = e if self.e is None else max(e, self.e)
        j0, j1 = int(_floor_div_pow2(np.array(lo), e_new)), int(_floor_div_pow2(np.array(hi), e_new))
        if self.e is not None and self.counts.size:
            j0 = min(j0, self.j0 >> (e_new - self.e))
            j1 = max(j1, (self.j0 + self.counts.size - 1) >> (e_new - self.e))

        def chunk_counts(e, j0, j1):
            if buckets is None or not buckets.nests_in(e):
                return np.bincount(_floor_div_pow2(x, e, j0), minlength=j1 - j0 + 1)
            out = buckets.counts_between(np.ldexp(np.arange(j0, j1 + 2, dtype=np.float64), e))
            if zeros:
                out[-j0] += zeros
            return out

        self._combine(e_new, j0, j1, chunk_counts)

    def merge(self, other: "_LinearHistogram") -> None:
        if other.e is None or not other.counts.size:
            return
        if self.e is None or not self.counts.size:
            self.e, self.j0, self.counts = other.e, other.j0, other.counts.copy()
            return
        e = max(self.e, other.e)
        j0 = min(self.j0 >> (e - self.e), other.j0 >> (e - other.e))
        j1 = max((self.j0 + self.counts.size - 1) >> (e - self.e), (other.j0 + other.counts.size - 1) >> (e - other.e))
        self._combine(e, j0, j1, other._rebin)

    def display(self, max_bins: int) -> tuple[list[float], list[int]]:
        if self.e is None or not self.counts.size:
            return [], []
        j0, j1 = self.j0, self.j0 + self.counts.size - 1
        s = 0
        while (j1 >> s) - (j0 >> s) + 1 > max_bins:
            s += 1
        d0, d1 = j0 >> s, j1 >> s
        counts = self._rebin(self.e + s, d0, d1)
        edges = [_ldexp(d, self.e + s) for d in range(d0, d1 + 2)]
        return edges, counts.tolist()


def _ldexp(m: int, e: int) -> float:
    """m·2**e, inf past the largest double (a top edge may be)."""
    try:
        return math.ldexp(m, e)
    except OverflowError:
        return math.inf if m > 0 else -math.inf


class Summary:
    """Streaming summary of the element losses. `add(elements)`: one chunk, any float array
    (read flat). `merge(other)`; `finish()` -> {"summary": {...}, "histogram": {...}}.
    `window`: the buckets a side's magnitudes may span (FINE_WINDOW; smaller in tests)."""

    def __init__(self, exact_limit: int = EXACT_LIMIT, window: int = FINE_WINDOW, max_bins: int = MAX_BINS):
        self.exact_limit = int(exact_limit)
        self.window = int(window)
        self.max_bins = int(max_bins)
        self.count = self.nan = self.posinf = self.neginf = self.zeros = 0
        self.n = 0  # finite elements
        self.mean = 0.0
        self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.values: list[np.ndarray] | None = []  # None past the exact limit
        self.positive = _Magnitudes(window)
        self.negative = _Magnitudes(window)  # the magnitudes of the negative values
        self.linear = _LinearHistogram()

    def _moments(self, n: int, mean: float, m2: float) -> None:
        """Chan et al.'s pairwise update of (count, mean, M2)."""
        if n == 0:
            return
        if self.n == 0:
            self.n, self.mean, self.m2 = n, mean, m2
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * (n / total)
        self.m2 += m2 + delta * delta * (self.n * n / total)
        self.n = total

    def _keep(self, arrays) -> None:
        """Keep these values for the exact quantiles, or none at all past the exact limit."""
        if self.values is not None:
            if self.n <= self.exact_limit:
                self.values.extend(arrays)
            else:
                self.values = None

    def add(self, elements) -> None:
        """One chunk. Its min and max come first: both finite means every value is (NaN makes
        min NaN), and the usual losses are all >= 0 or all > 0, which spares the masks."""
        x = np.asarray(elements).reshape(-1)
        if x.dtype != np.float64:  # (float32 elements: their float64 copy in this thread's buffer)
            x64 = _scratch("x", x, np.float64)
            np.copyto(x64, x, casting="unsafe")
            x = x64
        self.count += x.size
        if not x.size:
            return
        lo, hi = x.min(), x.max()
        if not (np.isfinite(lo) and np.isfinite(hi)):
            finite = np.isfinite(x)
            self.nan += int(np.count_nonzero(np.isnan(x)))
            self.posinf += int(np.count_nonzero(x == np.inf))
            self.neginf += int(np.count_nonzero(x == -np.inf))
            x = x[finite]
            if not x.size:
                return
            lo, hi = x.min(), x.max()
        lo, hi = float(lo) + 0.0, float(hi) + 0.0  # -0.0 taken as 0.0: results never depend on the order
        self.min, self.max = min(self.min, lo), max(self.max, hi)
        zeros, buckets = 0, None
        if lo > 0:
            buckets = self.positive.add(x, lo, hi)
        else:
            zeros, buckets = self._signed(x, lo, hi)
        with np.errstate(over="ignore", invalid="ignore"):  # near the float64 limits: inf, as NumPy
            mean = float(x.mean())
            squares = float(np.einsum("i,i->", x, x))  # (np.dot would start BLAS threads)
            m2 = squares - x.size * mean * mean
            if not (math.isfinite(squares) and m2 >= squares / 2):  # it cancels: a second pass, about the mean
                d = x - mean
                m2 = float(np.einsum("i,i->", d, d))
                del d
            self._moments(x.size, mean, m2)
        self.linear.add(x, lo, hi, buckets, zeros)
        self._keep([x + 0.0] if self.values is not None and self.n <= self.exact_limit else ())  # -0.0 made 0.0

    def _signed(self, x: np.ndarray, lo: float, hi: float) -> tuple[int, "_Magnitudes | None"]:
        """A chunk of finite values with zeros or negatives (lo <= 0): both sides' magnitudes
        counted in one bincount over their two windows, with no mask (NumPy's masked and
        `where=` operations cost ~8 ms a million random signs). Returns the zeros and, when
        there is no negative value, the positive side's counts (the negative side's (-b, -a]
        is not a half-open bin's shape)."""
        bits = x.view(np.int64)
        u = bits.view(np.uint64)
        magnitude = bits & 0x7FFFFFFFFFFFFFFF  # |x| (-0.0 is 0)
        negative = bits >> 63  # -1 for the sign bit (-0.0 too), else 0
        # the smallest positive and negative magnitudes, wrapping the others past the top
        smallest = {self.positive: int((u - np.uint64(1)).min()) + 1,
                    self.negative: int((u - np.uint64(2**63 + 1)).min()) + 1}
        sides, start = {}, 0  # side -> (lo bits, hi bits, shift, key offset, start, size)
        for side, top in ((self.positive, hi), (self.negative, -lo)):
            if top > 0:
                bhi = int(np.array(top).view(np.int64))
                blo = smallest[side]
                shift = side._shift_for(blo, bhi)
                size = (bhi >> shift) - (blo >> shift) + 1
                sides[side] = (blo, bhi, shift, start - (blo >> shift), start, size)
                start += size
        zeros = int(np.count_nonzero(magnitude == 0))
        if not sides:
            self.zeros += zeros
            return zeros, None
        absent = (0, 0, 0, -2**62, 0, 0)  # (its keys clip to 0)
        _, _, sp, op, _, _ = sides.get(self.positive, absent)
        _, _, sn, on, _, _ = sides.get(self.negative, absent)
        keys = np.right_shift(magnitude, sp if sp == sn else sp - (sn - sp) * negative)
        keys += op
        keys += negative * (op - on)  # the negative side's offset for the negative values
        np.clip(keys, 0, start - 1, out=keys)
        counts = np.bincount(keys, minlength=start)
        reps = np.full(start, np.nan)
        reps[keys[::REP_STRIDE].copy()] = magnitude[::REP_STRIDE].view(np.float64)
        for count, offset in ((np.count_nonzero(bits == 0), op), (zeros - np.count_nonzero(bits == 0), on)):
            if count:  # the zeros went into the bucket their key clips to: taken out again
                at = min(max(offset, 0), start - 1)
                counts[at] -= count
                if reps[at] == 0:
                    reps[at] = np.nan
        buckets = None
        for side, (blo, bhi, shift, _, first, size) in sides.items():
            part = side.take(blo, bhi, shift, counts[first:first + size].copy(), reps[first:first + size].copy())
            buckets = part if lo >= 0 else None
        self.zeros += zeros
        return zeros, buckets

    def merge(self, other: "Summary") -> "Summary":
        for name in ("count", "nan", "posinf", "neginf", "zeros"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)
        self._moments(other.n, other.mean, other.m2)
        self.positive.merge(other.positive)
        self.negative.merge(other.negative)
        self.linear.merge(other.linear)
        if other.values is None:
            self.values = None
        self._keep(other.values or ())
        return self

    def _estimates(self, ps) -> tuple[list[float], int]:
        """The quantiles from the magnitudes' buckets, and their rank error bound."""
        nlo, nhi, ncount, nrep = self.negative.buckets()
        plo, phi, pcount, prep = self.positive.buckets()
        with np.errstate(over="ignore", invalid="ignore"):  # the top bucket may end at inf
            nmid, pmid = (np.where(np.isfinite(hi), lo + (hi - lo) / 2, lo) for lo, hi in ((nlo, nhi), (plo, phi)))
        counts = np.concatenate([ncount[::-1], [self.zeros], pcount])
        middles = np.concatenate([-nmid[::-1], [0.0], pmid])
        values = np.concatenate([-nrep[::-1], [0.0], prep])
        values = np.where(np.isnan(values), middles, values)  # a bucket none of whose values was kept
        cum = np.cumsum(counts)
        zero = ncount.size
        out, error = [], 0
        for p in ps:
            b = int(np.searchsorted(cum, math.floor(p * (self.n - 1)), side="right"))
            out.append(min(max(float(values[b]), self.min), self.max))
            error = max(error, 0 if b == zero else int(counts[b]))
        return out, error

    def _quantiles(self) -> tuple[list[float], bool, int]:
        ps = [p for _, p in QUANTILES]
        if self.n == 0:
            return [math.nan] * len(ps), True, 0
        if self.values is not None:
            with np.errstate(over="ignore", invalid="ignore"):  # interpolating near ±1.8e308
                return [float(q) for q in np.quantile(np.concatenate(self.values), ps)], True, 0
        qs, rank_error = self._estimates(ps)
        return qs, False, rank_error

    def histogram(self) -> dict:
        min_positive = _bits_value(self.positive.lo) if self.positive.lo is not None else math.inf
        log = self.n and self.min >= 0 and min_positive < math.inf and self.max / min_positive >= 100
        if log:
            edges, counts = self.positive.log_display(self.max_bins)
            return {"edges": edges, "counts": counts, "zeros": self.zeros, "scale": "log"}
        edges, counts = self.linear.display(self.max_bins)
        return {"edges": edges, "counts": counts, "zeros": 0, "scale": "linear"}

    def finish(self) -> dict:
        qs, exact, rank_error = self._quantiles()
        none = self.n == 0
        summary = {
            "count": self.count,
            "nan": self.nan,
            "posinf": self.posinf,
            "neginf": self.neginf,
            "min": math.nan if none else self.min,
            "max": math.nan if none else self.max,
            "mean": math.nan if none else self.mean,
            "std": math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else math.nan,
        }
        summary.update({name: q for (name, _), q in zip(QUANTILES, qs)})
        summary["quantiles_exact"] = exact
        summary["rank_error"] = rank_error
        return {"summary": summary, "histogram": self.histogram()}
