"""losscalc/tensors.py, load_tensor, the one dispatcher: what a word is (a file, a key in it,
inline text, a generator, standard input), the limits of text sources, and no input making it
raise anything but a LossError (hypothesis). Each source kind's reader is tested in
tests/readers/, the generators in tests/test_generators.py."""

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscalc import limits
from losscalc.errors import LossError
from losscalc.limits import MAX_ELEMENTS
from losscalc.readers import npy, stdin
from losscalc.tensors import load_tensor
from tests.helpers import load, load_error as error, write_text as write


def test_missing_file_directory_and_key_on_npy(here):
    assert 'file "pred.npy": file not found.' in error("pred.npy")
    assert "file not found" in error("run.npz:logits")
    assert "file not found" in error("sub/eval.csv:y")
    (here / "dir.csv").mkdir()
    assert "is a directory" in error("dir.csv")
    np.save("p.npy", np.ones(2))
    assert "only applies to" in error("p.npy:x")
    (here / "plain").write_text("1,2")
    assert "(it is a file, but only" in error("plain")
    (here / "folder").mkdir()
    assert "(it is a directory)" in error("folder")


def test_text_file_size_limit(here, monkeypatch):
    monkeypatch.setattr(limits, "MAX_TEXT_CHARS", 10)
    monkeypatch.setattr(limits, "MAX_INLINE_CHARS", 10)
    write("long.csv", "1,2,3,4,5,6,7,8\n")
    assert "convert it to .npy" in error("long.csv")
    assert "put large tensors in a .npy file" in error("1,2,3,4,5,6,7")


def test_element_limit_for_text(here, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ELEMENTS", 4)
    assert "more than 4" in error("1,2,3,4,5")
    write("big.csv", "1,2,3\n4,5,6\n")
    assert "more than 4" in error("big.csv")


def rng(seed=0):
    return np.random.default_rng(seed)


JUNK = st.text(alphabet="[]0123456789,;.e+-naif() \t\n:*/x", max_size=40) | st.text(max_size=40)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JUNK)
def test_junk_never_raises_anything_but_loss_error(text):
    try:
        ts = load(text, rng=rng(), stdin=io.BytesIO(text.encode("utf-8", "replace")))
    except LossError as exc:
        assert str(exc).startswith("target")
    else:
        assert isinstance(ts.array, np.ndarray) and ts.array.size <= MAX_ELEMENTS
