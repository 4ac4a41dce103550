"""Nothing is ever unpickled (losscalc/readers/pickles.py refuses pickled arrays), and the
source never asks for it: a scan of losscalc/ for pickle, eval and allow_pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from losscalc import tensors
from tests.helpers import assert_user_error, run


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

