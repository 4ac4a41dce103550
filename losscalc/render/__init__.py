"""The one renderer: a Result in, text on a stream out, in the format asked for.

`table` is `render.table`'s (rich, imported only when a table is drawn); `json`, `value` and
`csv` are `render.serial`'s (the standard library, so scripted calls start fast); both draw on
`render.rows`. A result too large to keep is rendered from its chunks (`Result.chunks`,
`Result.rows_of`); `--output` is `output.py`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .rows import number
from .serial import MAX_ELEMENTS, conventions_json, render_csv, render_value, to_json, value_text, views_json
from .table import render_many_table, render_table

if TYPE_CHECKING:
    from ..engine import Result

FORMATS = ("table", "json", "value", "csv")


def render(result: Result, fmt: str, stream, *, precision: int | None = None, max_rows: int = 20, width=None,
           max_elements: int = MAX_ELEMENTS):
    """Write `result` to `stream` as `fmt` (one of FORMATS)."""
    if fmt == "json":
        import json

        stream.write(json.dumps({**to_json(result, max_elements), **views_json(result, max_rows),
                                 **conventions_json(result)}) + "\n")
    elif fmt == "value" and result.convention is not None:
        stream.write(number(np.float64(result.convention.value)) + "\n")
    elif fmt == "value":
        render_value(result, stream)
    elif fmt == "csv":
        render_csv(result, stream, precision)
    else:
        render_table(result, stream, precision, max_rows, width)


def render_many(results: list[Result], fmt: str, stream, *, precision: int | None = None,
                max_rows: int = 20) -> None:
    """Several losses of the same tensors: a row per loss, or JSON {"results": [...]}; each
    loss's views (SPEC §10) follow, under its name."""
    if fmt == "json":
        import json

        stream.write(json.dumps({"results": [{**to_json(r), **views_json(r, max_rows)} for r in results]}) + "\n")
    elif fmt == "value":
        for r in results:
            stream.write(value_text(r.value) if r.value is not None else "null\n")
    elif fmt == "csv":
        stream.write("loss,reduction,value\n")
        for r in results:
            value = number(r.value, precision) if r.value is not None and r.value.ndim == 0 else "elements"
            stream.write(f"{r.loss.name},{r.reduction},{value}\n")
    else:
        render_many_table(results, stream, precision, max_rows)
