"""The table for people, drawn with rich (imported only when a table is drawn): the header,
the value, the breakdown fitted to the terminal without cutting a number (`fitted_table`), the
reduction written out, the views of SPEC §10, the frameworks of --compare and the gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import LossError
from .rows import arithmetic_text, breakdown, grads_text, header_text, index_of, index_text, number, ranked, shown_rows

if TYPE_CHECKING:
    from ..engine import Result

TABLE_PRECISION = 10  # significant digits in tables unless --precision says otherwise


def render_table(result: Result, stream, precision, max_rows, width):
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
            print_conventions(console, result, precision)
        return
    shape = str(tuple(result.elements_shape) if result.reduction == "none" else ())
    if result.reduction != "none":
        console.print(f"value: {number(result.value)}   shape: {shape}")
    else:
        console.print(f"value: the {result.count} element losses below   shape: {shape}")
    flat, left_out = shown_rows(result, max_rows)
    names, rows = breakdown(result, flat)
    head = (max_rows + 1) // 2 if left_out else len(rows)
    if left_out:  # a short marker row; what it stands for is said under the table
        rows.insert(head, ["…", *["…"] * (len(names) - 1)])
    table = fitted_table(names, rows, precision, console.width)
    if result.count:
        console.print(table)
    if left_out:
        console.print(f"… {left_out} rows left out (rows {head} to {result.count - (len(rows) - head - 1) - 1}); "
                      "--max-rows shows more", soft_wrap=True)
    console.print(arithmetic_text(result, precision), soft_wrap=True)
    print_views(console, result, max_rows)
    if result.compared is not None:
        print_conventions(console, result, precision)
    if result.grads == {}:
        console.print("no gradient: PyTorch differentiates none of these tensors here", soft_wrap=True)
    elif result.grads:
        text = grads_text(result, precision, limit=max_rows * 8)
        if text:
            console.print(text, soft_wrap=True)


def render_many_table(results: list[Result], stream, precision, max_rows) -> None:
    """Several losses of the same tensors: a row per loss, then each loss's views under its name."""
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
            print_views(console, r, max_rows)


def fitted_table(names: list[str], rows: list[list], precision: int, width: int):
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


def print_views(console, result: Result, max_rows: int) -> None:
    """The sections of SPEC §10 under the breakdown: summary and histogram past --max-rows,
    the largest and smallest elements, the groups."""
    from ..views import draw

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
                terms=lambda i: {n: cells[index_of(result, i)].get(n, "") for n in names},
                index_text=lambda i: index_text(i, result.elements_shape)))
    if "groups" in v:
        console.print()
        console.print(draw.groups_section(v["groups"], by=v.get("group_by", "group")))


def print_conventions(console, result: Result, precision) -> None:
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
