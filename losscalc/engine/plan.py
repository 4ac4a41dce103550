"""A run's plan: the inputs opened lazily, lined up along the batch axis and cut into chunks.

`Plan.run(i)` reads chunk i of every tensor (a memory-mapped or lazily read file gives only
those rows), casts it to the computation's dtype, and calls the loss's kernel on it: a pure
function of the chunk, whose `KernelOut` the reducer and the views consume. The plan holds
paths and small arrays only, so a Dask worker can run the same chunks from the same plan.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

import numpy as np

from ..casts import cast, frames
from ..errors import LossError, held
from ..kernels.common import CHUNK_ITEMS, CHUNK_START
from ..reduction import KernelOut, Partials
from .layout import BLOCKS, LAYOUTS, Split

CHUNK_ELEMENTS = 1 << 20  # elements of work per chunk: a few MiB per array, in cache, many chunks per core


def chunk_elements() -> int:
    """The chunk size in force: LOSSCALC_CHUNK_ELEMENTS, or about a million elements."""
    text = os.environ.get("LOSSCALC_CHUNK_ELEMENTS")
    if text is None:
        return CHUNK_ELEMENTS
    if not text.strip().isdigit() or int(text) < 1:
        raise LossError(f"LOSSCALC_CHUNK_ELEMENTS={text!r} is not a whole number of 1 or more "
                        "(the number of elements per chunk).")
    return int(text)


def is_lazy(a) -> bool:
    """A tensor still in its file (a memory map, a LazyArray), read one chunk at a time."""
    return isinstance(a, np.memmap) or not isinstance(a, np.ndarray)


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int  # items [start, stop) along the batch axis
    stop: int


class Plan:
    """The chunks of one run. `inputs`: name -> array (an ndarray already in the computation's
    dtype, or a lazy array cast chunk by chunk); `kinds`: name -> float, index or any; `grad`:
    the run's chunks will also be differentiated (chunks are then sized by the split's `row`)."""

    def __init__(self, loss, inputs: dict, kinds: dict, options: dict, dtype, size: int | None = None,
                 grad: bool = False):
        self.loss, self.inputs, self.kinds, self.options, self.dtype = loss, inputs, kinds, options, dtype
        self.after = None  # called with each chunk's KernelOut where the chunk runs (engine/views.py)
        self.positional = [t.name for t in loss.tensors]
        self.frames = {t.name for t in loss.tensors if t.frames}
        self.tensor_options = {o.name: o.flag for o in loss.options if o.type == "tensor"
                               and options.get(o.name) is not None}
        size = size or chunk_elements()
        shapes = {name: tuple(int(d) for d in a.shape) for name, a in inputs.items()}
        work = max((math.prod(s) for s in shapes.values()), default=0)
        split = LAYOUTS[loss.layout](shapes, inputs) if work > size or any(map(is_lazy, inputs.values())) else None
        self.split: Split | None = split
        self.block: int | None = None  # items a block (Plan.partials), for a layout that has blocks
        if split is None:
            self.chunks = [Chunk(0, 0, 0)]
        else:
            row = split.row if grad or split.value_row is None else split.value_row
            rows = max(1, size // max(row, 1))
            self.chunks = [Chunk(i, a, min(a + rows, split.n)) for i, a in enumerate(range(0, split.n, rows))] \
                or [Chunk(0, 0, 0)]
            if split.blocks and loss.blocks:
                self.block = max(1, size // BLOCKS // max(split.row, 1))

    def __len__(self) -> int:
        return len(self.chunks)

    def __getstate__(self):  # memory maps travel as their paths, to be mapped again where read
        from ..readers.npy import Mapped

        inputs = {k: Mapped.of(a) if isinstance(a, np.memmap) else a for k, a in self.inputs.items()}
        return {**self.__dict__, "inputs": inputs}

    @property
    def whole(self) -> bool:
        """One chunk holding everything, exactly as the kernel would see the whole input."""
        return self.split is None

    def arrays(self, chunk: Chunk) -> dict[str, np.ndarray]:
        """Chunk `chunk` of every tensor, in the computation's dtype."""
        out = {}
        for name, a in self.inputs.items():
            if self.split is None:
                part = a if not is_lazy(a) else a[:] if a.ndim else np.asarray(a)
                offset = 0
            elif name in self.split.cutters:
                lo, hi = self.split.cutters[name](chunk.start, chunk.stop)
                part, offset = a[lo:hi], lo
            elif name in self.split.axes:
                axis = self.split.axes[name]
                if axis == 0:
                    part = a[chunk.start:chunk.stop]
                else:
                    index = (slice(None),) * axis + (slice(chunk.start, chunk.stop),)
                    part = (a if isinstance(a, np.ndarray) else np.asarray(a))[index]
                offset = chunk.start
            else:
                part, offset = (a if not is_lazy(a) else np.asarray(a)), 0
            if name in self.frames and self.split is not None and isinstance(part, np.ndarray):
                out[name] = frames(part, name, self.dtype)  # read by the kernel a frame at a time
            else:
                out[name] = cast(part, name, self.kinds[name], self.dtype, offset) if is_lazy(a) or \
                    not isinstance(part, np.ndarray) else part
        return out

    def run(self, chunk: Chunk) -> tuple[KernelOut, Partials, dict]:
        """The kernel on one chunk: its output, its partials and the arrays it was given."""
        with np.errstate(all="ignore"):
            return self._run(chunk)

    def _run(self, chunk: Chunk) -> tuple[KernelOut, Partials, dict]:
        arrays = self.arrays(chunk)
        token = CHUNK_START.set(chunk.start)
        items = CHUNK_ITEMS.set((chunk.stop - chunk.start, self.split.n) if self.split else None)
        try:
            options = {name: arrays[flag] if name in self.tensor_options else value
                       for name, value in self.options.items()
                       for flag in [self.tensor_options.get(name)]}
            out = self.loss.kernel(*(arrays[n] for n in self.positional), **options)
            partials = Partials.of(out, self.block)
            if self.after is not None:  # a view's own work on the chunk, on this worker thread
                out.after = self.after(out)
        finally:
            CHUNK_START.reset(token)
            CHUNK_ITEMS.reset(items)
        return out, partials, arrays

    def partials(self, chunk: Chunk) -> tuple[KernelOut, Partials]:
        """A chunk's partials alone, for a mean or sum with no sink and no view: with a layout
        that has blocks, the kernel runs on the chunk a block at a time (layout.BLOCKS), and
        the chunk's partials are the same to the last bit as `run`'s (Partials.of adds its
        sums by the same blocks). If a block warns, the chunk runs again whole, so that the
        warning names the chunk's counts, as the other outputs' runs say it. The output comes
        back slim (KernelOut.slim): the chunk's elements' shape, no arrays."""
        if self.block is None or chunk.stop - chunk.start <= self.block:
            out, partials, _ = self.run(chunk)
            return out.slim(), partials
        partials = Partials()
        with np.errstate(all="ignore"), held() as said:
            for a in range(chunk.start, chunk.stop, self.block):
                out = None  # (the last block's arrays let go before the next block's are made)
                out, part, _ = self._run(Chunk(chunk.index, a, min(a + self.block, chunk.stop)))
                partials = partials.add(part)
        if said:
            out, partials, _ = self.run(chunk)
            return out.slim(), partials
        shape = (chunk.stop - chunk.start, *out.elements.shape[1:])
        return replace(out.slim(), elements=np.broadcast_to(np.zeros((), out.elements.dtype), shape)), partials

    def element_start(self, chunk: Chunk, out: KernelOut) -> int:
        """The flat index (C order) of the chunk's first element in the whole elements array."""
        return chunk.start * math.prod(out.elements.shape[1:]) if self.split is not None else 0

    def elements_shape(self, out: KernelOut) -> tuple[int, ...]:
        """The whole elements' shape, from any chunk's output."""
        if self.split is None:
            return tuple(out.elements.shape)
        return (self.split.n, *out.elements.shape[1:])
