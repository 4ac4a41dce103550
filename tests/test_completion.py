"""losscalc/completion.py: completion after `FILE:` offers the names inside the file, read from
its header (issue 13)."""

import numpy as np
import pytest
from click.testing import CliRunner

from losscalc.cli import cli


def complete(words: str, cwd) -> list[str]:
    env = {"_LOSSCALC_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
    with pytest.MonkeyPatch.context() as m:
        m.chdir(cwd)
        out = CliRunner().invoke(cli, [], env=env, prog_name="losscalc").stdout
    return [line.split(",", 1)[1] for line in out.splitlines()]


def test_names_inside_files(tmp_path):
    np.savez(tmp_path / "run.npz", logits=np.ones(2), labels=np.zeros(2))
    (tmp_path / "eval.csv").write_text("y_pred,y_true\n0.5,1\n")
    assert sorted(complete("losscalc mse run.npz:", tmp_path)) == ["run.npz:labels", "run.npz:logits"]
    assert complete("losscalc mse eval.csv:y_t", tmp_path) == ["eval.csv:y_true"]
    safetensors = pytest.importorskip("safetensors.numpy")
    safetensors.save_file({"logits": np.ones((2, 3), np.float32), "labels": np.zeros(2, np.int64)},
                          str(tmp_path / "m.safetensors"))
    assert sorted(complete("losscalc ce m.safetensors:l", tmp_path)) == ["m.safetensors:labels", "m.safetensors:logits"]
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    pq.write_table(pa.table({"y_pred": [0.1], "y_true": [1.0]}), tmp_path / "e.parquet")
    assert complete("losscalc bce e.parquet:y_p", tmp_path) == ["e.parquet:y_pred"]
