"""Pickles are refused, never loaded: unpickling a file can run any code it carries.

By name: `.pt`, `.pth`, `.pkl`, `.pickle`. By content: a zip holding a `.pkl` member (what
`torch.save` writes since torch 1.6, whatever the file is called) or a file starting with a
pickle protocol 2-5 opcode (`b"\\x80"` and the protocol byte: older `torch.save`, `pickle.dump`).
Only the first bytes and, for a zip, its central directory are read.
"""

from __future__ import annotations

import os
import zipfile

from ..errors import LossError
from .base import quote as _q


PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle")

_HOW = ("losscalc never unpickles, because loading a pickle can run any code it holds. "
        "Save the tensor as .npy (numpy.save('x.npy', t.numpy())) or as safetensors "
        "(safetensors.torch.save_file({'x': t}, 'x.safetensors')) and pass that file")


def pickle_kind(path: str) -> str | None:
    """Why the file at `path` is a pickle ("a torch.save zip holding 'archive/data.pkl'"),
    or None when neither its name nor its first bytes say so."""
    if os.path.splitext(path)[1].lower() in PICKLE_SUFFIXES:
        return f"a {os.path.splitext(path)[1].lower()} file is a pickle"
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return None
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return f"it starts with the opcode of pickle protocol {head[1]}"
    if head == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            return None
        for member in names:
            if member.lower().endswith((".pkl", ".pickle")):
                return f"it is a zip holding the pickle {_q(member)}, as torch.save writes"
    return None


def refuse_pickle(path: str, name: str) -> None:
    """Raise `LossError` for argument `name` when `path` is a pickle, by name or content."""
    kind = pickle_kind(path)
    if kind is not None:
        raise LossError(f"{name}: file {path!r}: this is a pickle ({kind}); {_HOW}.")
