"""Regenerate tests/golden/conventions.json from the real frameworks.

    KERAS_BACKEND=numpy python -m tests.make_golden_conventions

For every case of tests/conventions/test_against_frameworks.py (one per Equivalent, and a few extra tensor forms)
and the first seed, in float32 and float64 and each reduction the case checks, it records the
inputs, the options and the value the framework itself returned, with the framework's name and
version as its source. tests/conventions/test_against_frameworks.py::test_golden then checks losscalc.conventions
against these values without any framework installed.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("KERAS_BACKEND", "numpy")

import numpy as np  # noqa: E402

from tests.conventions import test_against_frameworks as tc  # noqa: E402


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def _source(framework: str, function: str, dtype: str) -> str:
    if framework == "keras":
        return f"keras {_version('keras')} {function}, KERAS_BACKEND=numpy, {dtype}"
    if framework == "optax":
        return f"optax {_version('optax')} {function} (jax {_version('jax')}, jax_enable_x64), {dtype}"
    return f"scikit-learn {_version('scikit-learn')} {function}, {dtype}"


def _encode(a: np.ndarray, dtype: str) -> dict:
    a = np.asarray(a)
    if a.dtype.kind == "f":
        a = a.astype(dtype)
        data = [float(v) for v in a.reshape(-1)]
    else:
        data = [int(v) for v in a.reshape(-1)]
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": data}


def _jsonable(options: dict) -> dict:
    return {k: (bool(v) if isinstance(v, (bool, np.bool_)) else v) for k, v in options.items()}


def main() -> None:
    cases = []
    seen = set()
    for case_id, key, make, oracle, variant, seed, reduction, dtype in tc.all_cases():
        for v in (0, 1, 2):  # every variant (shape, options) once, at the first seed
            if seed != tc.SEEDS[0]:
                continue
            tensors, options = tc.make_inputs(make, 10 + v, v)
            tensors = [np.asarray(t, dtype) if np.asarray(t).dtype.kind == "f" else np.asarray(t) for t in tensors]
            ident = "-".join(x for x in key if x) + f"-v{v}-{reduction}-{dtype}"
            if ident in seen:
                continue
            seen.add(ident)
            try:
                value, refused = oracle(tensors, options, reduction, dtype), None
            except ValueError as error:  # the framework refuses these inputs: the convention must too
                value, refused = None, str(error)
            cases.append({"id": ident, "key": list(key), "reduction": reduction, "dtype": dtype,
                          "options": _jsonable(options), "tensors": [_encode(t, dtype) for t in tensors],
                          "value": value, "refused": refused, "source": _source(key[0], key[2], dtype)})
    head = {"generator": "tests/make_golden_conventions.py",
            "note": "values computed by the real frameworks on the stored inputs; regenerate, never edit"}
    path = tc.GOLDEN
    body = ",\n".join(json.dumps(case) for case in cases)  # one case a line
    path.write_text(json.dumps(head)[:-1] + ', "cases": [\n' + body + "\n]}\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
