"""The one reducer: none, mean, sum and batchmean for every loss, and the legacy flags.

Kernels return unreduced values in a `KernelOut`; where the mean is not a plain mean they also
say what to divide by (NLL: the sum of the weights of the items not ignored; CTC: the per-item
target lengths; KL batchmean: the batch size). `apply_reduction` turns that into the value and into an
`Arithmetic` record, the reduction written out, which the renderer prints under the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import LossError, warn


@dataclass
class KernelOut:
    """What a kernel returns.

    elements: the unreduced losses (`reduction=none`).
    terms: named intermediate values, each broadcastable to `elements` (the breakdown columns),
        or a function making one, for a term that costs time and is only wanted when shown.
    mean_divisor, denominator: `mean = Σ (elements / mean_divisor) / denominator`; by default
        no divisor and the elements' count (CTC divides each loss by its target length first).
        `numerator_label` and `denominator_label` say so in words.
    batch: what `batchmean` divides the sum by.
    notes: extra lines for the written-out reduction (e.g. how many items were ignored).
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
    notes: list[str] = field(default_factory=list)
    mean_warning: str | None = None
    shown_inputs: tuple[str, ...] | None = None
    backward: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None


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


def apply_reduction(out: KernelOut, reduction: str) -> tuple[np.ndarray, Arithmetic]:
    """Reduce a kernel's output; returns the value (an array, 0-d unless `none`) and its arithmetic."""
    e = out.elements
    notes = tuple(out.notes)
    if reduction == "none":
        return e, Arithmetic("none", count=e.size, notes=notes)
    total = e.sum(dtype=e.dtype)
    if reduction == "sum":
        return np.asarray(total), Arithmetic("sum", total, "Σ l", None, "", e.size, notes)
    if reduction == "batchmean":
        batch = out.batch if out.batch is not None else 1
        with np.errstate(divide="ignore", invalid="ignore"):  # an empty batch: 0/0 = nan, as PyTorch
            value = total / e.dtype.type(batch)
        return np.asarray(value, e.dtype), Arithmetic("batchmean", total, "Σ l", batch, "batch size", e.size, notes)
    if reduction == "mean":
        if out.mean_warning:
            warn(out.mean_warning)
        num = e if out.mean_divisor is None else e / out.mean_divisor
        numerator = num.sum(dtype=e.dtype)
        denominator = e.size if out.denominator is None else out.denominator
        with np.errstate(divide="ignore", invalid="ignore"):
            value = numerator / e.dtype.type(denominator)
        return np.asarray(value, e.dtype), Arithmetic(
            "mean", numerator, out.numerator_label, denominator, out.denominator_label, e.size, notes
        )
    raise LossError(f"--reduction: unknown reduction {reduction!r}; expected none, mean or sum.")


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
    if reduction == "elementwise_mean":
        warn("--reduction elementwise_mean is deprecated (as in PyTorch); use mean, which it means.")
        reduction = "mean"
    if reduction not in allowed:
        raise LossError(
            f"--reduction: {reduction!r} is not a valid reduction for this loss; "
            f"expected one of {', '.join(allowed)}."
        )
    return reduction


def upstream(out: KernelOut, reduction: str) -> np.ndarray:
    """∂value/∂elements for the reduction in force (`none` counts as the sum of the elements)."""
    e = out.elements
    one = np.ones(e.shape, e.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        if reduction == "mean":
            denominator = e.dtype.type(e.size if out.denominator is None else out.denominator)
            scale = one if out.mean_divisor is None else one / out.mean_divisor
            return (scale / denominator).astype(e.dtype, copy=False)
        if reduction == "batchmean":
            return one / e.dtype.type(out.batch if out.batch is not None else 1)
    return one
