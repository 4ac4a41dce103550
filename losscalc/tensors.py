"""Reading tensor arguments (SPEC section 3): stdin, files, inline text and generators.

`load_tensor` turns one command-line word into a `TensorSource`. Every mistake a user can
make becomes a `LossError` naming the argument, the source and what was expected. No user
text is ever evaluated: inline lists go through a small hand-written parser with bounded
nesting (here), generators such as `randn(3,5)` through their own grammar
(`losscalc.generators`), and every size is checked before memory is allocated.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from losscalc.errors import LossError

MAX_ELEMENTS = 2**28  # refuse larger tensors, before allocating them
MAX_TEXT_CHARS = 50_000_000  # bytes of stdin text and of text files (csv, tsv, txt, json)
MAX_INLINE_CHARS = 1_000_000  # an inline argument (a shell passes at most 131072 anyway)
MAX_NPY_HEADER = 10_000  # bytes; numpy's own limit for a header it will parse
MAX_DEPTH = 32  # nesting of inline and JSON lists
MMAP_THRESHOLD = 16 * 2**20  # .npy files larger than this are memory-mapped
NPY_MAGIC = b"\x93NUMPY"
FILE_SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".txt", ".json")
KEYED_SUFFIXES = (".npz", ".csv", ".tsv", ".txt")

# a numeric literal: 2, 2.5, .5, 1e3, inf, infinity, nan (any case); SIGNED_NUMBER adds a sign
NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?|(?:inf(?:inity)?|nan)(?![\w.])"
SIGNED_NUMBER = re.compile(rf"[+-]?(?:{NUMBER})", re.IGNORECASE)
_INT = re.compile(r"[+-]?\d+")
_INLINE_TOKEN = re.compile(rf"\s*(?:([\[\],;])|([+-]?(?:{NUMBER})))", re.IGNORECASE)
_CALL_HEAD = re.compile(r"[A-Za-z_]\w*\s*\(")  # a name and "(": a generator


@dataclass(frozen=True, eq=False)
class TensorSource:
    """A loaded tensor and a short description of where it came from (for tables, errors)."""

    array: np.ndarray
    source: str  # "inline", "pred.npy", "run.npz:logits", "stdin (npy)", "randn(3,5)", ...


class _NotInline(Exception):
    """The text does not even start like an inline tensor."""


def quote(text: str, limit: int = 40) -> str:
    """Quote `text` for a message, shortened to about `limit` characters, escapes visible."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return json.dumps(text, ensure_ascii=False)


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type name when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def shape_too_large(shape) -> str | None:
    """Why a tensor of `shape` may not be made, or None. Its zero dimensions are left out of
    the count: an empty (2**62, 0) tensor costs as much to print as a full (2**62,) one."""
    span = math.prod(int(d) for d in shape if d)
    if span <= MAX_ELEMENTS:
        return None
    counted = " not counting its zero dimensions" if 0 in shape else ""
    return (f"shape {tuple(int(d) for d in shape)} has {span} elements{counted}, more than "
            f"the limit of {MAX_ELEMENTS} (2**28)")


def _failer(name: str, source: str):
    """A function turning 'what is wrong' into the LossError for this argument and source."""
    return lambda what: LossError(f"{name}: {source}: {what}.")


def load_tensor(text: str, name: str, *, rng: np.random.Generator | None = None,
                stdin=None, mapped: bool = False) -> TensorSource:
    """Read the tensor argument `text` (for argument `name`), following SPEC section 3.

    `-` reads standard input (`stdin`, a binary file; default `sys.stdin.buffer`); then an
    existing or intended file (`.npy`, `.npz[:key]`, `.csv/.tsv/.txt[:column]`, `.json`);
    then inline text; then a generator, which draws from `rng` (default: a fresh one).
    Raises `LossError` for anything the user can fix; no other exception escapes.
    """
    try:
        array, source = _dispatch(text, name, rng, stdin, mapped)
    except LossError:
        raise
    except RecursionError:
        raise LossError(f"{name}: could not read {quote(text)}: nested too deeply.") from None
    except MemoryError:
        raise LossError(f"{name}: could not read {quote(text)}: not enough memory.") from None
    except (OSError, ValueError, OverflowError, EOFError, zipfile.BadZipFile, zlib.error,
            csv.Error) as exc:
        raise LossError(f"{name}: could not read {quote(text)}: "
                        f"{_one_line(exc).rstrip('.')}.") from exc
    from .readers.base import LazyArray

    lazy = isinstance(array, (np.memmap, LazyArray))  # in its file, read chunk by chunk: no limit
    if not lazy:
        array = np.asarray(array)
    if array.size > MAX_ELEMENTS and not lazy:
        raise LossError(f"{name}: {source} has {array.size} elements, more than the limit of "
                        f"{MAX_ELEMENTS} (2**28).")
    return TensorSource(array, source)


def _dispatch(text: str, name: str, rng, stdin, mapped: bool = False) -> tuple[np.ndarray, str]:
    """Choose the form of `text` by the precedence of SPEC section 3 and read it."""
    if text == "-":
        return _from_stdin(name, stdin)
    if len(text) > MAX_INLINE_CHARS:  # no file name is this long; refused before any copy
        raise LossError(f"{name}: the inline text is {len(text)} characters long, more than "
                        f"the limit of {MAX_INLINE_CHARS}; put large tensors in a .npy file.")
    shards = _shards(text, name)
    if shards is not None:
        return shards, shards.source
    target = _format_target(text)
    if target is not None:
        from .readers.formats import open_tensor

        return open_tensor(*target, name), text
    target = _file_target(text)
    if target is not None:
        return _from_file(*target, name, mapped)
    s = text.strip()
    if _CALL_HEAD.match(s):
        from .generators import generate  # imported on use: it needs this module's literals

        return generate(s, _failer(name, f"generator {quote(s)}"),
                        rng if rng is not None else np.random.default_rng()), s
    try:
        return _inline(s, _failer(name, f"inline {quote(s)}")), "inline"
    except _NotInline:
        hint = ""
        if os.path.isdir(text):
            hint = " (it is a directory)"
        elif os.path.isfile(text):
            hint = f" (it is a file, but only {', '.join(FILE_SUFFIXES)} files are read)"
        raise LossError(
            f"{name}: could not read {quote(text)} as a tensor{hint}: not a file, an inline "
            'list (e.g. 1,2,3 or "[[1,2],[3,4]]"), a number, or a generator (e.g. randn(3,5)).'
        ) from None


def number(token: str) -> int | float:
    """The value of a numeric literal (`SIGNED_NUMBER`, shared with the generator grammar):
    an int when it is a whole-number literal fitting int64, else a float."""
    if _INT.fullmatch(token) and len(token) <= 20:
        value = int(token)
        if -(2**63) <= value < 2**63:
            return value
    return float(token)


def _numbers_array(values: list, shape) -> np.ndarray:
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


def _nested_to_array(obj, fail) -> np.ndarray:
    """Check that nested lists are rectangular with numeric leaves, then make the array.

    Works level by level (no recursion); errors say where, e.g. 'row 2 has 3 values, row 1
    has 2' or 'element [0][1] is a string ("a"), expected a number'.
    """
    shape, node = [], obj
    while isinstance(node, list):
        if len(shape) == MAX_DEPTH:
            raise fail(f"lists are nested more than {MAX_DEPTH} levels deep")
        shape.append(len(node))
        node = node[0] if node else None
    if math.prod(shape) > MAX_ELEMENTS:
        raise fail(f"it has more than {MAX_ELEMENTS} elements")
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
    return _numbers_array(level, shape)


def _kind(item) -> str:
    """Describe a parsed JSON value for an error message."""
    if isinstance(item, bool):
        return f"a boolean ({str(item).lower()})"
    if isinstance(item, str):
        return f"a string ({quote(item, 20)})"
    return {type(None): "null", list: "a list", dict: "an object"}.get(type(item), "a number")


def _inline(s: str, fail) -> np.ndarray:
    """Parse `[[1,2],[3,4]]`, `3.5`, `1,2,3` or `1,2;3,4` (stripped text) to an array.

    A one-pass tokenizer and an explicit stack (no recursion); raises `_NotInline` when the
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
                raise _NotInline
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
            if len(stack) > MAX_DEPTH:
                raise fail(f"lists are nested more than {MAX_DEPTH} levels deep")
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
        raise _NotInline
    if expect_value or (not flat and len(stack) > 1):
        raise fail("the text ends early; expected " + ("a number" if expect_value else "']'"))
    if not flat:
        return _nested_to_array(stack[0][0], fail)
    if ";" in seps:
        return _nested_to_array(stack, fail)
    return _nested_to_array(stack[0] if "," in seps else stack[0][0], fail)


def _from_stdin(name: str, stdin) -> tuple[np.ndarray, str]:
    """Read `-`: .npy bytes (told apart by the magic prefix) or text.

    Never more than a bounded amount: an endless stream (`yes |`, `cat /dev/zero |`) is
    refused once it passes the text limit, or once it passes what its .npy header announced.
    """
    stream = sys.stdin.buffer if stdin is None else stdin
    data = _read_up_to(stream, len(NPY_MAGIC))
    if data == NPY_MAGIC:
        return _npy_from_stream(data, stream, _failer(name, "standard input (npy)")), \
            "stdin (npy)"
    data += _read_up_to(stream, MAX_TEXT_CHARS + 1 - len(data))
    fail = _failer(name, "standard input")
    if len(data) > MAX_TEXT_CHARS:
        raise fail(f"holds more than {MAX_TEXT_CHARS} bytes of text; send .npy bytes instead")
    if not data.strip():
        raise fail("is empty; expected .npy bytes or text such as 1,2,3")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise fail("is neither .npy bytes (no \\x93NUMPY magic) nor UTF-8 text") from None
    s = text.strip()
    if s.startswith("[") or ";" in s or (len(s.split()) == 1 and "," not in s):
        try:
            return _inline(s, fail), "stdin (text)"
        except _NotInline:
            raise fail(f"could not read {quote(s)} as a tensor; expected numbers") from None
    return _table_array(*_read_table(text, None, fail), None, fail), "stdin (text)"


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
    data += _read_up_to(stream, min(length, MAX_NPY_HEADER))  # numpy refuses longer ones
    shape, dtype = _check_npy_header(io.BytesIO(data), fail)
    data += _read_up_to(stream, math.prod(shape) * dtype.itemsize)
    return _checked_load(lambda: np.load(io.BytesIO(data), allow_pickle=False), fail)


def _format_target(text: str) -> tuple[str, str | None] | None:
    """(path, key) when `text` names a file of the formats of SPEC §12 (safetensors, Parquet,
    Arrow, HDF5, Zarr, and the refused pickles), `file:key` form included."""
    from .readers.formats import SUFFIXES, suffix

    if suffix(text) in SUFFIXES:
        return text, None
    head, sep, key = text.partition(":") if suffix(text.partition(":")[0]) in SUFFIXES else text.rpartition(":")
    if sep and suffix(head) in SUFFIXES:
        return head, key or None
    return None


def _shards(text: str, name: str):
    """A glob or a directory of shards (SPEC §9) as one lazily read tensor, or None."""
    from .readers.formats import SUFFIXES
    from .readers.shards import Shards, shard_paths

    suffixes = FILE_SUFFIXES + SUFFIXES
    path, sep, key = text.rpartition(":") if ":" in text else (text, "", "")
    paths = shard_paths(path, suffixes) if sep else shard_paths(text, suffixes)
    if paths is None and sep:
        path, key, paths = text, "", shard_paths(text, suffixes)
    if paths is None:
        return None
    if not paths:
        raise LossError(f"{name}: {quote(text)} matches no files; a glob or a directory of .npy shards "
                        "must name at least one.")
    members = [load_tensor(p + (f":{key}" if key else ""), f"{name} (shard {os.path.basename(p)})",
                           mapped=True).array for p in paths]  # mapped: read where the chunk runs
    shown = f"{text} ({len(paths)} shard{'s' * (len(paths) != 1)})"
    return Shards(members, [os.path.basename(p) for p in paths], shown, name)


def _file_target(text: str) -> tuple[str, str | None] | None:
    """(path, key) when `text` names a file by its suffix, `file.npz:key` form included."""
    if text.lower().endswith(FILE_SUFFIXES):
        return text, None
    head, sep, key = text.rpartition(":")
    if sep and head.lower().endswith(FILE_SUFFIXES):
        return head, key or None
    return None


def _from_file(path: str, key: str | None, name: str, mapped: bool = False) -> tuple[np.ndarray, str]:
    """Read a .npy, .npz, .csv, .tsv, .txt or .json file; `key` picks an array or a column."""
    shown = path if key is None else f"{path}:{key}"
    fail = _failer(name, f"file {quote(shown, 80)}")
    if os.path.isdir(path):
        raise fail("is a directory; expected a file")
    if not os.path.exists(path):
        raise fail("is a broken symbolic link" if os.path.islink(path) else "file not found")
    if not os.path.isfile(path):  # reading a FIFO would wait for a writer; a device, forever
        raise fail("is not a regular file (a pipe, socket or device); expected a file")
    suffix = os.path.splitext(path)[1].lower()
    if key is not None and suffix not in KEYED_SUFFIXES:
        raise fail(f"a ':key' only applies to {', '.join(KEYED_SUFFIXES)} files")
    if suffix == ".npy":
        with open(path, "rb") as f:  # a file has no element limit: a large one is read chunk by chunk
            shape, dtype = _check_npy_header(f, fail, limit=False)
            need, have = math.prod(shape) * dtype.itemsize, os.path.getsize(path) - f.tell()
        if need > have:
            raise fail(f"is truncated: its header announces shape {tuple(shape)} of {dtype} "
                       f"({need} bytes of data), but the file holds {have}")
        mmap = "r" if mapped or os.path.getsize(path) > MMAP_THRESHOLD else None
        return _checked_load(lambda: np.load(path, allow_pickle=False, mmap_mode=mmap), fail), path
    if suffix == ".npz":
        return _load_npz(path, key, fail)
    if os.path.getsize(path) > MAX_TEXT_CHARS:
        raise fail(f"is larger than {MAX_TEXT_CHARS} bytes; convert it to .npy")
    with open(path, "rb") as f:
        data = f.read(MAX_TEXT_CHARS + 1)  # bounded even if the file grows meanwhile
    if len(data) > MAX_TEXT_CHARS:
        raise fail(f"is larger than {MAX_TEXT_CHARS} bytes; convert it to .npy")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(f"is not UTF-8 text (byte {exc.start})") from None
    if suffix == ".json":
        try:  # integers as inline ones: beyond int64 a float, never a 5000-digit int
            obj = json.loads(text, parse_int=number)
        except json.JSONDecodeError as exc:
            raise fail(f"is not valid JSON ({exc})") from None
        return _nested_to_array(obj, fail), path
    delimiter = {".csv": ",", ".tsv": "\t"}.get(suffix)
    return _table_array(*_read_table(text, delimiter, fail), key, fail), shown


def _check_npy_header(f, fail, limit: bool = True) -> tuple[tuple, np.dtype]:
    """Read a .npy header from `f`; refuse a bad file, a non-numeric dtype or (with `limit`:
    what will be read into memory) a huge shape. Returns the shape and the dtype."""
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) \
            else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    except (ValueError, EOFError, OSError) as exc:
        raise fail(f"is not a valid .npy file ({_one_line(exc)})") from None
    if dtype.kind not in "biuf":
        raise fail(f"holds an array of dtype {dtype}; expected a numeric array "
                   "(bool, integer or float)")
    too_large = shape_too_large(shape) if limit else None
    if too_large:
        raise fail(f"holds an array whose {too_large}")
    return shape, dtype


def _checked_load(load, fail) -> np.ndarray:
    """Call `load` (an np.load whose header was checked); return it in native byte order."""
    try:
        array = load()
    except (ValueError, EOFError) as exc:
        raise fail(f"could not read the array data; the file may be truncated "
                   f"({_one_line(exc)})") from None
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def _load_npz(path: str, key: str | None, fail) -> tuple[np.ndarray, str]:
    """One array of a .npz archive; the key may be left out when it holds exactly one."""
    if not zipfile.is_zipfile(path):
        raise fail("is not a .npz archive (not a zip file)")
    with np.load(path, allow_pickle=False) as npz:
        keys = list(npz.files)
        listed = ", ".join(keys) or "none"
        if key is None and len(keys) != 1:
            raise fail(f"holds {len(keys)} arrays ({listed}); choose one with "
                       f"{os.path.basename(path)}:KEY")
        key = keys[0] if key is None else key
        if key not in keys:
            raise fail(f"has no array named {quote(key)}; available keys: {listed}")
        member = key + ".npy" if key + ".npy" in npz.zip.namelist() else key
        with npz.zip.open(member) as f:
            _check_npy_header(f, fail)
        return _checked_load(lambda: npz[key], fail), f"{path}:{key}"


def _read_table(text: str, delimiter: str | None, fail) -> tuple[list | None, list]:
    """Parse delimited text into (header or None, rows of Python numbers).

    `delimiter` None means whitespace, or comma when the first line has a comma. Blank lines
    are skipped; a first row that is not all numeric is the header.
    """
    header, rows, width, first_line = None, [], None, 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if delimiter is None:
            delimiter = "," if "," in line else " "
        if delimiter == " ":
            cells = line.split()
        else:
            cells = [c.strip() for c in next(csv.reader([line], delimiter=delimiter))]
        values = [number(c) if SIGNED_NUMBER.fullmatch(c) else None for c in cells]
        if width is None:
            width, first_line = len(cells), lineno
            if None in values:
                header = cells
                continue
        elif len(cells) != width:
            raise fail(f"line {lineno} has {len(cells)} cells, but line {first_line} has {width}")
        if None in values:
            j = values.index(None)
            column = f" (column {quote(header[j], 20)})" if header else ""
            raise fail(f"line {lineno}, cell {j + 1}{column}: {quote(cells[j], 20)} "
                       "is not a number")
        rows.append(values)
        if len(rows) * width > MAX_ELEMENTS:
            raise fail(f"holds more than {MAX_ELEMENTS} values")
    return header, rows


def _table_array(header: list | None, rows: list, key: str | None, fail) -> np.ndarray:
    """Rows as an array: (n, k); (n,) for one column or a chosen column; (k,) for one row."""
    if not rows:
        raise fail("holds no rows of numbers")
    width = len(rows[0])
    if key is not None:
        if header and key in header:
            j = header.index(key)
        elif key.isascii() and key.isdigit() and int(key) < width:
            j = int(key)
        else:
            names = ", ".join(header) if header else "none (the file has no header row)"
            raise fail(f"has no column {quote(key)}; header names: {names}; or a column "
                       f"number from 0 to {width - 1}")
        rows, width = [[r[j]] for r in rows], 1
    shape = (len(rows),) if width == 1 else (width,) if len(rows) == 1 else (len(rows), width)
    return _numbers_array([v for r in rows for v in r], shape)


def as_float(t: np.ndarray, name: str, dtype) -> np.ndarray:
    """Cast a bool, integer or float tensor to the float `dtype` (np.float32 or np.float64)."""
    a = np.asarray(t)
    if a.dtype.kind not in "biuf":
        raise LossError(f"{name}: expected a numeric tensor, got dtype {a.dtype}.")
    return a.astype(dtype, copy=False)


def cast(a, name: str, kind: str, dtype, offset: int = 0) -> np.ndarray:
    """A tensor (or one chunk of it, starting at row `offset` of the whole) as the kernel takes
    it: `float` in the computation's dtype; `index` as int64 whole numbers; `any` (the kernel
    decides, e.g. cross-entropy targets) floats in the computation's dtype, integers as they are."""
    a = np.asarray(a)
    if kind == "float":
        return as_float(a, name, dtype)
    if kind == "index":
        return as_index(a, name, offset)
    if a.dtype.kind == "f":
        return a.astype(dtype, copy=False)
    if a.dtype.kind == "b":
        return a.astype(np.int64)
    if a.dtype.kind not in "iu":
        return as_float(a, name, dtype)
    return a


def as_index(t: np.ndarray, name: str, offset: int = 0) -> np.ndarray:
    """Class indices as int64. Floats must be whole (2.0 is fine; 2.5, nan, inf are not).

    Only the type is checked here; the range (0 <= index < C) is the kernel's business.
    """
    a = np.asarray(t)
    if a.dtype.kind in "bi":
        return a.astype(np.int64, copy=False)
    if a.dtype.kind not in "uf":
        raise LossError(f"{name}: expected class indices (whole numbers), got dtype {a.dtype}.")
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(a) | (a != np.trunc(a)) | (a >= 2.0**63) | (a < -(2.0**63))
    if bad.any():
        index = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), a.shape))
        value = a[index].item()
        index = (index[0] + offset, *index[1:]) if index else index
        where = "[" + ", ".join(str(int(i)) for i in index) + "]" if index else " (a scalar)"
        raise LossError(f"{name}: class indices must be whole numbers (2.0 is accepted), but "
                        f"{name}{where} is {value!r}.")
    return a.astype(np.int64)
