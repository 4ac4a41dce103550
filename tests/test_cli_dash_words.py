"""Words that start with `-` but are no option (issue 10): negative numbers, and file names
such as `-1.npy` and `--output -1.json`, are read as they are typed, never rewritten."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc import compute
from losscalc.cli import cli
from losscalc.errors import LossError


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_file_named_like_a_negative_number_is_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("-1.npy", np.array([0.5, -1.0]))
    expected = ((0.5 - 1) ** 2 + (-1 - 2) ** 2) / 2  # mse by hand: (0.25 + 9) / 2, exact in binary
    r = run("mse", "-1.npy", "1,2", "--format", "value")
    assert r.exit_code == 0, r.stderr
    assert float(r.stdout) == expected
    r = run("mse", "1,2", "-1.npy", "--format", "value")  # the second tensor too
    assert r.exit_code == 0 and float(r.stdout) == expected


@pytest.mark.parametrize("flag", ["--output", "-o"])
def test_an_output_file_named_like_a_negative_number_is_written_as_named(tmp_path, monkeypatch, flag):
    monkeypatch.chdir(tmp_path)
    r = run("mse", "-1,-2", "1,2", flag, "-1.json", "--format", "value")
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["-1.json"]
    assert json.loads((tmp_path / "-1.json").read_text()) == [4.0, 16.0]  # (-1 - 1)², (-2 - 2)²


def test_a_missing_file_named_with_a_dash_is_named_as_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("mse", "-2.npy", "1,2")
    assert r.exit_code == 2 and 'file "-2.npy": file not found' in r.stderr


class _Unreadable:
    """A standard input that fails the test when anything reads it."""

    class buffer:
        @staticmethod
        def read(n=-1):
            raise AssertionError("standard input was read")


@pytest.mark.parametrize("tensors, settings", [(("-", "-"), {}), (("-", "1"), {"group_by": "-"}),
                                               (("1,2", "-", "-"), {})])
def test_standard_input_is_named_once_per_call_before_anything_is_read(tensors, settings, monkeypatch):
    monkeypatch.setattr("sys.stdin", _Unreadable)
    name = "margin_ranking" if len(tensors) == 3 else "mse"
    with pytest.raises(LossError, match=r"only one tensor can be read from standard input \(-\) per call"):
        compute(name, *tensors, **settings)
