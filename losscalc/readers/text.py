"""Text files (SPEC section 3): `.json` nested lists, and `.csv`, `.tsv`, `.txt` tables whose
`:column` picks a column by header name or number. Read whole, never more than
`MAX_TEXT_CHARS` bytes; the table grammar (`read_table`, `table_array`) serves stdin text too.
"""

from __future__ import annotations

import csv
import os

import numpy as np

from .. import limits
from .base import quote
from .inline import SIGNED_NUMBER, nested_to_array, number, numbers_array

TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".json")


def read_text_file(path: str, key: str | None, fail) -> np.ndarray:
    """The tensor of a .json file, or of a .csv, .tsv or .txt table (its column `key`)."""
    suffix = os.path.splitext(path)[1].lower()
    if os.path.getsize(path) > limits.MAX_TEXT_CHARS:
        raise fail(f"is larger than {limits.MAX_TEXT_CHARS} bytes; convert it to .npy")
    with open(path, "rb") as f:
        data = f.read(limits.MAX_TEXT_CHARS + 1)  # bounded even if the file grows meanwhile
    if len(data) > limits.MAX_TEXT_CHARS:
        raise fail(f"is larger than {limits.MAX_TEXT_CHARS} bytes; convert it to .npy")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(f"is not UTF-8 text (byte {exc.start})") from None
    if suffix == ".json":
        import json  # (imported when a .json file is read: start-up)

        try:  # integers as inline ones: beyond int64 a float, never a 5000-digit int
            obj = json.loads(text, parse_int=number)
        except json.JSONDecodeError as exc:
            raise fail(f"is not valid JSON ({exc})") from None
        return nested_to_array(obj, fail)
    delimiter = {".csv": ",", ".tsv": "\t"}.get(suffix)
    return table_array(*read_table(text, delimiter, fail), key, fail)


def read_table(text: str, delimiter: str | None, fail) -> tuple[list | None, list]:
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
        if len(rows) * width > limits.MAX_ELEMENTS:
            raise fail(f"holds more than {limits.MAX_ELEMENTS} values")
    return header, rows


def table_array(header: list | None, rows: list, key: str | None, fail) -> np.ndarray:
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
            raise fail(f"has no column {quote(key, 40)}; header names: {names}; or a column "
                       f"number from 0 to {width - 1}")
        rows, width = [[r[j]] for r in rows], 1
    shape = (len(rows),) if width == 1 else (width,) if len(rows) == 1 else (len(rows), width)
    return numbers_array([v for r in rows for v in r], shape)
