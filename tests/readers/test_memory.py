"""Bounded memory (SPEC sections 9 and 12): big files read whole through the readers, chunk by
chunk, in a subprocess whose peak anonymous memory (RssAnon, sampled every 10 ms in a thread)
must stay under 300 MiB. Mapped file pages are not anonymous memory, so a memory-mapped
safetensors file costs only the chunk being converted; a Parquet column costs one batch.

- a safetensors pair, 4e8 float32 elements each (1.6 GB per file), read in 1e6-element chunks;
- a 2e7-row float64 Parquet file in 2**20-row row groups, and the same rows in one row group
  (pyarrow's default pre-buffering would hold the whole 160 MB row group);
- the same rows as a Feather (lz4-compressed Arrow IPC) file.

The files are written in blocks, never held in memory, under the test's tmp_path and deleted
after; the safetensors files are sparse (real blocks every few hundred MB, holes of zeros
between) so that writing 3.2 GB does not take a slow disk half a minute.
LOSSCALC_SKIP_BIG_FILES=1 skips these tests; they skip too without /proc or 8 GB of free disk.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

LIMIT_MIB = 300
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(
    os.environ.get("LOSSCALC_SKIP_BIG_FILES") == "1" or not os.path.exists("/proc/self/status"),
    reason="big-file memory tests skipped (LOSSCALC_SKIP_BIG_FILES=1, or no /proc)")

# Run in a subprocess: open each FILE:KEY given, read all rows in CHUNK-row steps, and print
# the float64 sums, the largest value seen, and the peak and starting RssAnon in MiB.
WORKER = r"""
import json, sys, threading, time
import numpy as np

def rss_anon():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024

peak, done = [0.0], []
def sample():
    while not done:
        peak[0] = max(peak[0], rss_anon())
        time.sleep(0.01)

from losscalc.readers.formats import open_tensor
for lib in sys.argv[2:3]:
    __import__(lib) if lib != "-" else None
start = rss_anon()
threading.Thread(target=sample, daemon=True).start()
chunk = int(sys.argv[1])
sums, last = [], []
for spec in sys.argv[3:]:
    path, key = spec.rsplit(":", 1)
    a = open_tensor(path, key, "input")
    total = 0.0
    for i in range(0, a.shape[0], chunk):
        rows = np.asarray(a[i:i + chunk], dtype=np.float64)
        total += float(rows.sum())
    sums.append(total)
    last.append(float(np.asarray(a[a.shape[0] - 1:a.shape[0]])[0]))
    del a
done.append(1)
time.sleep(0.01)
peak[0] = max(peak[0], rss_anon())
print(json.dumps({"sums": sums, "last": last, "peak": peak[0], "start": start}))
"""


def run_worker(chunk: int, preload: str, *specs: str) -> dict:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", WORKER, str(chunk), preload, *specs],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def need_disk(path, gigabytes: float) -> None:
    if shutil.disk_usage(path).free < gigabytes * 2**30:
        pytest.skip(f"needs {gigabytes} GB of free disk")


def write_safetensors_1d(path, key: str, n: int, block: np.ndarray, every: int) -> float:
    """A safetensors file of one float32 tensor of `n` elements, written through a memory
    map: `block` at every `every`-th block-sized step and at the last one, zeros (holes of a
    sparse file, which a disk need not write) between. Returns the float64 sum expected."""
    header = json.dumps({key: {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]},
                         "__metadata__": {"made_by": "test_formats_memory"}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + 4 * n)
    m = np.memmap(path, dtype="<f4", mode="r+", offset=8 + len(header), shape=(n,))
    starts = sorted({*range(0, n, every * len(block)), n - len(block)})
    for i in starts:
        m[i:i + len(block)] = block
    m.flush()
    del m
    return len(starts) * float(block.astype(np.float64).sum())


def test_safetensors_pair_of_4e8_float32_in_bounded_memory(tmp_path):
    need_disk(tmp_path, 8)
    n, b = 400_000_000, 1_000_000
    block_a = (np.arange(b) % 1000 * 0.25).astype(np.float32)
    block_b = (np.arange(b) % 7 - 3.5).astype(np.float32)
    a_path, b_path = tmp_path / "pred.safetensors", tmp_path / "target.safetensors"
    try:
        sum_a = write_safetensors_1d(a_path, "logits", n, block_a, every=25)
        sum_b = write_safetensors_1d(b_path, "labels", n, block_b, every=31)
        assert os.path.getsize(a_path) > 4 * n
        got = run_worker(b, "-", f"{a_path}:logits", f"{b_path}:labels")
    finally:
        for p in (a_path, b_path):
            p.unlink(missing_ok=True)
    assert got["sums"] == [sum_a, sum_b]
    assert got["last"] == [float(block_a[-1]), float(block_b[-1])]
    print(f"safetensors 2 x 4e8 float32: peak RssAnon {got['peak']:.0f} MiB "
          f"(at start {got['start']:.0f} MiB)")
    assert got["peak"] < LIMIT_MIB, got


def test_feather_2e7_rows_in_bounded_memory(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.feather as fe
    need_disk(tmp_path, 1)
    n = 20_000_000
    path = tmp_path / "eval.feather"
    try:  # lz4-compressed record batches of 65536 rows, pyarrow's defaults
        fe.write_feather(pa.table({"y_pred": np.arange(n, dtype=np.float64),
                                   "y": np.ones(n)}), path)
        got = run_worker(1_000_000, "pyarrow", f"{path}:y_pred")
    finally:
        path.unlink(missing_ok=True)
    assert got["sums"] == [float(n * (n - 1) // 2)] and got["last"] == [n - 1.0]
    print(f"feather 2e7 float64 rows: peak RssAnon {got['peak']:.0f} MiB")
    assert got["peak"] < LIMIT_MIB, got


@pytest.mark.parametrize("row_group", [2**20, 20_000_000])
def test_parquet_2e7_rows_in_bounded_memory(tmp_path, row_group):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    need_disk(tmp_path, 1)
    n, step = 20_000_000, 2_000_000
    path = tmp_path / "eval.parquet"
    schema = pa.schema([("y_pred", pa.float64()), ("y", pa.int64())])
    try:
        with pq.ParquetWriter(path, schema) as w:
            if row_group == n:  # one row group: the rows are given at once (written by a copy)
                w.write_table(pa.table({"y_pred": np.arange(n, dtype=np.float64),
                                        "y": np.zeros(n, np.int64)}, schema=schema),
                              row_group_size=n)
            else:
                for i in range(0, n, step):
                    w.write_table(pa.table({"y_pred": np.arange(i, i + step, dtype=np.float64),
                                            "y": np.ones(step, np.int64)}, schema=schema),
                                  row_group_size=row_group)
        groups = pq.ParquetFile(path).metadata.num_row_groups
        assert groups == (1 if row_group == n else 20)
        got = run_worker(1_000_000, "pyarrow", f"{path}:y_pred")
    finally:
        path.unlink(missing_ok=True)
    assert got["sums"] == [float(n * (n - 1) // 2)] and got["last"] == [n - 1.0]
    print(f"parquet 2e7 float64 rows in {groups} row groups: peak RssAnon {got['peak']:.0f} MiB "
          f"(at start, pyarrow imported: {got['start']:.0f} MiB)")
    assert got["peak"] < LIMIT_MIB, got
