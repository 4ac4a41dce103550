"""Helpers shared by the tests: CLI calls in-process that must never hang or crash (the fuzzer,
the resource limits, --output, the pickle refusal, the non-finite numbers), and tensors loaded
through load_tensor with their errors (the readers' tests)."""

from __future__ import annotations

import contextlib
import io
import signal

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc.cli import cli
from losscalc.errors import LossError
from losscalc.tensors import load_tensor

ENV = {"LOSSCALC_DEBUG": None, "COLUMNS": "100", "NO_COLOR": "1"}
PRECIOUS = b"precious: must survive every failed call"

# the source of rss_anon(), bytes of anonymous memory, for the scripts memory tests run apart
RSS_ANON = """
def rss_anon():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
"""


class Hang(Exception):
    """A call did not finish within its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Fail (raise Hang) instead of hanging when the block runs longer than `seconds`."""

    def expired(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(*args, input=None, limit: float = 10.0):
    """One CLI call through CliRunner, exceptions not caught, hangs turned into failures."""
    with time_limit(limit):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=ENV,
                                  catch_exceptions=False)


def assert_user_error(r, *words):
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert r.stderr.strip(), "exit 2 without a message"
    assert "Traceback" not in r.output
    for word in words:
        assert word in r.stderr, (word, r.stderr)


def npy_bytes(array, **kwargs) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def npy_header(shape, descr="<f8", version=(1, 0)) -> bytes:
    buffer = io.BytesIO()
    write = np.lib.format.write_array_header_1_0 if version == (1, 0) \
        else np.lib.format.write_array_header_2_0
    write(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


# what a word that is no file, inline list, number or generator gives
GENERIC = ('target: could not read "abc" as a tensor: not a file, an inline list (e.g. 1,2,3 '
           'or "[[1,2],[3,4]]"), a number, or a generator (e.g. randn(3,5)).')


def load(text, **kwargs):
    """load_tensor as the tensor named target."""
    return load_tensor(text, "target", **kwargs)


def load_error(text, **kwargs) -> str:
    """The one-line LossError message that loading `text` as target gives."""
    with pytest.raises(LossError) as info:
        load_tensor(text, "target", **kwargs)
    message = str(info.value)
    assert message.startswith("target") and "\n" not in message
    return message


def write_text(path, text, encoding="utf-8"):
    """Write `text` as it is (no newline translation), in `encoding`."""
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)


def quiet(name, *tensors, **kw):
    """compute() with warnings silenced (for identities, where warnings are beside the point)."""
    import warnings

    from losscalc import compute

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute(name, *tensors, **kw)


def strict(name, *tensors, **kw):
    """compute() with every warning an error: for calls that must be clean."""
    import warnings

    from losscalc import compute

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return compute(name, *tensors, **kw)
