"""--output: the unreduced element losses saved to .npy, .csv or .json, streamed chunk by chunk
into a temporary file beside the target and renamed over it at the end, so an output of a
billion elements never sits in memory and a failure (or Ctrl-C) never leaves a partial file."""

from __future__ import annotations

import os
import tempfile

import numpy as np

from .errors import LossError

SUFFIXES = (".npy", ".csv", ".json")


def _file_mode(path: str) -> int:
    """The mode the saved file should have: the replaced file's, else what open() would give."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


class ElementsFile:
    """A sink for the engine: `begin(shape, dtype)`, `add(flat_start, elements)` per chunk in
    order, then `finish()` (rename into place) or `abort()` (remove the temporary file)."""

    def __init__(self, path: str):
        if os.path.isdir(path):
            raise LossError(f"--output: {path!r} is a directory; give a file name.")
        self.suffix = os.path.splitext(path)[1].lower()
        if self.suffix not in SUFFIXES:
            raise LossError(f"--output: {path!r} must end in .npy, .csv or .json.")
        self.directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(self.directory):
            raise LossError(f"--output: the directory of {path!r} does not exist.")
        self.path, self.file, self.tmp, self.written = path, None, None, 0

    def _fail(self, e: BaseException):
        return LossError(f"--output: could not write {self.path!r}: {getattr(e, 'strerror', None) or e}.")

    def begin(self, shape: tuple, dtype) -> None:
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=".losscalc-", suffix=self.suffix, dir=self.directory)
            os.fchmod(fd, _file_mode(self.path))
            self.file = os.fdopen(fd, "wb")
            if self.suffix == ".npy":
                header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                          "shape": self.shape}
                np.lib.format.write_array_header_2_0(self.file, header)
            elif self.suffix == ".json":
                self.file.write(b"[" if self.shape else b"")
        except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
            self.abort()
            raise self._fail(e) from None

    def add(self, start: int, elements: np.ndarray) -> None:
        from .render.rows import json_value as _json_value, number

        e = np.ascontiguousarray(elements, self.dtype)
        try:
            if self.suffix == ".npy":
                self.file.write(e.tobytes())
            elif self.suffix == ".json":
                if not self.shape:
                    import json

                    self.file.write(json.dumps(_json_value(e)).encode())
                elif e.size or e.shape[0]:
                    import json

                    text = json.dumps(_json_value(e))[1:-1]
                    self.file.write(((", " if self.written else "") + text).encode())
                    self.written += 1
            else:
                rows = e.reshape(-1, e.shape[-1]) if e.ndim > 1 and e.size else e.reshape(-1, 1)
                self.file.write("".join(",".join(number(x) for x in row) + "\n" for row in rows).encode())
        except (OSError, ValueError) as e:
            self.abort()
            raise self._fail(e) from None

    def finish(self) -> None:
        try:
            if self.file is None:
                return
            if self.suffix == ".json":
                self.file.write(b"]\n" if self.shape else b"\n")
            self.file.close()
            self.file = None
            os.replace(self.tmp, self.path)
            self.tmp = None
        except OSError as e:
            self.abort()
            raise self._fail(e) from None

    def abort(self) -> None:
        if self.file is not None:
            try:
                self.file.close()
            except OSError:
                pass
            self.file = None
        if self.tmp is not None and os.path.exists(self.tmp):
            os.unlink(self.tmp)
        self.tmp = None


class ArrayFile:
    """A .npy file of a known shape filled slice by slice, along any axis, through a memory map
    of a temporary file beside `path` (its pages are the file's, not the process's memory);
    the space is reserved first, so a full disk is an error here and never a crash mid-write.
    `finish()` renames it into place and gives it back memory-mapped; `abort()` removes it."""

    def __init__(self, path: str, shape: tuple, dtype, what: str):
        self.path, self.what, self.tmp, self.array = path, what, None, None
        dtype = np.dtype(dtype)
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=".losscalc-", suffix=".npy",
                                            dir=os.path.dirname(os.path.abspath(path)))
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), _file_mode(path))
                header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
                np.lib.format.write_array_header_2_0(f, header)
                offset = f.tell()
                f.flush()
                nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if nbytes:
                    os.posix_fallocate(f.fileno(), offset, nbytes)
            if nbytes:
                self.array = np.memmap(self.tmp, dtype, "r+", offset, tuple(shape))
            else:
                self.array = np.empty(shape, dtype)
        except (OSError, ValueError) as e:
            self.abort()
            raise LossError(f"{what}: could not write {path!r}: {getattr(e, 'strerror', None) or e}.") from None

    def finish(self) -> np.ndarray:
        if isinstance(self.array, np.memmap):
            self.array.flush()
        self.array = None
        try:
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.abort()
            raise LossError(f"{self.what}: could not write {self.path!r}: {e.strerror or e}.") from None
        self.tmp = None
        return np.load(self.path, mmap_mode="r")

    def abort(self) -> None:
        self.array = None
        if self.tmp is not None and os.path.exists(self.tmp):
            os.unlink(self.tmp)
        self.tmp = None


def grad_path(output: str, name: str) -> str:
    """Where --grad writes tensor `name`'s gradient beside --output OUT.EXT: OUT.grad.NAME.npy."""
    return f"{os.path.splitext(output)[0]}.grad.{name.lstrip('-').replace('-', '_')}.npy"
