"""The one reducer: none, mean, sum and batchmean for every loss, and the legacy flags.

Kernels return the unreduced values of one chunk in a `KernelOut`; where the mean is not a
plain mean they also say what to divide by (NLL: the sum of the weights of the items not
ignored; CTC: the per-item target lengths; KL batchmean: the batch size). `Partials.of` keeps
what the reduction needs of a chunk, in float64; the engine adds the chunks' partials in chunk
order, and `finish` turns them into the value and into an `Arithmetic` record, the reduction
written out, which the renderer prints under the table. Reductions live here and only here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import LossError, warn

DEFAULT = "mean"  # PyTorch's default reduction
DEPRECATED = {"elementwise_mean": "mean"}  # accepted with a warning, as PyTorch accepts them


@dataclass
class KernelOut:
    """What a kernel returns for one chunk of the batch (or for the whole input).

    elements: the unreduced losses (`reduction=none`).
    terms: named intermediate values, each broadcastable to `elements` (the breakdown columns),
        or a function making one, for a term that costs time and is only wanted when shown.
    mean_divisor, denominator: `mean = Σ (elements / mean_divisor) / denominator`; by default
        no divisor, and Σ weights if weights are given, else the elements' count (CTC divides
        each loss by its target length first).
        The denominator is this chunk's share: the reducer adds the chunks' shares.
        `numerator_label` and `denominator_label` say so in words.
    batch: what `batchmean` divides the sum by (this chunk's share of it).
    weights: each element's share of the mean's denominator, where it is not 1 (Σ w: the
        weights; items ignored count 0): what per-group means (--group-by) divide by.
    ignored: (how many items were ignored, the ignore index), for losses with --ignore-index.
    notes: extra lines for the written-out reduction.
    mean_warning: emitted when the reduction is `mean` (e.g. KL divergence's mean).
    shown_inputs: the input tensors the breakdown shows beside the terms; by default every
        input whose shape fits the elements (a kernel whose inputs do not line up with its
        elements, such as CTC's, names none and puts what matters in its terms).
    backward: for --grad: given g = ∂value/∂elements (in the elements' shape), the gradient
        with respect to each floating-point positional tensor PyTorch differentiates, by name
        (a shape the tensor broadcasts to, aligned from the right as NumPy broadcasts, is fine:
        the engine sums it back to the tensor's own shape). Where every item counts for nothing
        (all ignored, a zero weight sum) g may be inf or nan: mask it as PyTorch does.
    """

    elements: np.ndarray
    terms: dict[str, np.ndarray] = field(default_factory=dict)
    mean_divisor: np.ndarray | None = None
    denominator: float | None = None
    numerator_label: str = "Σ l"
    denominator_label: str = "N"
    batch: int | None = None
    weights: np.ndarray | None = None
    ignored: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)
    mean_warning: str | None = None
    shown_inputs: tuple[str, ...] | None = None
    backward: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None

    def slim(self) -> "KernelOut":
        """This output without its arrays: the elements' shape and dtype kept (a view of one
        number), the labels and counts kept, for a consumer that has the partials already."""
        from dataclasses import replace

        e = self.elements
        return replace(self, elements=np.broadcast_to(np.zeros((), e.dtype), e.shape), terms={},
                       mean_divisor=None, weights=None, backward=None)


@dataclass
class Partials:
    """What the reducer needs of a chunk, in float64: the chunks' partials are added in chunk
    order (`add`), so a result does not depend on how the work was split or on the threads."""

    count: int = 0
    total: float = 0.0  # Σ l
    numerator: float = 0.0  # Σ l / mean_divisor
    denominator: float | int = 0
    batch: int = 0
    ignored: int = 0
    ignore_index: int | None = None
    numerator_label: str = "Σ l"
    denominator_label: str = "N"
    notes: tuple[str, ...] = ()
    mean_warning: str | None = None

    @classmethod
    def of(cls, out: KernelOut, rows: int | None = None) -> "Partials":
        """A chunk's partials. `rows`: its sums are added up block by block of that many items
        along axis 0, in order, as the blocks' own partials would be (Plan.partials): a mean
        is then the same to the last bit whether the kernel saw the chunk whole or in blocks."""
        e = out.elements
        cuts = range(0, e.shape[0], rows) if rows and e.ndim and e.shape[0] > rows else (None,)

        def summed(a) -> float:
            total = 0.0
            for i in cuts:
                total += float((a if i is None else a[i:i + rows]).sum(dtype=np.float64))
            return total

        total = summed(e)
        numerator = total if out.mean_divisor is None else summed(e / out.mean_divisor)
        k, index = out.ignored if out.ignored is not None else (0, None)
        if out.denominator is None:
            den = e.size if out.weights is None else summed(out.weights)
        else:
            den = out.denominator
        den = int(den) if isinstance(den, (int, np.integer)) else float(den)  # a count stays a whole number
        return cls(e.size, total, numerator, den,
                   1 if out.batch is None else int(out.batch), k, index, out.numerator_label,
                   out.denominator_label, tuple(out.notes), out.mean_warning)

    def add(self, other: "Partials") -> "Partials":
        """The partials of this chunk followed by `other` (the labels of the first chunk)."""
        notes = self.notes + tuple(n for n in other.notes if n not in self.notes)
        return Partials(self.count + other.count, self.total + other.total, self.numerator + other.numerator,
                        self.denominator + other.denominator, self.batch + other.batch,
                        self.ignored + other.ignored, self.ignore_index if self.count else other.ignore_index,
                        self.numerator_label if self.count else other.numerator_label,
                        self.denominator_label if self.count else other.denominator_label,
                        notes, self.mean_warning or other.mean_warning)


@dataclass(frozen=True)
class Arithmetic:
    """The reduction written out: `reduction = numerator_label / denominator_label = ...`."""

    reduction: str
    numerator: float | None = None
    numerator_label: str = ""
    denominator: float | None = None
    denominator_label: str = ""
    count: int = 0
    notes: tuple[str, ...] = ()
    total: float = 0.0  # Σ l, whatever the reduction

    def text(self, fmt: Callable, value: str) -> str:
        """The written-out line (and its notes), numbers formatted by `fmt`."""
        if self.reduction == "none":
            text = f"none: the {self.count} element losses are the value (sum would be {fmt(self.total)})"
        elif self.reduction == "sum":
            text = f"sum = {self.numerator_label} over {self.count} elements = {value}"
        else:
            den = self.denominator
            den_text = str(den) if isinstance(den, int) else fmt(den)
            text = (f"{self.reduction} = {self.numerator_label} / {self.denominator_label} = "
                    f"{fmt(self.numerator)} / {den_text} = {value}")
        return "\n".join([text, *self.notes])


def finish(p: Partials, reduction: str, dtype) -> tuple[np.ndarray | None, Arithmetic]:
    """The value (0-d in `dtype`; None for `none`, whose value is the elements) and the
    arithmetic, from the partials of every chunk. Warns about what the whole input shows."""
    dtype = np.dtype(dtype)
    notes = p.notes
    if p.ignored:
        notes = (f"{p.ignored} of {p.count} item(s) ignored (target = ignore_index {p.ignore_index}): "
                 "they count neither in the sum nor in the denominator", *notes)
        if p.ignored == p.count:
            warn(f"every target equals the ignore index {p.ignore_index}: no item counts, so the mean is "
                 "0 / 0 = nan and the sum is 0, as in PyTorch. Check --ignore-index and the targets.")
    if reduction == "none":
        return None, Arithmetic("none", count=p.count, notes=notes, total=p.total)
    if reduction == "sum":
        return np.asarray(p.total, dtype), Arithmetic("sum", p.total, "Σ l", None, "", p.count, notes, p.total)
    with np.errstate(divide="ignore", invalid="ignore"):
        if reduction == "batchmean":  # an empty batch: 0/0 = nan, as PyTorch
            batch = p.batch
            value = np.float64(p.total) / np.float64(batch)
            return np.asarray(value, dtype), Arithmetic("batchmean", p.total, "Σ l", batch, "batch size",
                                                        p.count, notes, p.total)
        if p.mean_warning:
            warn(p.mean_warning)
        value = np.float64(p.numerator) / np.float64(p.denominator)
        if p.denominator == 0 and p.count and p.ignored != p.count and p.denominator_label != "N":
            what = ("the weights of the targets not ignored sum to 0" if "not ignored" in p.denominator_label
                    else f"{p.denominator_label} is 0")
            warn(f"{what}, so the mean is {p.numerator:g} / 0 = {value} (as in PyTorch).")
    return np.asarray(value, dtype), Arithmetic("mean", p.numerator, p.numerator_label, p.denominator,
                                                p.denominator_label, p.count, notes, p.total)


def legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    """The reduction that PyTorch's deprecated size_average/reduce flags stand for.

    As in torch/nn/_reduction.py: an unset flag counts as True; reduce=False means `none`
    whatever size_average says; otherwise size_average picks `mean` or `sum`.
    """
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def resolve_reduction(reduction: str, size_average: bool | None, reduce: bool | None, allowed,
                      legacy: bool = True) -> str:
    """The reduction in force, with PyTorch's deprecation warnings."""
    if (size_average is not None or reduce is not None) and not legacy:
        raise LossError(
            "this loss has no legacy size_average/reduce flags (its PyTorch class has none); "
            f"use --reduction {'|'.join(allowed)}."
        )
    if size_average is not None or reduce is not None:
        chosen = legacy_reduction(size_average, reduce)
        warn(
            "--size-average and --reduce are deprecated (as in PyTorch); they override "
            f"--reduction. Use --reduction {chosen} instead."
        )
        return chosen
    if reduction in DEPRECATED:
        warn(f"--reduction {reduction} is deprecated (as in PyTorch); use {DEPRECATED[reduction]}, which it means.")
        reduction = DEPRECATED[reduction]
    if reduction not in allowed:
        raise LossError(
            f"--reduction: {reduction!r} is not a valid reduction for this loss; "
            f"expected one of {', '.join(allowed)}."
        )
    return reduction


def upstream(out: KernelOut, reduction: str, p: Partials) -> np.ndarray:
    """∂value/∂elements of one chunk, for the reduction in force over the whole input
    (`p`: every chunk's partials); `none` counts as the sum of the elements."""
    e = out.elements
    one = np.ones(e.shape, e.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        if reduction == "mean":
            scale = one if out.mean_divisor is None else one / out.mean_divisor
            return (scale / e.dtype.type(p.denominator)).astype(e.dtype, copy=False)
        if reduction == "batchmean":
            return one / e.dtype.type(p.batch)
    return one
