"""`losscalc list` and `losscalc explain`, generated from the registry and the kernels' docstrings."""

from __future__ import annotations

import json

from .registry import Loss, losses


def list_rows() -> list[dict]:
    return [
        {
            "name": loss.name,
            "aliases": list(loss.aliases),
            "tensors": [t.name for t in loss.tensors],
            "options": [o.flag for o in loss.options],
            "reductions": list(loss.reductions),
            "torch": f"torch.nn.{loss.torch}" if loss.torch else None,
            "summary": loss.summary,
        }
        for loss in losses()
    ]


def render_list(fmt: str, stream) -> None:
    rows = list_rows()
    if fmt == "json":
        stream.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("loss", "aliases", "tensors", "options", "torch.nn")
    for r in rows:
        table.add_row(r["name"], ", ".join(r["aliases"]), " ".join(r["tensors"]), " ".join(r["options"]),
                      (r["torch"] or "").removeprefix("torch.nn."))
    Console(file=stream, markup=False, highlight=False).print(table)


def render_explain(loss: Loss, stream) -> None:
    stream.write(loss.doc + "\n")
