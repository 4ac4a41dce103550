"""How a loss's tensors line up along the batch axis, so that the engine can cut them into chunks.

A layout looks at the tensors' shapes (and, for CTC, at the small length tensors) and returns a
`Split`: how many items lie along the batch axis, how much work one item is, and which tensors
are cut along which axis; the others (class weights, broadcast tensors) go whole to every
chunk. None means the input is run as one chunk: it has no batch axis (an unbatched (C) input),
or its tensors do not line up, in which case the kernel, seeing them whole, says what is wrong.
A loss names its layout in its registry entry; adding a loss adds no code here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Split:
    n: int  # items along the batch axis
    row: int  # elements of work per item, to size the chunks
    axes: dict[str, int]  # tensors cut along this axis; the others are passed whole
    cutters: dict[str, Callable[[int, int], tuple[int, int]]] = field(default_factory=dict)
    # a tensor cut by another rule: items [a, b) -> its own rows [start, stop) along axis 0
    value_row: int | None = None  # the work per item when no gradient is asked, if not `row`
    blocks: bool = False  # the items are independent: a chunk's partials can be made block by block


#: A chunk whose partials alone are wanted (a mean or sum with no sink and no view) is handed
#: to the kernel in this many blocks of items (elementwise and rows layouts, unless the loss's
#: entry says blocks=False): its temporaries are then a block's, so that a few of them on each
#: thread stay under one chunk's worth, and its NumPy passes run over cached data. Measured on
#: 1e7 float64 elements, 2 threads: smooth_l1 34.9 ms with 48 MiB of temporaries for whole
#: chunks, 19.5 ms and 6 MiB with 8 blocks (2**17 elements); bce 65 ms, 64 MiB -> 43 ms, 6 MiB.
#: 16 blocks were slower (mse 13 -> 20 ms): each kernel call costs ~20 us, holding the GIL.
BLOCKS = 8


def elementwise(shapes: dict[str, tuple], tensors) -> Split | None:
    """Losses of broadcast tensors, element by element: cut along axis 0 of the broadcast
    shape; a tensor is cut when it spans that axis (the first tensor must), else passed whole."""
    try:
        full = np.broadcast_shapes(*shapes.values())
    except ValueError:
        return None
    lead = next(iter(shapes.values()))
    if not full or len(lead) != len(full) or lead[0] != full[0]:
        return None
    n = full[0]
    axes = {k: 0 for k, s in shapes.items() if len(s) == len(full) and s[0] == n}
    return Split(n, math.prod(full[1:]), axes, blocks=True)


def rows(min_ndim: int = 2, whole: tuple[str, ...] = ("--weight",), work: int | None = None) -> Callable:
    """Losses of items along axis 0 (rows of scores, embedding vectors, samples): cut when the
    first tensor has at least `min_ndim` dimensions; every tensor but those in `whole` must
    have the same first dimension. `work`: elements of work per item, when it is not the
    item's size (nll reads one entry of each row)."""

    def layout(shapes: dict[str, tuple], tensors) -> Split | None:
        lead = next(iter(shapes.values()))
        if len(lead) < min_ndim:
            return None
        n = lead[0]
        axes = {}
        for name, shape in shapes.items():
            if name in whole:
                continue
            if not shape or shape[0] != n:
                return None
            axes[name] = 0
        return Split(n, work or max(1, math.prod(lead[1:])), axes, blocks=work is None)

    return layout


def gaussian_nll(shapes: dict[str, tuple], tensors) -> Split | None:
    """input and target element by element; var of the input's shape (or with a last dimension
    of 1), or with one dimension fewer: cut too when it spans the batch axis."""
    split = elementwise({k: v for k, v in shapes.items() if k != "var"}, tensors)
    var, ndim = shapes["var"], len(shapes["input"])
    if split is None:
        return None
    if len(var) in (ndim, ndim - 1) and len(var) >= 1 and var[0] == split.n and ndim >= 2 or var == shapes["input"]:
        return Split(split.n, split.row, {**split.axes, "var": 0}, blocks=True)
    return split if not var else None  # a scalar var goes whole; any other shape, the kernel judges whole


CTC_WIDER = 3  # a CTC chunk that is also differentiated holds this many times the others' elements
CTC_CELLS = 2**15  # a CTC chunk computing values alone holds about this many lattice cells a frame


def ctc(shapes: dict[str, tuple], tensors) -> Split | None:
    """log_probs (T, N, C) cut along N (axis 1), the lengths and padded targets along axis 0;
    concatenated targets by the running sum of the target lengths. The lattice loops over the
    frames, and each frame's NumPy calls cost about the same however many samples the chunk
    holds. It reads log_probs a frame at a time (casts.Frames), so a chunk computing values
    holds only its lattice: about CTC_CELLS cells a frame (W = 2 max S + 3 a sample), at the
    default chunk size. A differentiated chunk holds its log_probs and their gradient whole:
    CTC_WIDER times the usual log-probabilities. `losscalc ctc` on a (1000, 2000, 50) float32
    file: 0.8 s and 32 MiB of peak RssAnon at 2**15 cells (the same at 2**14 to 2**17), where
    chunks of 3x the usual log-probabilities, copied whole, took 1.6-1.7 s and 166-189 MiB;
    bench_scale's (1000, 20000, 50): 0.54x the tuned pass, 39 MiB (before: 1.8x, 204 MiB)."""
    lp = shapes["log_probs"]
    if len(lp) != 3:
        return None
    n = lp[1]
    if shapes["input_lengths"] != (n,) or shapes["target_lengths"] != (n,):
        return None
    axes = {"log_probs": 1, "input_lengths": 0, "target_lengths": 0}
    labels = np.asarray(tensors["targets"])
    if labels.size and not labels.max() < lp[2]:
        return None  # PyTorch reads a label >= C from the next samples' memory: only the whole batch says what
    lengths = np.asarray(tensors["target_lengths"])
    if lengths.dtype.kind not in "iuf" or (lengths < 0).any() or not np.isfinite(lengths).all():
        return None
    row = max(1, lp[0] * lp[2] // CTC_WIDER)
    cells = (2 * int(lengths.max(initial=0)) + 3) * (2**20 // CTC_CELLS)  # scaled to the default chunk size
    targets = shapes["targets"]
    if len(targets) == 2 and targets[0] == n:
        return Split(n, row, {**axes, "targets": 0}, value_row=cells)
    if len(targets) != 1:
        return None
    ends = np.concatenate([[0], np.cumsum(lengths.astype(np.int64))])
    if ends[-1] != targets[0]:
        return None
    return Split(n, row, axes, {"targets": lambda a, b: (int(ends[a]), int(ends[b]))}, value_row=cells)


def whole(shapes, tensors) -> None:
    """Losses over the whole input at once (e.g. the 1-D Wasserstein distance): one chunk."""
    return None


LAYOUTS = {"elementwise": elementwise, "rows": rows(), "gather": rows(work=1), "gaussian_nll": gaussian_nll, "ctc": ctc, "whole": whole}
