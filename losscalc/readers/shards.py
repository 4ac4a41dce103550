"""Shards (SPEC §9): a glob ('preds/*.npy', quoted) or a directory of files, concatenated along
axis 0 in natural order (part-2 before part-10) and read one after another. The shards must
agree on the dtype and on every axis but the first; an error names the shard."""

from __future__ import annotations

import glob
import os
import re

import numpy as np

from ..errors import LossError
from .base import LazyArray

GLOB = re.compile(r"[*?]")


def natural_key(path: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", os.path.basename(path))]


def shard_paths(pattern: str, suffixes: tuple[str, ...]) -> list[str] | None:
    """The shards a tensor argument names, in natural order, or None when it names none: a
    glob whose name ends in one of the file `suffixes` ('preds/*.npy'), or a directory (not
    itself named like a file, as a Zarr store is) of .npy files."""
    named_like_a_file = pattern.rstrip("/\\").lower().endswith(suffixes)
    if os.path.isdir(pattern) and not named_like_a_file:
        members = [os.path.join(pattern, f) for f in os.listdir(pattern) if f.lower().endswith(".npy")]
        return sorted(members, key=natural_key) or None  # no shards: the loader says it is a directory
    if GLOB.search(pattern) and named_like_a_file:
        return sorted(glob.glob(pattern), key=natural_key)
    return None


class Shards(LazyArray):
    """Members (LazyArrays or arrays) concatenated along axis 0."""

    def __init__(self, members: list, names: list[str], source: str, name: str):
        first = members[0]
        for member, shard in zip(members, names):
            if member.ndim == 0:
                raise LossError(f"{name}: shard {shard!r} holds a scalar; shards are concatenated along "
                                "axis 0 and need at least one dimension.")
            if np.dtype(member.dtype) != np.dtype(first.dtype):
                raise LossError(f"{name}: shard {shard!r} has dtype {member.dtype}, but shard {names[0]!r} "
                                f"has {first.dtype}; every shard must have the same dtype.")
            if tuple(member.shape[1:]) != tuple(first.shape[1:]):
                raise LossError(f"{name}: shard {shard!r} has shape {tuple(member.shape)}, but shard "
                                f"{names[0]!r} has {tuple(first.shape)}; shards must agree on every axis "
                                "but the first.")
        self.members, self.names, self.source = members, names, source
        self.ends = np.cumsum([m.shape[0] for m in members]).tolist()
        self.shape = (int(self.ends[-1]), *first.shape[1:])
        self.dtype = np.dtype(first.dtype)
        self.chunk_rows = None

    def __getstate__(self):  # memory maps travel as their paths (readers.npy.Mapped)
        from .npy import Mapped

        members = [Mapped.of(m) if isinstance(m, np.memmap) else m for m in self.members]
        return {**self.__dict__, "members": members}

    def read(self, start: int, stop: int) -> np.ndarray:
        parts, lo = [], 0
        for member, hi in zip(self.members, self.ends):
            if hi > start and lo < stop:
                parts.append(np.asarray(member[max(start, lo) - lo:min(stop, hi) - lo]))
            lo = hi
        if not parts:
            return np.empty((0, *self.shape[1:]), self.dtype)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
