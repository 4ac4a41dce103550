"""The registry: one frozen entry per loss, from which everything else is derived.

An entry names the loss, its kernel, its tensors in PyTorch's forward order, its options with
PyTorch's defaults, its aliases and the reductions it allows. The click subcommands,
`losscalc list`, `losscalc explain`, the completions and the README table are all built from
these entries; the entries themselves live beside their kernels in `losscalc/kernels/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .errors import LossError

REDUCTIONS = ("none", "mean", "sum")
FRAMEWORKS = ("torch", "keras", "optax", "sklearn")  # --convention: losscalc/conventions reproduces each


@dataclass(frozen=True)
class Tensor:
    """A positional tensor. kind: `float`, `index` (whole numbers, e.g. class indices) or
    `any` (the kernel decides, e.g. cross-entropy targets: indices or probabilities).
    `frames`: the kernel reads it one index of axis 0 at a time, so a chunk of a file is given
    to it uncopied (casts.Frames)."""

    name: str
    kind: str = "float"
    help: str = ""
    frames: bool = False


@dataclass(frozen=True)
class Constraint:
    """What an option's value must be: a test, and the words for it ("greater than 0", "1 or 2")
    that the error, the help and `explain` all show. Made by `greater_than`, `at_least`,
    `at_most` and `one_of`; `why` (PyTorch's reason) goes into the error only."""

    test: Callable[[Any], bool]
    text: str
    why: str = ""
    values: tuple | None = None  # the allowed values, for `one_of`

    def allows(self, value) -> bool:
        try:
            return bool(self.test(value))
        except TypeError:  # e.g. a string given for a number through compute()
            return False


def greater_than(bound, *, nan: bool = False, why: str = "") -> Constraint:
    """value > bound. nan: NaN is let through, as PyTorch's `if value <= bound: raise` lets it."""
    return Constraint(lambda v: v > bound or (nan and v != v), f"greater than {bound}", why)


def at_least(bound, *, why: str = "") -> Constraint:
    """value >= bound (NaN refused, as PyTorch's TORCH_CHECK(value >= bound) refuses it)."""
    return Constraint(lambda v: v >= bound, f"{bound} or more", why)


def at_most(bound, *, nan: bool = False, why: str = "") -> Constraint:
    """value <= bound. nan: NaN is let through, as PyTorch's `if value > bound: raise` lets it."""
    return Constraint(lambda v: v <= bound or (nan and v != v), f"at most {bound}", why)


def one_of(*values, why: str = "") -> Constraint:
    """value is one of `values` (strings for a choice on the command line)."""
    words = [str(v) for v in values]
    text = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
    return Constraint(lambda v: v in values, text, why, values)


@dataclass(frozen=True)
class Option:
    """A loss option. type: float, int, bool, str (with `one_of` choices) or "tensor".
    `constraint` is what PyTorch accepts; everything that checks or describes the option
    derives from it: `check` (the kernels, `compute`), `help_text` (the CLI help, `explain`)
    and `choices` (the CLI's choice list)."""

    name: str
    type: Any
    default: Any
    help: str
    constraint: Constraint | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The allowed values of a str option with a `one_of` constraint, else None."""
        c = self.constraint
        return tuple(c.values) if self.type is str and c is not None and c.values is not None else None

    @property
    def help_text(self) -> str:
        """The help with the constraint in words, e.g. "where the squared part turns linear (greater than 0)"."""
        return f"{self.help} ({self.constraint.text})" if self.constraint else self.help

    def check(self, value) -> None:
        """Raise a LossError naming the flag, the value and the constraint, unless the value keeps it."""
        c = self.constraint
        if c is not None and not c.allows(value):
            why = f" ({c.why})" if c.why else ""
            shown = repr(value) if isinstance(value, str) else value
            raise LossError(f"{self.flag} must be {c.text}{why}; got {shown}.")


@dataclass(frozen=True)
class Loss:
    """One loss: everything the CLI, the docs and `compute` need to know about it."""

    name: str
    kernel: Callable
    tensors: tuple[Tensor, ...]
    options: tuple[Option, ...] = ()
    aliases: tuple[str, ...] = ()
    torch: str | None = None  # the torch.nn class it matches, e.g. "MSELoss"
    reference: str | None = None  # what a loss PyTorch lacks matches, e.g. "scipy.stats.entropy"
    reductions: tuple[str, ...] = REDUCTIONS
    legacy: bool = True  # accepts --size-average / --reduce, as the torch class does
    example: str = ""  # CLI arguments after the loss name, runnable as they are
    pitfalls: tuple[str, ...] = ()  # what users trip on, for `losscalc explain`
    layout: str = "elementwise"  # how the tensors line up along the batch axis: engine/layout.py
    blocks: bool = True  # a mean's chunks may be run by blocks (layout.BLOCKS); False for a kernel that blocks its own work

    @property
    def matches(self) -> str:
        """The implementation this loss reproduces: its torch.nn class, or its reference."""
        return f"torch.nn.{self.torch}" if self.torch else (self.reference or "")

    @property
    def doc(self) -> str:
        import inspect

        return inspect.getdoc(self.kernel) or ""

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0] if self.doc else self.name

    def section(self, title: str) -> str:
        """A section of the kernel's docstring (`Formula`, `Shape`, `References`), dedented."""
        match = re.search(rf"^{title}:\s*\n(.*?)(?=^\S[^\n]*:\s*$|\Z)", self.doc, re.M | re.S)
        if not match:
            return ""
        import inspect

        return inspect.cleandoc(match.group(1))


def normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def losses() -> tuple[Loss, ...]:
    """Every registered loss, in the order of the families."""
    global _LOSSES
    if _LOSSES is None:
        from .kernels import FAMILIES

        _LOSSES = tuple(loss for family in FAMILIES for loss in family.LOSSES)
        _check_unique(_LOSSES)
    return _LOSSES


_LOSSES: tuple[Loss, ...] | None = None


def _names(loss: Loss) -> list[str]:
    return [loss.name, *loss.aliases]


def _check_unique(entries) -> None:
    seen: dict[str, str] = {}
    for loss in entries:
        for name in _names(loss):
            key = normalise(name)
            if key in seen and seen[key] != loss.name:
                raise RuntimeError(f"alias {name!r} of {loss.name} is also {seen[key]}")
            seen[key] = loss.name


def lookup_table() -> dict[str, Loss]:
    """Every name and alias, normalised, to its loss: made once for the registry's entries."""
    global _TABLE
    entries = losses()
    if _TABLE is None or _TABLE[0] is not entries:
        _TABLE = (entries, {normalise(n): loss for loss in entries for n in _names(loss)})
    return _TABLE[1]


_TABLE: tuple[tuple[Loss, ...], dict[str, Loss]] | None = None


def find(name: str) -> Loss:
    """The loss for a name or alias (case-insensitive, `-` = `_`), or a LossError with hints."""
    table = lookup_table()
    key = normalise(name)
    if key in table:
        return table[key]
    import difflib

    close = difflib.get_close_matches(key, table, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise LossError(f"unknown loss {name!r}.{hint} `losscalc list` shows every loss.")
