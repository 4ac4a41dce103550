"""--grad over the chunks: each chunk's backward given the upstream gradient of the whole
reduction (known once the first pass has added the denominators up), a cut tensor's gradient
put together along its axis, a whole one's summed over the chunks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import LossError
from ..reduction import Partials, upstream
from ..registry import Loss
from .local import run_chunks
from .plan import Plan

if TYPE_CHECKING:
    from ..tensors import TensorSource


def gradients(loss: Loss, plan: Plan, first, reduction: str, partials: Partials,
               inputs: dict[str, TensorSource], threads, files: str | None = None) -> dict[str, np.ndarray]:
    """∂value/∂tensor: each chunk's backward with the upstream gradient of the whole reduction;
    a cut tensor's gradient is put together along its axis, a whole one's summed over chunks.
    With `files` (--output's path) each gradient is written to OUT.grad.NAME.npy (output.grad_path)
    chunk by chunk and given back memory-mapped, so the gradients of inputs of any size never sit
    in memory; without, inputs over 2**28 elements are refused."""
    from ..limits import shape_too_large
    from ..output import ArrayFile, grad_path

    if files is None and first is None and any(shape_too_large(t.array.shape) for t in inputs.values()):
        raise LossError("--grad: these inputs have more than 2**28 elements, too many gradients to keep in "
                        "memory; give --output OUT.npy and they are written beside it, to OUT.grad.NAME.npy.")
    axes = plan.split.axes if plan.split else {}
    runs = [(plan.chunks[0], first[0])] if first else ((c, o) for c, o, _, _ in run_chunks(plan, threads))
    cut: dict[str, np.ndarray | ArrayFile] = {}  # by name: the whole gradient, filled chunk by chunk
    summed: dict[str, np.ndarray] = {}
    try:
        with np.errstate(all="ignore"):
            for chunk, out in runs:
                if out.backward is None:
                    raise LossError(f"--grad is not available for {loss.name}.")
                for name, g in out.backward(upstream(out, reduction, partials)).items():
                    shape, axis = tuple(inputs[name].array.shape), axes.get(name)
                    if axis is None:
                        g = sum_to_shape(g, shape)
                        summed[name] = g if name not in summed else summed[name] + g
                        continue
                    part = (*shape[:axis], chunk.stop - chunk.start, *shape[axis + 1:])
                    if name not in cut:
                        cut[name] = ArrayFile(grad_path(files, name), shape, g.dtype, "--grad") if files \
                            else np.empty(shape, g.dtype)
                    whole = cut[name].array if files else cut[name]
                    whole[(slice(None),) * axis + (slice(chunk.start, chunk.stop),)] = sum_to_shape(g, part)
        grads = {name: cut[name] if name in cut else summed[name] for name in [*cut, *summed]}
        if files:
            for name, g in summed.items():
                f = cut[name] = ArrayFile(grad_path(files, name), g.shape, g.dtype, "--grad")
                f.array[...] = g
            grads = {name: f.finish() for name, f in cut.items()}
            cut = {}
        return grads
    finally:
        for f in cut.values():
            if isinstance(f, ArrayFile):
                f.abort()


def sum_to_shape(g: np.ndarray, shape: tuple) -> np.ndarray:
    """A gradient in a broadcast shape, summed back to the shape of the tensor it belongs to."""
    g = np.asarray(g)
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead > 0 else g
    ones = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return (g.sum(axis=ones, keepdims=True) if ones else g).reshape(shape)
