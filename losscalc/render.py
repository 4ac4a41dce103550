"""The one renderer: a Result in, text on a stream out, in the format asked for.

`table` draws with rich (imported only here, only when a table is drawn); `json`, `value` and
`csv` use the standard library, so scripted calls start fast. `save_elements` writes the
unreduced losses for `--output`, atomically.
"""

from __future__ import annotations

import os

import numpy as np

from .engine import Result
from .errors import LossError

FORMATS = ("table", "json", "value", "csv")


def number(x, precision: int | None = None) -> str:
    """A number as text: shortest round-trip repr, or `precision` significant digits.
    Text terms (e.g. a CTC alignment) pass through as they are."""
    if isinstance(x, (str, np.str_)) or (isinstance(x, np.ndarray) and x.dtype.kind in "OUS"):
        return str(x)
    if isinstance(x, (np.integer, int)) or (isinstance(x, np.ndarray) and x.dtype.kind in "iub"):
        return str(int(x))
    x = np.asarray(x)[()]
    if not np.isfinite(x):
        return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")
    if precision is None:
        return str(x if isinstance(x, np.floating) else np.float64(x))
    return f"{float(x):.{precision}g}"


def _json_value(a: np.ndarray):
    """Nested lists of JSON-ready numbers (a number for 0-d); non-finite numbers as strings."""
    a = np.asarray(a)
    if a.dtype.kind in "iub":
        return a.astype(np.int64).tolist()
    if a.dtype != np.float64:  # float32: its shortest repr, read back as float64, prints the same
        a = a.astype(str).astype(np.float64)
    finite = np.isfinite(a)
    if finite.all():
        return a.tolist()  # Python floats: json writes their round-trip repr
    out = a.astype(object)
    out[np.isnan(a)] = "nan"
    out[a == np.inf] = "inf"
    out[a == -np.inf] = "-inf"
    return out.tolist()


def _breakdown(result: Result):
    """Column names and a function giving the cells of one element (by flat index)."""
    shape = result.elements.shape
    columns: list[tuple[str, np.ndarray]] = []
    for name, t in result.inputs.items():
        a = t.array
        if name.startswith("--") or name in result.terms or a.ndim > len(shape):
            continue  # a term of the same name is the input as the kernel aligned it
        if result.shown_inputs is not None and name not in result.shown_inputs:
            continue
        try:
            columns.append((name, np.broadcast_to(a, shape)))
        except ValueError:
            continue
    for name, a in result.terms.items():
        try:
            columns.append((name, np.broadcast_to(np.asarray(a), shape)))
        except ValueError:
            continue
    columns.append(("loss", result.elements))
    for name, g in _aligned_grads(result).items():
        columns.append((f"∂/∂{name}", g))
    return ["index"] + [c[0] for c in columns], columns


def _aligned_grads(result: Result) -> dict[str, np.ndarray]:
    """The gradients of the elements' own shape: a breakdown column each."""
    return {k: g for k, g in (result.grads or {}).items() if g.shape == result.elements.shape}


def grads_text(result: Result, precision: int | None, limit: int) -> str:
    """The gradients that are not breakdown columns, each with its shape (values when few)."""
    lines = []
    for name, g in (result.grads or {}).items():
        if name in _aligned_grads(result):
            continue
        head = f"∂value/∂{name}, shape {tuple(g.shape)}"
        if g.size > limit:
            lines.append(f"{head}: {g.size} values, shown by --format json")
        else:
            rows = g.reshape(-1, g.shape[-1]) if g.ndim > 1 else g.reshape(1, -1)
            lines.append(head + ":")
            lines += ["  " + " ".join(number(x, precision) for x in row) for row in rows]
    return "\n".join(lines)


def _rows(result: Result, max_rows: int | None):
    """Flat element indices to show: all, or head and tail; and how many are left out."""
    n = result.elements.size
    if max_rows is None or n <= max_rows:
        return list(range(n)), 0
    head = (max_rows + 1) // 2
    tail = max_rows - head
    return list(range(head)) + list(range(n - tail, n)), n - max_rows


def _index_text(flat: int, shape) -> str:
    if not shape:
        return "()"
    idx = np.unravel_index(flat, shape)
    return ",".join(str(int(i)) for i in idx)


def arithmetic_text(result: Result, precision: int | None) -> str:
    """The reduction written out with the numbers in force."""
    a = result.arithmetic
    fmt = lambda x: number(x, precision)  # noqa: E731
    value = fmt(result.value) if result.value.ndim == 0 else ""
    if a.reduction == "none":
        text = f"none: the {a.count} element losses are the value (sum would be {fmt(result.elements.sum())})"
    elif a.reduction == "sum":
        text = f"sum = {a.numerator_label} over {a.count} elements = {value}"
    elif a.reduction == "batchmean":
        text = f"batchmean = Σ l / batch size = {fmt(a.numerator)} / {a.denominator} = {value}"
    else:
        den = a.denominator
        whole = a.denominator_label == "N" and np.isfinite(den) and float(den) == int(den)
        den_text = str(int(den)) if whole else fmt(den)
        text = f"mean = {a.numerator_label} / {a.denominator_label} = {fmt(a.numerator)} / {den_text} = {value}"
    return "\n".join([text, *a.notes])


def header_text(result: Result) -> str:
    opts = []
    for k, v in result.options.items():
        if isinstance(v, np.ndarray):
            v = f"tensor{list(v.shape)}"
        opts.append(f"{k}={v}")
    parts = [result.loss.name, f"reduction={result.reduction}", result.dtype, *opts]
    return "  ".join(parts)


def render(result: Result, fmt: str, stream, *, precision: int | None = None, max_rows: int = 20, width=None):
    if fmt == "json":
        import json

        stream.write(json.dumps(to_json(result)) + "\n")
    elif fmt == "value":
        stream.write(value_text(result.value))
    elif fmt == "csv":
        _render_csv(result, stream, precision)
    else:
        _render_table(result, stream, precision, max_rows, width)


def to_json(result: Result) -> dict:
    options = {}
    for k, v in result.options.items():
        options[k] = _json_value(v) if isinstance(v, np.ndarray) else v
    return {
        "loss": result.loss.name,
        "reduction": result.reduction,
        "options": options,
        "dtype": result.dtype,
        "value": _json_value(result.value),
        "shape": list(result.value.shape),
        "elements": _json_value(result.elements),
        "elements_shape": list(result.elements.shape),
        "inputs": {
            name: {"shape": list(t.array.shape), "dtype": str(t.array.dtype), "source": t.source}
            for name, t in result.inputs.items()
        },
        "signature": result.signature,
        **({"grad": {k: _json_value(g) for k, g in result.grads.items()}} if result.grads is not None else {}),
    }


def value_text(value: np.ndarray) -> str:
    """The value alone: a scalar on one line, a vector one element per line, a matrix one row per line."""
    v = np.asarray(value)
    if v.ndim == 0:
        return number(v) + "\n"
    if v.ndim == 1:
        return "".join(number(x) + "\n" for x in v)
    rows = v.reshape(-1, v.shape[-1]) if v.size else v.reshape(0, 0)
    return "".join(" ".join(number(x) for x in row) + "\n" for row in rows)


def _render_csv(result: Result, stream, precision):
    import csv

    names, columns = _breakdown(result)
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(names)
    flat = [np.asarray(c).reshape(-1) for _, c in columns]
    for i in range(result.elements.size):
        writer.writerow([_index_text(i, result.elements.shape)] + [number(c[i], precision) for c in flat])


TABLE_PRECISION = 10  # significant digits in tables unless --precision says otherwise


def _render_table(result: Result, stream, precision, max_rows, width):
    from rich.console import Console
    from rich.table import Table

    class _Console(Console):
        def on_broken_pipe(self):  # let the CLI end quietly, as for the other formats
            raise BrokenPipeError

    precision = precision or TABLE_PRECISION
    console = _Console(file=stream, markup=False, highlight=False, width=width, soft_wrap=False)
    console.print(header_text(result), soft_wrap=True)
    shape = str(tuple(result.value.shape))
    if result.value.ndim == 0:
        console.print(f"value: {number(result.value)}   shape: {shape}")
    else:
        console.print(f"value: the {result.value.size} element losses below   shape: {shape}")
    names, columns = _breakdown(result)
    rows, left_out = _rows(result, max_rows)
    table = Table(*names, show_edge=True)
    for column in table.columns:
        column.overflow = "fold"  # never cut a number short
    for column in table.columns[1:]:
        column.justify = "right"
    flat = [np.asarray(c).reshape(-1) for _, c in columns]
    head = (max_rows + 1) // 2 if left_out else len(rows)
    for k, i in enumerate(rows):
        if left_out and k == head:
            table.add_row(f"… {left_out} rows left out", *["…"] * (len(names) - 1))
        table.add_row(_index_text(i, result.elements.shape), *[number(c[i], precision) for c in flat])
    if result.elements.size:
        console.print(table)
    console.print(arithmetic_text(result, precision), soft_wrap=True)
    if result.grads == {}:
        console.print("no gradient: PyTorch differentiates none of these tensors here", soft_wrap=True)
    elif result.grads:
        text = grads_text(result, precision, limit=max_rows * 8)
        if text:
            console.print(text, soft_wrap=True)


def _file_mode(path: str) -> int:
    """The mode the saved file should have: the replaced file's, else what open() would give."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def save_elements(path: str, elements: np.ndarray) -> None:
    """Write the unreduced losses to .npy, .csv or .json through a temporary file and a rename."""
    import io
    import json
    import tempfile

    if os.path.isdir(path):
        raise LossError(f"--output: {path!r} is a directory; give a file name.")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".npy", ".csv", ".json"):
        raise LossError(f"--output: {path!r} must end in .npy, .csv or .json.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise LossError(f"--output: the directory of {path!r} does not exist.")
    if suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(elements), allow_pickle=False)
        data = buffer.getvalue()
    elif suffix == ".json":
        data = (json.dumps(_json_value(elements)) + "\n").encode()
    else:
        rows = elements.reshape(-1, elements.shape[-1]) if elements.ndim > 1 and elements.size else elements.reshape(-1, 1)
        data = "".join(",".join(number(x) for x in row) + "\n" for row in rows).encode()
    fd, tmp = None, None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".losscalc-", suffix=suffix, dir=directory)
        os.fchmod(fd, _file_mode(path))
        with os.fdopen(fd, "wb") as f:
            fd = None
            f.write(data)
        os.replace(tmp, path)
        tmp = None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise LossError(f"--output: could not write {path!r}: {getattr(e, 'strerror', None) or e}.") from None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
