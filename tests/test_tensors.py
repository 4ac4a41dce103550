"""Tests for losscalc.tensors and its readers: every tensor form of SPEC section 3 and every error path."""

import io
import json
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscalc import limits
from losscalc.casts import as_float, as_index
from losscalc.errors import LossError
from losscalc.limits import MAX_ELEMENTS
from losscalc.readers import npy, stdin
from losscalc.tensors import TensorSource, load_tensor

GENERIC = ('target: could not read "abc" as a tensor: not a file, an inline list (e.g. 1,2,3 '
           'or "[[1,2],[3,4]]"), a number, or a generator (e.g. randn(3,5)).')


def load(text, **kwargs):
    return load_tensor(text, "target", **kwargs)


def error(text, **kwargs) -> str:
    with pytest.raises(LossError) as info:
        load_tensor(text, "target", **kwargs)
    message = str(info.value)
    assert message.startswith("target") and "\n" not in message
    return message


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Run in an empty directory, so file names in messages and sources are short."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def load_calls(monkeypatch):
    """Record every np.load call's keyword arguments (and still load)."""
    calls, real = [], np.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    return calls


# ------------------------------------------------------------------------------------- .npy


@pytest.mark.parametrize("array", [np.arange(6.0).reshape(2, 3), np.arange(4), np.array([True]),
                                   np.array(2.5, dtype=np.float32)])
def test_npy_keeps_shape_and_dtype(here, array, load_calls):
    np.save("pred.npy", array)
    ts = load("pred.npy")
    assert isinstance(ts, TensorSource) and ts.source == "pred.npy"
    assert ts.array.dtype == array.dtype and ts.array.shape == array.shape
    np.testing.assert_array_equal(ts.array, array)
    assert load_calls and all(c["allow_pickle"] is False for c in load_calls)
    assert all(c.get("mmap_mode") is None for c in load_calls)


def test_large_npy_is_memory_mapped(here, monkeypatch, load_calls):
    monkeypatch.setattr(npy, "MMAP_THRESHOLD", 10)
    np.save("big.npy", np.arange(100.0))
    ts = load("big.npy")
    assert load_calls[-1] == {"allow_pickle": False, "mmap_mode": "r"}
    assert not ts.array.flags.writeable
    np.testing.assert_array_equal(ts.array, np.arange(100.0))


def test_big_endian_npy_becomes_native(here):
    np.save("be.npy", np.arange(3, dtype=">f8"))
    ts = load("be.npy")
    assert ts.array.dtype == np.float64 and ts.array.dtype.isnative


def test_pickled_object_npy_is_refused_without_unpickling(here, load_calls):
    np.save("obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    message = error("obj.npy")
    assert "dtype object" in message and "numeric array" in message
    assert all(c.get("allow_pickle") is False for c in load_calls)


@pytest.mark.parametrize("array", [np.array(["a", "b"]), np.array([1 + 2j]),
                                   np.zeros(2, dtype=[("x", "<f8"), ("y", "<i4")])])
def test_non_numeric_npy_is_refused(here, array):
    np.save("x.npy", array)
    message = error("x.npy")
    assert f"dtype {array.dtype}" in message and "expected a numeric array" in message


def test_truncated_and_garbage_npy(here):
    np.save("t.npy", np.arange(100.0))
    data = (here / "t.npy").read_bytes()
    (here / "t.npy").write_bytes(data[:-40])
    assert "truncated" in error("t.npy")
    (here / "g.npy").write_bytes(b"this is not numpy at all")
    assert "not a valid .npy file" in error("g.npy")
    (here / "e.npy").write_bytes(b"")
    assert "not a valid .npy file" in error("e.npy")


def test_npy_shape_is_checked_before_reading(here):
    with open("huge.npy", "wb") as f:
        header = {"descr": "<f8", "fortran_order": False, "shape": (2**20, 2**10)}
        np.lib.format.write_array_header_1_0(f, header)
    assert "is truncated" in error("huge.npy")  # files have no element limit, but must hold their data


# ------------------------------------------------------------------------------------- .npz


def test_npz_with_and_without_key(here):
    np.savez("one.npz", logits=np.ones((2, 3)))
    np.savez("two.npz", logits=np.ones(2), target=np.array([0, 1]))
    ts = load("one.npz")
    assert ts.source == "one.npz:logits" and ts.array.shape == (2, 3)
    ts = load("two.npz:target")
    assert ts.source == "two.npz:target" and ts.array.dtype == np.int64
    assert "holds 2 arrays (logits, target)" in error("two.npz")


def test_npz_missing_key_lists_keys(here):
    np.savez_compressed("run.npz", logits=np.ones(2), target=np.zeros(2))
    message = error("run.npz:weights")
    assert '"weights"' in message and "available keys: logits, target" in message


def test_npz_object_member_and_not_a_zip(here):
    np.savez("obj.npz", o=np.array([None], dtype=object))
    assert "dtype object" in error("obj.npz:o")
    (here / "bad.npz").write_bytes(b"PK\x03\x04 definitely broken")
    assert "not a .npz archive" in error("bad.npz")


# ----------------------------------------------------------------------------- delimited text


def write(path, text, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)


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


# ------------------------------------------------------------------------------------ .json


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


# ----------------------------------------------------------------------------- files: general


def test_missing_file_directory_and_key_on_npy(here):
    assert 'file "pred.npy": file not found.' in error("pred.npy")
    assert "file not found" in error("run.npz:logits")
    assert "file not found" in error("sub/eval.csv:y")
    (here / "dir.csv").mkdir()
    assert "is a directory" in error("dir.csv")
    np.save("p.npy", np.ones(2))
    assert "only applies to" in error("p.npy:x")
    (here / "plain").write_text("1,2")
    assert "(it is a file, but only" in error("plain")
    (here / "folder").mkdir()
    assert "(it is a directory)" in error("folder")


def test_text_file_size_limit(here, monkeypatch):
    monkeypatch.setattr(limits, "MAX_TEXT_CHARS", 10)
    monkeypatch.setattr(limits, "MAX_INLINE_CHARS", 10)
    write("long.csv", "1,2,3,4,5,6,7,8\n")
    assert "convert it to .npy" in error("long.csv")
    assert "put large tensors in a .npy file" in error("1,2,3,4,5,6,7")


def test_element_limit_for_text(here, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ELEMENTS", 4)
    assert "more than 4" in error("1,2,3,4,5")
    write("big.csv", "1,2,3\n4,5,6\n")
    assert "more than 4" in error("big.csv")


# ------------------------------------------------------------------------------------- inline


@pytest.mark.parametrize("text, expected, dtype", [
    ("[[0.9,0.1],[0.2,0.8]]", [[0.9, 0.1], [0.2, 0.8]], np.float64),
    ("3.5", 3.5, np.float64),
    ("7", 7, np.int64),
    ("-2", -2, np.int64),
    ("1,2,3", [1, 2, 3], np.int64),
    ("1,2;3,4", [[1, 2], [3, 4]], np.int64),
    ("1;2", [[1], [2]], np.int64),
    (" [ 1 ,\n 2.0 ] ", [1.0, 2.0], np.float64),
    ("1e3, .5, 2., +4", [1000.0, 0.5, 2.0, 4.0], np.float64),
    ("[]", np.zeros(0), np.float64),
    ("[[]]", np.zeros((1, 0)), np.float64),
    ("[[[1]]]", [[[1]]], np.int64),
    ("1e999, -1E999", [np.inf, -np.inf], np.float64),
    ("99999999999999999999", 1e20, np.float64),
])
def test_inline_forms(text, expected, dtype):
    ts = load(text)
    assert ts.source == "inline" and ts.array.dtype == dtype
    expected = np.asarray(expected)
    assert ts.array.shape == expected.shape
    np.testing.assert_array_equal(ts.array, expected)


def test_inline_nan_inf():
    got = load("[nan, inf, -inf, +inf, NaN, -Infinity]").array
    assert np.isnan(got[0]) and np.isnan(got[4])
    assert got[1:4].tolist() == [np.inf, -np.inf, np.inf] and got[5] == -np.inf
    assert np.isnan(load("nan").array)


@pytest.mark.parametrize("text, expected", [
    ("[[1,2],[3]]", "row 2 has 1 value, row 1 has 2"),
    ("1,2;3,4,5", "row 2 has 3 values, row 1 has 2"),
    ("[[1,2],3]", "row 2 is a number, but row 1 is a list"),
    ("[1,[2]]", "row 2 is a list, but row 1 is a number"),
    ("[[[1],[2]],[[3],[4,5]]]", "element [1][1] has 2 values, element [0][0] has 1"),
    ("1,2,abc", 'unexpected "abc" at character 5; expected a number'),
    ("[1 2]", "at character 4; expected ',' or ']'"),
    ("[1,2,]", "expected a number or '['"),
    ("[1],[2]", "expected the end of the text"),
    ("[1]]", "expected the end of the text"),
    ("[[1]", "ends early; expected ']'"),
    ("1,", "ends early; expected a number"),
    ("1,2;", "ends early"),
    ("[1;2]", "unexpected"),
    ("1,[2]", "unexpected"),
    ("1_000", "unexpected"),
])
def test_inline_errors(text, expected):
    message = error(text)
    assert message.startswith(f"target: inline {json.dumps(text)}: ")
    assert expected in message


def test_inline_text_is_shortened_in_messages():
    message = error("[" + "1," * 100 + "x]")
    assert 'inline "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,...":' in message


def test_deep_nesting_is_a_loss_error_not_recursion():
    assert "nested more than 32 levels" in error("[" * 10000 + "]" * 10000)
    assert "nested more than 32 levels" in error("[" * 33 + "1" + "]" * 33)
    assert load("[" * 32 + "1" + "]" * 32).array.ndim == 32


@pytest.mark.parametrize("text", ["abc", "", "   ", "]", ",1", "randn"])
def test_unreadable_text_gets_the_generic_message(text):
    assert error(text) == GENERIC.replace('"abc"', json.dumps(text))


# --------------------------------------------------------------------------------- generators


def rng(seed=0):
    return np.random.default_rng(seed)


def test_generators_values_and_dtypes():
    assert load("zeros(2,3)").array.tolist() == [[0.0] * 3] * 2
    assert load("ones((2,))").array.tolist() == [1.0, 1.0]
    assert load("ones(())").array.shape == () and load("zeros()").array.shape == ()
    assert load("full((2,), -1.5)").array.tolist() == [-1.5, -1.5]
    assert load("full(2, 3, 7)").array.dtype == np.float64
    assert load("eye(2)").array.tolist() == [[1, 0], [0, 1]]
    assert load("eye(2, 3)").array.shape == (2, 3)
    ts = load("arange(4)")
    assert ts.array.dtype == np.int64 and ts.array.tolist() == [0, 1, 2, 3]
    assert ts.source == "arange(4)"
    assert load("arange(1, 7, 2)").array.tolist() == [1, 3, 5]
    assert load("arange(0, 1, 0.25)").array.tolist() == [0, 0.25, 0.5, 0.75]
    assert load("arange(-3)").array.shape == (0,)
    assert load("linspace(0, 1, 5)").array.tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert load("linspace(0, 1, 0)").array.shape == (0,)
    r = load("rand(100)", rng=rng()).array
    assert r.dtype == np.float64 and ((0 <= r) & (r < 1)).all()
    ri = load("randint(0, 5, (3, 4))", rng=rng()).array
    assert ri.dtype == np.int64 and ri.shape == (3, 4) and ((0 <= ri) & (ri < 5)).all()
    assert load("randint(3, (2,))", rng=rng()).array.max() < 3
    assert load("randint(-2, -1, 3)", rng=rng()).array.tolist() == [-2, -2, -2]


def test_generators_are_reproducible_and_share_the_rng():
    g = rng(7)
    a, b = load("randn(3,5)", rng=g).array, load("randn(3,5)", rng=g).array
    assert a.shape == (3, 5) and not np.array_equal(a, b)
    g = rng(7)
    np.testing.assert_array_equal(load("randn(3,5)", rng=g).array, a)
    np.testing.assert_array_equal(load("randn(3,5)", rng=g).array, b)
    np.testing.assert_array_equal(load("randn(3,5)", rng=rng(7)).array,
                                  rng(7).standard_normal((3, 5)))
    assert load("randn(2)").array.shape == (2,)  # rng left out: a fresh one


def test_generator_arithmetic_left_to_right():
    assert load("ones(2,3)*0.5").array.tolist() == [[0.5] * 3] * 2
    assert load("ones(2)+1*3").array.tolist() == [6.0, 6.0]
    assert load("arange(3) - 1").array.tolist() == [-1, 0, 1]
    assert load("arange(3)*2").array.dtype == np.int64
    assert load("arange(3)/2").array.tolist() == [0, 0.5, 1]
    assert load("ones(1)*-2").array.tolist() == [-2.0]
    assert load("ones(1)/0").array.tolist() == [np.inf]
    assert load("zeros(()) + 1").array.shape == ()
    x = load("randn(4)*2+1", rng=rng(3)).array
    np.testing.assert_allclose(x, rng(3).standard_normal(4) * 2 + 1)


@pytest.mark.parametrize("text, expected", [
    ("randn(-1)", "must be a whole number >= 0, got -1"),
    ("randn(2.5)", "got 2.5"),
    ("zeros(2.0)", "got 2.0"),
    ("ones(1,1,1,1,1,1,1,1,1)", "at most 8 dimensions"),
    ("randn(100000000000)", "more than the limit of 268435456"),
    ("zeros(65536, 65536)", "more than the limit"),
    ("eye(100000)", "more than the limit"),
    ("arange(1e12)", "arange has 1e+12 elements, more than the limit"),
    ("arange(0.1, 1e-320, -1e-320)", "more than the limit"),
    ("linspace(0, 1, 1000000000)", "more than the limit"),
    ("randint(5, 5, 3)", "randint needs high > low"),
    ("randint(0.5, 5, 3)", "whole numbers"),
    ("linspace(0, 1, -1)", "linspace's num must be a whole number >= 0"),
    ("linspace(0, 1)", "linspace takes 3 numbers"),
    ("eye()", "eye takes 1 to 2 numbers"),
    ("arange(0, 1, 0)", "non-zero step"),
    ("arange(0, inf)", "finite"),
    ("full(3)", "full takes a shape and a value"),
    ("ones((2,3), 4)", "either as numbers"),
    ("foo(3)", "unknown generator 'foo'; known generators: zeros, ones, full, rand, randn, "
               "randint, arange, linspace, eye"),
    ("randn(3", "expected a call such as"),
    ("randn(3)x", "expected a call such as"),
    ("randn(3)*", "expected a call such as"),
    ("randn(3)*x", "expected a call such as"),
    ("randn(3,,4)", "could not read the arguments"),
    ("randn(a)", '"a" is not a number'),
    ("randn((3,,))", "is not a number"),
])
def test_generator_errors(text, expected):
    message = error(text, rng=rng())
    assert message.startswith(f"target: generator {json.dumps(text)}: ")
    assert expected in message


def test_huge_generator_is_refused_fast():
    start = time.perf_counter()
    assert "limit" in error("randn(100000000000)")
    assert "limit" in error("randn(100000, 100000, 100000, 100000, 100000)")
    assert time.perf_counter() - start < 0.5


# -------------------------------------------------------------------------------------- stdin


def npy_bytes(array, **kwargs):
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def test_stdin_npy_bytes():
    ts = load("-", stdin=io.BytesIO(npy_bytes(np.arange(6).reshape(2, 3))))
    assert ts.source == "stdin (npy)" and ts.array.tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("data, expected", [
    (b"1,2\n3,4\n", [[1, 2], [3, 4]]),
    (b"a b\r\n1 2\r\n3 4\r\n", [[1, 2], [3, 4]]),
    (b"\xef\xbb\xbf1 2 3\n", [1, 2, 3]),
    (b"0.5\n0.25\n", [0.5, 0.25]),
    (b"[[1, 2], [3, 4]]\n", [[1, 2], [3, 4]]),
    (b"1,2;3,4", [[1, 2], [3, 4]]),
    (b" 3.5\n", 3.5),
])
def test_stdin_text(data, expected):
    ts = load("-", stdin=io.BytesIO(data))
    assert ts.source == "stdin (text)"
    np.testing.assert_array_equal(ts.array, expected)
    assert ts.array.shape == np.shape(expected)


@pytest.mark.parametrize("data, expected", [
    (b"", "standard input: is empty"),
    (b"  \n", "standard input: is empty"),
    (b"\xff\xfe\x00", "nor UTF-8 text"),
    (b"hello", 'could not read "hello" as a tensor'),
    (b"1,2\n3\n", "line 2 has 1 cells"),
    (b"\x93NUMPY garbage", "not a valid .npy file"),
])
def test_stdin_errors(data, expected):
    assert expected in error("-", stdin=io.BytesIO(data))


def test_stdin_object_npy_is_refused():
    data = npy_bytes(np.array([None], dtype=object), allow_pickle=True)
    assert "dtype object" in error("-", stdin=io.BytesIO(data))


def test_stdin_defaults_to_sys_stdin_buffer(monkeypatch):
    class FakeStdin:
        buffer = io.BytesIO(b"4,5")

    monkeypatch.setattr(stdin.sys, "stdin", FakeStdin)
    assert load("-").array.tolist() == [4, 5]


# ------------------------------------------------------------------------ as_float, as_index


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_as_float(dtype):
    for array in (np.array([True, False]), np.arange(3), np.ones(2, dtype=np.float16)):
        assert as_float(array, "input", dtype).dtype == dtype
    with pytest.raises(LossError, match="input: expected a numeric tensor, got dtype <U1"):
        as_float(np.array(["a"]), "input", dtype)


def test_as_index():
    assert as_index(np.array([0.0, 2.0]), "target").dtype == np.int64
    assert as_index(np.array([1, 2], dtype=np.uint8), "target").tolist() == [1, 2]
    assert as_index(np.array([True, False]), "target").tolist() == [1, 0]
    assert as_index(np.array(3.0), "target").shape == ()
    with pytest.raises(LossError, match=r"target\[1\] is 2\.5"):
        as_index(np.array([1.0, 2.5]), "target")
    with pytest.raises(LossError, match=r"target\[1, 0\] is nan"):
        as_index(np.array([[1.0, 2.0], [np.nan, 3.0]]), "target")
    with pytest.raises(LossError, match=r"target \(a scalar\) is inf"):
        as_index(np.array(np.inf), "target")
    with pytest.raises(LossError, match="is 1e\\+20"):
        as_index(np.array([1e20]), "target")
    with pytest.raises(LossError, match="9223372036854775808"):
        as_index(np.array([2**63], dtype=np.uint64), "target")
    with pytest.raises(LossError, match="dtype <U1"):
        as_index(np.array(["a"]), "target")


# -------------------------------------------------------------------------------- properties


@st.composite
def nested_floats(draw):
    shape = draw(st.lists(st.integers(0, 3), min_size=1, max_size=4))
    n = int(np.prod(shape))
    values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n,
                           max_size=n))
    return np.array(values, dtype=np.float64).reshape(shape).tolist()


@settings(max_examples=150, deadline=None)
@given(nested_floats())
def test_rendered_nested_lists_round_trip(nested):
    ts = load(repr(nested))
    expected = np.array(nested)
    assert ts.array.dtype == np.float64 and ts.array.shape == expected.shape
    np.testing.assert_array_equal(ts.array, expected)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=2, max_size=8))
def test_flat_integer_lists_round_trip(values):
    ts = load(",".join(map(str, values)))
    assert ts.array.dtype == np.int64 and ts.array.tolist() == values


JUNK = st.text(alphabet="[]0123456789,;.e+-naif() \t\n:*/x", max_size=40) | st.text(max_size=40)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JUNK)
def test_junk_never_raises_anything_but_loss_error(text):
    try:
        ts = load(text, rng=rng(), stdin=io.BytesIO(text.encode("utf-8", "replace")))
    except LossError as exc:
        assert str(exc).startswith("target")
    else:
        assert isinstance(ts.array, np.ndarray) and ts.array.size <= MAX_ELEMENTS
