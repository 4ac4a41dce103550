"""Resource guards (issue 6, losscalc/limits.py): absurd sizes are refused before anything is
allocated, deep nesting never reaches Python's recursion limit, endless standard input is not
read to the end, and running out of memory is a user error."""

from __future__ import annotations

import contextlib
import io
import sys
import time

import numpy as np
import pytest

from losscalc import limits
from losscalc.errors import LossError
from losscalc.tensors import load_tensor
from tests.helpers import assert_user_error, npy_bytes, npy_header, run, time_limit


@contextlib.contextmanager
def allocates_at_most(limit_bytes: int, seconds: float = 1.0):
    """Fail unless the block allocates (numpy included) at most `limit_bytes` at its peak and
    ends within `seconds`."""
    import tracemalloc

    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= limit_bytes, f"allocated {peak} bytes"
    assert elapsed < seconds, f"took {elapsed:.2f} s"


ABSURD = [
    "randn(100000000000)", "ones(100000,100000)", "zeros(65536, 65536)", "rand(2**40)",
    "randint(0, 2, (100000, 100000))", "full((100000, 100000), 1.5)", "eye(100000)",
    "arange(1e12)", "arange(-1e308, 1e308)", "linspace(0, 1, 10000000000)",
    "zeros(0, 4611686018427387904)", "eye(4611686018427387904, 0)", "ones(0,0,0,100000,100000)",
    "randn(100000, 100000, 100000, 100000, 100000, 100000, 100000, 100000)",
]


@pytest.mark.parametrize("text", ABSURD)
def test_absurd_generators_are_refused_before_allocating(text):
    with allocates_at_most(10_000_000):
        with pytest.raises(LossError) as info:
            load_tensor(text, "input", rng=np.random.default_rng(0))
    message = str(info.value)
    assert message.startswith("input: generator") and ("limit" in message or "number" in message)


def test_absurd_tensors_exit_2_at_once_from_the_cli():
    for text in ABSURD:
        start = time.perf_counter()
        assert_user_error(run("mse", text, "1"), "input")
        assert time.perf_counter() - start < 1.0, text


def test_huge_npy_headers_are_refused_before_reading(tmp_path):
    """Files have no element limit (SPEC §9), but a header announcing more data than the file
    holds is refused before anything is read or allocated."""
    for shape in [(10**12,), (2**20, 2**10)]:
        path = tmp_path / "huge.npy"
        path.write_bytes(npy_header(shape))
        with allocates_at_most(10_000_000):
            assert_user_error(run("mse", path, "1"), "is truncated", str(shape))
    path.write_bytes(npy_header((0, 2**62)))  # NumPy refuses a shape whose span overflows
    with allocates_at_most(10_000_000):
        assert_user_error(run("mse", path, "1"), "could not read")


def test_gigantic_inline_text_is_refused_before_parsing():
    text = "[" + "0.5," * 2_500_000 + "0.5]"  # 10 million characters
    with allocates_at_most(10_000_000):
        with pytest.raises(LossError, match="put large tensors in a .npy file"):
            load_tensor(text, "input")
    start = time.perf_counter()
    assert_user_error(run("mse", text, "1"), "input", "characters long")
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("text, words", [
    ("[" * 100_000, "nested more than 32 levels"),
    ("[" * 100_000 + "1" + "]" * 100_000, "nested more than 32 levels"),
    ("]" * 100_000, "could not read"),
    ("[" * 100_000 + "]" * 100_000, "nested more than 32 levels"),
])
def test_deep_nesting_never_reaches_the_recursion_limit(text, words):
    limit = sys.getrecursionlimit()
    start = time.perf_counter()
    assert_user_error(run("mse", text, "1"), "input", words)
    assert time.perf_counter() - start < 1.0
    assert sys.getrecursionlimit() == limit


def test_deeply_nested_json_file_is_a_user_error(tmp_path):
    for depth in (40, 100_000):
        path = tmp_path / "deep.json"
        path.write_text("[" * depth + "1" + "]" * depth)
        assert_user_error(run("mse", path, "1"), "input", "nested")


class Endless:
    """A standard input that never ends (`yes 1, |`, `cat /dev/zero |`), after a prefix."""

    def __init__(self, prefix: bytes = b"", fill: bytes = b"1,"):
        self.prefix, self.fill, self.given = prefix, fill, 0

    def read(self, n: int = -1) -> bytes:
        assert n is not None and n >= 0, "an endless stream was read without a bound"
        out, self.prefix = self.prefix[:n], self.prefix[n:]
        rest = n - len(out)
        out += (self.fill * (rest // len(self.fill) + 1))[:rest]
        self.given += len(out)
        return out


def test_endless_standard_input_is_refused():
    stream = Endless()
    with time_limit(10):
        with pytest.raises(LossError, match="standard input: holds more than 50000000 bytes"):
            load_tensor("-", "input", stdin=stream)
    assert stream.given <= limits.MAX_TEXT_CHARS + 1


def test_endless_npy_on_standard_input_reads_only_what_the_header_announces():
    stream = Endless(npy_header((10**12,)), b"\0")
    with pytest.raises(LossError, match=r"shape \(1000000000000,\) has 1000000000000 elements"):
        load_tensor("-", "input", stdin=stream)
    assert stream.given < 200
    for version in [(1, 0), (2, 0)]:
        stream = Endless(npy_header((3, 2), version=version), b"\0")
        ts = load_tensor("-", "input", stdin=stream)
        assert ts.array.shape == (3, 2) and stream.given == len(npy_header((3, 2), version=version)) + 48


def test_standard_input_npy_forms_still_load():
    for array in [np.arange(5.0), np.asfortranarray(np.arange(6.0).reshape(2, 3)),
                  np.arange(3, dtype=">i4"), np.array(2.5)]:
        ts = load_tensor("-", "input", stdin=io.BytesIO(npy_bytes(array)))
        assert ts.array.dtype.isnative
        np.testing.assert_array_equal(ts.array, array)


@pytest.mark.parametrize("loss, shapes", [
    ("mse", [(100, 1), (1, 100)]), ("l1", [(100, 1), (1, 100)]),
    ("kl_div", [(100, 1), (1, 100)]), ("margin_ranking", [(100, 1), (1, 100), (1, 1)]),
    ("gaussian_nll", [(100, 1), (1, 100), (100, 1)]), ("hinge_embedding", [(100, 1), (1, 100)]),
])
def test_broadcast_blowup_is_refused_before_allocating(loss, shapes, monkeypatch):
    # With the limit lowered to 1000 elements, (100, 1) against (1, 100) is the same blowup as
    # randn(100000,1) against randn(1,100000) under the real limit, without risking the machine.
    monkeypatch.setattr(limits, "MAX_ELEMENTS", 1000)
    words = [f"ones{shape}" for shape in shapes]
    assert_user_error(run(loss, *words), "elements")


def test_out_of_memory_is_a_user_error(monkeypatch):
    import dataclasses

    import losscalc.registry as registry

    def hungry(*args, **kwargs):
        raise MemoryError("Unable to allocate 74.5 GiB for an array with shape (100000, 100000)")

    patched = tuple(dataclasses.replace(e, kernel=hungry) if e.name == "mse" else e
                    for e in registry.losses())
    monkeypatch.setattr(registry, "_LOSSES", patched)
    assert_user_error(run("mse", "1", "2"), "memory")
