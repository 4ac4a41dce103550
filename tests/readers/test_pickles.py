"""Nothing is ever unpickled (losscalc/readers/pickles.py): pickled arrays and torch.save files
are refused by name and by content, with a hint; .npy, .npz and safetensors pass; and the
source never asks for it: a scan of losscalc/ for pickle, eval and allow_pickle."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from losscalc import tensors
from losscalc.errors import LossError
from losscalc.readers.formats import open_tensor, refuse_pickle
from tests.helpers import assert_user_error, run
from tests.readers.arrays import entry, raises


class Payload:
    """Unpickling this creates the file `marker`: proof that something was unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_pickled_arrays_are_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    array = np.array([Payload(marker), 1], dtype=object)
    np.save(tmp_path / "evil.npy", array, allow_pickle=True)
    np.savez(tmp_path / "evil.npz", x=array)
    np.load(tmp_path / "evil.npy", allow_pickle=True)  # the payload works...
    assert marker.exists()
    marker.unlink()
    stdin = (tmp_path / "evil.npy").read_bytes()
    for word in [tmp_path / "evil.npy", tmp_path / "evil.npz", f"{tmp_path}/evil.npz:x", "-"]:
        for args in (["mse", word, "1"], ["mse", "1", "1", "--weight", word]):
            assert_user_error(run(*args, input=stdin), "dtype object")
    assert not marker.exists()  # ...and losscalc never ran it


FORBIDDEN_NAMES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve",
                   "joblib"}


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}


def forbidden_code(path: Path) -> list[str]:
    """Code (not comments or docstrings) in `path` that could unpickle or evaluate text."""
    import tokenize

    with open(path, "rb") as f:
        tokens = [t for t in tokenize.tokenize(f.readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                                    tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)]
    found = []
    for i, t in enumerate(tokens):
        before = tokens[i - 1].string if i else ""
        after = [u.string for u in tokens[i + 1:i + 3]]
        where = f"{path.name}:{t.start[0]}"
        if t.type == tokenize.NAME and t.string in FORBIDDEN_NAMES:
            found.append(f"{where}: {t.string}")
        elif t.type == tokenize.NAME and t.string in FORBIDDEN_CALLS and after[:1] == ["("] \
                and before != ".":
            found.append(f"{where}: {t.string}(")
        elif t.string == "allow_pickle" and after[:1] == ["="] and after[1:] != ["False"]:
            found.append(f"{where}: allow_pickle={after[1] if len(after) > 1 else '?'}")
    return found


def test_the_source_never_unpickles_or_evaluates(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle\nx = eval('1')\nnp.load(f, allow_pickle=True)\n"
                   "exec ('2')\nre.compile('x')  # eval( pickle\n'''eval(1) pickle'''\n")
    assert forbidden_code(bad) == ["bad.py:1: pickle", "bad.py:2: eval(",
                                   "bad.py:3: allow_pickle=True", "bad.py:4: exec("]
    package = Path(tensors.__file__).parent
    sources = sorted(package.rglob("*.py"))
    assert len(sources) >= 10
    assert [hit for path in sources for hit in forbidden_code(path)] == []


# -- refused by name or content (readers/formats.py refuse_pickle) --------------------------


PICKLE_HINTS = ("is a pickle", "losscalc never unpickles", "numpy.save('x.npy', t.numpy())",
                "safetensors.torch.save_file({'x': t}, 'x.safetensors')")


@pytest.mark.parametrize("ext", [".pt", ".pth", ".pkl", ".pickle", ".PT"])
def test_pickles_are_refused_by_name(tmp_path, ext):
    path = tmp_path / f"model{ext}"
    path.write_bytes(b"anything")
    raises(path, None, "input", *PICKLE_HINTS)
    raises(tmp_path / f"absent{ext}", "x", "--weight", *PICKLE_HINTS)


@pytest.mark.parametrize("ext", [".safetensors", ".parquet", ".feather", ".h5", ".arrow", ".bin"])
def test_torch_save_is_refused_by_content_whatever_its_name(tmp_path, ext):
    torch = pytest.importorskip("torch")
    path = tmp_path / f"weights{ext}"
    torch.save({"x": torch.ones(3)}, str(path))
    with pytest.raises(LossError) as info:
        refuse_pickle(str(path), "--weight")
    assert "as torch.save writes" in str(info.value)
    if ext != ".bin":
        raises(path, None, "--weight", "torch.save", *PICKLE_HINTS)
    legacy = tmp_path / f"legacy{ext}"
    torch.save(torch.ones(3), str(legacy), _use_new_zipfile_serialization=False)
    with pytest.raises(LossError, match="pickle protocol 2"):
        refuse_pickle(str(legacy), "input")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_pickles_are_refused_by_content(tmp_path, protocol):
    path = tmp_path / "table.parquet"
    path.write_bytes(pickle.dumps([1.0, 2.0], protocol=protocol))
    raises(path, None, "input", f"pickle protocol {protocol}", *PICKLE_HINTS)


def test_refuse_pickle_lets_npy_npz_and_safetensors_through(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3))
    np.savez(tmp_path / "a.npz", x=np.arange(3))
    # a header length whose low byte is 0x80 looks like a pickle opcode: still a safetensors
    body = json.dumps({"x": entry(shape=(1,), end=4)}).encode()
    body += b" " * (0x0280 - len(body))
    (tmp_path / "a.safetensors").write_bytes(struct.pack("<Q", len(body)) + body + bytes(4))
    for p in ("a.npy", "a.npz", "missing.npy"):
        refuse_pickle(str(tmp_path / p), "input")
    assert np.array_equal(open_tensor(str(tmp_path / "a.safetensors"), None, "input"), [0.0])
