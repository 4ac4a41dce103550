"""Reading tensor arguments (SPEC section 3): the one entry, `load_tensor`, which chooses the
reader of each command-line word.

`-` is standard input (`readers.stdin`); then a glob or a directory of shards
(`readers.shards`); then a file of the formats of SPEC §12 (`readers.formats`), or a .npy,
.npz (`readers.npy`), .csv, .tsv, .txt or .json (`readers.text`) file; then inline text
(`readers.inline`); then a generator such as `randn(3,5)` (`losscalc.generators`). Every
mistake a user can make becomes a `LossError` naming the argument, the source and what was
expected. No user text is ever evaluated, and every size is checked before memory is
allocated (`losscalc.limits`).
"""

from __future__ import annotations

import csv
import os
import re
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from .errors import LossError
from . import limits
from .readers.base import LazyArray, failer, one_line, quote
from .readers.inline import NotInline, parse_inline
from .readers.npy import read_npy, read_npz
from .readers.stdin import STDIN, read_stdin
from .readers.text import TEXT_SUFFIXES, read_text_file

FILE_SUFFIXES = (".npy", ".npz") + TEXT_SUFFIXES
KEYED_SUFFIXES = (".npz", ".csv", ".tsv", ".txt")
_CALL_HEAD = re.compile(r"[A-Za-z_]\w*\s*\(")  # a name and "(": a generator


@dataclass(frozen=True, eq=False)
class TensorSource:
    """A loaded tensor and a short description of where it came from (for tables, errors)."""

    array: np.ndarray
    source: str  # "inline", "pred.npy", "run.npz:logits", "stdin (npy)", "randn(3,5)", ...


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
        raise LossError(f"{name}: could not read {quote(text, 40)}: nested too deeply.") from None
    except MemoryError:
        raise LossError(f"{name}: could not read {quote(text, 40)}: not enough memory.") from None
    except (OSError, ValueError, OverflowError, EOFError, zipfile.BadZipFile, zlib.error,
            csv.Error) as exc:
        raise LossError(f"{name}: could not read {quote(text, 40)}: "
                        f"{one_line(exc).rstrip('.')}.") from exc
    lazy = isinstance(array, (np.memmap, LazyArray))  # in its file, read chunk by chunk: no limit
    if not lazy:
        array = np.asarray(array)
    if array.size > limits.MAX_ELEMENTS and not lazy:
        raise LossError(f"{name}: {source} has {array.size} elements, more than the limit of "
                        f"{limits.MAX_ELEMENTS} (2**28).")
    return TensorSource(array, source)


def _dispatch(text: str, name: str, rng, stdin, mapped: bool = False) -> tuple[np.ndarray, str]:
    """Choose the form of `text` by the precedence of SPEC section 3 and read it."""
    if text == STDIN:
        return read_stdin(name, stdin)
    if len(text) > limits.MAX_INLINE_CHARS:  # no file name is this long; refused before any copy
        raise LossError(f"{name}: the inline text is {len(text)} characters long, more than "
                        f"the limit of {limits.MAX_INLINE_CHARS}; put large tensors in a .npy file.")
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
        from .generators import generate  # imported on use: most calls have no generator

        return generate(s, failer(name, f"generator {quote(s, 40)}"),
                        rng if rng is not None else np.random.default_rng()), s
    try:
        return parse_inline(s, failer(name, f"inline {quote(s, 40)}")), "inline"
    except NotInline:
        hint = ""
        if os.path.isdir(text):
            hint = " (it is a directory)"
        elif os.path.isfile(text):
            hint = f" (it is a file, but only {', '.join(FILE_SUFFIXES)} files are read)"
        raise LossError(
            f"{name}: could not read {quote(text, 40)} as a tensor{hint}: not a file, an inline "
            'list (e.g. 1,2,3 or "[[1,2],[3,4]]"), a number, or a generator (e.g. randn(3,5)).'
        ) from None


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
        raise LossError(f"{name}: {quote(text, 40)} matches no files; a glob or a directory of .npy shards "
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
    fail = failer(name, f"file {quote(shown, 80)}")
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
        return read_npy(path, fail, mapped), path
    if suffix == ".npz":
        return read_npz(path, key, fail)
    return read_text_file(path, key, fail), shown
