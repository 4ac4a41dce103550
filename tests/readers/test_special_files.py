"""Files that are odd (FIFOs, devices, broken links, unreadable files) and inputs that are
read-only memory maps or in Fortran order: refused with a message, or read without a kernel
writing into them."""

from __future__ import annotations

import os
import shlex

import numpy as np
import pytest

from losscalc.registry import losses
from losscalc.tensors import load_tensor
from tests.helpers import assert_user_error, run, time_limit

NAMES = {loss.name: loss for loss in losses()}


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    # Opening a FIFO blocks until someone writes; the loader must not even open it.
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    with time_limit(5):
        assert_user_error(run("mse", fifo, "1"), "input", "not a regular file")


def test_devices_and_links_to_them_are_refused(tmp_path):
    (tmp_path / "zero.npy").symlink_to("/dev/zero")
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    (tmp_path / "gone.json").symlink_to(tmp_path / "nothing.json")
    with time_limit(5):
        assert_user_error(run("mse", tmp_path / "zero.npy", "1"), "not a regular file")
        assert_user_error(run("mse", tmp_path / "loop.csv", "1"), "broken symbolic link")
        assert_user_error(run("mse", "1", tmp_path / "gone.json"), "target", "broken symbolic link")


def test_unreadable_file_is_a_user_error(tmp_path, monkeypatch):
    path = tmp_path / "secret.csv"
    path.write_text("1,2\n")
    if os.geteuid() != 0:  # root reads it whatever its mode says
        path.chmod(0)
        assert_user_error(run("mse", path, "1"), "input", "Permission denied")
        path.chmod(0o600)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("losscalc.readers.text.open", denied, raising=False)
    assert_user_error(run("mse", path, "1"), "input", "secret.csv", "Permission denied")


@pytest.mark.parametrize("loss", sorted(NAMES))
def test_read_only_memory_mapped_and_fortran_inputs(loss, tmp_path, monkeypatch):
    """Every loss's example with each tensor (options too) saved as .npy and memory-mapped
    read-only (as large files are), C and Fortran order: no kernel writes into its inputs."""
    from losscalc.commands import parse_example

    monkeypatch.setattr("losscalc.readers.npy.MMAP_THRESHOLD", 0)
    entry = NAMES[loss]
    params = parse_example(entry)
    names = [t.name for t in entry.tensors] + [o.name for o in entry.options
                                                if o.type == "tensor" and params.get(o.name)]
    for order in ("C", "F"):
        words = shlex.split(entry.example)
        for name in names:
            text = params[name].strip()
            array = load_tensor(text, name, rng=np.random.default_rng(0)).array
            path = tmp_path / f"{name}-{order}.npy"
            np.save(path, np.asfortranarray(array) if order == "F" else array)
            assert text in words
            words = [str(path) if w == text else w for w in words]
        for extra in ([], ["--reduction", "none", "--format", "json"], ["--format", "csv"]):
            r = run(loss, *words, *extra)
            assert r.exit_code == 0, (order, extra, r.output)

