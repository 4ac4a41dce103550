"""The command line's shared behaviour: names, formats, legacy flags, output files, exit codes."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc.cli import cli
from tests.helpers import assert_user_error
from tests.helpers import run as run_guarded


def run(*args, input=None, env=None):
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


@pytest.mark.parametrize("name", ["mse", "MSELoss", "mse_loss", "MSE-LOSS", "l2", "Mean_Squared_Error"])
def test_names_and_aliases_resolve(name):
    r = run(name, "1,2,3", "1.5,2,2", "--format", "value")
    assert r.exit_code == 0, r.output
    assert r.stdout == "0.4166666666666667\n"  # (0.25 + 0 + 1) / 3


def test_unknown_loss_suggests_close_names():
    r = run("msee", "1", "2")
    assert r.exit_code == 2
    assert "unknown loss 'msee'" in r.stderr and "mse" in r.stderr
    assert "Traceback" not in r.output


def test_loss_help_shows_only_its_own_options():
    r = run("mse", "--help")
    assert r.exit_code == 0
    assert "--weight" in r.stdout and "--reduction" in r.stdout and "Example:" in r.stdout
    assert "--margin" not in r.stdout and "--beta" not in r.stdout


def test_top_level_help_and_version():
    assert run("--help").exit_code == 0
    r = run("--version")
    assert r.exit_code == 0 and "0.1.0" in r.stdout


LEGACY = [  # torch/nn/_reduction.py legacy_get_string: unset flags count as True
    (["--no-size-average"], "sum"),
    (["--no-reduce"], "none"),
    (["--no-size-average", "--no-reduce"], "none"),
    (["--size-average", "--reduce"], "mean"),
    (["--size-average"], "mean"),
]


@pytest.mark.parametrize("flags,reduction", LEGACY)
def test_legacy_flags_override_reduction_with_a_warning(flags, reduction):
    r = run("l1", "--reduction", "mean", *flags, "1,2,3", "0,0,0", "--format", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["reduction"] == reduction
    assert "deprecated" in r.stderr and f"--reduction {reduction}" in r.stderr


def test_elementwise_mean_is_mean_with_a_warning():
    r = run("l1", "--reduction", "elementwise_mean", "1,2,3", "0,0,0", "--format", "value")
    assert r.exit_code == 0 and r.stdout == "2.0\n"
    assert "elementwise_mean is deprecated" in r.stderr


def test_json_has_the_stable_keys_and_exact_floats():
    r = run("mse", "--reduction", "none", "0.1,0.2", "0.3,0", "--format", "json")
    doc = json.loads(r.stdout)
    assert set(doc) == {"loss", "reduction", "options", "dtype", "value", "shape", "elements",
                        "elements_shape", "inputs", "signature"}
    assert doc["value"] == [(0.1 - 0.3) ** 2, 0.2**2]  # round-trip exact
    assert doc["shape"] == [2] and doc["elements_shape"] == [2]
    assert doc["inputs"]["input"] == {"shape": [2], "dtype": "float64", "source": "inline"}
    assert re.fullmatch(r"losscalc 0\.1\.0\|mse\|reduction=none\|float64\|inputs=sha256:[0-9a-f]{8}", doc["signature"])


def test_signature_depends_on_inputs_and_options():
    def sig(*args):
        return json.loads(run("hinge_embedding", *args, "--format", "json").stdout)["signature"]

    assert sig("1,2", "1,-1") == sig("1,2", "1,-1")
    assert sig("1,2", "1,-1") != sig("1,2", "-1,-1")
    assert "|margin=0.5|" in sig("1,2", "1,-1", "--margin", "0.5")
    assert "|margin=" not in sig("1,2", "1,-1")  # defaults are left out


def test_json_writes_non_finite_numbers_as_strings():
    r = run("mse", "--reduction", "none", "nan,inf,1", "0,0,1", "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["value"] == ["nan", "inf", 0.0]
    assert "NaN" in r.stderr and "infinite" in r.stderr


def test_float32_value_is_the_shortest_float32_repr():
    r = run("l1", "--dtype", "float32", "0.1", "0", "--format", "value")
    assert r.stdout == "0.1\n"
    doc = json.loads(run("l1", "--dtype", "float32", "0.1", "0", "--format", "json").stdout)
    assert doc["dtype"] == "float32" and np.float32(doc["value"]) == np.float32(0.1)


def test_value_format_prints_rows():
    r = run("mse", "--reduction", "none", "1,2;3,4", "0,0;0,0", "--format", "value")
    assert r.stdout == "1.0 4.0\n9.0 16.0\n"


def test_csv_format_is_the_breakdown():
    r = run("mse", "1,2", "0,0", "--format", "csv")
    assert r.stdout.splitlines() == ["index,input,target,x - y,loss", "0,1.0,0.0,1.0,1.0", "1,2.0,0.0,2.0,4.0"]


def test_table_at_fixed_width():
    r = run("mse", "--weight", "1,0.5,2", "1,2,3", "1.5,2,2", env={"COLUMNS": "80"})
    assert r.exit_code == 0
    expected = """\
mse  reduction=mean  float64  weight=tensor[3]
value: 0.6428571428571429   shape: ()
┏━━━━━━━┳━━━━━━━┳━━━━━━━━┳━━━━━━━┳━━━━━━━━┳━━━━━━┓
┃ index ┃ input ┃ target ┃ x - y ┃ weight ┃ loss ┃
┡━━━━━━━╇━━━━━━━╇━━━━━━━━╇━━━━━━━╇━━━━━━━━╇━━━━━━┩
│ 0     │     1 │    1.5 │  -0.5 │      1 │ 0.25 │
│ 1     │     2 │      2 │     0 │    0.5 │    0 │
│ 2     │     3 │      2 │     1 │      2 │    2 │
└───────┴───────┴────────┴───────┴────────┴──────┘
mean = Σ w·l / Σ w = 2.25 / 3.5 = 0.6428571429
"""
    assert r.stdout == expected
    assert "\x1b[" not in r.stdout  # no colour when not a terminal


def test_long_breakdowns_keep_head_and_tail():
    r = run("l1", "--reduction", "sum", "arange(100)", "zeros(100)", "--max-rows", "4")
    assert "96 rows left out" in r.stdout
    assert re.search(r"│ 99 ", r.stdout) and re.search(r"│ 0 ", r.stdout) and not re.search(r"│ 50 ", r.stdout)
    assert "sum = Σ l over 100 elements = 4950" in r.stdout


@pytest.mark.parametrize("suffix", [".npy", ".json", ".csv"])
def test_output_saves_the_elements(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    r = run("mse", "1,2;3,4", "0,0;0,0", "-o", str(path), "--format", "value")
    assert r.exit_code == 0 and r.stdout == "7.5\n"
    if suffix == ".npy":
        saved = np.load(path)
    elif suffix == ".json":
        saved = np.array(json.loads(path.read_text()))
    else:
        saved = np.loadtxt(path, delimiter=",")
    np.testing.assert_array_equal(saved, [[1, 4], [9, 16]])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_output_errors_leave_existing_files_alone(tmp_path):
    keep = tmp_path / "keep.npy"
    keep.write_bytes(b"precious")
    r = run("mse", "1,2", "1,2,3", "-o", str(keep))  # the computation fails
    assert r.exit_code == 2 and keep.read_bytes() == b"precious"
    for bad, words in [(tmp_path / "x.txt", "must end in"), (tmp_path / "nodir" / "x.npy", "does not exist")]:
        r = run("mse", "1", "2", "-o", str(bad))
        assert r.exit_code == 2 and words in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.npy"]


def test_only_one_stdin_tensor():
    r = run("mse", "-", "-", input="1,2")
    assert r.exit_code == 2 and "standard input" in r.stderr


def test_stdin_text():
    r = run("mse", "-", "0,0", input="1,2\n", )
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("mse")


def test_a_bug_is_one_line_and_exit_1(monkeypatch):
    import dataclasses

    import losscalc.registry as registry

    def broken(*a, **k):
        raise ZeroDivisionError("boom")

    patched = tuple(dataclasses.replace(e, kernel=broken) if e.name == "l1" else e for e in registry.losses())
    monkeypatch.setattr(registry, "_LOSSES", patched)
    r = run("l1", "1", "2")
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "internal error" in r.stderr and "ZeroDivisionError" in r.stderr
    with pytest.raises(ZeroDivisionError):
        run("l1", "1", "2", env={"LOSSCALC_DEBUG": "1"})


def test_compute_as_a_library():
    from losscalc import compute

    r = compute("mse", [1.0, 2.0], [0.0, 0.0], reduction="sum")
    assert float(r.value) == 5.0
    np.testing.assert_array_equal(r.elements, [1.0, 4.0])
    np.testing.assert_array_equal(r.terms["x - y"], [1.0, 2.0])
    r = compute("mse", "1,2", "randn(2)", seed=3)
    assert r.value.shape == ()


def test_negative_numbers_are_tensors_and_option_values():
    r = run("hinge_embedding", "--margin", "-0.5", "-1,-2", "-1,-1", "--format", "value")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "1.0\n"  # y = -1: max(0, margin - x) = 0.5 and 1.5, mean 1.0
    r = run("l1", "-inf", "0", "--format", "value")
    assert r.stdout == "inf\n"
    r = run("mse", "--bogus", "1", "2")
    assert r.exit_code == 2 and "No such option" in r.stderr


def test_legacy_flags_only_where_the_torch_class_has_them():
    from losscalc import compute
    from losscalc.errors import LossError

    with pytest.raises(LossError, match="no legacy size_average/reduce"):
        compute("triplet_margin_with_distance", "randn(2,3)", "randn(2,3)", "randn(2,3)", size_average=False)
    r = run("triplet_margin_with_distance", "--no-size-average", "randn(2,3)", "randn(2,3)", "randn(2,3)")
    assert r.exit_code == 2 and "No such option" in r.stderr


def test_warnings_go_to_stderr_and_stdout_stays_clean():
    r = run("kl_div", "0.5,0.3,0.2", "0.9,0.05,0.05", "--format", "value")
    assert r.exit_code == 0
    assert "warning:" in r.stderr and "log-probabilities" in r.stderr and "batchmean" in r.stderr
    y, x = np.array([0.9, 0.05, 0.05]), np.array([0.5, 0.3, 0.2])
    assert float(r.stdout) == pytest.approx(np.mean(y * (np.log(y) - x)), rel=1e-12)  # -0.2898


# ------------------------------------------- messages, closed pipes, a bug in a real process
# (run_guarded: a CliRunner call that cannot hang, tests/helpers.py)

def test_negative_seed_is_named_as_the_problem():
    assert_user_error(run_guarded("mse", "randn(3)", "1", "--seed", "-5"), "--seed")


@pytest.mark.parametrize("args", [
    ["bce", "2", "1"],
    ["kl_div", "1", "0.5"],
    ["gaussian_nll", "1", "2", "-1"],
    ["nll", "[[0.6,0.2,0.2]]", "0"],
])
def test_messages_show_plain_numbers(args):
    """Not `np.float64(2.0)`, as repr() of a NumPy scalar reads (seen in this session, fixed)."""
    r = run_guarded(*args)
    assert r.stderr.strip()
    assert not re.search(r"np\.(float|int)\d+\(", r.stderr), r.stderr


def broken_pipe(args: list[str]) -> tuple[int, str]:
    """Run losscalc with its stdout read for one line, then closed (as `| head -1` does)."""
    proc = subprocess.Popen([sys.executable, "-m", "losscalc", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "LOSSCALC_DEBUG": "",
                                                         "COLUMNS": "80"})
    proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    return proc.returncode, stderr


@pytest.mark.parametrize("fmt", ["value", "csv", "json"])
def test_a_closed_pipe_is_not_an_error(fmt):
    code, stderr = broken_pipe(["l1", "--reduction", "none", "arange(40000)", "zeros(40000)",
                                "--format", fmt])
    assert code == 0 and "Traceback" not in stderr, stderr


def test_a_closed_pipe_is_not_an_error_for_tables():
    code, stderr = broken_pipe(["l1", "--reduction", "none", "arange(3000)", "zeros(3000)",
                                "--max-rows", "3000"])
    assert code == 0 and "Traceback" not in stderr, stderr


# ------------------------------------------------------------- a bug: one line, exit 1

BROKEN_KERNEL = """
import dataclasses, sys
import losscalc.registry as registry
def broken(*args, **kwargs):
    raise ZeroDivisionError("boom")
registry._LOSSES = tuple(dataclasses.replace(e, kernel=broken) if e.name == "l1" else e
                         for e in registry.losses())
from losscalc.cli import main
sys.argv = ["losscalc", "l1", "1", "2"]
main()
"""


@pytest.mark.parametrize("debug", ["", "0", "1"])
def test_a_bug_in_a_real_process_is_one_line_unless_debugging(debug):
    """test_a_bug_is_one_line_unless_debugging checks this through CliRunner; here the real process: its exit status,
    and that only LOSSCALC_DEBUG=1 (not 0, not empty) shows the traceback."""
    proc = subprocess.run([sys.executable, "-c", BROKEN_KERNEL], capture_output=True, text=True,
                          env={**os.environ, "LOSSCALC_DEBUG": debug}, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    if debug == "1":
        assert "Traceback" in proc.stderr and "ZeroDivisionError: boom" in proc.stderr
    else:
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert "internal error (ZeroDivisionError: boom)" in proc.stderr
