"""engine/local.py: a file beyond the old in-memory limit (3e8 elements) read chunk by chunk in
bounded anonymous memory, in a real process. That one thread and two give the same answer, bit
for bit, is tests/test_invariants.py's."""

import json
import os
import subprocess
import sys
import time

import numpy as np


def _peak(args, cwd):
    """Run losscalc in a child process and sample its RssAnon (anonymous memory: not the
    mapped pages of its input files) from this one every few milliseconds."""
    child = subprocess.Popen([sys.executable, "-m", "losscalc", *args], cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    peak = 0
    try:
        while child.poll() is None:
            try:
                with open(f"/proc/{child.pid}/status") as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.01)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    return out, peak / 1024


def test_a_file_beyond_the_old_limit_in_bounded_memory(tmp_path):
    """3e8 float32 elements a file (1.2 GB each, over the 2**28 limit of in-memory tensors),
    reduced and saved with --reduction none --output, in bounded anonymous memory."""
    n = 300_000_000  # python -m losscalc alone: ~25 MiB of RssAnon
    for name, fill in (("a.npy", 1.5), ("b.npy", 0.5)):
        m = np.lib.format.open_memmap(tmp_path / name, "w+", np.float32, (n,))
        for i in range(0, n, 1 << 24):
            m[i:i + (1 << 24)] = fill
        m.flush()
        del m
    try:
        out, peak = _peak(["mse", "a.npy", "b.npy", "--format", "json"], tmp_path)
        assert json.loads(out)["value"] == 1.0 and json.loads(out)["elements"] is None
        assert peak < 400, f"{peak:.0f} MiB"
    finally:
        for name in ("a.npy", "b.npy"):
            os.unlink(tmp_path / name)
