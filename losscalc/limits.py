"""The sizes losscalc refuses before it allocates anything (SPEC section 3): one place for every
limit a reader, a generator, a kernel or a framework's oracle checks against."""

from __future__ import annotations

import math

MAX_ELEMENTS = 2**28  # refuse larger tensors in memory, before allocating them
MAX_TEXT_CHARS = 50_000_000  # bytes of stdin text and of text files (csv, tsv, txt, json)
MAX_INLINE_CHARS = 1_000_000  # an inline argument (a shell passes at most 131072 anyway)
MAX_NPY_HEADER = 10_000  # bytes; numpy's own limit for a header it will parse
MAX_DEPTH = 32  # nesting of inline and JSON lists


def shape_too_large(shape) -> str | None:
    """Why a tensor of `shape` may not be made, or None. Its zero dimensions are left out of
    the count: an empty (2**62, 0) tensor costs as much to print as a full (2**62,) one."""
    span = math.prod(int(d) for d in shape if d)
    if span <= MAX_ELEMENTS:
        return None
    counted = " not counting its zero dimensions" if 0 in shape else ""
    return (f"shape {tuple(int(d) for d in shape)} has {span} elements{counted}, more than "
            f"the limit of {MAX_ELEMENTS} (2**28)")
