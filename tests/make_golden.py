"""Regenerate the golden fixtures in tests/golden/ from PyTorch.

    python -m tests.make_golden            # every family
    python -m tests.make_golden regression  # one family

Each tests/golden/<family>.json holds the inputs of every case of tests/cases/<family>.py
(seed 0) and the value PyTorch computed for it in float64, with the torch version that
produced it. tests/test_golden.py checks losscalc against these files without torch.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from tests.cases import FAMILIES, family, torch_result

GOLDEN = Path(__file__).parent / "golden"


def encode(a) -> dict:
    a = np.asarray(a)
    data = [x if np.isfinite(x) else str(x) for x in a.reshape(-1).tolist()] if a.dtype.kind == "f" else a.reshape(-1).tolist()
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": data}


def main(names):
    for name in names:
        module = family(name)
        records = []
        for case in module.cases(np.random.default_rng(0)):
            records.append({
                "loss": case.loss,
                "reduction": case.reduction,
                "tensors": [encode(t) for t in case.tensors],
                "options": {k: encode(v) if isinstance(v, np.ndarray) else v for k, v in case.options.items()},
                "expected": encode(torch_result(torch, case)),
            })
        source = getattr(module, "PRODUCED_BY", "torch.nn.functional")
        doc = {
            "produced_by": f"torch {torch.__version__} {source}, float64, "
                           f"from tests/cases/{name}.py with seed 0, by tests/make_golden.py",
            "cases": records,
        }
        (GOLDEN / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{name}: {len(records)} cases")


if __name__ == "__main__":
    main(sys.argv[1:] or FAMILIES)
