"""`losscalc list` and `losscalc explain`, generated from the registry and the kernels'
docstrings at run time, so they cannot drift from the code. (The files generated from the same
sources, the README's table and completions/, are `generate.py`'s.)
"""

from __future__ import annotations

import json
import re
import textwrap

from .registry import Loss, Option, losses

COMMON_OPTIONS = "--format table|json|value|csv, --dtype, --output, --precision, --max-rows, --grad, --seed"


def option_text(opt: Option) -> str:
    """An option as a user types it: `--margin 1.0`, `--weight T`, `--full`, `--p {1,2}`."""
    if opt.type is bool:
        return opt.flag if not opt.default else f"{opt.flag}/--no-{opt.flag[2:]}"
    if opt.type == "tensor":
        return f"{opt.flag} T"
    if opt.choices:
        return f"{opt.flag} {'|'.join(opt.choices)}"
    return f"{opt.flag} {opt.default}"


def default_text(opt: Option) -> str:
    if opt.type is bool:
        return "on" if opt.default else "off"
    return "none" if opt.default is None else str(opt.default)


def _type_name(opt: Option) -> str:
    return opt.type if isinstance(opt.type, str) else opt.type.__name__


def list_rows() -> list[dict]:
    """One row per loss: what `losscalc list --format json` prints."""
    return [
        {
            "name": loss.name,
            "aliases": list(loss.aliases),
            "tensors": [{"name": t.name, "kind": t.kind, "help": t.help} for t in loss.tensors],
            "options": [
                {"flag": o.flag, "type": _type_name(o), "default": o.default,
                 "choices": list(o.choices) if o.choices else None, "help": o.help,
                 "constraint": o.constraint.text if o.constraint else None}
                for o in loss.options
            ],
            "reductions": list(loss.reductions),
            "legacy_flags": loss.legacy,
            "torch": f"torch.nn.{loss.torch}" if loss.torch else None,
            "reference": loss.reference,
            "summary": loss.summary,
            "example": f"losscalc {loss.name} {loss.example}" if loss.example else None,
        }
        for loss in losses()
    ]


def console(stream):
    """A rich console on `stream`: its width, colour only on a terminal without NO_COLOR."""
    from rich.console import Console

    return Console(file=stream, markup=False, highlight=False)


WIDE = 150  # below this many columns, `list` puts each loss's details in one wrapped cell


def render_list(fmt: str, stream) -> None:
    if fmt == "json":
        stream.write(json.dumps(list_rows(), indent=2) + "\n")
        return
    from rich.table import Table

    out = console(stream)
    wide = out.width >= WIDE
    columns = ["loss", "tensors", "options", "reductions", "matches", "aliases"] if wide else ["loss", "details"]
    table = Table(*columns, header_style="bold")
    table.columns[0].no_wrap = True
    table.columns[0].style = "bold"
    for column in table.columns[1:]:
        column.overflow = "fold"
    for loss in losses():
        cells = [" ".join(t.name for t in loss.tensors), ", ".join(option_text(o) for o in loss.options),
                 " ".join(loss.reductions), loss.torch or loss.reference or "", ", ".join(loss.aliases)]
        if wide:
            table.add_row(loss.name, *cells)
        else:
            labels = ["tensors", "options", "reductions", "matches", "aliases"]
            table.add_row(loss.name, "\n".join(f"{k}: {v}" for k, v in zip(labels, cells) if v))
    out.print(table)
    note = f"Every loss also takes {COMMON_OPTIONS}. `losscalc explain LOSS` says more."
    stream.write("".join(line + "\n" for line in textwrap.wrap(note, out.width, break_on_hyphens=False)))


def render_explain(loss: Loss, stream) -> None:
    """Formula, tensors and shapes, options, pitfalls and a worked example, computed live."""
    from rich.table import Table
    from rich.text import Text

    out = console(stream)
    width = max(out.width, 40)

    def text(line, indent="  ", hang="    ", cut=False):  # wrapped to the width, continuation lines hung
        parts = textwrap.wrap(line, width, initial_indent=indent, subsequent_indent=hang,
                              break_on_hyphens=False, break_long_words=cut)
        for part in parts or [""]:
            out.print(Text(part), soft_wrap=True)

    def section(title, body=""):
        out.print()
        out.print(Text(title, style="bold cyan"))
        for line in body.splitlines():
            text(line)

    def table(*columns, rows):
        t = Table(*columns, box=None, padding=(0, 2, 0, 2), header_style="bold")
        for row in rows:
            t.add_row(*row)
        with out.capture() as captured:
            out.print(t)
        stream.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))

    title = textwrap.wrap(f"{loss.name} — {loss.summary}", width, subsequent_indent="  ", break_on_hyphens=False)
    out.print(Text.assemble((loss.name, "bold"), title[0][len(loss.name):]), soft_wrap=True)
    for part in title[1:]:
        out.print(Text(part), soft_wrap=True)
    if loss.torch:
        text(f"PyTorch: torch.nn.{loss.torch}")
    elif loss.reference:
        text(f"Reference: {loss.reference} (PyTorch has no such loss)")
    if loss.aliases:
        text("Also called: " + ", ".join(loss.aliases))
    if loss.section("Formula"):
        section("Formula", loss.section("Formula"))
    section("Tensors, in order")
    table("tensor", "kind", "meaning", rows=[(t.name, t.kind, t.help) for t in loss.tensors])
    if loss.section("Shape"):
        section("Shape", reflow(loss.section("Shape")))
    section("Options")
    rows = [(option_text(o).split(" ")[0], default_text(o),
             o.help_text) for o in loss.options]
    rows.append(("--reduction", "mean", " | ".join(loss.reductions)))
    if loss.legacy:
        rows.append(("--size-average, --reduce", "", "PyTorch's deprecated flags, mapped to a reduction"))
    table("option", "default", "meaning", rows=rows)
    text(f"Every loss also takes {COMMON_OPTIONS}.")
    if loss.pitfalls:  # what users trip on: the kernel author's word, in the registry entry
        section("Pitfalls")
        for p in loss.pitfalls:
            text(p, indent="  • ")
    if loss.section("References"):
        section("References", reflow(loss.section("References")))
    from .conventions import describe  # what Keras, optax and scikit-learn have of it

    section("Other frameworks (--convention, --compare)")
    for line in describe(loss.name):
        stripped = line.lstrip()
        text(stripped, indent="  " + " " * (len(line) - len(stripped)), hang="      ", cut=True)  # long calls
    if loss.example:
        section("Worked example")
        out.print(Text(f"  $ losscalc {loss.name} {loss.example}"), soft_wrap=True)  # kept whole: copyable
        _render_example(loss, stream)


def reflow(prose: str) -> str:
    """Docstring prose as one line per paragraph (or list item), to be wrapped to the terminal."""
    lines: list[str] = []
    for line in prose.splitlines():
        starts_item = re.match(r"(- |• |\w[\w ]*: )", line)
        if lines and lines[-1] and line and not starts_item:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line.strip())
    return "\n".join(lines)


def _render_example(loss: Loss, stream) -> None:
    from .commands import compute_params, parse_example
    from .render import render

    result = compute_params(loss, parse_example(loss))
    render(result, "table", stream)
