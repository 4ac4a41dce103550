"""The CTC lattice in log space: the forward (alpha), Viterbi and backward (beta) recursions.

The states of a sample are its extended labels (blank, y1, blank, ..., yS, blank: L = 2S + 1
for the longest target S). Each sample is one row of W = L + 2 cells of a flat buffer, its
states after two -inf pads, and two more pads close the buffer, so states s-1 and s-2 (alpha)
and s+1 and s+2 (beta, which reads the next row's pads past a row's end) are 1-D views of
the same buffer: 1-D ufuncs are several times cheaper than strided 2-D ones. Samples are
sorted by input length, longest first, so the samples still inside their input at frame t
are a prefix of the buffer. Every recursion loops over time only.

Log-sum-exp never takes exp of -inf or of a difference below `low` (both are several times
slower in exp): the shift is max(m, finfo.min), never -inf, and differences stop at `low`,
where exp is still a normal number too small to change a sum that holds exp(0) = 1.
"""

from __future__ import annotations

import numpy as np

# alpha rows the backward pass keeps (frames x buffer cells); beyond, it keeps one row in
# about sqrt(frames) and computes the others again, a stretch at a time
ALPHA_CELLS = 2**24


def extended(labels, blank):
    """The extended labels (blank, y1, blank, y2, ..., blank) and the additive skip mask: 0 where
    state s may be entered from s-2 (a label unlike the one before it), -inf elsewhere."""
    N, S = labels.shape
    ext = np.full((N, 2 * S + 1), blank, np.int64)
    ext[:, 1::2] = labels
    skip = np.full(ext.shape, -np.inf)
    skip[:, 2:][ext[:, 2:] != ext[:, :-2]] = 0.0
    return ext, skip


class Lattice:
    """The layout and index arrays of the recursions, made once per call, shared by every pass.

    order: sample numbers, longest input first (row i of the buffer is sample order[i]);
    il, tl, ext: input lengths, target lengths and extended labels in that order;
    lp: log_probs, read a frame at a time (`frame`, `gather`); flat: log_probs as one contiguous
        vector when some states are strays (stride = N*C its frame), else None;
    at: per cell, the offset of its state's class in frame 0, read as PyTorch reads it:
        sample*C + label, so a label outside [0, C) reads another sample's (or frame's) entry;
    sk: per cell, the skip mask of its state (-inf at the pads);
    active[t]: how many samples have T_n > t (active[steps] = 0), steps = the longest input.
    """

    def __init__(self, lp, ext, skip, il, tl):
        _, N, C = lp.shape
        self.order = order = np.argsort(-il, kind="stable")
        self.il, self.tl, self.ext = il[order], tl[order], ext[order]
        self.lp = lp
        self.dtype = dt = np.dtype(lp.dtype)
        self.N, self.C, self.stride = N, C, N * C
        self.n, self.L = ext.shape
        self.W = W = self.L + 2
        self.size = self.n * W + 2
        self.base = base = order[:, None] * C + self.ext  # offset of log_probs[0, n, ext[n, s]]
        at = np.empty((self.n, W), np.int64)  # pads: anywhere valid
        at[:, :2], at[:, 2:] = base[:, :1], base
        self.at = np.append(at.reshape(-1), base[-1, -1:].repeat(2))
        sk = np.full((self.n, W), -np.inf, dt)
        sk[:, 2:] = skip[order]
        self.sk = np.append(sk.reshape(-1), np.full(2, -np.inf, dt))
        self.own = (self.ext >= 0) & (self.ext < C)  # states whose class is a class of their own sample
        self.stray_rows, self.stray_states = np.nonzero(~self.own)
        # strays read past their frame's classes, as PyTorch reads memory: only a flat copy can
        self.flat = np.ascontiguousarray(lp).reshape(-1) if self.stray_rows.size else None
        self.steps = int(self.il[0])
        self.active = np.append(np.searchsorted(-self.il, -np.arange(self.steps), side="left"), 0)
        self.floor, self.low = np.finfo(dt).min, np.log(np.finfo(dt).tiny) + 1

    def row(self):
        return np.full(self.size, -np.inf, self.dtype)

    def frame(self, t: int) -> np.ndarray:
        """log_probs[t] as one vector of N*C, in the lattice's dtype: a view where it can be
        (log_probs is read a frame at a time, so a chunk of a memory map is never copied whole)."""
        if self.flat is not None:
            return self.flat[t * self.stride:(t + 1) * self.stride]
        return np.asarray(self.lp[t]).reshape(-1)

    def gather(self, t: int, at: np.ndarray, out: np.ndarray, idx: np.ndarray) -> None:
        """out = frame t's log-probabilities at the offsets `at` (into frame 0 as `self.at`:
        a stray's may run into the next frames, as PyTorch's do); idx: int64 scratch."""
        if self.flat is None:
            np.take(self.frame(t), at, out=out)
        else:
            np.add(at, t * self.stride, out=idx)
            self.flat.take(idx, out=out, mode="clip")

    def cell(self, i, s):
        """Buffer positions of state s of rows i."""
        return i * self.W + 2 + s


class _ByTurns:
    """Rows t of a recursion in two buffers, by turns (a step needs only the row before)."""

    def __init__(self, lat, saved=None, every=0):
        self.rows, self.saved, self.every = [lat.row(), lat.row()], saved, every

    def __getitem__(self, t):
        if self.saved is not None and t % self.every == 0:  # a checkpoint row
            return self.saved[t // self.every]
        return self.rows[t % 2]


def _exp_diff(x, shift, low, out):
    """out = exp(max(x - shift, low))"""
    np.subtract(x, shift, out=out)
    np.maximum(out, low, out=out)
    np.exp(out, out=out)


def _lse3(x1, x2, x3, lat, m, c, e, d):
    """m = log(exp x1 + exp x2 + exp x3), -inf when all three are; summed in PyTorch's order.
    (x3 is overwritten; d is scratch.)"""
    np.maximum(x1, x2, out=m)
    np.maximum(m, x3, out=m)
    np.maximum(m, lat.floor, out=c)
    _exp_diff(x1, c, lat.low, e)
    _exp_diff(x2, c, lat.low, d)
    np.add(e, d, out=e)
    _exp_diff(x3, c, lat.low, x3)
    np.add(e, x3, out=e)
    np.log(e, out=e)
    np.add(m, e, out=m)  # m itself, so every term -inf gives -inf (+ log p, as PyTorch)


def _alpha(lat, rows, start, stop, *, final=None, moves=None):
    """alpha_t into rows[t] for frames start <= t < stop (rows[start - 1] given when start > 0):

        alpha_t(s) = lse(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2) + skip(s)) + log p_t(ext(s)),
        alpha_0 = [log p_0(blank), log p_0(y1), -inf, ...]

    or max in place of lse when `moves` (Viterbi) are given: (up1, up2), (frames, cells) bools,
    the winning move at each frame and cell (`up1`: from s-1 rather than s; `up2`: from s-2,
    over both). `final` (samples, L) receives each sample's row at its last frame.
    """
    W, active = lat.W, lat.active
    if start == 0 and stop > 0:
        k, first = active[0], rows[0]
        first[:] = -np.inf
        first[:k * W].reshape(k, W)[:, 2:4] = lat.frame(0).take(lat.base[:k, :2])  # blank or first label
        if final is not None:
            final[active[1]:k] = first[:k * W].reshape(k, W)[active[1]:, 2:]  # T_n = 1
        start = 1
    m, c, e, x, d = (np.empty(lat.size, lat.dtype) for _ in range(5))
    idx = np.empty(lat.size, np.int64)
    cached = None
    for t in range(start, stop):
        k = active[t]
        hi = k * W
        if k != cached:  # views of the first k samples, made again only when a sample ends
            cached = k
            mk, ck, ek, xk, dk = m[2:hi], c[2:hi], e[2:hi], x[2:hi], d[2:hi]
            ik, ak, skk = idx[2:hi], lat.at[2:hi], lat.sk[2:hi]
        prev, cur = rows[t - 1], rows[t]
        x1, x2 = prev[2:hi], prev[1:hi - 1]
        np.add(prev[:hi - 2], skk, out=xk)
        if moves is None:
            _lse3(x1, x2, xk, lat, mk, ck, ek, dk)
        else:
            np.maximum(x1, x2, out=mk)
            np.greater(x2, x1, out=moves[0][t, 2:hi])
            np.greater(xk, mk, out=moves[1][t, 2:hi])
            np.maximum(mk, xk, out=mk)
        lat.gather(t, ak, ek, ik)
        np.add(mk, ek, out=cur[2:hi])
        cur[:2] = -np.inf
        cur[:hi].reshape(k, W)[1:, :2] = -np.inf  # the pads, computed with the rest
        if final is not None and active[t + 1] < k:
            final[active[t + 1]:k] = cur[:hi].reshape(k, W)[active[t + 1]:, 2:]


def forward(lat, *, viterbi=False):
    """Each sample's alpha row at its last frame, t = T_n - 1 (alpha_{-1} = [0, -inf, ...]: a
    sample without frames has the empty alignment), and with `viterbi` the moves for the
    backtrack (see _alpha). It keeps two rows at a time: keeping every row for a backward
    pass that may not come costs a forward-only call about 13% more time (fresh memory) and
    up to ALPHA_CELLS of memory; the backward pass computes them again instead."""
    final = np.full((lat.n, lat.L), -np.inf, lat.dtype)
    final[lat.active[0]:, 0] = 0.0
    moves = tuple(np.zeros((lat.steps, lat.size), bool) for _ in range(2)) if viterbi else None
    _alpha(lat, _ByTurns(lat), 0, lat.steps, final=final, moves=moves)
    return final, moves


def end_score(final, tl, viterbi=False):
    """Log-sum-exp (or max) of the last two states, 2S_n and 2S_n - 1 (state 0 alone when S_n = 0)."""
    rows = np.arange(final.shape[0])
    last = final[rows, 2 * tl]
    prev = np.where(tl > 0, final[rows, np.maximum(2 * tl - 1, 0)], -np.inf).astype(final.dtype)
    if viterbi:
        return np.maximum(last, prev)
    m = np.maximum(np.maximum(last, prev), np.finfo(final.dtype).min)
    return np.where(tl > 0, np.log(np.exp(last - m) + np.exp(prev - m)) + m, last)  # S_n = 0: state 0 as it is


class _Alphas:
    """alpha_t for the backward pass, which asks for t = steps - 1 down to 0: every row, when
    they fit in ALPHA_CELLS, else one row in `every` kept and the rows between computed again
    from it, a stretch at a time (one more forward pass in all)."""

    def __init__(self, lat):
        self.lat, steps = lat, lat.steps
        if steps * lat.size <= ALPHA_CELLS:
            self.every, self.rows = 0, np.empty((steps, lat.size), lat.dtype)
            _alpha(lat, self.rows, 0, steps)
        else:
            self.every = every = max(int(np.ceil(np.sqrt(steps))), 1)
            self.saved = np.full(((steps - 1) // every + 1, lat.size), -np.inf, lat.dtype)
            _alpha(lat, _ByTurns(lat, self.saved, every), 0, steps)
            self.rows, self.first = np.empty((every, lat.size), lat.dtype), None

    def __getitem__(self, t):
        if not self.every:
            return self.rows[t]
        first = t - t % self.every
        if first != self.first:  # the stretch from the checkpoint at `first`, computed again
            self.first = first
            self.rows[0] = self.saved[first // self.every]
            stop = min(first + self.every, self.lat.steps)
            _alpha(self.lat, _Shifted(self.rows, first), first + 1, stop)
        return self.rows[t - first]


class _Shifted:
    def __init__(self, rows, first):
        self.rows, self.first = rows, first

    def __getitem__(self, t):
        return self.rows[t - self.first]


def backward(lat, nll, out):
    """The beta recursion and, from alpha and beta, the gradient before the upstream factor:

        beta_t(s) = lse(beta_{t+1}(s), beta_{t+1}(s+1), beta_{t+1}(s+2) + skip(s+2)) + log p_t(ext(s)),
        beta_{T_n - 1} = log p_{T_n - 1} at states 2S_n and 2S_n - 1, -inf elsewhere;
        posterior_t(n, c) = Σ_{s: ext(s) = c} exp(alpha_t(s) + beta_t(s) + nll_n - log p_t(c));
        out[t, n*C + c] = exp(log p_t(n, c)) - posterior_t(n, c) for t < T_n (other rows left as they are)

    as PyTorch's ctc_loss_backward defines them (alpha and beta both hold frame t's log p, hence
    its subtraction); nll by sample, out (frames, N*C). States whose class lies outside [0, C)
    (the lattice's strays) write into another sample's classes in PyTorch; their
    alpha_t + beta_t are returned, (steps, strays), for `stray_writes` (frames past a sample's
    input hold anything).
    """
    n, W, active, dt = lat.n, lat.W, lat.active, lat.dtype
    C, NC, low = lat.C, lat.stride, lat.low
    alphas, rows = _Alphas(lat), _ByTurns(lat)
    last = lat.cell(np.arange(n), 2 * lat.tl)  # the two states a sample's last frame starts from
    label = np.where(lat.tl > 0, last - 1, last)
    # PyTorch assigns the last frame's two terms, the blank's and then the last label's: a last
    # label equal to the blank replaces the blank's term
    replaced = np.where((lat.tl > 0) & (lat.ext[np.arange(n), np.maximum(2 * lat.tl - 1, 0)] == lat.ext[:, 0]),
                        last, -1)
    cells = lat.cell(np.arange(n)[:, None], np.arange(lat.L))
    scatter = np.full(lat.size, NC, np.int64)  # the bin of each cell: its sample's class, or NC (none)
    scatter[cells[lat.own]] = lat.base[lat.own]
    nll_at = np.zeros(lat.size, dt)
    nll_at[cells] = nll[lat.order][:, None]
    stray = lat.cell(lat.stray_rows, lat.stray_states)
    seen = np.full((lat.steps, stray.size), -np.inf, dt)
    tiny = np.exp(dt.type(low))
    m, c, e, x, d, g = (np.empty(lat.size, dt) for _ in range(6))
    idx = np.empty(lat.size, np.int64)
    for t in range(lat.steps - 1, -1, -1):
        k, j = active[t], active[t + 1]  # samples [j, k) end at frame t
        hi, hj = k * W, j * W
        nxt, cur = rows[t + 1], rows[t]
        gk = g[2:hi]
        lat.gather(t, lat.at[2:hi], gk, idx[2:hi])
        if j:
            xk = x[2:hj]
            np.add(nxt[4:hj + 2], lat.sk[4:hj + 2], out=xk)
            _lse3(nxt[2:hj], nxt[3:hj + 1], xk, lat, m[2:hj], c[2:hj], e[2:hj], d[2:hj])
            np.add(m[2:hj], g[2:hj], out=cur[2:hj])
            cur[:hj].reshape(j, W)[1:, :2] = -np.inf  # the pads, computed with the rest
        if j < k:  # samples that start at their last frame
            cur[last[j:k]] = g[last[j:k]]
            cur[label[j:k]] = g[label[j:k]]
        ek = e[2:hi]
        np.add(alphas[t][2:hi], cur[2:hi], out=ek)
        if stray.size:
            seen[t] = e[stray]
        np.add(ek, nll_at[2:hi], out=ek)
        np.subtract(ek, gk, out=ek)
        np.maximum(ek, low, out=ek)  # exp(max(x, low)) - exp(low): exp of -inf is slow; -inf gives 0
        np.exp(ek, out=ek)
        np.subtract(ek, tiny, out=ek)
        if j < k and replaced[j:k].max() >= 0:
            ek[replaced[j:k][replaced[j:k] >= 0] - 2] = 0.0
        row = out[t]
        np.exp(lat.frame(t), out=row)
        row -= np.bincount(scatter[2:hi], ek, minlength=NC + 1)[:NC]
        if k < lat.N:
            row.reshape(lat.N, C)[lat.order[k:]] = 0  # samples past their input
    return seen


def stray_writes(lat, seen, nll, zeroed, frames):
    """Where PyTorch's CTC backward, run on one thread, puts the states whose class lies outside
    [0, C) (`seen`: their alpha_t + beta_t, from `backward`).

    PyTorch keeps log Σ alpha beta per entry in the gradient tensor itself, at flat offset
    t*N*C + n*C + label, which for such a label is an entry of another sample m (or frame).
    Samples go in turn, each filling its entries (its last frame's two states assigned, the
    rest added in log space) and then turning them into gradients. So a write into sample m
    before m's turn (n < m, or n = m) is added into m's posterior, unless m's turn overwrites
    or zeroes that entry, or a later write assigns it; a write after m's turn (n > m) adds
    exp(x) to the finished gradient v: the entry becomes log(exp(v) + Σ exp(x)).
    Returns the early writes that count, (offsets, alpha + beta, sample m), and a function that
    applies the late writes to the finished gradient (flat).
    
    Why this is reproduced rather than refused: losscalc's contract is PyTorch's number for
    every input PyTorch accepts, and PyTorch accepts these labels (on a contiguous tensor) and
    returns a loss and a gradient; a user comparing against a training run that had such a
    label must be able to see that number, with the warning (sequence._warn_labels) saying it is
    meaningless and why. Labels that would make PyTorch read outside log_probs are refused.
    """
    N, C, NC = lat.N, lat.C, lat.stride
    il, tl = np.empty_like(lat.il), np.empty_like(lat.tl)
    il[lat.order], tl[lat.order] = lat.il, lat.tl
    last = np.full(N, -1, np.int64)  # each sample's last label, which its last frame assigns
    last[lat.order] = np.where(lat.tl > 0, lat.ext[np.arange(lat.n), np.maximum(2 * lat.tl - 1, 0)], -1)
    blank = lat.ext[:, 0][np.argsort(lat.order)]
    rows, states = lat.stray_rows, lat.stray_states
    src = lat.order[rows]
    t = np.arange(lat.steps)[:, None]
    end = lat.il[rows] - 1
    assign = (t == end) & (states == 2 * lat.tl[rows] - 1)  # the last label, at the last frame
    at = t * NC + lat.base[rows, states]
    written = ((t < end) | assign) & ~zeroed[src] & (at >= 0) & (at < frames * NC)
    tt, jj = np.nonzero(written)
    at, x, src, assign = at[tt, jj], seen[tt, jj], src[jj], assign[tt, jj]
    m, frame, cls = (at // C) % N, at // NC, at % C

    def last_assigner(keys, mask, start):
        """Per write: the latest sample whose assignment to the same entry wipes the writes before it."""
        uniq, inv = np.unique(keys, return_inverse=True)
        star = np.full(uniq.size, -1, np.int64)
        np.maximum.at(star, inv[mask], src[mask])
        return np.maximum(star[inv], start)

    early = src <= m
    own_turn = (frame == il[m] - 1) & ((cls == blank[m]) | (cls == last[m]))  # m's turn assigns these
    star = last_assigner(np.where(early, at, -1), early & assign, np.where(own_turn, m, -1))
    keep = early & ~zeroed[m] & (frame < il[m]) & (src >= star)
    before = at[keep], x[keep], m[keep]

    late = ~early
    star = last_assigner(np.where(late, at, -1), late & assign, -1)
    go = late & (src >= star)
    at, x, wiped = at[go], x[go], star[go] >= 0

    def after(grad):
        uniq, inv = np.unique(at, return_inverse=True)
        v = grad[uniq]
        kept = np.ones(uniq.size, bool)
        kept[inv[wiped]] = False  # an assignment replaced the finished gradient
        grad[uniq] = logsumexp_at(inv, x, np.where(kept, v, -np.inf))

    return before, after


def logsumexp_at(inv, x, start):
    """log(exp(start[i]) + Σ_{j: inv[j] = i} exp(x[j])) for each i (-inf when every term is)."""
    top = start.copy()
    np.maximum.at(top, inv, x)
    shift = np.maximum(top, np.finfo(x.dtype).min)
    total = np.exp(start - shift)
    np.add.at(total, inv, np.exp(x - shift[inv]))
    return np.log(total) + shift
