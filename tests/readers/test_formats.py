"""readers/formats.py, the dispatcher of SPEC section 12: suffixes, an unknown suffix, a missing
library naming its extra, and no optional library loaded by importing the readers. Each
format's reader has its own test module beside this one; the bounded-memory tests on big
files are in test_memory.py."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest

from losscalc.readers.formats import SUFFIXES, names_in
from tests.readers.arrays import raises


def test_suffixes_and_unknown_suffix(tmp_path):
    assert set(SUFFIXES) == {".safetensors", ".parquet", ".feather", ".arrow", ".ipc", ".h5",
                             ".hdf5", ".zarr", ".pt", ".pth", ".pkl", ".pickle"}
    (tmp_path / "x.bin").write_bytes(b"")
    raises(tmp_path / "x.bin", None, "input", "the suffix '.bin' is not a format read here")
    assert names_in(str(tmp_path / "x.bin")) == []


@pytest.mark.parametrize("module, suffix, extra", [
    ("pyarrow", ".parquet", "parquet"), ("pyarrow", ".feather", "parquet"),
    ("h5py", ".h5", "hdf5"), ("zarr", ".zarr", "zarr")])
def test_a_missing_library_names_its_extra(tmp_path, monkeypatch, module, suffix, extra):
    path = tmp_path / f"data{suffix}"
    if suffix == ".zarr":
        path.mkdir()
    else:
        path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    raises(path, None, "--weight", f"pip install 'losscalc[{extra}]'")


def test_importing_the_readers_loads_no_optional_library():
    code = ("import sys, losscalc.readers.formats as f, losscalc.readers.safetensors, "
            "losscalc.readers.arrow, losscalc.readers.hdf5, losscalc.readers.zarr, "
            "losscalc.readers.pickles; "
            "print(sorted(m for m in ('pyarrow', 'h5py', 'zarr', 'safetensors', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.strip() == "[]"
