"""losscalc/generators.py through load_tensor: randn(3,5) and friends, their values, dtypes and
shared random generator, arithmetic left to right, and their errors."""

import json
import time

import numpy as np
import pytest

from losscalc.tensors import load_tensor
from tests.helpers import load, load_error as error


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
