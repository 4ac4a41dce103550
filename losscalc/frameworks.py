"""--convention and --compare (SPEC §11): a computed Result given other frameworks' values.

The torch value is computed first (so a bad tensor is reported in losscalc's own words), then
losscalc.conventions reproduces each framework on the same tensors, held whole in memory.
"""

from __future__ import annotations

import numpy as np

from .errors import LossError
from .limits import shape_too_large


def _tensors(result) -> list[np.ndarray]:
    arrays = []
    for t in result.loss.tensors:
        a = result.inputs[t.name].array
        if shape_too_large(a.shape):
            raise LossError(f"--convention and --compare hold the tensors whole; {t.name} {tuple(a.shape)} is "
                            "larger than 2**28 elements.")
        arrays.append(np.asarray(a[:] if a.ndim else a))
    return arrays


def conventions_of(result, convention: str, compare: str | None, dtype: str | None) -> None:
    """Set `result.convention` (the value as `convention` computes it) and `result.compared`
    (framework -> ConventionResult, LossError or None for torch)."""
    from .conventions import FRAMEWORKS, compare as compare_all, convention_value

    tensors = _tensors(result)
    options = {**result.options, "reduction": result.reduction}
    if convention != "torch":
        result.convention = convention_value(result.loss.name, convention, tensors, options, dtype)
    if compare:
        names = FRAMEWORKS if compare.strip().lower() == "all" else [n.strip() for n in compare.split(",") if n.strip()]
        unknown = [n for n in names if n.lower() not in FRAMEWORKS]
        if unknown:
            raise LossError(f"--compare: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a "
                            f"framework; expected a list of {', '.join(FRAMEWORKS)}, or all.")
        result.compared = compare_all(result.loss.name, tensors, options, dtype, [n.lower() for n in names])
