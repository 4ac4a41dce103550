"""The progress bar (SPEC §9, commands.py `_Progress`): rich draws it on stderr when stderr is a
terminal and the run has many chunks (16 or more); never when stderr is not a terminal, not
with --no-progress, and not for small work. Tested with a real pseudo-terminal: the CLI runs
in a subprocess whose stderr is the pty's slave, stdout a pipe that holds the value alone."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rich")
pty = pytest.importorskip("pty")  # POSIX only

ROOT = Path(__file__).resolve().parent.parent  # the subprocess imports this checkout
ELEMENTS = 200_000  # 200 chunks of 1000: several tenths of a second, long enough for rich to draw
BAR = re.compile(r"━|╸|╺|\d+%")  # rich's bar characters, or its percentage


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("progress")
    rng = np.random.default_rng(0)
    big = rng.normal(size=ELEMENTS)
    np.save(folder / "big.npy", big)
    np.save(folder / "zeros.npy", np.zeros(ELEMENTS))
    np.save(folder / "small.npy", big[:5000])  # 5 chunks of 1000: too few for a bar
    np.save(folder / "small_zeros.npy", np.zeros(5000))
    return folder, float(np.mean(big ** 2)), float(np.mean(big[:5000] ** 2))


def environment(chunk="1000"):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               LOSSCALC_CHUNK_ELEMENTS=chunk, TERM="xterm-256color", COLUMNS="100", LINES="30")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    return env


def command(*args):
    return [sys.executable, "-m", "losscalc", *args, "--format", "value", "--threads", "1"]


def on_a_terminal(folder, *args, timeout=60.0):
    """Run losscalc with stderr on a pseudo-terminal; (exit code, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(command(*args), cwd=folder, env=environment(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=slave)
    finally:
        os.close(slave)
    seen, deadline = bytearray(), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every slave end is closed, the run is over
                break
            if not data:
                break
            seen += data
        stdout = proc.stdout.read()
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        os.close(master)
    return code, stdout.decode(), seen.decode("utf-8", "replace")


def in_a_pipe(folder, *args):
    proc = subprocess.run(command(*args), cwd=folder, env=environment(), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode("utf-8", "replace")


def test_the_bar_is_drawn_on_a_terminal_for_large_work(files):
    folder, expected, _ = files
    code, stdout, terminal = on_a_terminal(folder, "mse", "big.npy", "zeros.npy")
    assert code == 0, terminal
    assert BAR.search(terminal), f"no progress bar on the terminal: {terminal!r}"
    assert "━" in terminal  # rich's bar itself, not only a number
    assert float(stdout) == pytest.approx(expected, rel=1e-12)
    assert stdout == stdout.strip() + "\n" and len(stdout.splitlines()) == 1  # the value alone


def test_the_bar_with_a_broadcast_target_keeps_stdout_clean(files):
    """The command of the brief: a scalar target (it warns, on stderr) and the bar on stderr."""
    folder, expected, _ = files
    code, stdout, terminal = on_a_terminal(folder, "mse", "big.npy", "0")
    assert code == 0, terminal
    assert BAR.search(terminal)
    assert float(stdout) == pytest.approx(expected, rel=1e-12)
    assert len(stdout.splitlines()) == 1 and "━" not in stdout and "warning" not in stdout


def test_no_bar_with_no_progress(files):
    folder, expected, _ = files
    code, stdout, terminal = on_a_terminal(folder, "mse", "big.npy", "zeros.npy", "--no-progress")
    assert code == 0, terminal
    assert not BAR.search(terminal), f"a bar despite --no-progress: {terminal!r}"
    assert terminal.strip() == ""  # nothing else to say either
    assert float(stdout) == pytest.approx(expected, rel=1e-12)


def test_no_bar_when_stderr_is_not_a_terminal(files):
    folder, expected, _ = files
    code, stdout, stderr = in_a_pipe(folder, "mse", "big.npy", "zeros.npy")
    assert code == 0, stderr
    assert stderr == "", f"stderr in a pipe should be empty: {stderr!r}"
    assert "\x1b[" not in stdout + stderr
    assert float(stdout) == pytest.approx(expected, rel=1e-12)


def test_no_bar_in_a_pipe_even_with_progress_asked(files):
    folder, expected, _ = files
    code, stdout, stderr = in_a_pipe(folder, "mse", "big.npy", "zeros.npy", "--progress")
    assert code == 0 and not BAR.search(stderr) and "\x1b[" not in stderr
    assert float(stdout) == pytest.approx(expected, rel=1e-12)


def test_no_bar_for_small_work_on_a_terminal(files):
    """5 chunks: under the 16 a bar needs."""
    folder, _, expected = files
    code, stdout, terminal = on_a_terminal(folder, "mse", "small.npy", "small_zeros.npy")
    assert code == 0, terminal
    assert not BAR.search(terminal), f"a bar for 5 chunks: {terminal!r}"
    assert float(stdout) == pytest.approx(expected, rel=1e-12)
