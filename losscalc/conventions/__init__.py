"""Conventions: a loss as Keras 3, optax 0.2 or scikit-learn 1.9 computes it (SPEC §11).

The mapping from each losscalc loss to each framework's own loss is data: one `Equivalent` per
(framework, loss, tensor form), listed in `keras.py`, `optax.py` and `sklearn.py` beside the
NumPy function that reproduces the framework; `near_misses.py` lists the functions that look
alike but compute something else (for `explain`; `--convention` refuses them).

    FRAMEWORKS                                   ("torch", "keras", "optax", "sklearn")
    equivalents(loss) -> {framework: Equivalent}  the first equivalent of each framework
    all_equivalents(loss) -> tuple[Equivalent]    every one (cross_entropy has one per target form)
    near_misses(loss) -> tuple[NearMiss]
    convention_value(loss, framework, tensors, options, dtype) -> ConventionResult | None
    compare(loss, tensors, options, dtype) -> {framework: ConventionResult | LossError | None}
    describe(loss) -> list[str]                   lines for `losscalc explain LOSS`

The tensors are losscalc's, in PyTorch's forward order, already checked by losscalc's own kernel
(the caller computes the torch value first, so a bad tensor has already been reported).
For `framework="torch"`, `convention_value` returns None: the torch value is losscalc's own
`compute`, and `equivalents(loss)["torch"]` names the torch function.

Nothing here imports Keras, optax, jax, scikit-learn or torch: they are test oracles only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LossError
from . import keras as _keras
from . import optax as _optax
from . import sklearn as _sklearn
from ._common import Equivalent, NearMiss, Outcome
from .near_misses import NEAR_MISSES

__all__ = ["FRAMEWORKS", "Equivalent", "NearMiss", "ConventionResult", "equivalents", "all_equivalents",
           "near_misses", "convention_value", "compare", "describe"]

from ..registry import FRAMEWORKS  # noqa: E402  (the CLI's choices, without importing this package)

#: framework -> what it is, for messages and `explain`.
FRAMEWORK_NAMES = {"torch": "PyTorch 2.13 torch.nn", "keras": "Keras 3 keras.losses",
                   "optax": "optax 0.2 optax.losses", "sklearn": "scikit-learn 1.9 sklearn.metrics"}

EQUIVALENTS: tuple[Equivalent, ...] = _keras.EQUIVALENTS + _optax.EQUIVALENTS + _sklearn.EQUIVALENTS


@dataclass(frozen=True)
class ConventionResult:
    """A loss as a framework computes it: the value, the framework's function, one line for
    every way the value differs from PyTorch's on these inputs, and the conversions made to the
    inputs to give the framework the same quantities."""

    value: float
    function: str
    differences: tuple[str, ...]
    conversions: tuple[str, ...]
    framework: str = ""
    dtype: str = ""


def _loss(name: str):
    from ..registry import find

    return find(name)


def _torch_equivalent(loss) -> Equivalent:
    return Equivalent("torch", loss.name, loss.matches or loss.name, tuple(t.name for t in loss.tensors),
                      "", "", "losscalc's own reduction", (), None, tuple(o.name for o in loss.options),
                      {r: r for r in loss.reductions})


def all_equivalents(loss_name: str) -> tuple[Equivalent, ...]:
    """Every equivalent of the loss, torch's first, then in FRAMEWORKS order."""
    loss = _loss(loss_name)
    found = tuple(e for f in FRAMEWORKS[1:] for e in EQUIVALENTS if e.framework == f and e.loss == loss.name)
    return (_torch_equivalent(loss),) + found


def equivalents(loss_name: str) -> dict[str, Equivalent]:
    """framework -> its (first) equivalent of the loss; torch always maps to the loss itself.
    A framework without one is absent."""
    out: dict[str, Equivalent] = {}
    for e in all_equivalents(loss_name):
        out.setdefault(e.framework, e)
    return out


def near_misses(loss_name: str) -> tuple[NearMiss, ...]:
    name = _loss(loss_name).name
    return tuple(m for m in NEAR_MISSES if m.loss == name)


def _choose(loss, framework: str, tensors, options, function: str | None) -> Equivalent:
    found = [e for e in all_equivalents(loss.name) if e.framework == framework]
    if function is not None:
        named = [e for e in found if e.function == function or e.function.rsplit(".", 1)[-1] == function]
        if not named:
            have = ", ".join(e.function for e in found) or "none"
            raise LossError(f"{function} is not one of {framework}'s equivalents of {loss.name} (they are: {have}).")
        return named[0]
    if not found:
        others = ", ".join(f for f in FRAMEWORKS if any(e.framework == f for e in all_equivalents(loss.name)))
        misses = [m for m in near_misses(loss.name) if m.framework == framework]
        why = f" ({misses[0].function} looks alike but is not: {misses[0].why})" if misses else ""
        raise LossError(f"{framework} has no equivalent of {loss.name}{why}; the frameworks that have one: {others}.")
    for e in found:
        if e.applies is None or e.applies(tensors, options):
            return e
    forms = "; ".join(f"{e.function} for {e.when}" for e in found)
    raise LossError(f"{framework}'s equivalents of {loss.name} do not take these tensors: {forms}.")


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    try:
        return bool(np.all(np.asarray(a) == np.asarray(b)))
    except (TypeError, ValueError):
        return False


def _check_options(loss, eq: Equivalent, options: dict, reduction: str) -> None:
    name = FRAMEWORK_NAMES[eq.framework]
    for option in loss.options:
        if option.name in eq.honours or option.name not in options:
            continue
        if not _same(options[option.name], option.default):
            raise LossError(
                f"{eq.function} cannot honour {option.flag} (given {_show(options[option.name])}, losscalc's "
                f"default {_show(option.default)}): {name} has no option with the same meaning for {loss.name}, "
                f"so --convention {eq.framework} computes only with {option.flag} at its default. Leave it "
                "out, or compare with --convention torch.")
    if reduction not in eq.reductions:
        have = ", ".join(repr(r) for r in eq.reductions)
        what = ("returns one number per call here, so an unreduced 'none' has no counterpart"
                if reduction == "none" else f"has no reduction matching {reduction!r}")
        raise LossError(
            f"{eq.function} cannot honour --reduction {reduction}: the {eq.framework} convention {what}; "
            f"it honours {have} ({eq.reduction}).")


def _show(value) -> str:
    if isinstance(value, np.ndarray):
        return f"a tensor of shape {tuple(value.shape)}"
    return repr(value)


def convention_value(loss_name: str, framework: str, tensors: list, options: dict | None = None,
                     dtype: str | None = None, *, function: str | None = None) -> ConventionResult | None:
    """The loss as `framework` computes it with its own defaults, on the same quantities.

    tensors: losscalc's, in PyTorch's forward order (NumPy arrays: floats, or int64 indices).
    options: losscalc's Python option names (`delta`, `label_smoothing`, `log_target`, `weight`,
        ..., and `reduction`, default "mean"); options left out are at losscalc's defaults.
    dtype: "float32" or "float64"; None for the framework's own default (Keras and optax:
        float32; scikit-learn: float64). Keras 3 computes float32 even when "float64" is given
        (its type promotion turns 64-bit into 32-bit off TensorFlow; a difference line says
        so); for optax "float64" stands for jax with `jax_enable_x64`.
    function: pick one of several equivalents by name (e.g. "optax.losses.l2_loss"); by
        default the first that takes these tensors.

    Returns None for framework "torch" (its value is losscalc's own `compute`). Raises
    LossError for an unknown framework, a loss the framework has no equivalent of (naming the
    frameworks that have one), and an option or reduction the framework cannot honour.
    """
    framework = framework.strip().lower()
    if framework not in FRAMEWORKS:
        raise LossError(f"unknown convention {framework!r}; the conventions are: {', '.join(FRAMEWORKS)}.")
    if dtype not in (None, "float32", "float64"):
        raise LossError(f"dtype must be float32 or float64; got {dtype!r}.")
    loss = _loss(loss_name)
    options = dict(options or {})
    reduction = options.pop("reduction", "mean") or "mean"
    if reduction == "elementwise_mean":
        reduction = "mean"
    if framework == "torch":
        return None
    tensors = [np.asarray(t) for t in tensors]
    if len(tensors) != len(loss.tensors):
        raise LossError(f"{loss.name} takes {len(loss.tensors)} tensors "
                        f"({', '.join(t.name for t in loss.tensors)}); got {len(tensors)}.")
    eq = _choose(loss, framework, tensors, options, function)
    _check_options(loss, eq, options, reduction)
    full = {o.name: o.default for o in loss.options}
    full.update(options)
    outcome: Outcome = eq.compute(tensors, full, reduction, dtype)
    differences = tuple(outcome.differences)
    if framework == "keras":
        used = "float32"
        if dtype == "float64":
            differences += (_keras.F64_LINE,)
        elif dtype is None:
            differences += ("computed in float32, Keras's floatx (losscalc's default is float64)",)
    else:
        used = dtype or ("float64" if framework == "sklearn" else "float32")
        if framework == "optax" and dtype is None:
            differences += ("computed in float32, jax's default without jax_enable_x64 (losscalc's default "
                            "is float64)",)
    return ConventionResult(outcome.value, eq.function, differences, tuple(outcome.conversions), framework, used)


def compare(loss_name: str, tensors: list, options: dict | None = None, dtype: str | None = None,
            frameworks=FRAMEWORKS) -> dict[str, ConventionResult | LossError | None]:
    """For `--compare`: framework -> its ConventionResult, or the LossError that says why it has
    none (no equivalent, an option it cannot honour, inputs it refuses); torch -> None (losscalc's
    own value). An unknown loss or framework still raises."""
    out: dict[str, ConventionResult | LossError | None] = {}
    for framework in frameworks:
        if framework.strip().lower() not in FRAMEWORKS:
            raise LossError(f"unknown convention {framework!r}; the conventions are: {', '.join(FRAMEWORKS)}.")
        try:
            out[framework] = convention_value(loss_name, framework, tensors, options, dtype)
        except LossError as refused:
            _loss(loss_name)  # an unknown loss is the caller's error, not a framework's refusal
            out[framework] = refused
    return out


def describe(loss_name: str) -> list[str]:
    """Lines for `losscalc explain LOSS`: each framework's equivalent, its function, its call,
    what it is given and how it differs from PyTorch; then the near-misses."""
    loss = _loss(loss_name)
    found = all_equivalents(loss.name)[1:]
    lines: list[str] = []
    if not found:
        lines.append(f"No framework's loss computes {loss.name} on the same tensors: --convention and --compare "
                     "have only torch.")
    for e in found:
        form = f" (for {e.when})" if e.when else ""
        lines.append(f"{e.framework}: {e.function}{form}")
        lines.append(f"    call: {e.call}")
        lines.append(f"    takes {e.takes}; arguments ({', '.join(e.args)}); {e.reduction}")
        if e.conversion:
            lines.append(f"    given: {e.conversion}")
        for d in e.differences:
            lines.append(f"    differs: {d}")
    for m in near_misses(loss.name):
        lines.append(f"{m.framework}: not {m.function}, a near-miss: {m.why}")
    have = [f for f in FRAMEWORKS[1:] if any(e.framework == f for e in found)]
    lack = [f for f in FRAMEWORKS[1:] if f not in have]
    if lack and have:
        lines.append(f"No equivalent in: {', '.join(lack)} (--convention refuses them).")
    return lines
