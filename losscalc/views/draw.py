"""Rich renderables for the views: summary, histogram, top/bottom rows and groups.

Every renderable lays itself out for the width it is given (`options.max_width`), so the same
object reads well at 60, 80 or 120 columns. Numbers are never cut or split across lines:
when a table does not fit, its floats are written with fewer significant digits (down to 2),
then long headers may wrap at their words, and only text columns (a CTC path, a label) are
cut, with an ellipsis. Exponents are written compactly (`1.5e-7`, `3e12`).

rich is imported only here and only when something is drawn.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..readers.inline import SIGNED_NUMBER

MIN_DIGITS = 2
MAX_BAR = 60  # the longest bar, in cells: wider screens get no longer bars
BLOCKS = "▏▎▍▌▋▊▉"


def short(x: float, digits: int) -> str:
    """x with at most `digits` significant digits (fewer when its shortest repr is shorter)."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = _compact(repr(x))
    mantissa = re.sub(r"e.*$", "", text).lstrip("-").replace(".", "").lstrip("0").rstrip("0")
    rounded = _compact(f"{x:.{digits}g}")
    if len(mantissa) > digits or len(rounded) <= len(text) - 2:  # 2e12, not 2000000000000
        text = rounded
    return text


def _compact(text: str) -> str:
    """1e-07 -> 1e-7, 2.0e+12 -> 2e12, 3.0 -> 3."""
    if "e" in text:
        m, e = text.split("e")
        return f"{m.removesuffix('.0')}e{int(e)}"
    return text.removesuffix(".0")


@dataclass(frozen=True)
class Num:
    """A float cell: shortened to fit, never cut. `suffix` follows it (e.g. `%`)."""

    value: float
    suffix: str = ""

    def text(self, digits: int) -> str:
        return short(self.value, digits) + self.suffix


class _Cut(str):
    """A text cell that may be cut with an ellipsis (a CTC path, a name)."""


def _cell(x, key: bool):
    """A float (or a string holding one) becomes a Num; ints stay whole; other strings are
    text that may be cut, except in the key column (the first: an index, a group), which is
    always kept whole as it is."""
    if key:
        return x.text(17) if isinstance(x, Num) else (short(x, 17) if isinstance(x, float) else str(x))
    if isinstance(x, Num):
        return x
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int) or (hasattr(x, "dtype") and getattr(x.dtype, "kind", "") in "iu"):
        return str(int(x))
    if isinstance(x, float) or (hasattr(x, "dtype") and getattr(x.dtype, "kind", "") == "f"):
        return Num(float(x))
    text = str(x).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return text
    if SIGNED_NUMBER.fullmatch(text):  # the one number syntax (readers/inline.py)
        return Num(float(text))
    return _Cut(text)


class FittedTable:
    """A rich table that fits the width it is drawn at without cutting a number.

    columns: headers. rows: cells. The first column is the key (an index, a group, a label),
    kept whole. Elsewhere a float, a Num or a string holding a number is a number, shortened
    as needed; an int (or a string of one) is kept whole; any other string makes its column a
    text column, cut with an ellipsis when space runs out (so are `text_columns`, by header or
    position). `title` above and `note` below are plain lines that wrap at words.
    """

    def __init__(self, columns, rows, *, text_columns=(), digits: int = 10, title=None, note=None, right=None):
        self.headers = [str(c) for c in columns]
        self.rows = [[_cell(x, i == 0) for i, x in enumerate(r)] for r in rows]
        self.text = [
            i
            for i, c in enumerate(self.headers)
            if c in text_columns or i in text_columns or any(isinstance(r[i], _Cut) for r in self.rows)
        ]
        self.digits = digits
        self.title, self.note = title, note
        self.right = set(range(1, len(self.headers))) if right is None else set(right)

    def _texts(self, digits: int) -> list[list[str]]:
        return [[c.text(digits) if isinstance(c, Num) else str(c) for c in r] for r in self.rows]

    def _layout(self, width: int):
        """(digits, cell texts, widths of the number and key columns, widths of the text
        columns): the most digits with which the numbers fit whole, headers first unwrapped."""
        n = len(self.headers)
        overhead = 1 + 3 * n
        for wrap_headers in (False, True):
            for digits in range(self.digits, MIN_DIGITS - 1, -1):
                cells = self._texts(digits)
                fixed, natural = {}, {}
                for i in range(n):
                    longest = max([len(r[i]) for r in cells] or [0])
                    head = max(len(w) for w in self.headers[i].split() or [""]) if wrap_headers else len(self.headers[i])
                    if i in self.text:
                        natural[i] = max(longest, min(len(self.headers[i]), 8), 1)
                    else:
                        fixed[i] = max(longest, head, 1)
                budget = width - overhead - sum(fixed.values())
                mins = {i: min(v, 6) for i, v in natural.items()}
                if budget >= sum(mins.values()):
                    return digits, cells, fixed, _share(natural, mins, budget)
        return MIN_DIGITS, self._texts(MIN_DIGITS), fixed, mins

    def __rich_console__(self, console, options):
        from rich.table import Table
        from rich.text import Text

        width = options.max_width
        digits, cells, fixed, allot = self._layout(width)
        table = Table(show_edge=True)
        for i, head in enumerate(self.headers):
            justify = "right" if i in self.right else "left"
            if i in self.text:
                table.add_column(head, justify=justify, no_wrap=True, overflow="ellipsis", max_width=allot[i])
            else:  # a number column: exactly as wide as its longest cell, so nothing is cut
                table.add_column(head, justify=justify, width=fixed[i], overflow="fold")
        for r in cells:
            table.add_row(*r)
        if self.title:
            yield Text(self.title)
        yield table
        if self.note:
            yield Text(self.note)


def _share(natural: dict, mins: dict, budget: int) -> dict:
    """Widths for the text columns: each its minimum, the rest of the budget shared out
    (water-filling) up to each column's natural width."""
    allot = dict(mins)
    left = budget - sum(allot.values())
    while left > 0:
        grow = [i for i in allot if allot[i] < natural[i]]
        if not grow:
            break
        for i in grow:
            if left == 0:
                break
            allot[i] += 1
            left -= 1
    return allot


def rows_section(title: str, columns, rows, *, text_columns=(), digits: int = 10, left_out: int = 0):
    """A top/bottom section: rows of (index text, loss, terms...)."""
    note = f"… {left_out} more rows left out" if left_out else None
    return FittedTable(columns, rows, text_columns=text_columns, digits=digits, title=title, note=note)


def top_section(top: list, *, largest: bool = True, terms=None, index_text=str, digits: int = 10):
    """The rows of `TopK.finish()` (pairs of flat index and loss): `index_text(flat)` writes
    an index, `terms` (optional) maps a flat index to `{name: cell}` for extra columns."""
    names = list(terms(top[0][0]).keys()) if terms and top else []
    rows = [[index_text(i), Num(v), *((terms(i)[n] for n in names) if terms else ())] for i, v in top]
    kind = "largest" if largest else "smallest"
    return rows_section(f"the {len(top)} {kind} element losses", ["index", "loss", *names], rows, digits=digits)


def groups_section(groups: list[dict], *, limit: int = 10, digits: int = 6, by: str = "group"):
    """The first `limit` groups of `Groups.finish()` (largest values first), saying how many
    are left out."""
    shown = groups[:limit]
    rows = [
        [_group_text(g["group"]), g["count"], Num(g["value"]), Num(g["sum"]), Num(100 * g["share"], "%")]
        for g in shown
    ]
    left = len(groups) - len(shown)
    note = f"… {left} more groups with smaller values left out" if left else None
    title = f"{len(groups)} groups by {by}, largest value first"
    return FittedTable([by, "count", "value", "sum", "share"], rows, digits=digits, title=title, note=note)


def _group_text(g) -> str:
    if isinstance(g, float):
        return short(g, 17)
    return str(g)


_SUMMARY_ROWS = (
    ("count", "count"), ("NaN", "nan"), ("+inf", "posinf"), ("-inf", "neginf"),
    ("min", "min"), ("max", "max"), ("mean", "mean"), ("std", "std"),
    ("p1", "p1"), ("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99.9", "p99.9"),
)  # fmt: skip


def summary_table(summary: dict, *, digits: int = 6):
    """The summary as a two-column table; a note when the quantiles are estimates."""
    rows = [[label, summary[key]] for label, key in _SUMMARY_ROWS if key in summary]
    note = None
    if not summary.get("quantiles_exact", True):
        n = summary["count"] - summary["nan"] - summary["posinf"] - summary["neginf"]
        err = summary["rank_error"]
        note = f"quantiles estimated: rank error ≤ {err} of {n} finite ({short(100 * err / n, 2)}%)"
    return FittedTable(["statistic", "value"], rows, digits=digits, title="summary of the element losses", note=note)


def bar(count: int, most: int, width: int) -> str:
    """A horizontal bar of `width * count / most` cells in eighths; never empty for count > 0."""
    if most <= 0 or count <= 0:
        return ""
    eighths = max(1, round(8 * width * count / most))
    full, part = divmod(eighths, 8)
    return "█" * full + (BLOCKS[part - 1] if part else "")


class HistogramView:
    """A histogram drawn as horizontal bars, one line per bin: `lo – hi  bar  count`.

    histogram: `Summary.finish()["histogram"]`. With `summary` given, NaN and ±inf counts
    get lines of their own (under the same scale) when there are any; zeros too (log scale)."""

    def __init__(self, histogram: dict, summary: dict | None = None, *, digits: int = 3):
        self.h = histogram
        self.s = summary or {}
        self.digits = digits

    def _lines(self, digits: int):
        edges, counts = self.h["edges"], self.h["counts"]
        los = [short(e, digits) for e in edges[:-1]]
        his = [short(e, digits) for e in edges[1:]]
        rows = [(lo, hi, c) for lo, hi, c in zip(los, his, counts)]
        extra = []
        if self.h.get("zeros"):
            extra.append(("zeros", self.h["zeros"]))
        for label, key in (("NaN", "nan"), ("+inf", "posinf"), ("-inf", "neginf")):
            if self.s.get(key):
                extra.append((label, self.s[key]))
        return rows, extra

    def __rich_console__(self, console, options):
        from rich.text import Text

        width = options.max_width
        scale = self.h.get("scale", "linear")
        bins = len(self.h["counts"])
        yield Text(f"histogram of the losses: {bins} {scale} bin{'s' if bins != 1 else ''} [lo, hi)")
        if not bins and not self.h.get("zeros") and not any(self.s.get(k) for k in ("nan", "posinf", "neginf")):
            return
        edges = self.h["edges"]
        distinct = next((d for d in range(self.digits, 18) if len({short(e, d) for e in edges}) == len(edges)), 17)
        for digits in range(distinct, 0, -1):  # edges told apart, unless the width forbids
            rows, extra = self._lines(digits)
            lo_w = max([len(r[0]) for r in rows] + [len(e[0]) for e in extra] or [0])
            hi_w = max([len(r[1]) for r in rows] or [0])
            counts = [r[2] for r in rows] + [e[1] for e in extra]
            c_w = max([len(str(c)) for c in counts] or [1])
            label_w = lo_w + 3 + hi_w if rows else lo_w
            bar_w = width - label_w - c_w - 4
            if bar_w >= 8:
                break
        bar_w = min(max(bar_w, 1), MAX_BAR)
        most = max(counts or [0])
        for lo, hi, c in rows:
            label = f"{lo:>{lo_w}} – {hi:>{hi_w}}"
            yield Text(f"{label}  {bar(c, most, bar_w):<{bar_w}}  {c:>{c_w}}".rstrip(), no_wrap=True)
        for name, c in extra:
            yield Text(f"{name:>{label_w}}  {bar(c, most, bar_w):<{bar_w}}  {c:>{c_w}}".rstrip(), no_wrap=True)
