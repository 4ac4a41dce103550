"""Differential cases, one module per kernel family.

Each family module defines
    cases(rng) -> list[Case]                  random inputs over the whole option surface
    error_cases(rng) -> list[Case]            inputs PyTorch rejects (losscalc must exit 2)
    torch_value(F, case, tensors, options)    the PyTorch result, given torch tensors
    PRODUCED_BY (optional)                    what torch_value computes with, for the fixtures
and the case lists feed both the live differential test (tests/test_differential.py, when
torch is importable) and the committed golden fixtures (tests/make_golden.py writes
tests/golden/<family>.json; tests/test_golden.py checks them always).
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass, field

import numpy as np

FAMILIES = ["regression", "embedding", "binary", "divergence", "classification", "sequence", "beyond"]


@dataclass
class Case:
    loss: str
    tensors: list  # NumPy arrays in PyTorch's forward order (float64 or int64)
    options: dict = field(default_factory=dict)  # Python names; tensor options as arrays
    reduction: str = "mean"

    def __post_init__(self):
        # NumPy scalars (rng.random(()) returns one) as 0-d arrays, so tensor options stay tensors
        self.tensors = [np.asarray(t) for t in self.tensors]
        self.options = {k: np.asarray(v) if isinstance(v, np.generic) else v for k, v in self.options.items()}

    @property
    def id(self) -> str:
        opts = ",".join(f"{k}={_short(v)}" for k, v in self.options.items())
        shapes = "x".join(str(list(np.shape(t))) for t in self.tensors)
        return f"{self.loss}[{self.reduction}|{opts}|{shapes}]"


def _short(v):
    return f"T{list(v.shape)}" if isinstance(v, np.ndarray) else v


def family(name: str):
    return importlib.import_module(f"tests.cases.{name}")


def to_torch(torch, value, dtype):
    """A NumPy array as a torch tensor: floats in `dtype`, integers as int64."""
    a = np.asarray(value)  # (np.array keeps 0-d arrays 0-d; np.ascontiguousarray would not)
    if a.dtype.kind == "f":
        return torch.from_numpy(np.array(a, dtype=dtype))
    if a.dtype.kind == "b":
        return torch.from_numpy(a.copy())
    return torch.from_numpy(np.array(a, dtype=np.int64))


def torch_result(torch, case: Case, dtype=np.float64) -> np.ndarray:
    import torch.nn.functional as F

    tensors = [to_torch(torch, t, dtype) for t in case.tensors]
    options = {k: to_torch(torch, v, dtype) if isinstance(v, np.ndarray) else v for k, v in case.options.items()}
    with warnings.catch_warnings():  # torch's own deprecation and broadcast warnings
        warnings.simplefilter("ignore")
        out = family_of(case.loss).torch_value(F, case, tensors, options)
    return out.detach().double().numpy()


def losscalc_result(case: Case, dtype: str = "float64"):
    from losscalc import compute

    return compute(case.loss, *case.tensors, reduction=case.reduction, dtype=dtype, **case.options)


def family_of(loss: str):
    for name in FAMILIES:
        module = family(name)
        if loss in module.LOSSES:
            return module
    raise KeyError(loss)


def torch_grads(torch, case: Case, dtype=np.float64) -> dict[str, np.ndarray]:
    """PyTorch autograd's gradient of the value (of the sum of the elements for `none`) with
    respect to each floating-point positional tensor it differentiates, by tensor name.

    Every floating-point tensor is asked for a gradient; where torch has no derivative for one
    (e.g. some targets), each is then tried alone and only those torch differentiates are kept.
    """
    from losscalc.registry import find

    import torch.nn.functional as F

    names = [t.name for t in find(case.loss).tensors]
    floating = [i for i, t in enumerate(case.tensors) if np.asarray(t).dtype.kind == "f"]

    def attempt(wanted):
        tensors = [to_torch(torch, t, dtype) for t in case.tensors]
        for i in wanted:
            tensors[i].requires_grad_(True)
        options = {k: to_torch(torch, v, dtype) if isinstance(v, np.ndarray) else v for k, v in case.options.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = family_of(case.loss).torch_value(F, case, tensors, options)
            out.sum().backward()  # the sum of a reduced value is the value
        return {names[i]: tensors[i].grad.double().numpy() for i in wanted if tensors[i].grad is not None}

    # One thread: torch's parallel CTC backward lets a label >= C write into another sample's
    # gradient, and then its answer depends on thread timing.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return attempt(floating)
    except (RuntimeError, NotImplementedError):
        grads = {}
        for i in floating:
            try:
                grads.update(attempt([i]))
            except (RuntimeError, NotImplementedError):
                pass
        return grads
    finally:
        torch.set_num_threads(threads)
