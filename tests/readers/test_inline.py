"""readers/inline.py through load_tensor: the inline forms of SPEC section 3 (nested lists,
flat lists, rows with `;`, scalars, nan and inf), their errors, and round trips of rendered
lists (hypothesis)."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscalc.tensors import load_tensor
from tests.helpers import GENERIC, load, load_error as error


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


@settings(max_examples=300, deadline=None)
@given(st.text() | st.sampled_from(["1,,2", 'a"b', "a\\b", "tab\t", "\x7f", "\u2028", "\u00a0", "é中"]))
def test_quote_is_what_json_dumps_gives(text):
    """A message's quoted text: the fast path for text with nothing to escape (readers/base.py
    quote, which every tensor argument calls) gives what json.dumps gives, escapes included."""
    from losscalc.readers.base import quote

    assert quote(text) == json.dumps(text, ensure_ascii=False)
