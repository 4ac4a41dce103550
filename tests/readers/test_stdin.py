"""readers/stdin.py through load_tensor: `-` as .npy bytes or text, its errors, and
sys.stdin.buffer by default."""

import io

import numpy as np
import pytest

from losscalc.readers import npy, stdin
from losscalc.tensors import load_tensor
from tests.helpers import load, load_error as error, npy_bytes


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
