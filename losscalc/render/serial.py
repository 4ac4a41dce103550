"""The formats for scripts, written with the standard library only (scripted calls start
fast): the JSON object of SPEC §5 with the views (§10) and the conventions (§11), CSV a row
per element (or per ranked row), and the bare value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import LossError
from .rows import aligned_grads, chunk_columns, cell_json, index_text, json_value, number, ranked

if TYPE_CHECKING:
    from ..engine import Result

MAX_ELEMENTS = 1_000_000  # --max-elements: JSON carries the elements up to this many


def to_json(result: Result, max_elements: int = MAX_ELEMENTS) -> dict:
    """The JSON object of SPEC §5: the elements (and gradients) only when there are at most
    `max_elements` of them; beyond, null, and `elements_count` says how many there are."""
    options = {}
    for k, v in result.options.items():
        options[k] = json_value(v) if isinstance(v, np.ndarray) else v
    few = result.count <= max_elements and result.elements is not None
    shape = list(result.value.shape) if result.value is not None else list(result.elements_shape)
    doc = {
        "loss": result.loss.name,
        "reduction": result.reduction,
        "options": options,
        "dtype": result.dtype,
        "value": json_value(result.value) if result.value is not None and (few or result.value.ndim == 0)
        else None,
        "shape": shape if result.reduction == "none" else [],
        "elements": json_value(result.elements) if few else None,
        "elements_shape": list(result.elements_shape),
        "inputs": {
            name: {"shape": list(t.array.shape), "dtype": str(t.array.dtype), "source": t.source}
            for name, t in result.inputs.items()
        },
        "signature": result.signature,
    }
    if not few:
        doc["elements_count"] = result.count
    if result.grads is not None:
        doc["grad"] = {k: json_value(g) if g.size <= max_elements else None for k, g in result.grads.items()}
    return doc


def views_json(result: Result, max_rows: int) -> dict:
    """top, bottom, groups (SPEC §10), and the summary and histogram past --max-rows."""
    doc = {}
    for key in ("top", "bottom"):
        if key in result.views:
            doc[key] = ranked(result, key)
    if "groups" in result.views:
        doc["groups"] = [{k: json_value(np.asarray(v)) if k != "group" else cell_json(v) for k, v in g.items()}
                         for g in result.views["groups"]]
    if "summary" in result.views and result.count > max_rows:
        doc["summary"] = {k: json_value(np.asarray(v)) if not isinstance(v, bool) else v
                          for k, v in result.views["summary"].items()}
        doc["histogram"] = {k: json_value(np.asarray(v)) if k != "scale" else v
                            for k, v in result.views["histogram"].items()}
    return doc


def _convention_json(c) -> dict:
    return {"value": json_value(np.float64(c.value)), "function": c.function, "dtype": c.dtype,
            "differences": list(c.differences), "conversions": list(c.conversions)}


def conventions_json(result: Result) -> dict:
    """SPEC §11: under --convention, the framework's value is the value (PyTorch's elements are
    not the framework's, so they are left out); --compare adds every framework's."""
    doc = {}
    c = result.convention
    if c is not None:
        doc = {"value": json_value(np.float64(c.value)), "elements": None, "convention": {
            "name": c.framework, **_convention_json(c), "torch_value": json_value(result.value)}}
    if result.compared is not None:
        doc["conventions"] = {}
        for name, got in result.compared.items():
            if got is None:
                doc["conventions"][name] = {"value": json_value(result.value), "function": result.loss.matches,
                                            "differences": []}
            elif isinstance(got, LossError):
                doc["conventions"][name] = {"value": None, "refused": str(got)}
            else:
                doc["conventions"][name] = _convention_json(got)
    return doc


def value_text(value: np.ndarray) -> str:
    """The value alone: a scalar on one line, a vector one element per line, a matrix one row per line."""
    v = np.asarray(value)
    if v.ndim == 0:
        return number(v) + "\n"
    if v.ndim == 1:
        return "".join(number(x) + "\n" for x in v)
    rows = v.reshape(-1, v.shape[-1]) if v.size else v.reshape(0, 0)
    return "".join(" ".join(number(x) for x in row) + "\n" for row in rows)


def render_value(result: Result, stream) -> None:
    if result.value is not None:
        stream.write(value_text(result.value))
        return
    for _, out, _ in result.chunks():  # none, with more elements than kept: chunk by chunk
        e = out.elements
        stream.write(value_text(e if e.ndim < 2 else e.reshape(-1, e.shape[-1])))


def render_csv(result: Result, stream, precision):
    import csv

    writer = csv.writer(stream, lineterminator="\n")
    if "top" in result.views or "bottom" in result.views:  # the ranked rows only
        ranks = [(key, r) for key in ("top", "bottom") if key in result.views for r in ranked(result, key)]
        names = list(dict.fromkeys(n for _, r in ranks for n in r["terms"]))
        writer.writerow(["view", "index", "loss", *names])
        for key, r in ranks:
            writer.writerow([key, ",".join(map(str, r["index"])) or "()", number(r["loss"], precision),
                             *[number(r["terms"].get(n, ""), precision) for n in names]])
        return
    grads = aligned_grads(result)
    names: list[str] = []  # every chunk's columns (a term such as "ignored" may be some chunks' only)
    for _, out, arrays in ([] if result.first else result.chunks()):
        names += [n for n, _ in chunk_columns(result, out, arrays) if n not in names]
    header = None
    for start, out, arrays in result.chunks():
        columns = dict(chunk_columns(result, out, arrays))
        if header is None:
            names += [n for n in columns if n not in names]
            names = [n for n in names if n != "loss"] + ["loss"]  # the terms, then the loss
            header = ["index", *names, *(f"∂/∂{k}" for k in grads)]
            writer.writerow(header)
        flat = [np.asarray(columns[n]).reshape(-1) if n in columns else None for n in names]
        flat += [g.reshape(-1)[start:start + out.elements.size] for g in grads.values()]
        for i in range(out.elements.size):
            writer.writerow([index_text(start + i, result.elements_shape)] +
                            ["" if c is None else number(c[i], precision) for c in flat])
    if header is None:
        writer.writerow(["index", "loss"])
