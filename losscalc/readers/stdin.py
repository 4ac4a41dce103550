"""Standard input (`-`, SPEC section 3): .npy bytes, told apart by their magic prefix, or text
(an inline tensor or a table). Never more than a bounded amount is read: an endless stream
(`yes |`, `cat /dev/zero |`) is refused once it passes the text limit, or once it passes what
its .npy header announced.

Standard input can be read once: `one_stdin` refuses a call that names `-` twice, before
anything is read (the engine asks it for every tensor word of a call, options included).
"""

from __future__ import annotations

import io
import math
import sys

import numpy as np

from ..errors import LossError
from .. import limits
from .base import failer, quote
from .inline import NotInline, parse_inline
from .npy import check_npy_header, checked_load
from .text import read_table, table_array

STDIN = "-"
NPY_MAGIC = b"\x93NUMPY"


def one_stdin(words) -> None:
    """Refuse the words of one call (tensors and tensor options) when more than one is `-`."""
    if sum(isinstance(w, str) and w == STDIN for w in words) > 1:
        raise LossError("only one tensor can be read from standard input (-) per call.")


def read_stdin(name: str, stdin=None) -> tuple[np.ndarray, str]:
    """The tensor on `stdin` (a binary or text stream; default `sys.stdin.buffer`) and its
    source ("stdin (npy)", "stdin (text)"), for the argument `name`."""
    stream = sys.stdin.buffer if stdin is None else stdin
    data = _read_up_to(stream, len(NPY_MAGIC))
    if data == NPY_MAGIC:
        return _npy_from_stream(data, stream, failer(name, "standard input (npy)")), "stdin (npy)"
    data += _read_up_to(stream, limits.MAX_TEXT_CHARS + 1 - len(data))
    fail = failer(name, "standard input")
    if len(data) > limits.MAX_TEXT_CHARS:
        raise fail(f"holds more than {limits.MAX_TEXT_CHARS} bytes of text; send .npy bytes instead")
    if not data.strip():
        raise fail("is empty; expected .npy bytes or text such as 1,2,3")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise fail("is neither .npy bytes (no \\x93NUMPY magic) nor UTF-8 text") from None
    s = text.strip()
    if s.startswith("[") or ";" in s or (len(s.split()) == 1 and "," not in s):
        try:
            return parse_inline(s, fail), "stdin (text)"
        except NotInline:
            raise fail(f"could not read {quote(s, 40)} as a tensor; expected numbers") from None
    return table_array(*read_table(text, None, fail), None, fail), "stdin (text)"


def _read_up_to(stream, n: int) -> bytes:
    """Up to `n` bytes from a binary or text stream; fewer only at its end."""
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            break
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _npy_from_stream(magic: bytes, stream, fail) -> np.ndarray:
    """A .npy from a stream that cannot seek back (stdin): the header first, checked, then
    exactly the number of data bytes it announces."""
    data = magic + _read_up_to(stream, 2)  # the format version, (1, 0), (2, 0) or (3, 0)
    data += _read_up_to(stream, 2 if data[6:7] == b"\x01" else 4)  # the header's length
    length = int.from_bytes(data[8:], "little")
    data += _read_up_to(stream, min(length, limits.MAX_NPY_HEADER))  # numpy refuses longer ones
    shape, dtype = check_npy_header(io.BytesIO(data), fail)
    data += _read_up_to(stream, math.prod(shape) * dtype.itemsize)
    return checked_load(lambda: np.load(io.BytesIO(data), allow_pickle=False), fail)
