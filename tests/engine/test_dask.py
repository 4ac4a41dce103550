"""--engine dask (SPEC §13) against a real dask.distributed cluster on the loopback interface.

A scheduler and two workers are started as processes (`dask scheduler`, `dask worker`) once
for the module, the workers in another directory than the tests (so relative paths must be
made absolute on the client), and stopped by their PIDs at the end, whatever happens. The
inputs are .npy shards of different lengths named so that natural order matters (part-2
before part-10), and LOSSCALC_CHUNK_ELEMENTS is small, so each run is many tasks.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("distributed")
pytest.importorskip("dask.array")

import losscalc  # noqa: E402
from losscalc.cli import cli  # noqa: E402
from losscalc.errors import LossError  # noqa: E402
from losscalc.tensors import load_tensor  # noqa: E402

CHUNK = "24"  # elements per chunk: dozens of tasks per run
N, C = 41, 5
LENGTHS = {"part-1": 6, "part-2": 17, "part-10": 11, "part-3": 7}  # natural order: 1, 2, 3, 10


def _start(args, cwd, log):
    return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=cwd, stdout=log, stderr=log,
                            env={k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"})


def _stop(proc) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


class Cluster:
    def __init__(self, root):
        self.root, self.procs, self.workers = root, [], []
        self.file = str(root / "scheduler.json")
        self.workdir = root / "elsewhere"
        self.workdir.mkdir()
        self.log = open(root / "cluster.log", "ab")

    def start_worker(self):
        proc = _start(["worker", "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                       "--scheduler-file", self.file], self.workdir, self.log)
        self.procs.append(proc)
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, n):
        self.client.wait_for_workers(n, timeout=60)
        deadline = time.time() + 30  # a killed worker is also gone from the scheduler's list
        while len(self.client.scheduler_info(n_workers=-1)["workers"]) != n and time.time() < deadline:
            time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from distributed import Client

    c = Cluster(tmp_path_factory.mktemp("dask"))
    c.client = None
    try:
        c.procs.append(_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", c.file], c.root, c.log))
        deadline = time.time() + 60
        while not os.path.exists(c.file) or not open(c.file).read().strip().endswith("}"):
            assert time.time() < deadline and c.procs[0].poll() is None, "the scheduler did not start"
            time.sleep(0.1)
        c.address = json.load(open(c.file))["address"]
        assert c.address.startswith("tcp://127.0.0.1:")
        c.start_worker(), c.start_worker()
        c.client = Client(scheduler_file=c.file, timeout=30, set_as_default=False)  # to watch the scheduler
        c.wait_for_workers(2)
        yield c
    finally:
        if c.client is not None:
            c.client.close()
        for proc in c.procs:
            _stop(proc)
        c.log.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Shards in natural order, the same rows cut differently for each tensor."""
    root = tmp_path_factory.mktemp("shards")
    rng = np.random.default_rng(14)
    whole = {
        "pred": rng.normal(size=(N, 3)),
        "target": rng.normal(size=(N, 3)),
        "logits": rng.normal(size=(N, C)) * 3,
        "labels": rng.integers(0, C, size=N),
        "logq": np.log(rng.dirichlet(np.ones(C), size=N)),
        "p": rng.dirichlet(np.ones(C), size=N),
    }
    cuts = [6, 17, 7, 11]  # part-1, part-2, part-3, part-10
    other = [13, 2, 20, 6]
    names = ["part-1", "part-2", "part-3", "part-10"]
    for k, (name, a) in enumerate(whole.items()):
        (root / name).mkdir()
        lengths = cuts if k % 2 == 0 else other
        for shard, lo, n in zip(names, np.cumsum([0, *lengths[:-1]]), lengths):
            np.save(root / name / f"{shard}.npy", a[lo:lo + n])
    np.save(root / "weight.npy", rng.uniform(0.5, 2, size=C))
    # CTC: log_probs (T, N, C) in one file; padded targets and the lengths as shards along N
    T, S, K = 12, 4, 6
    log_probs = rng.normal(size=(T, N, K))
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    whole.update(log_probs=log_probs, ctc_targets=rng.integers(1, K, size=(N, S)),
                 input_lengths=rng.integers(8, T + 1, size=N), target_lengths=rng.integers(1, S + 1, size=N))
    np.save(root / "log_probs.npy", log_probs)
    for name in ("ctc_targets", "input_lengths", "target_lengths"):
        (root / name).mkdir()
        for shard, lo, n in zip(names, np.cumsum([0, *cuts[:-1]]), cuts):
            np.save(root / name / f"{shard}.npy", whole[name][lo:lo + n])
    return root, whole


@pytest.fixture
def here(data, monkeypatch):
    """Run in the data's directory (relative paths), with small chunks, no DASK_SCHEDULER_ADDRESS."""
    monkeypatch.chdir(data[0])
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", CHUNK)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    # every .npy memory-mapped, as files above 16 MiB are: the plan then holds paths, which the
    # workers read themselves (small files would be read by the client and sent in the plan)
    monkeypatch.setattr("losscalc.readers.npy.MMAP_THRESHOLD", 0)
    return data[1]


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def value(*args, env=None) -> float:
    r = run(*args, "--format", "value", env=env)
    assert r.exit_code == 0, r.output
    return float(r.stdout)


def torch_value(name, whole):
    torch = pytest.importorskip("torch")
    t = {k: torch.from_numpy(np.asarray(v)) for k, v in whole.items()}
    F = torch.nn.functional
    if name == "mse":
        return F.mse_loss(t["pred"], t["target"]).item()
    if name == "l1":
        return F.l1_loss(t["pred"], t["target"], reduction="sum").item()
    if name == "cross_entropy":
        w = torch.from_numpy(np.load("weight.npy"))
        return F.cross_entropy(t["logits"], t["labels"], weight=w, ignore_index=2).item()
    if name == "kl_div":
        return F.kl_div(t["logq"], t["p"], reduction="batchmean").item()
    return F.ctc_loss(t["log_probs"], t["ctc_targets"], t["input_lengths"], t["target_lengths"]).item()


CASES = {
    "mse": ["pred", "target"],
    "l1": ["pred", "target", "--reduction", "sum"],
    "cross_entropy": ["logits/*.npy", "labels", "--weight", "weight.npy", "--ignore-index", "2"],
    "kl_div": ["logq", "p/", "--reduction", "batchmean"],
    "ctc": ["log_probs.npy", "ctc_targets", "input_lengths", "target_lengths"],
}


@pytest.mark.parametrize("name", CASES)
def test_dask_equals_local_and_torch(cluster, here, name):
    local = value(name, *CASES[name])
    dask = value(name, *CASES[name], "--engine", "dask", "--scheduler", cluster.address)
    assert dask == pytest.approx(local, rel=1e-12, abs=0)
    assert dask == pytest.approx(torch_value(name, here), rel=1e-10, abs=0)


def test_compute_api_and_the_environment_variable(cluster, here):
    kw = dict(weight="weight.npy", ignore_index=2)
    local = losscalc.compute("cross_entropy", "logits", "labels", **kw)
    dask = losscalc.compute("cross_entropy", "logits", "labels", engine="dask", scheduler=cluster.address, **kw)
    assert len(local.plan) > 8  # a tree of more than one level
    assert float(dask.value) == pytest.approx(float(local.value), rel=1e-12, abs=0)
    assert dask.partials.count == local.partials.count and dask.partials.ignored == local.partials.ignored
    assert dask.partials.denominator == pytest.approx(local.partials.denominator, rel=1e-12)
    env = {"DASK_SCHEDULER_ADDRESS": cluster.address}
    assert value("mse", "pred", "target", "--engine", "dask", env=env) == \
        pytest.approx(value("mse", "pred", "target"), rel=1e-12, abs=0)


def test_kernel_error_on_a_worker_is_the_same_loss_error(cluster, here, tmp_path):
    labels = np.array(here["labels"])
    labels[35] = C + 3  # in a late chunk: only that task fails
    np.save(tmp_path / "bad.npy", labels)
    args = ["cross_entropy", "logits", str(tmp_path / "bad.npy")]
    local = run(*args)
    dask = run(*args, "--engine", "dask", "--scheduler", cluster.address)
    assert local.exit_code == dask.exit_code == 2
    assert dask.stderr == local.stderr and "Traceback" not in dask.output


def test_elements_stream_to_the_output_file_in_order(cluster, here, tmp_path):
    a, b = tmp_path / "local.npy", tmp_path / "dask.npy"
    for out, engine in ((a, []), (b, ["--engine", "dask", "--scheduler", cluster.address])):
        r = run("kl_div", "logq", "p", "--reduction", "none", "--output", str(out), "--max-elements", "0", *engine)
        assert r.exit_code == 0, r.output
    assert np.array_equal(np.load(a), np.load(b))
    r = losscalc.compute("mse", "pred", "target", reduction="none", engine="dask", scheduler=cluster.address)
    assert np.array_equal(r.value, (here["pred"] - here["target"]) ** 2)

    def ours(dask_scheduler):
        return [str(k) for k in dask_scheduler.tasks if str(k).startswith("losscalc-")]

    deadline = time.time() + 10  # every chunk and combine task released once the run is over
    while cluster.client.run_on_scheduler(ours) and time.time() < deadline:
        time.sleep(0.05)
    assert cluster.client.run_on_scheduler(ours) == []


def test_unreadable_shard_is_named(cluster, here, tmp_path):
    for shard, n in (("part-2", 5), ("part-10", 9)):
        np.save(tmp_path / f"{shard}.npy", np.ones((n, 3)))
    opened = load_tensor(str(tmp_path / "*.npy"), "input")  # the client reads the headers only
    os.remove(tmp_path / "part-10.npy")
    with pytest.raises(LossError) as err:
        losscalc.compute("mse", opened, np.zeros((14, 3)), engine="dask", scheduler=cluster.address)
    message = str(err.value)
    assert "part-10.npy" in message and "input" in message and "workers read" in message.lower()


def test_unreachable_scheduler_exits_2_within_the_timeout(here):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the socket is
    address = f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    r = run("mse", "pred", "target", "--engine", "dask", "--scheduler", address, "--scheduler-timeout", "2")
    elapsed = time.monotonic() - started
    assert r.exit_code == 2 and address in r.stderr and "Traceback" not in r.output
    assert elapsed < 2 + 2  # the timeout, and the time to import distributed
    r = run("mse", "pred", "target", "--engine", "dask", "--scheduler", "tcp://127.0.0.1")
    assert r.exit_code == 2 and "'tcp://127.0.0.1' is not a Dask scheduler address" in r.stderr


def test_a_worker_killed_mid_run_changes_nothing(cluster, here, tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    for k, n in enumerate([70_000, 130_000, 100_000]):
        np.save(tmp_path / f"x-{k + 1}.npy", rng.normal(size=(n, 10)))
        np.save(tmp_path / f"y-{k + 1}.npy", rng.normal(size=(n, 10)))
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "10000")  # 300 tasks
    x, y = str(tmp_path / "x-*.npy"), str(tmp_path / "y-*.npy")
    local = losscalc.compute("huber", x, y, reduction="sum")
    got, failed = [], []

    def work():
        try:
            got.append(losscalc.compute("huber", x, y, reduction="sum", engine="dask", scheduler=cluster.address))
        except BaseException as exc:  # noqa: BLE001
            failed.append(exc)

    def done_chunks(dask_scheduler):
        return sum(ts.state == "memory" for key, ts in dask_scheduler.tasks.items()
                   if str(key).startswith("losscalc-chunk"))

    thread = threading.Thread(target=work)
    thread.start()
    try:
        deadline = time.time() + 30
        while cluster.client.run_on_scheduler(done_chunks) < 10:
            assert thread.is_alive() and time.time() < deadline, "the run ended before a worker could be killed"
            time.sleep(0.01)
        victim = cluster.workers.pop(0)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        assert thread.is_alive()  # killed mid-run
        thread.join(timeout=60)
        assert not thread.is_alive() and not failed, failed
        assert float(got[0].value) == pytest.approx(float(local.value), rel=1e-12, abs=0)
    finally:
        thread.join(timeout=60)
        cluster.start_worker()
        cluster.wait_for_workers(2)


def test_local_cluster_without_a_scheduler(here):
    local = value("cross_entropy", *CASES["cross_entropy"])
    dask = value("cross_entropy", *CASES["cross_entropy"], "--engine", "dask")
    assert dask == pytest.approx(local, rel=1e-12, abs=0)


def test_every_loss_example_in_chunks(cluster, monkeypatch):
    """Every registered loss, its example cut into one-item chunks: the same value and elements."""
    from losscalc.commands import compute_params, parse_example
    from losscalc.registry import losses

    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", "1")
    split = 0
    for loss in losses():
        params = parse_example(loss)
        for reduction in ("none", params["reduction"]):
            try:
                local = compute_params(loss, {**params, "reduction": reduction})
            except LossError:  # an example the local engine refuses is not this test's business
                continue
            dask = compute_params(loss, {**params, "reduction": reduction, "engine": "dask",
                                         "scheduler": cluster.address})
            split += len(local.plan) > 1
            got, want = np.asarray(dask.value, float), np.asarray(local.value, float)
            assert got.shape == want.shape, loss.name
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, equal_nan=True, err_msg=loss.name)
    assert split > 20


def test_warnings_and_non_finite_counts_as_the_local_engine(cluster, here, tmp_path):
    logq, p = np.array(here["logq"]), np.array(here["p"])
    logq[[9, 30], 1] = 0.5  # positive log-probabilities in two chunks: one warning, counted
    p[33, 2] = np.nan  # a NaN in a late chunk: counted on the worker
    np.save(tmp_path / "logq.npy", logq), np.save(tmp_path / "p.npy", p)
    args = ["kl_div", str(tmp_path / "logq.npy"), str(tmp_path / "p.npy"), "--reduction", "sum", "--format", "value"]
    local, dask = run(*args), run(*args, "--engine", "dask", "--scheduler", cluster.address)
    assert local.exit_code == dask.exit_code == 0
    assert "positive value(s)" in local.stderr and "1 NaN" in local.stderr
    assert dask.stderr == local.stderr and dask.stdout == local.stdout == "nan\n"


def test_relative_paths_are_made_absolute_for_the_workers(cluster, here, tmp_path, monkeypatch):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "pairs.h5", "w") as f:
        f["x"], f["y"] = here["pred"], here["target"]
    monkeypatch.chdir(tmp_path)  # the workers run in another directory: "pairs.h5" is not theirs
    got = value("mse", "pairs.h5:x", "pairs.h5:y", "--engine", "dask", "--scheduler", cluster.address)
    assert got == pytest.approx(value("mse", "pairs.h5:x", "pairs.h5:y"), rel=1e-12, abs=0)


def test_without_dask_the_install_line(here, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    r = run("mse", "pred", "target", "--engine", "dask")
    assert r.exit_code == 2 and "pip install 'losscalc[dask]'" in r.stderr


def _views_equal(local: dict, dask: dict) -> None:
    """SPEC §10's views of the two engines: the same ranks, groups and counts; the float64 sums
    of the groups and the summary's moments to 1e-12 (a tree groups the additions otherwise)."""
    assert dask["top"] == local["top"] and dask["bottom"] == local["bottom"]
    assert [(g["group"], g["count"]) for g in dask["groups"]] == [(g["group"], g["count"]) for g in local["groups"]]
    for d, l in zip(dask["groups"], local["groups"]):
        for key in ("value", "sum", "share"):
            assert d[key] == pytest.approx(l[key], rel=1e-12, abs=0), (d, l)
    assert dask.get("group_by") == local.get("group_by")
    assert dask["histogram"] == local["histogram"]
    s, t = dask["summary"], local["summary"]
    assert {k: v for k, v in s.items() if k not in ("mean", "std")} == {k: v for k, v in t.items() if k not in ("mean", "std")}
    assert s["mean"] == pytest.approx(t["mean"], rel=1e-12) and s["std"] == pytest.approx(t["std"], rel=1e-12)


def test_views_equal_the_local_engine(cluster, here):
    """--top/--bottom/--group-by and the summary with its histogram, many tasks deep."""
    args = ["cross_entropy", *CASES["cross_entropy"], "--top", "3", "--bottom", "2", "--group-by", "target",
            "--format", "json", "--max-rows", "5"]
    local = run(*args)
    dask = run(*args, "--engine", "dask", "--scheduler", cluster.address)
    assert local.exit_code == dask.exit_code == 0, (local.output, dask.output)
    local, dask = json.loads(local.stdout), json.loads(dask.stdout)
    assert {"top", "bottom", "groups", "summary", "histogram"} <= set(local)
    assert len(local["groups"]) == C and local["summary"]["count"] == N
    _views_equal(local, dask)
    assert dask["value"] == pytest.approx(local["value"], rel=1e-12, abs=0)
    assert dask["top"] == local["top"]  # with each entry's breakdown (re-run on the client)


def test_group_labels_from_a_file_and_the_api(cluster, here, tmp_path):
    """Labels of their own (a memory-mapped file the workers read by path), through compute()."""
    np.save(tmp_path / "groups.npy", np.arange(N) % 4)
    kw = dict(weight="weight.npy", ignore_index=2, top=4, bottom=3, group_by=str(tmp_path / "groups.npy"),
              summary=True)
    local = losscalc.compute("cross_entropy", "logits", "labels", **kw)
    dask = losscalc.compute("cross_entropy", "logits", "labels", engine="dask", scheduler=cluster.address, **kw)
    assert len(local.plan) > 8
    assert [g["group"] for g in local.views["groups"]] != [] and local.views["group_by"] == "group"
    _views_equal(local.views, dask.views)


def test_views_of_several_losses(cluster, here):
    args = ["mse,l1", "pred", "target", "--top", "2", "--bottom", "2", "--group-by", "pred", "--format", "json",
            "--max-rows", "5"]
    local, dask = run(*args), run(*args, "--engine", "dask", "--scheduler", cluster.address)
    assert local.exit_code == dask.exit_code == 0, (local.output, dask.output)
    for l, d in zip(json.loads(local.stdout)["results"], json.loads(dask.stdout)["results"]):
        _views_equal(l, d)


@pytest.mark.parametrize("chunk", ["7", "1000000"])  # many tasks; one chunk of inputs the client holds
def test_the_table_with_its_views_as_the_local_engine(cluster, monkeypatch, chunk):
    monkeypatch.setenv("LOSSCALC_CHUNK_ELEMENTS", chunk)
    args = ["cross_entropy", "randn(30,3)", "randint(0,3,(30,))", "--seed", "4", "--top", "2", "--bottom", "1",
            "--group-by", "target", "--max-rows", "5"]
    local, dask = run(*args), run(*args, "--engine", "dask", "--scheduler", cluster.address)
    assert local.exit_code == dask.exit_code == 0, dask.output
    assert "summary of the element losses" in local.stdout and "3 groups by target" in local.stdout
    assert dask.stdout == local.stdout
