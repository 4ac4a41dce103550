"""readers/text.py through load_tensor: .csv/.tsv/.txt (header columns by name and number, BOM,
CRLF, blank lines, quoted cells, ragged and non-numeric rows) and .json."""

import json

import numpy as np
import pytest

from losscalc.tensors import load_tensor
from tests.helpers import load, load_error as error, write_text as write


def test_csv_with_header_columns_by_name_and_number(here):
    write("eval.csv", "y_true,y_pred\n1,0.5\n0,0.25\n")
    whole = load("eval.csv")
    np.testing.assert_array_equal(whole.array, [[1, 0.5], [0, 0.25]])
    assert whole.array.dtype == np.float64
    ts = load("eval.csv:y_pred")
    assert ts.source == "eval.csv:y_pred" and ts.array.shape == (2,)
    np.testing.assert_array_equal(ts.array, [0.5, 0.25])
    ts = load("eval.csv:0")
    assert ts.array.dtype == np.int64 and ts.array.tolist() == [1, 0]
    message = error("eval.csv:score")
    assert '"score"' in message and "y_true, y_pred" in message
    assert "from 0 to 1" in error("eval.csv:2")


def test_csv_shapes(here):
    write("col.csv", "1\n2\n3\n")
    write("row.csv", "1,2,3\n")
    write("one.csv", "7\n")
    assert load("col.csv").array.shape == (3,)
    assert load("row.csv").array.shape == (3,)
    assert load("one.csv").array.shape == (1,)
    write("nohead.csv", "1,2\n3,4\n")
    assert load("nohead.csv:1").array.tolist() == [2, 4]
    assert "no header row" in error("nohead.csv:x")


def test_tsv_txt_bom_crlf_blank_lines_nan_inf(here):
    write("a.tsv", "a\tb\n1\t2\n3\t4\n")
    assert load("a.tsv:b").array.tolist() == [2, 4]
    write("w.txt", "  1   2\n\n3 4  \n")
    assert load("w.txt").array.tolist() == [[1, 2], [3, 4]]
    write("c.txt", "1, 2\n3, 4\n")
    assert load("c.txt").array.tolist() == [[1, 2], [3, 4]]
    write("bom.csv", "\ufeffx,y\r\n1,2\r\n\r\n3,4\r\n")
    assert load("bom.csv:x").array.tolist() == [1, 3]
    write("n.csv", "NaN,inf\n-Inf,1e3\n")
    got = load("n.csv").array
    assert np.isnan(got[0, 0]) and got[0, 1] == np.inf and got[1, 0] == -np.inf


def test_quoted_csv_cells(here):
    write("q.csv", '"a","b"\n"1","2"\n')
    assert load("q.csv:b").array.tolist() == [2]


def test_ragged_and_non_numeric_csv(here):
    write("r.csv", "a,b\n1,2\n3\n")
    assert "line 3 has 1 cells, but line 1 has 2" in error("r.csv")
    write("bad.csv", "a,b\n1,2\n3,x\n")
    message = error("bad.csv")
    assert 'line 3, cell 2 (column "b"): "x" is not a number' in message
    write("empty.csv", "a,b\n\n")
    assert "no rows of numbers" in error("empty.csv")
    (here / "latin.csv").write_bytes(b"1,2\n\xff\xfe,3\n")
    assert "not UTF-8" in error("latin.csv")


def test_json_forms(here):
    write("t.json", "[[1, 2.5], [NaN, -Infinity]]")
    got = load("t.json").array
    assert got.shape == (2, 2) and np.isnan(got[1, 0])
    write("s.json", "3")
    ts = load("s.json")
    assert ts.array.shape == () and ts.array.dtype == np.int64


@pytest.mark.parametrize("text, expected", [
    ("[[1, 2], [3]]", "row 2 has 1 value, row 1 has 2"),
    ("[[1, true]]", "element [0][1] is a boolean (true), expected a number"),
    ('[1, "a"]', 'row 2 is a string ("a"), expected a number'),
    ("[null]", "row 1 is null"),
    ('{"a": 1}', "an object"),
    ("[1, 2", "not valid JSON"),
    ("[" * 10000 + "]" * 10000, "nested"),
    ("[" * 40 + "]" * 40, "more than 32 levels"),
])
def test_json_errors(here, text, expected):
    write("bad.json", text)
    assert expected in error("bad.json")
