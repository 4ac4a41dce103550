"""The one renderer: a Result in, text on a stream out, in the format asked for.

`table` draws with rich (imported only here, only when a table is drawn); `json`, `value` and
`csv` use the standard library, so scripted calls start fast. A result too large to keep is
rendered from its chunks (`Result.chunks`, `Result.rows_of`); `--output` is `output.py`'s.
"""

from __future__ import annotations

import numpy as np

from .engine import Result
from .errors import LossError

FORMATS = ("table", "json", "value", "csv")
MAX_ELEMENTS = 1_000_000  # --max-elements: JSON carries the elements up to this many


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


def _json_value(a: np.ndarray):
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


def _columns(result: Result, out, arrays) -> list[tuple[str, np.ndarray]]:
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
        columns = _columns(result, out, arrays)
        for name, _ in columns:
            if name not in names:
                names.append(name)
        shape = out.elements.shape
        for f in flat:
            if start <= f < start + out.elements.size:
                at = np.unravel_index(f - start, shape) if shape else ()
                found[f] = {name: c[at] for name, c in columns}
    grads = _aligned_grads(result)
    names += [f"∂/∂{k}" for k in grads]
    rows = []
    for f in flat:
        cells = found.get(f, {})
        for k, g in grads.items():
            cells[f"∂/∂{k}"] = g.reshape(-1)[f]
        rows.append([_index_text(f, result.elements_shape)] + [cells.get(n, "") for n in names])
    return ["index", *names], rows


def _aligned_grads(result: Result) -> dict[str, np.ndarray]:
    """The gradients of the elements' own shape: a breakdown column each."""
    return {k: g for k, g in (result.grads or {}).items() if g.shape == tuple(result.elements_shape)}


def grads_text(result: Result, precision: int | None, limit: int) -> str:
    """The gradients that are not breakdown columns, each with its shape (values when few)."""
    lines = []
    for name, g in (result.grads or {}).items():
        if name in _aligned_grads(result):
            continue
        head = f"∂value/∂{name}, shape {tuple(g.shape)}"
        if g.size > limit:
            lines.append(f"{head}: {g.size} values, shown by --format json")
        else:
            rows = g.reshape(-1, g.shape[-1]) if g.ndim > 1 else g.reshape(1, -1)
            lines.append(head + ":")
            lines += ["  " + " ".join(number(x, precision) for x in row) for row in rows]
    return "\n".join(lines)


def _rows(result: Result, max_rows: int | None):
    """Flat element indices to show: all, or head and tail; and how many are left out."""
    n = result.count
    if max_rows is None or n <= max_rows:
        return list(range(n)), 0
    head = (max_rows + 1) // 2
    tail = max_rows - head
    return list(range(head)) + list(range(n - tail, n)), n - max_rows


def _index_text(flat: int, shape) -> str:
    if not shape:
        return "()"
    idx = np.unravel_index(flat, shape)
    return ",".join(str(int(i)) for i in idx)


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


def render(result: Result, fmt: str, stream, *, precision: int | None = None, max_rows: int = 20, width=None,
           max_elements: int = MAX_ELEMENTS):
    if fmt == "json":
        import json

        stream.write(json.dumps({**to_json(result, max_elements), **views_json(result, max_rows),
                                 **conventions_json(result)}) + "\n")
    elif fmt == "value" and result.convention is not None:
        stream.write(number(np.float64(result.convention.value)) + "\n")
    elif fmt == "value":
        _render_value(result, stream)
    elif fmt == "csv":
        _render_csv(result, stream, precision)
    else:
        _render_table(result, stream, precision, max_rows, width)


def to_json(result: Result, max_elements: int = MAX_ELEMENTS) -> dict:
    """The JSON object of SPEC §5: the elements (and gradients) only when there are at most
    `max_elements` of them; beyond, null, and `elements_count` says how many there are."""
    options = {}
    for k, v in result.options.items():
        options[k] = _json_value(v) if isinstance(v, np.ndarray) else v
    few = result.count <= max_elements and result.elements is not None
    shape = list(result.value.shape) if result.value is not None else list(result.elements_shape)
    doc = {
        "loss": result.loss.name,
        "reduction": result.reduction,
        "options": options,
        "dtype": result.dtype,
        "value": _json_value(result.value) if result.value is not None and (few or result.value.ndim == 0)
        else None,
        "shape": shape if result.reduction == "none" else [],
        "elements": _json_value(result.elements) if few else None,
        "elements_shape": list(result.elements_shape),
        "inputs": {
            name: {"shape": list(t.array.shape), "dtype": str(t.array.dtype), "source": t.source}
            for name, t in result.inputs.items()
        },
        "signature": result.signature,
    }
    if not few:
        doc["elements_count"] = result.count
    if result.grads is not None:
        doc["grad"] = {k: _json_value(g) if g.size <= max_elements else None for k, g in result.grads.items()}
    return doc


def _cell_json(x):
    if isinstance(x, (str, np.str_)):
        return str(x)
    return _json_value(np.asarray(x))


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
        terms = {k: _cell_json(v) for k, v in cells.items() if k != "loss" and not (isinstance(v, str) and v == "")}
        out.append({"index": index, "loss": _json_value(np.float64(loss)), "terms": terms})
    return out


def views_json(result: Result, max_rows: int) -> dict:
    """top, bottom, groups (SPEC §10), and the summary and histogram past --max-rows."""
    doc = {}
    for key in ("top", "bottom"):
        if key in result.views:
            doc[key] = ranked(result, key)
    if "groups" in result.views:
        doc["groups"] = [{k: _json_value(np.asarray(v)) if k != "group" else _cell_json(v) for k, v in g.items()}
                         for g in result.views["groups"]]
    if "summary" in result.views and result.count > max_rows:
        doc["summary"] = {k: _json_value(np.asarray(v)) if not isinstance(v, bool) else v
                          for k, v in result.views["summary"].items()}
        doc["histogram"] = {k: _json_value(np.asarray(v)) if k != "scale" else v
                            for k, v in result.views["histogram"].items()}
    return doc


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
        from rich.console import Console
        from rich.table import Table

        console = Console(file=stream, markup=False, highlight=False, soft_wrap=False)
        table = Table("loss", "reduction", "value", "reduction written out", show_edge=True)
        table.columns[2].justify, table.columns[2].no_wrap = "right", True
        for r in results:
            scalar = r.value is not None and r.value.ndim == 0
            value = number(r.value, precision) if scalar else f"{r.count} elements"
            table.add_row(r.loss.name, r.reduction, value, arithmetic_text(r, precision or TABLE_PRECISION))
        console.print(table)
        for r in results:
            if any(k in r.views for k in ("top", "bottom", "groups")) or ("summary" in r.views and r.count > max_rows):
                console.print()
                console.print(f"── {r.loss.name} ──")
                _print_views(console, r, max_rows)


def _convention_json(c) -> dict:
    return {"value": _json_value(np.float64(c.value)), "function": c.function, "dtype": c.dtype,
            "differences": list(c.differences), "conversions": list(c.conversions)}


def conventions_json(result: Result) -> dict:
    """SPEC §11: under --convention, the framework's value is the value (PyTorch's elements are
    not the framework's, so they are left out); --compare adds every framework's."""
    doc = {}
    c = result.convention
    if c is not None:
        doc = {"value": _json_value(np.float64(c.value)), "elements": None, "convention": {
            "name": c.framework, **_convention_json(c), "torch_value": _json_value(result.value)}}
    if result.compared is not None:
        doc["conventions"] = {}
        for name, got in result.compared.items():
            if got is None:
                doc["conventions"][name] = {"value": _json_value(result.value), "function": result.loss.matches,
                                            "differences": []}
            elif isinstance(got, LossError):
                doc["conventions"][name] = {"value": None, "refused": str(got)}
            else:
                doc["conventions"][name] = _convention_json(got)
    return doc


def _print_conventions(console, result: Result, precision) -> None:
    """--compare: each framework's value and function, then one line per difference from
    PyTorch on these inputs, wrapped to the terminal: text to paste into a bug report."""
    import textwrap

    width = max(console.width, 40)
    rows = []
    for name, got in result.compared.items():
        if got is None:
            rows.append((name, result.loss.matches, number(result.value, precision), ()))
        elif isinstance(got, LossError):
            rows.append((name, "no equivalent", "", (str(got),)))
        else:
            rows.append((name, got.function, number(np.float64(got.value), precision),
                         (*got.conversions, *got.differences)))
    left = max(len(r[0]) for r in rows) + 2
    console.print()
    console.print("the same tensors in each framework's own loss:", soft_wrap=True)
    middle = max(len(r[1]) for r in rows) + 2
    for name, function, value, notes in rows:
        line = f"{name:<{left}}{function:<{middle}}{value}".rstrip()
        console.print(line if len(line) <= width else f"{name:<{left}}{function}\n{' ' * left}{value}",
                      soft_wrap=True)
        for note in notes:
            console.print("\n".join(textwrap.wrap(note, width, initial_indent=" " * left + "- ",
                                                  subsequent_indent=" " * (left + 2), break_on_hyphens=False)),
                          soft_wrap=True)


def value_text(value: np.ndarray) -> str:
    """The value alone: a scalar on one line, a vector one element per line, a matrix one row per line."""
    v = np.asarray(value)
    if v.ndim == 0:
        return number(v) + "\n"
    if v.ndim == 1:
        return "".join(number(x) + "\n" for x in v)
    rows = v.reshape(-1, v.shape[-1]) if v.size else v.reshape(0, 0)
    return "".join(" ".join(number(x) for x in row) + "\n" for row in rows)


def _render_value(result: Result, stream) -> None:
    if result.value is not None:
        stream.write(value_text(result.value))
        return
    for _, out, _ in result.chunks():  # none, with more elements than kept: chunk by chunk
        e = out.elements
        stream.write(value_text(e if e.ndim < 2 else e.reshape(-1, e.shape[-1])))


def _fitted_table(names: list[str], rows: list[list], precision: int, width: int):
    """The breakdown as a rich table that fits `width` without cutting a number: numbers lose
    significant digits (down to 2) until the columns fit; text cells (a CTC path) are cut with
    an ellipsis; headers wrap at their words."""
    from rich.table import Table

    text = {j for j in range(1, len(names)) if any(isinstance(r[j], (str, np.str_)) and r[j] not in ("", "…")
                                                   for r in rows)}
    def fits(widths):
        return 1 + 3 * len(names) + sum(w if j not in text else min(w, 6) for j, w in enumerate(widths)) <= width

    for digits in range(precision, 1, -1) if precision > 2 else [precision]:  # fewer: only if headers cannot make room
        cells = [[r[0], *[c if isinstance(c, (str, np.str_)) else number(c, digits) for c in r[1:]]] for r in rows]
        for whole_headers in (True, False):
            head = [len(n) if whole_headers else min(max(map(len, n.split() or [""])), 6) for n in names]
            widths = [max([len(str(r[j])) for r in cells] + [head[j]]) for j in range(len(names))]
            if fits(widths):
                break
        if fits(widths):
            break
    fixed = sum(w for j, w in enumerate(widths) if j not in text)
    budget = max(width - 1 - 3 * len(names) - fixed, 4 * len(text))
    natural = sum(widths[j] for j in text) or 1
    import textwrap

    headers = [name if j in text else "\n".join(textwrap.wrap(name, widths[j], break_on_hyphens=False))
               for j, name in enumerate(names)]  # a long header wraps, at its words where it can
    table = Table(*headers, show_edge=True)
    for j, column in enumerate(table.columns):
        column.justify = "right" if j else "left"
        column.no_wrap = True
        if j in text:  # its share of what the numbers leave
            column.overflow = "ellipsis"
            column.max_width = max(4, min(widths[j], budget * widths[j] // natural))
        else:  # exactly as wide as its longest number, never folded or cut; a long header folds
            column.width, column.overflow = widths[j], "fold"
    for r in cells:
        table.add_row(*[str(c) for c in r])
    return table


def _print_views(console, result: Result, max_rows: int) -> None:
    """The sections of SPEC §10 under the breakdown: summary and histogram past --max-rows,
    the largest and smallest elements, the groups."""
    from .views import draw

    v = result.views
    if "summary" in v and result.count > max_rows:
        console.print()
        console.print(draw.summary_table(v["summary"]))
        if v["histogram"]["counts"] or v["histogram"].get("zeros"):
            console.print(draw.HistogramView(v["histogram"], v["summary"]))
    for key, largest in (("top", True), ("bottom", False)):
        if key in v:
            rows = ranked(result, key)
            names = list(dict.fromkeys(n for r in rows for n in r["terms"]))
            cells = {r["index"] and tuple(r["index"]) or (): r["terms"] for r in rows}
            console.print()
            console.print(draw.top_section(
                v[key], largest=largest,
                terms=lambda i: {n: cells[_at(result, i)].get(n, "") for n in names},
                index_text=lambda i: _index_text(i, result.elements_shape)))
    if "groups" in v:
        console.print()
        console.print(draw.groups_section(v["groups"], by=v.get("group_by", "group")))


def _at(result: Result, flat: int) -> tuple:
    return tuple(int(k) for k in np.unravel_index(flat, result.elements_shape)) if result.elements_shape else ()


def _render_csv(result: Result, stream, precision):
    import csv

    writer = csv.writer(stream, lineterminator="\n")
    if "top" in result.views or "bottom" in result.views:  # the ranked rows only
        ranks = [(key, r) for key in ("top", "bottom") if key in result.views for r in ranked(result, key)]
        names = list(dict.fromkeys(n for _, r in ranks for n in r["terms"]))
        writer.writerow(["view", "index", "loss", *names])
        for key, r in ranks:
            writer.writerow([key, ",".join(map(str, r["index"])) or "()", number(r["loss"], precision),
                             *[number(r["terms"].get(n, ""), precision) for n in names]])
        return
    grads = _aligned_grads(result)
    names: list[str] = []  # every chunk's columns (a term such as "ignored" may be some chunks' only)
    for _, out, arrays in ([] if result.first else result.chunks()):
        names += [n for n, _ in _columns(result, out, arrays) if n not in names]
    header = None
    for start, out, arrays in result.chunks():
        columns = dict(_columns(result, out, arrays))
        if header is None:
            names += [n for n in columns if n not in names]
            names = [n for n in names if n != "loss"] + ["loss"]  # the terms, then the loss
            header = ["index", *names, *(f"∂/∂{k}" for k in grads)]
            writer.writerow(header)
        flat = [np.asarray(columns[n]).reshape(-1) if n in columns else None for n in names]
        flat += [g.reshape(-1)[start:start + out.elements.size] for g in grads.values()]
        for i in range(out.elements.size):
            writer.writerow([_index_text(start + i, result.elements_shape)] +
                            ["" if c is None else number(c[i], precision) for c in flat])
    if header is None:
        writer.writerow(["index", "loss"])


TABLE_PRECISION = 10  # significant digits in tables unless --precision says otherwise


def _render_table(result: Result, stream, precision, max_rows, width):
    from rich.console import Console
    from rich.table import Table

    class _Console(Console):
        def on_broken_pipe(self):  # let the CLI end quietly, as for the other formats
            raise BrokenPipeError

    precision = precision or TABLE_PRECISION
    console = _Console(file=stream, markup=False, highlight=False, width=width, soft_wrap=False)
    lines = [""]
    for part in header_text(result).split("  "):  # wrapped between options, never inside one
        if lines[-1] and len(lines[-1]) + 2 + len(part) > console.width:
            lines.append("  ")
        lines[-1] += ("  " if lines[-1].strip() else "") + part
    console.print("\n".join(lines), soft_wrap=True)
    c = result.convention
    if c is not None:  # the framework's value, how it came about, and PyTorch's beside it
        console.print(f"value: {number(np.float64(c.value))}   ({c.function}, {c.dtype})")
        for line in c.conversions:
            console.print(f"given: {line}", soft_wrap=True)
        for line in c.differences:
            console.print(f"differs from PyTorch: {line}", soft_wrap=True)
        console.print(f"PyTorch ({result.loss.matches}): {number(result.value)}")
        if result.compared is not None:
            _print_conventions(console, result, precision)
        return
    shape = str(tuple(result.elements_shape) if result.reduction == "none" else ())
    if result.reduction != "none":
        console.print(f"value: {number(result.value)}   shape: {shape}")
    else:
        console.print(f"value: the {result.count} element losses below   shape: {shape}")
    flat, left_out = _rows(result, max_rows)
    names, rows = breakdown(result, flat)
    head = (max_rows + 1) // 2 if left_out else len(rows)
    if left_out:  # a short marker row; what it stands for is said under the table
        rows.insert(head, ["…", *["…"] * (len(names) - 1)])
    table = _fitted_table(names, rows, precision, console.width)
    if result.count:
        console.print(table)
    if left_out:
        console.print(f"… {left_out} rows left out (rows {head} to {result.count - (len(rows) - head - 1) - 1}); "
                      "--max-rows shows more", soft_wrap=True)
    console.print(arithmetic_text(result, precision), soft_wrap=True)
    _print_views(console, result, max_rows)
    if result.compared is not None:
        _print_conventions(console, result, precision)
    if result.grads == {}:
        console.print("no gradient: PyTorch differentiates none of these tensors here", soft_wrap=True)
    elif result.grads:
        text = grads_text(result, precision, limit=max_rows * 8)
        if text:
            console.print(text, soft_wrap=True)
