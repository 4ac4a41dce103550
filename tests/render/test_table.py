"""Tables at 60, 80 and 120 columns (issue 11): no line wider than the terminal, no number cut
or folded across lines (shortened to fewer digits instead), text such as a CTC path cut with
an ellipsis; each table against its exact text (tests/snapshots, from tests/make_snapshots.py,
checked by eye when written); the breakdown's columns name each loss's terms."""

import io
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from losscalc.cli import cli
from losscalc.commands import compute_params, make_command
from losscalc.registry import find
from losscalc.render import render

CASES = {
    "ctc": ["ctc", "randn(50,3,20)", "randint(1,20,(3,10))", "50,40,30", "10,8,5", "--seed", "1"],
    "cross_entropy": ["cross_entropy", "randn(300,5)", "randint(0,5,(300,))", "--seed", "1", "--weight",
                      "1,2,3,4,5", "--label-smoothing", "0.1", "--max-rows", "4"],
}
SNAPSHOTS = Path(__file__).parent.parent / "snapshots"


def draw(args, width):
    import warnings

    loss = find(args[0])
    params = dict(make_command(loss).make_context(loss.name, args[1:]).params)
    max_rows = params.pop("max_rows")
    for key in ("fmt", "output", "precision", "max_elements", "progress", "convention", "compare"):
        params.pop(key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = compute_params(loss, params)
    out = io.StringIO()
    render(result, "table", out, max_rows=max_rows, width=width)
    return out.getvalue()


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("name", CASES)
def test_tables_fit_and_keep_numbers_whole(name, width):
    text = draw(CASES[name], width)
    table = [line for line in text.splitlines() if line.startswith("│")]
    assert max(len(line) for line in text.splitlines() if line[:1] in "┏┃┡│└") <= width
    for line in table:
        loss = line.strip("│").split("│")[-1].strip()  # the loss column: a number, whole
        assert loss == "…" or float(loss) == float(loss), loss
    assert text == (SNAPSHOTS / f"{name}-{width}.txt").read_text()


@pytest.mark.parametrize("loss,columns", [
    ("bce", ["log(x) clamped", "log(1-x) clamped"]),
    ("kl_div", ["y·log y", "y·x"]),
    ("gaussian_nll", ["var clamped", "(x-y)²/var"]),
    ("smooth_l1", ["|x - y|", "branch"]),
])
def test_table_names_the_terms(loss, columns):
    r = CliRunner().invoke(cli, [loss, *shlex.split(find(loss).example)], catch_exceptions=False,
                           terminal_width=200, env={"COLUMNS": "200"})
    assert r.exit_code == 0
    for column in columns:
        assert column in r.stdout, (column, r.stdout)
