"""views/draw.py: the summary, histogram and ranked rows drawn at 60, 80 and 120 columns,
against their exact text; numbers shortened, never cut."""

import io
import math

import numpy as np
import pytest

from losscalc.views import Groups, Summary, TopK
from losscalc.views import draw


def render(renderable, width):
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, markup=False, highlight=False, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def drawing_case():
    """A small fixed case: 36 log-spaced losses, two zeros, a NaN and an inf, in 7 slices."""
    x = np.concatenate([[0.0, 0.0, np.nan, np.inf], np.geomspace(0.001, 50, 36)])
    summary = Summary()
    summary.add(x[:17])
    summary.add(x[17:])
    out = summary.finish()
    top = TopK(3)
    top.add(0, x)

    def terms(i):
        return {
            "target": i % 5,
            "logit[y]": float(-x[i] * 1.234567891),
            "logsumexp": float(np.log1p(i * 3.3)),
            "path": "_×5 1×3 _ 3×2 4×7 _×2 5×3 6",
        }

    groups = Groups()
    finite = np.where(np.isfinite(x), x, 0.0)
    groups.add(np.arange(x.size) % 7, finite, finite, np.ones(x.size))
    return [
        draw.summary_table(out["summary"]),
        draw.HistogramView(out["histogram"], out["summary"]),
        draw.top_section(top.finish(), terms=terms, index_text=lambda i: f"{i // 8},{i % 8}"),
        draw.groups_section(groups.finish("mean"), limit=4, by="slice"),
    ]


def render_case(width):
    return "".join(render(r, width) for r in drawing_case())


SUMMARY_TABLE = (  # the same at every width: it fits in 60 columns
    'summary of the element losses\n'
    '┏━━━━━━━━━━━┳━━━━━━━━━┓\n'
    '┃ statistic ┃   value ┃\n'
    '┡━━━━━━━━━━━╇━━━━━━━━━┩\n'
    '│ count     │      40 │\n'
    '│ NaN       │       1 │\n'
    '│ +inf      │       1 │\n'
    '│ -inf      │       0 │\n'
    '│ min       │       0 │\n'
    '│ max       │      50 │\n'
    '│ mean      │   4.948 │\n'
    '│ std       │ 11.0174 │\n'
    '│ p1        │       0 │\n'
    '│ p50       │ 0.16611 │\n'
    '│ p90       │ 16.0971 │\n'
    '│ p99       │ 45.0805 │\n'
    '│ p99.9     │  49.508 │\n'
    '└───────────┴─────────┘\n'
)


EXPECTED = {  # the exact text at each width
    60: (
        SUMMARY_TABLE +
        'histogram of the losses: 16 log bins [lo, hi)\n'
        '0.000977 – 0.00195  █████████████████████████████████████  3\n'
        ' 0.00195 – 0.00391  ████████████████████████▋              2\n'
        ' 0.00391 – 0.00781  ████████████████████████▋              2\n'
        ' 0.00781 –  0.0156  ████████████████████████▋              2\n'
        '  0.0156 –  0.0312  █████████████████████████████████████  3\n'
        '  0.0312 –  0.0625  ████████████████████████▋              2\n'
        '  0.0625 –   0.125  ████████████████████████▋              2\n'
        '   0.125 –    0.25  ████████████████████████▋              2\n'
        '    0.25 –     0.5  █████████████████████████████████████  3\n'
        '     0.5 –       1  ████████████████████████▋              2\n'
        '       1 –       2  ████████████████████████▋              2\n'
        '       2 –       4  ████████████████████████▋              2\n'
        '       4 –       8  █████████████████████████████████████  3\n'
        '       8 –      16  ████████████████████████▋              2\n'
        '      16 –      32  ████████████████████████▋              2\n'
        '      32 –      64  ████████████████████████▋              2\n'
        '             zeros  ████████████████████████▋              2\n'
        '               NaN  ████████████▍                          1\n'
        '              +inf  ████████████▍                          1\n'
        'the 3 largest element losses\n'
        '┏━━━━━━━┳━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━┓\n'
        '┃ index ┃ loss ┃ target ┃   logit[y] ┃ logsumexp ┃    path ┃\n'
        '┡━━━━━━━╇━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━┩\n'
        '│ 0,2   │  nan │      2 │        nan │ 2.0281482 │ _×5 1×… │\n'
        '│ 0,3   │  inf │      3 │       -inf │ 2.3887628 │ _×5 1×… │\n'
        '│ 4,7   │   50 │      4 │ -61.728395 │ 4.8652241 │ _×5 1×… │\n'
        '└───────┴──────┴────────┴────────────┴───────────┴─────────┘\n'
        '7 groups by slice, largest value first\n'
        '┏━━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┓\n'
        '┃ slice ┃ count ┃   value ┃     sum ┃    share ┃\n'
        '┡━━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━┩\n'
        '│ 4     │     6 │ 9.41479 │ 56.4887 │ 30.0433% │\n'
        '│ 3     │     6 │ 6.91109 │ 41.4665 │ 22.0538% │\n'
        '│ 2     │     6 │  5.0733 │ 30.4398 │ 16.1893% │\n'
        '│ 1     │     6 │ 3.72421 │ 22.3453 │ 11.8843% │\n'
        '└───────┴───────┴─────────┴─────────┴──────────┘\n'
        '… 3 more groups with smaller values left out\n'
    ),
    80: (
        SUMMARY_TABLE +
        'histogram of the losses: 16 log bins [lo, hi)\n'
        '0.000977 – 0.00195  █████████████████████████████████████████████████████████  3\n'
        ' 0.00195 – 0.00391  ██████████████████████████████████████                     2\n'
        ' 0.00391 – 0.00781  ██████████████████████████████████████                     2\n'
        ' 0.00781 –  0.0156  ██████████████████████████████████████                     2\n'
        '  0.0156 –  0.0312  █████████████████████████████████████████████████████████  3\n'
        '  0.0312 –  0.0625  ██████████████████████████████████████                     2\n'
        '  0.0625 –   0.125  ██████████████████████████████████████                     2\n'
        '   0.125 –    0.25  ██████████████████████████████████████                     2\n'
        '    0.25 –     0.5  █████████████████████████████████████████████████████████  3\n'
        '     0.5 –       1  ██████████████████████████████████████                     2\n'
        '       1 –       2  ██████████████████████████████████████                     2\n'
        '       2 –       4  ██████████████████████████████████████                     2\n'
        '       4 –       8  █████████████████████████████████████████████████████████  3\n'
        '       8 –      16  ██████████████████████████████████████                     2\n'
        '      16 –      32  ██████████████████████████████████████                     2\n'
        '      32 –      64  ██████████████████████████████████████                     2\n'
        '             zeros  ██████████████████████████████████████                     2\n'
        '               NaN  ███████████████████                                        1\n'
        '              +inf  ███████████████████                                        1\n'
        'the 3 largest element losses\n'
        '┏━━━━━━━┳━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━┓\n'
        '┃ index ┃ loss ┃ target ┃     logit[y] ┃   logsumexp ┃                    path ┃\n'
        '┡━━━━━━━╇━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━┩\n'
        '│ 0,2   │  nan │      2 │          nan │ 2.028148247 │ _×5 1×3 _ 3×2 4×7 _×2 … │\n'
        '│ 0,3   │  inf │      3 │         -inf │ 2.388762789 │ _×5 1×3 _ 3×2 4×7 _×2 … │\n'
        '│ 4,7   │   50 │      4 │ -61.72839455 │ 4.865224091 │ _×5 1×3 _ 3×2 4×7 _×2 … │\n'
        '└───────┴──────┴────────┴──────────────┴─────────────┴─────────────────────────┘\n'
        '7 groups by slice, largest value first\n'
        '┏━━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┓\n'
        '┃ slice ┃ count ┃   value ┃     sum ┃    share ┃\n'
        '┡━━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━┩\n'
        '│ 4     │     6 │ 9.41479 │ 56.4887 │ 30.0433% │\n'
        '│ 3     │     6 │ 6.91109 │ 41.4665 │ 22.0538% │\n'
        '│ 2     │     6 │  5.0733 │ 30.4398 │ 16.1893% │\n'
        '│ 1     │     6 │ 3.72421 │ 22.3453 │ 11.8843% │\n'
        '└───────┴───────┴─────────┴─────────┴──────────┘\n'
        '… 3 more groups with smaller values left out\n'
    ),
    120: (
        SUMMARY_TABLE +
        'histogram of the losses: 16 log bins [lo, hi)\n'
        '0.000977 – 0.00195  ████████████████████████████████████████████████████████████  3\n'
        ' 0.00195 – 0.00391  ████████████████████████████████████████                      2\n'
        ' 0.00391 – 0.00781  ████████████████████████████████████████                      2\n'
        ' 0.00781 –  0.0156  ████████████████████████████████████████                      2\n'
        '  0.0156 –  0.0312  ████████████████████████████████████████████████████████████  3\n'
        '  0.0312 –  0.0625  ████████████████████████████████████████                      2\n'
        '  0.0625 –   0.125  ████████████████████████████████████████                      2\n'
        '   0.125 –    0.25  ████████████████████████████████████████                      2\n'
        '    0.25 –     0.5  ████████████████████████████████████████████████████████████  3\n'
        '     0.5 –       1  ████████████████████████████████████████                      2\n'
        '       1 –       2  ████████████████████████████████████████                      2\n'
        '       2 –       4  ████████████████████████████████████████                      2\n'
        '       4 –       8  ████████████████████████████████████████████████████████████  3\n'
        '       8 –      16  ████████████████████████████████████████                      2\n'
        '      16 –      32  ████████████████████████████████████████                      2\n'
        '      32 –      64  ████████████████████████████████████████                      2\n'
        '             zeros  ████████████████████████████████████████                      2\n'
        '               NaN  ████████████████████                                          1\n'
        '              +inf  ████████████████████                                          1\n'
        'the 3 largest element losses\n'
        '┏━━━━━━━┳━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓\n'
        '┃ index ┃ loss ┃ target ┃     logit[y] ┃   logsumexp ┃                        path ┃\n'
        '┡━━━━━━━╇━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩\n'
        '│ 0,2   │  nan │      2 │          nan │ 2.028148247 │ _×5 1×3 _ 3×2 4×7 _×2 5×3 6 │\n'
        '│ 0,3   │  inf │      3 │         -inf │ 2.388762789 │ _×5 1×3 _ 3×2 4×7 _×2 5×3 6 │\n'
        '│ 4,7   │   50 │      4 │ -61.72839455 │ 4.865224091 │ _×5 1×3 _ 3×2 4×7 _×2 5×3 6 │\n'
        '└───────┴──────┴────────┴──────────────┴─────────────┴─────────────────────────────┘\n'
        '7 groups by slice, largest value first\n'
        '┏━━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┓\n'
        '┃ slice ┃ count ┃   value ┃     sum ┃    share ┃\n'
        '┡━━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━┩\n'
        '│ 4     │     6 │ 9.41479 │ 56.4887 │ 30.0433% │\n'
        '│ 3     │     6 │ 6.91109 │ 41.4665 │ 22.0538% │\n'
        '│ 2     │     6 │  5.0733 │ 30.4398 │ 16.1893% │\n'
        '│ 1     │     6 │ 3.72421 │ 22.3453 │ 11.8843% │\n'
        '└───────┴───────┴─────────┴─────────┴──────────┘\n'
        '… 3 more groups with smaller values left out\n'
    ),
}


@pytest.mark.parametrize("width", [60, 80, 120])
def test_drawing_at_60_80_120_columns(width):
    text = render_case(width)
    assert text == EXPECTED[width]
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    # every table row is one line: no number wrapped onto a second one
    body = [line for line in lines if line.startswith("│")]
    assert len(body) == 13 + 3 + 4  # summary, top, groups
    for line in body:
        for cell in line.strip("│").split("│")[1:]:
            cell = cell.strip()
            if cell and not cell.startswith("_"):
                float(cell.rstrip("%"))  # a whole number, never a piece of one


def test_drawing_shortens_numbers_never_cuts_them():
    rows = [["0", 1.2345678901234567, -9.87654321e-7, "a long text cell that can be cut"]]
    for width in (40, 50, 60):
        text = render(draw.FittedTable(["index", "loss", "term", "note"], rows), width)
        line = next(line for line in text.splitlines() if line.startswith("│"))
        loss, term = (c.strip() for c in line.strip("│").split("│")[1:3])
        assert abs(float(loss) - 1.2345678901234567) < 10 ** -(len(loss.replace(".", "")) - 2)
        assert float(term) == pytest.approx(-9.87654321e-7, rel=0.06)
        assert max(len(line) for line in text.splitlines()) <= width


def test_short_and_bar():
    values = (1.0, 0.5, 1000.0, 123456.0, 1.5e-7, -2.0e12, 0.001, math.nan, -math.inf)
    assert [draw.short(v, 3) for v in values] == [
        "1", "0.5", "1000", "1.23e5", "1.5e-7", "-2e12", "0.001", "nan", "-inf",
    ]  # fmt: skip
    assert draw.bar(0, 10, 8) == "" and draw.bar(1, 1000, 8) == "▏"
    assert draw.bar(10, 10, 8) == "█" * 8 and draw.bar(5, 10, 3) == "█▌"


def test_rows_given_as_strings_are_shortened_too():
    rows = [["3,1", "0.12345678901234566", "-12345.678901234567", "7"]]
    text = render(draw.rows_section("top", ["index", "loss", "logit[y]", "target"], rows), 40)
    line = next(line for line in text.splitlines() if line.startswith("│"))
    cells = [c.strip() for c in line.strip("│").split("│")]
    assert cells[0] == "3,1" and cells[3] == "7"  # an index and an int stay whole
    assert cells[1:3] == ["0.123457", "-12345.7"]  # 6 digits fit in 40 columns
    assert max(len(line) for line in text.splitlines()) <= 40
