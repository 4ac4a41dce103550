"""What a result shows, in every format: its numbers as text (`number`) and as JSON values
(`json_value`), the breakdown's columns and rows (`breakdown`, from the elements' chunks
only), the reduction written out, the header, the gradients, and the ranked rows of --top and
--bottom (`ranked`). The table (`render.table`) and JSON, CSV and value (`render.serial`)
draw on these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..engine import Result


def number(x, precision: int | None = None) -> str:
    """A number as text: shortest round-trip repr, or `precision` significant digits.
    Text terms (e.g. a CTC alignment) pass through as they are."""
    if isinstance(x, (str, np.str_)) or (isinstance(x, np.ndarray) and x.dtype.kind in "OUS"):
        return str(x)
    if isinstance(x, (np.integer, int)) or (isinstance(x, np.ndarray) and x.dtype.kind in "iub"):
        return str(int(x))
    x = np.asarray(x)[()]
    if not np.isfinite(x):
        return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")
    if precision is None:
        return str(x if isinstance(x, np.floating) else np.float64(x))
    return f"{float(x):.{precision}g}"


def json_value(a: np.ndarray):
    """Nested lists of JSON-ready numbers (a number for 0-d); non-finite numbers as strings."""
    a = np.asarray(a)
    if a.dtype.kind in "iub":
        return a.astype(np.int64).tolist()
    if a.dtype != np.float64:  # float32: its shortest repr, read back as float64, prints the same
        a = a.astype(str).astype(np.float64)
    finite = np.isfinite(a)
    if finite.all():
        return a.tolist()  # Python floats: json writes their round-trip repr
    out = a.astype(object)
    out[np.isnan(a)] = "nan"
    out[a == np.inf] = "inf"
    out[a == -np.inf] = "-inf"
    return out.tolist()


def cell_json(x):
    if isinstance(x, (str, np.str_)):
        return str(x)
    return json_value(np.asarray(x))


def chunk_columns(result: Result, out, arrays) -> list[tuple[str, np.ndarray]]:
    """The breakdown columns of one chunk, each broadcast to the chunk's elements: the inputs
    that line up with them, the kernel's terms, and the loss."""
    shape = out.elements.shape
    columns: list[tuple[str, np.ndarray]] = []
    for name in result.inputs:
        a = arrays[name]
        if name.startswith("--") or name in out.terms or a.ndim > len(shape):
            continue  # a term of the same name is the input as the kernel aligned it
        if out.shown_inputs is not None and name not in out.shown_inputs:
            continue
        try:
            columns.append((name, np.broadcast_to(a, shape)))
        except ValueError:
            continue
    for name, t in out.terms.items():
        try:
            with np.errstate(all="ignore"):  # (a term made late, as the kernel made the rest)
                columns.append((name, np.broadcast_to(np.asarray(t() if callable(t) else t), shape)))
        except ValueError:
            continue
    columns.append(("loss", out.elements))
    return columns


def breakdown(result: Result, flat: list[int]) -> tuple[list[str], list[list]]:
    """Column names and the rows (index text, then raw cells; "" where a chunk has no such
    column) of the elements at the flat indices `flat` (sorted), from their chunks only."""
    names: list[str] = []
    found: dict[int, dict] = {}
    for start, out, arrays in result.rows_of(flat):
        columns = chunk_columns(result, out, arrays)
        for name, _ in columns:
            if name not in names:
                names.append(name)
        shape = out.elements.shape
        for f in flat:
            if start <= f < start + out.elements.size:
                at = np.unravel_index(f - start, shape) if shape else ()
                found[f] = {name: c[at] for name, c in columns}
    grads = aligned_grads(result)
    names += [f"∂/∂{k}" for k in grads]
    rows = []
    for f in flat:
        cells = found.get(f, {})
        for k, g in grads.items():
            cells[f"∂/∂{k}"] = g.reshape(-1)[f]
        rows.append([index_text(f, result.elements_shape)] + [cells.get(n, "") for n in names])
    return ["index", *names], rows


def aligned_grads(result: Result) -> dict[str, np.ndarray]:
    """The gradients of the elements' own shape: a breakdown column each."""
    return {k: g for k, g in (result.grads or {}).items() if g.shape == tuple(result.elements_shape)}


def grads_text(result: Result, precision: int | None, limit: int) -> str:
    """The gradients that are not breakdown columns, each with its shape (values when few)."""
    lines = []
    for name, g in (result.grads or {}).items():
        if name in aligned_grads(result):
            continue
        head = f"∂value/∂{name}, shape {tuple(g.shape)}"
        if g.size > limit:
            lines.append(f"{head}: {g.size} values, shown by --format json")
        else:
            rows = g.reshape(-1, g.shape[-1]) if g.ndim > 1 else g.reshape(1, -1)
            lines.append(head + ":")
            lines += ["  " + " ".join(number(x, precision) for x in row) for row in rows]
    return "\n".join(lines)


def shown_rows(result: Result, max_rows: int | None):
    """Flat element indices to show: all, or head and tail; and how many are left out."""
    n = result.count
    if max_rows is None or n <= max_rows:
        return list(range(n)), 0
    head = (max_rows + 1) // 2
    tail = max_rows - head
    return list(range(head)) + list(range(n - tail, n)), n - max_rows


def index_text(flat: int, shape) -> str:
    if not shape:
        return "()"
    idx = np.unravel_index(flat, shape)
    return ",".join(str(int(i)) for i in idx)


def index_of(result: Result, flat: int) -> tuple:
    return tuple(int(k) for k in np.unravel_index(flat, result.elements_shape)) if result.elements_shape else ()


def arithmetic_text(result: Result, precision: int | None) -> str:
    """The reduction written out with the numbers in force."""
    value = number(result.value, precision) if result.value is not None and result.value.ndim == 0 else ""
    return result.arithmetic.text(lambda x: number(x, precision), value)


def header_text(result: Result) -> str:
    """The loss, the reduction, the dtype and the options in force (an unset tensor option is
    not in force)."""
    opts = []
    for k, v in result.options.items():
        if v is None:
            continue
        if isinstance(v, np.ndarray) or hasattr(v, "shape") and not np.isscalar(v):
            v = f"tensor{list(v.shape)}"
        opts.append(f"{k}={v}")
    parts = [result.loss.name, f"reduction={result.reduction}", result.dtype, *opts]
    return "  ".join(parts)


def ranked(result: Result, key: str) -> list[dict]:
    """The rows of a top or bottom view: index, loss and the breakdown's other cells."""
    pairs = result.views.get(key) or []
    names, rows = breakdown(result, sorted(i for i, _ in pairs))
    by_flat = {}
    for (i, _), row in zip(sorted(pairs), rows):
        by_flat[i] = dict(zip(names[1:], row[1:]))
    out = []
    for i, loss in pairs:
        cells = by_flat[i]
        index = [int(k) for k in np.unravel_index(i, result.elements_shape)] if result.elements_shape else []
        terms = {k: cell_json(v) for k, v in cells.items() if k != "loss" and not (isinstance(v, str) and v == "")}
        out.append({"index": index, "loss": json_value(np.float64(loss)), "terms": terms})
    return out
