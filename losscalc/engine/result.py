"""A run's `Result`: the value, the reduction written out, and what the output may ask of the
run afterwards: the elements and the terms (made again from the chunks when they were not
kept), the chunks holding given rows (a table's head and tail, --top), and the signature."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .. import __version__
from ..errors import LossWarning
from ..reduction import Arithmetic, Partials
from ..registry import Loss
from .local import run_chunks
from .plan import Plan

if TYPE_CHECKING:
    from ..tensors import TensorSource

KEEP_ELEMENTS = 1 << 28  # a Result holds its elements up to this many (the CLI asks for fewer)
HASHED_WHOLE = 256 << 20  # bytes of input hashed whole for the signature; beyond, a fixed sample


@dataclass
class Result:
    loss: Loss
    reduction: str
    options: dict  # the options in force, by name (tensor options as arrays)
    dtype: str
    value: np.ndarray | None  # 0-d, or the elements when reduction is none (None: too many to keep)
    kept: np.ndarray | None  # the unreduced losses, when the run kept them (see `elements`)
    elements_shape: tuple
    arithmetic: Arithmetic
    partials: Partials
    plan: Plan
    inputs: dict[str, TensorSource] = field(default_factory=dict)  # by name, as the kernel got them
    grads: dict[str, np.ndarray] | None = None  # with grad=True: ∂value/∂tensor, by tensor name
    first: tuple | None = None  # the one chunk's (out, arrays) when the plan is whole
    views: dict = field(default_factory=dict)  # top, bottom, groups, summary, histogram (SPEC §10)
    convention: object = None  # with --convention: the ConventionResult of that framework (SPEC §11)
    compared: dict | None = None  # with --compare: framework -> ConventionResult, LossError, or None (torch)

    @property
    def count(self) -> int:
        return self.partials.count

    @property
    def elements(self) -> np.ndarray | None:
        """The unreduced losses: those the run kept, else made on demand by running the kernel
        again over the chunks (a mean or sum keeps none of them); None beyond KEEP_ELEMENTS."""
        if self.kept is None and math.prod(self.elements_shape) <= KEEP_ELEMENTS:
            kept = None
            with warnings.catch_warnings():  # said by the run already
                warnings.simplefilter("ignore", LossWarning)
                for start, out, _ in self.chunks():
                    if kept is None:
                        kept = np.empty(self.elements_shape, out.elements.dtype)
                    kept.reshape(-1)[start:start + out.elements.size] = out.elements.reshape(-1)
            self.kept = kept
        return self.kept

    @property
    def terms(self) -> dict[str, np.ndarray]:
        """The kernel's named intermediate values over every element (made on demand)."""
        if "_terms" not in self.__dict__:
            outs = [(self.first[0], self.first[1])] if self.first else \
                [(out, arrays) for _, out, _, arrays in run_chunks(self.plan, 1)]
            parts: dict[str, list] = {}
            for out, _ in outs:
                for k, v in out.terms.items():
                    if callable(v):
                        with np.errstate(all="ignore"):  # (a term made late, as the kernel made the rest)
                            v = v()
                    parts.setdefault(k, []).append(np.broadcast_to(np.asarray(v), out.elements.shape))
            self.__dict__["_terms"] = {k: v[0] if len(v) == 1 else np.concatenate(v) for k, v in parts.items()}
        return self.__dict__["_terms"]

    @property
    def shown_inputs(self):
        return self.first[0].shown_inputs if self.first else None

    def chunks(self):
        """(flat start, out, arrays) of every chunk, in order: the kernel run again, for output
        that needs every row (csv) when the elements were too many to keep."""
        if self.first:
            yield 0, *self.first
            return
        for chunk, out, _, arrays in run_chunks(self.plan):
            yield self.plan.element_start(chunk, out), out, arrays

    def rows_of(self, flat: list[int]):
        """(flat start, out, arrays) of the chunks holding the elements `flat` (sorted)."""
        if self.first:
            return [(0, *self.first)]
        plan, per_item = self.plan, math.prod(self.elements_shape[1:])
        rows = plan.chunks[0].stop - plan.chunks[0].start
        wanted = sorted({(i // per_item) // rows for i in flat}) if per_item else []
        found = []
        for k in wanted:
            out, _, arrays = plan.run(plan.chunks[k])
            found.append((plan.element_start(plan.chunks[k], out), out, arrays))
        return found

    @property
    def signature(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        for name, t in self.inputs.items():
            a = t.array
            digest.update(f"{name}:{np.dtype(a.dtype).str}:{tuple(a.shape)}".encode())
            for block in _hashed_blocks(a):
                digest.update(block)
        opts = "".join(f"|{k}={_plain(v)}" for k, v in self.changed_options().items())
        return (
            f"losscalc {__version__}|{self.loss.name}|reduction={self.reduction}{opts}|"
            f"{self.dtype}|inputs=sha256:{digest.hexdigest()[:8]}"
        )

    def changed_options(self) -> dict:
        """The options whose value differs from the default."""
        defaults = {o.name: o.default for o in self.loss.options}
        return {k: v for k, v in self.options.items() if not _same(v, defaults.get(k))}


def _hashed_blocks(a):
    """The bytes of a tensor for the signature: all of it up to HASHED_WHOLE bytes, read chunk by
    chunk; beyond, 64 blocks of 1 MiB at fixed places (README: what the signature covers)."""
    nbytes = math.prod(a.shape) * np.dtype(a.dtype).itemsize
    if not a.shape:
        yield np.ascontiguousarray(np.asarray(a)).tobytes()
        return
    n = a.shape[0]
    row = max(1, nbytes // max(n, 1))
    step = max(1, (8 << 20) // row)
    if nbytes <= HASHED_WHOLE:
        for i in range(0, n, step):
            yield np.ascontiguousarray(a[i:i + step]).tobytes()
        return
    take = max(1, (1 << 20) // row)
    for k in range(64):
        i = (n - take) * k // 63
        yield np.ascontiguousarray(a[i:i + take]).tobytes()


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    return a == b


def _plain(v):
    if isinstance(v, np.ndarray):
        return "tensor" + str(list(v.shape))
    return v
