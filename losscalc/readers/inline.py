"""The number syntax and the inline grammar (SPEC section 3), the one place both live.

`NUMBER` is the numeric literal of every text form: inline tensors, text files, stdin text and
the generators' arguments (`losscalc.generators`). `parse_inline` reads `[[1,2],[3,4]]`,
`3.5`, `1,2,3` or `1,2;3,4` with a one-pass tokenizer and an explicit stack, never `eval` and
never recursion; `nested_to_array` checks nested lists (inline or JSON) level by level.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .. import limits
from .base import quote

# a numeric literal: 2, 2.5, .5, 1e3, inf, infinity, nan (any case); SIGNED_NUMBER adds a sign
NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?|(?:inf(?:inity)?|nan)(?![\w.])"
SIGNED_NUMBER = re.compile(rf"[+-]?(?:{NUMBER})", re.IGNORECASE)
_INT = re.compile(r"[+-]?\d+")
_INLINE_TOKEN = re.compile(rf"\s*(?:([\[\],;])|([+-]?(?:{NUMBER})))", re.IGNORECASE)


class NotInline(Exception):
    """The text does not even start like an inline tensor."""


def number(token: str) -> int | float:
    """The value of a numeric literal (`SIGNED_NUMBER`): an int when it is a whole-number
    literal fitting int64, else a float."""
    if _INT.fullmatch(token) and len(token) <= 20:
        value = int(token)
        if -(2**63) <= value < 2**63:
            return value
    return float(token)


def numbers_array(values: list, shape) -> np.ndarray:
    """A flat list of Python numbers as an array: int64 when all are ints, else float64."""
    if values and all(type(v) is int for v in values):
        try:
            return np.array(values, dtype=np.int64).reshape(shape)
        except OverflowError:  # a JSON integer beyond int64
            pass
    return np.array(values, dtype=np.float64).reshape(shape)


def _where(i: int, dims: list) -> str:
    """Name item `i` of a level under lists of shape `dims`: 'row 2', 'element [1][0]'."""
    path = []
    for d in reversed(dims):
        i, r = divmod(i, d)
        path.insert(0, r)
    if len(path) == 1:
        return f"row {path[0] + 1}"
    return "element " + "".join(f"[{i}]" for i in path) if path else "the value"


def nested_to_array(obj, fail) -> np.ndarray:
    """Check that nested lists are rectangular with numeric leaves, then make the array.

    Works level by level (no recursion); errors say where, e.g. 'row 2 has 3 values, row 1
    has 2' or 'element [0][1] is a string ("a"), expected a number'.
    """
    shape, node = [], obj
    while isinstance(node, list):
        if len(shape) == limits.MAX_DEPTH:
            raise fail(f"lists are nested more than {limits.MAX_DEPTH} levels deep")
        shape.append(len(node))
        node = node[0] if node else None
    if math.prod(shape) > limits.MAX_ELEMENTS:
        raise fail(f"it has more than {limits.MAX_ELEMENTS} elements")
    level = [obj]
    for depth, size in enumerate(shape):
        below = []
        for i, item in enumerate(level):
            if not isinstance(item, list) or len(item) != size:
                where, first = _where(i, shape[:depth]), _where(0, shape[:depth])
                if not isinstance(item, list):
                    raise fail(f"{where} is {_kind(item)}, but {first} is a list")
                raise fail(f"{where} has {len(item)} value{'s' * (len(item) != 1)}, "
                           f"{first} has {size}")
            below.extend(item)
        level = below
    for i, item in enumerate(level):
        if type(item) not in (int, float):  # bool is excluded on purpose
            where = _where(i, shape)
            if isinstance(item, list):
                raise fail(f"{where} is a list, but {_where(0, shape)} is a number")
            raise fail(f"{where} is {_kind(item)}, expected a number")
    return numbers_array(level, shape)


def _kind(item) -> str:
    """Describe a parsed JSON value for an error message."""
    if isinstance(item, bool):
        return f"a boolean ({str(item).lower()})"
    if isinstance(item, str):
        return f"a string ({quote(item, 20)})"
    return {type(None): "null", list: "a list", dict: "an object"}.get(type(item), "a number")


def parse_inline(s: str, fail) -> np.ndarray:
    """Parse `[[1,2],[3,4]]`, `3.5`, `1,2,3` or `1,2;3,4` (stripped text) to an array.

    A one-pass tokenizer and an explicit stack (no recursion); raises `NotInline` when the
    very first token is not part of an inline tensor, `fail(...)` for later mistakes.
    """
    stack: list[list] = [[]]  # bracket form: the open lists; flat form: the rows
    flat = None
    expect_value, can_close, seps = True, False, set()
    pos = 0
    while pos < len(s):
        m = _INLINE_TOKEN.match(s, pos)
        tok = (m.group(1) or m.group(2)) if m else None
        if flat is None:
            if tok is None or tok in ("]", ",", ";"):
                raise NotInline
            flat = tok != "["
        allowed = {"[": not flat and expect_value,  # any other token is a number
                   "]": not flat and can_close and len(stack) > 1,
                   ",": not expect_value and (flat or len(stack) > 1),
                   ";": flat and not expect_value}
        if tok is None or not allowed.get(tok, expect_value):
            if flat:
                wanted = "a number" if expect_value else "',' or ';'"
            elif expect_value:
                wanted = "a number or '['" + (" or ']'" if can_close else "")
            else:
                wanted = "',' or ']'" if len(stack) > 1 else "the end of the text"
            rest = s[pos:].lstrip()
            raise fail(f"unexpected {quote(rest, 12)} at character {len(s) - len(rest) + 1}; "
                       f"expected {wanted}")
        pos = m.end()
        if tok == "[":
            if len(stack) > limits.MAX_DEPTH:
                raise fail(f"lists are nested more than {limits.MAX_DEPTH} levels deep")
            stack[-1].append([])
            stack.append(stack[-1][-1])
            can_close = True
        elif tok == "]":
            stack.pop()
            expect_value, can_close = False, True
        elif tok in (",", ";"):
            seps.add(tok)
            expect_value, can_close = True, False
            if tok == ";":
                stack.append([])
        else:
            stack[-1].append(number(tok))
            expect_value, can_close = False, not flat
    if flat is None:
        raise NotInline
    if expect_value or (not flat and len(stack) > 1):
        raise fail("the text ends early; expected " + ("a number" if expect_value else "']'"))
    if not flat:
        return nested_to_array(stack[0][0], fail)
    if ";" in seps:
        return nested_to_array(stack, fail)
    return nested_to_array(stack[0] if "," in seps else stack[0][0], fail)
