"""Shell completion: loss names and aliases, and tensor paths, with the names inside a file
after `FILE:` (read from its header only; completion never fails), and the scripts that
`losscalc completion bash|zsh|fish` prints.
"""

from __future__ import annotations

import os

from .registry import losses

SHELLS = ("bash", "zsh", "fish")


def complete_path(ctx, param, incomplete):
    """Tensors are often files: let the shell complete paths (inline values need no help);
    after `FILE:`, the names inside the file (safetensors tensors, Parquet columns, HDF5
    datasets, Zarr arrays, .npz members, CSV header names), read from its header only."""
    from click.shell_completion import CompletionItem

    path, sep, key = incomplete.rpartition(":")
    if sep and os.path.exists(path):
        return [CompletionItem(f"{path}:{name}") for name in names_in_file(path) if name.startswith(key)]
    return [CompletionItem(incomplete, type="file")]


def names_in_file(path: str) -> list[str]:
    """What may follow `path:`; [] when nothing (completion never fails)."""
    from .readers.formats import names_in

    lower = path.lower()
    try:
        if lower.endswith(".npz"):
            import zipfile

            return [n.removesuffix(".npy") for n in zipfile.ZipFile(path).namelist()]
        if lower.endswith((".csv", ".tsv", ".txt")):
            with open(path, encoding="utf-8-sig") as f:
                first = f.readline()
            delimiter = "\t" if lower.endswith(".tsv") else ","
            return [c.strip() for c in first.split(delimiter)]
    except (OSError, ValueError):
        return []
    return names_in(path)


def complete_loss(ctx, param, incomplete):
    """Loss names for `losscalc explain`."""
    return loss_completions(incomplete)


def loss_completions(incomplete: str, extra=()) -> list:
    """Names and aliases starting with `incomplete` (exactly, else ignoring case and `-`/`_`);
    with nothing typed yet, the canonical names only: aliases would bury them."""
    from click.shell_completion import CompletionItem

    from .registry import normalise

    items = [(name, help) for name, help in extra]
    for loss in losses():
        items.append((loss.name, loss.summary))
        if incomplete:
            items += [(alias, f"= {loss.name}") for alias in loss.aliases]
    exact = [(n, h) for n, h in items if n.startswith(incomplete)]
    chosen = exact or [(n, h) for n, h in items if normalise(n).startswith(normalise(incomplete))]
    return [CompletionItem(n, help=h) for n, h in chosen]


def completion_script(shell: str) -> str:
    """Click's completion script for `shell`: what `_LOSSCALC_COMPLETE={shell}_source losscalc`
    prints. The script asks losscalc for candidates at each TAB, so new losses complete at once."""
    from click.shell_completion import ShellComplete, get_completion_class

    from .cli import cli  # the application whose commands are completed

    comp = get_completion_class(shell)(cli, {}, "losscalc", "_LOSSCALC_COMPLETE")
    return ShellComplete.source(comp)  # the template alone (bash's source() also probes the bash version)
