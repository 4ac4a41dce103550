"""Generator tensors (SPEC section 3): `randn(3,5)`, `ones(2,3)*0.5`, `randint(0,5,(3,))`.

A small hand-written grammar, never `eval`:

    generator := NAME "(" [argument ("," argument)*] ")" (OP NUMBER)*
    argument  := NUMBER | "(" [NUMBER ("," NUMBER)* [","]] ")"     a number or a shape tuple
    OP        := "*" | "/" | "+" | "-"                            applied left to right
    NAME      := zeros ones full rand randn randint arange linspace eye

NUMBER is the literal of inline tensors (`readers.inline.SIGNED_NUMBER`: `2`, `-1.5e3`, `inf`, `nan`).
Every size is checked against `limits.MAX_ELEMENTS` before anything is allocated, so
`randn(100000000000)` is refused at once. Random generators draw from the `rng` they are
given, which the caller seeds (`--seed`) and shares between the tensors of one call.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .limits import MAX_ELEMENTS, shape_too_large
from .readers.base import quote
from .readers.inline import NUMBER, SIGNED_NUMBER, number

GENERATORS = ("zeros", "ones", "full", "rand", "randn", "randint", "arange", "linspace", "eye")
MAX_DIMS = 8  # dimensions a generator may ask for
MAX_CHARS = 1000  # a generator is a short call; longer text is refused before matching

_OP = re.compile(rf"\s*([-+*/])\s*([+-]?(?:{NUMBER}))", re.IGNORECASE)
_CALL = re.compile(rf"(\w+)\s*\((.*)\)((?:{_OP.pattern})*)\s*", re.IGNORECASE | re.DOTALL)
_ARGUMENT = re.compile(r"\s*(?:\(([^()]*)\)|([^,()]+))\s*(?:,|$)")


def generate(s: str, fail, rng: np.random.Generator) -> np.ndarray:
    """Evaluate a generator such as `randn(3,5)*2+1`: a call, then `*k /k +k -k` left to right."""
    func = s[: s.index("(")].strip()
    if func not in GENERATORS:
        raise fail(f"unknown generator {func!r}; known generators: {', '.join(GENERATORS)}")
    m = _CALL.fullmatch(s) if len(s) <= MAX_CHARS else None
    if m is None:
        raise fail("expected a call such as randn(3,5) or randint(0,5,(3,)), optionally "
                   "followed by *k, /k, +k or -k")
    args, inner, pos = [], m.group(2).strip(), 0
    while pos < len(inner):
        arg = _ARGUMENT.match(inner, pos)
        if arg is None:
            raise fail(f"could not read the arguments {quote(inner, 20)}")
        if arg.group(1) is None:
            args.append(_argument(arg.group(2), fail))
        else:  # a shape tuple: (), (3,), (3,5)
            items = arg.group(1).strip().removesuffix(",")
            args.append(tuple(_argument(x, fail) for x in items.split(",")) if items else ())
        pos = arg.end()
    array = _call(func, args, fail, rng)
    ops = {"*": np.multiply, "/": np.true_divide, "+": np.add, "-": np.subtract}
    with np.errstate(all="ignore"):
        for op, k in _OP.findall(m.group(3)):
            array = ops[op](array, number(k))
    return np.asarray(array)


def _argument(text: str, fail) -> int | float:
    """A generator argument, which must be a numeric literal."""
    if not SIGNED_NUMBER.fullmatch(text.strip()):
        raise fail(f"{quote(text.strip(), 20)} is not a number")
    return number(text.strip())


def _call(func: str, args: list, fail, rng: np.random.Generator) -> np.ndarray:
    """Run generator `func` on its parsed arguments, validating every size before allocating."""

    def numbers(lo: int, hi: int) -> list:
        if not lo <= len(args) <= hi or any(isinstance(a, tuple) for a in args):
            raise fail(f"{func} takes {lo}{'' if lo == hi else f' to {hi}'} numbers")
        return args

    def whole(value, what: str) -> int:
        if type(value) is not int or value < 0:
            raise fail(f"{what} must be a whole number >= 0, got {value}")
        return value

    def size(n: int | float, what: str) -> None:
        if n > MAX_ELEMENTS:
            n = f"{n:.3g}" if isinstance(n, float) else n
            raise fail(f"{what} has {n} elements, more than the limit of {MAX_ELEMENTS} (2**28)")

    def shape(dims: list) -> tuple:
        if len(dims) == 1 and isinstance(dims[0], tuple):
            dims = list(dims[0])
        elif any(isinstance(d, tuple) for d in dims):
            raise fail("write a shape either as numbers, randn(3,5), or as one tuple, (3,5)")
        if len(dims) > MAX_DIMS:
            raise fail(f"a shape may have at most {MAX_DIMS} dimensions, got {len(dims)}")
        dims = tuple(whole(d, "a dimension") for d in dims)
        return checked(dims)

    def checked(dims: tuple) -> tuple:
        too_large = shape_too_large(dims)  # zeros(0, 2**62) too: its zero dims are not counted
        if too_large:
            raise fail(too_large)
        return dims

    if func in ("zeros", "ones", "rand", "randn"):
        make = {"zeros": np.zeros, "ones": np.ones, "rand": rng.random,
                "randn": rng.standard_normal}[func]
        return make(shape(args))
    if func == "full":
        if len(args) < 2 or isinstance(args[-1], tuple):
            raise fail("full takes a shape and a value, e.g. full((2,3), 0.5)")
        return np.full(shape(args[:-1]), args[-1], dtype=np.float64)
    if func == "randint":
        if len(args) == 2 and isinstance(args[1], tuple):  # randint(high, shape)
            args = [0, *args]
        if len(args) < 2 or any(type(a) is not int for a in args[:2]):
            raise fail("randint takes whole numbers low, high and a shape, e.g. randint(0,5,(3,))")
        if args[1] <= args[0]:
            raise fail(f"randint needs high > low, got low={args[0]}, high={args[1]}")
        return rng.integers(args[0], args[1], size=shape(args[2:]), dtype=np.int64)
    if func == "arange":
        numbers(1, 3)
        start, stop, step = (0, args[0], 1) if len(args) == 1 else (*args, 1)[:3]
        if not all(math.isfinite(a) for a in (start, stop, step)) or step == 0:
            raise fail("arange needs a finite start and stop and a finite non-zero step")
        size((stop - start) / step, "arange")  # a float: never overflows
        all_int = all(type(a) is int for a in (start, stop, step))
        return np.arange(start, stop, step, dtype=np.int64 if all_int else np.float64)
    if func == "linspace":
        start, stop, num = numbers(3, 3)
        size(whole(num, "linspace's num"), "linspace")
        return np.linspace(start, stop, num)
    numbers(1, 2)  # eye(n) or eye(n, m)
    n, m = whole(args[0], "eye's n"), whole(args[-1], "eye's m")
    return np.eye(*checked((n, m)))
