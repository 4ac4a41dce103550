"""--output never loses data (losscalc/output.py): a temporary file in the same directory and a
rename, nothing touched on failure, no temporary file left behind, the file mode of the umask
or of the replaced file."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import PRECIOUS, assert_user_error, run


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_output_goes_through_a_temporary_file_in_the_same_directory(tmp_path, monkeypatch):
    renames, real = [], os.replace

    def spy(src, dst):
        renames.append((Path(src), Path(dst)))
        assert Path(src).read_bytes(), "the temporary file is complete before the rename"
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    target = tmp_path / "out.npy"
    target.write_bytes(PRECIOUS)
    r = run("mse", "--reduction", "none", "1,2", "0,0", "-o", target, "--format", "value")
    assert r.exit_code == 0
    [(src, dst)] = renames
    assert src.parent == tmp_path and src.name.startswith(".losscalc-") and dst == target
    np.testing.assert_array_equal(np.load(target), [1.0, 4.0])
    assert listing(tmp_path) == ["out.npy"]


@pytest.mark.parametrize("args", [
    ["mse", "1,2", "1,2,3"],  # shapes that do not fit
    ["mse", "1,2", "abc"],  # a bad tensor
    ["bce", "2", "1"],  # a bad value
    ["mse", "1", "2", "--reduction", "bogus"],  # a bad option
    ["mse", "1", "-"],  # empty standard input
    ["nosuchloss", "1", "2"],  # an unknown loss
])
def test_a_failed_call_never_touches_an_existing_output_file(tmp_path, args):
    target = tmp_path / "keep.npy"
    target.write_bytes(PRECIOUS)
    before = target.stat()
    assert_user_error(run(*args, "-o", target, input=b""))
    after = target.stat()
    assert target.read_bytes() == PRECIOUS and after.st_mtime_ns == before.st_mtime_ns
    assert listing(tmp_path) == ["keep.npy"]


class FailingFile(io.FileIO):
    """A file whose writes fail as on a full disk."""

    def write(self, data):
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("failure", ["write", "replace", "mkstemp", "interrupt"])
def test_a_failed_write_leaves_no_temporary_file_and_the_old_file_intact(tmp_path, monkeypatch,
                                                                       failure):
    import tempfile

    if failure == "write":
        monkeypatch.setattr(os, "fdopen", lambda fd, mode="r": FailingFile(fd, "w"))
    elif failure == "replace":
        def replace(src, dst):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(os, "replace", replace)
    elif failure == "mkstemp":
        def mkstemp(**kwargs):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    else:  # Ctrl-C between writing and renaming
        def replace(src, dst):
            raise KeyboardInterrupt
        monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "out.json"
    target.write_bytes(PRECIOUS)
    r = run("mse", "1,2", "0,0", "-o", target)
    if failure == "interrupt":
        assert r.exit_code == 1 and "Aborted" in r.stderr  # click's answer to Ctrl-C
    else:
        assert_user_error(r, "--output", "could not write")
    assert target.read_bytes() == PRECIOUS
    assert listing(tmp_path) == ["out.json"]


@pytest.mark.parametrize("where, words", [
    ("dir", "is a directory"),
    ("missing/out.npy", "does not exist"),
    ("file.npy/out.npy", "does not exist"),
    ("out.txt", "must end in .npy, .csv or .json"),
])
def test_output_into_a_directory_or_nowhere_is_a_user_error(tmp_path, where, words):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file.npy").write_bytes(PRECIOUS)
    assert_user_error(run("mse", "1", "2", "-o", tmp_path / where), "--output", words)
    assert listing(tmp_path) == ["dir", "file.npy"] and not list((tmp_path / "dir").iterdir())


def test_output_file_mode_follows_the_umask_or_the_replaced_file(tmp_path):
    umask = os.umask(0o022)
    try:
        new = tmp_path / "new.npy"
        assert run("mse", "1", "2", "-o", new).exit_code == 0
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        old = tmp_path / "old.npy"
        old.write_bytes(b"")
        old.chmod(0o664)
        assert run("mse", "1", "2", "-o", old).exit_code == 0
        assert stat.S_IMODE(old.stat().st_mode) == 0o664
    finally:
        os.umask(umask)


def test_output_csv_of_no_elements(tmp_path):
    target = tmp_path / "out.csv"
    r = run("mse", "--reduction", "none", "[[],[]]", "[[],[]]", "-o", target)
    assert r.exit_code == 0, r.output
    assert target.read_text() == ""


def test_output_path_with_a_nul_byte(tmp_path):
    assert_user_error(run("mse", "1", "2", "-o", f"{tmp_path}/a\0b.npy"), "--output")
    assert listing(tmp_path) == []

