"""Training on several processes (DDP under torchrun, gloo on the CPU) and the GPU fast path's
settings, checked on the CPU.

Two processes with the same global batch make the same optimizer steps as one process:
every rank takes half of each global batch and DDP averages the gradients. The numbers
still differ in the last bits, because the sums are added in another order (each rank
sums its half, then the all-reduce adds the halves; the mean of the two half-batch
gradients is not bit-identical to the full-batch gradient in float32). Over a few dozen
SGD steps on a small MLP that stays around 1e-6 relative; the tolerance is 1e-4.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from builder import load_graph
from builder.training import distributed
from builder.training.engine import Trainer, TrainingError
from builder.training.events import EventBus, read_events
from builder.training.checkpoint_store import checkpoints_in
from builder.training.runs import RunFolder
from builder.training.settings import resolve_settings
from tests.conftest import ROOT

# 401 digits -> 321 train / 80 val samples; 321 = 13 batches of 24 and a last one of 9,
# which two ranks split 5 / 4 (the uneven split is weighted to match one process)
MLP = """
format: 1
name: mlp
nodes:
  pixels: {block: input, params: {shape: [64]}}
  fc1: {block: linear, params: {out_features: 32}, inputs: [pixels]}
  act: {block: relu, inputs: [fc1]}
  fc2: {block: linear, params: {out_features: 10}, inputs: [act]}
  y: {block: output, inputs: [fc2]}
training:
  data: {name: digits, limit: 401}
  epochs: 2
  batch_size: 24
  optimizer: sgd
  lr: 0.05
  log_every: 4
  diagnostics_every: 3
  device: cpu
"""
TOLERANCE = 1e-4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


def _run(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    done = subprocess.run(args, check=False, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def single(*args: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "builder", "train", *args, "-q"])


def torchrun(*args: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                 "--master-port", str(_free_port()), "-m", "builder", "train", *args, "-q"])


def epochs(run: Path) -> list[dict]:
    return [e for e in read_events(str(run / "metrics.jsonl")) if e["event"] == "epoch"]


def assert_same_curve(a: list[dict], b: list[dict]) -> None:
    assert [e["epoch"] for e in a] == [e["epoch"] for e in b]
    for x, y in zip(a, b):
        for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            assert x[key] == pytest.approx(y[key], rel=TOLERANCE, abs=TOLERANCE), (key, x, y)


def assert_close_weights(a: Path, b: Path) -> None:
    wa, wb = load_file(str(a)), load_file(str(b))
    assert wa.keys() == wb.keys()  # DDP's "module." prefix never reaches a checkpoint
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=TOLERANCE, atol=TOLERANCE)


def newest_weights(run: Path) -> Path:
    return checkpoints_in(run / "checkpoints")[0].weights


def test_two_processes_follow_the_single_process_curve_and_resume(tmp_path):
    graph = tmp_path / "mlp.yaml"
    graph.write_text(MLP)
    one, two = tmp_path / "one", tmp_path / "two"
    single(str(graph), "--out", str(one))
    done = torchrun(str(graph), "--out", str(two))
    assert done.stdout.count("completed:") == 1  # rank 0 reports for both
    assert_same_curve(epochs(one), epochs(two))
    assert_close_weights(newest_weights(one), newest_weights(two))
    # one run folder, written once: one run_started, one metrics.jsonl, one set of checkpoints
    events = read_events(str(two / "metrics.jsonl"))
    assert [e["event"] for e in events].count("run_started") == 1
    assert sorted(p.name for p in (two / "checkpoints").iterdir()) == [
        "step-000000014", "step-000000028"]  # 2 epochs of 14 steps: one folder per checkpoint
    assert sorted(p.name for p in (two / "checkpoints/step-000000028").iterdir()) == [
        "state.safetensors", "weights.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.yaml", "one", "two"]
    summary = json.loads((two / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["epochs"] == 2
    assert any(e["event"] == "gradients" for e in events)  # diagnostics from rank 0
    # --resume: every rank loads the checkpoint and the run goes on as one process would;
    # started with --nproc, which runs torchrun itself
    single("--resume", str(one), "--epochs", "3")
    _run([sys.executable, "-m", "builder", "train", "--resume", str(two), "--epochs", "3", "--nproc", "2", "-q"])
    assert_same_curve(epochs(one), epochs(two))
    assert len(epochs(two)) == 3
    assert_close_weights(newest_weights(one), newest_weights(two))


def test_ctrl_c_under_torchrun_checkpoints_and_resume_finishes(tmp_path):
    """A Ctrl-C reaches torchrun and both workers: they agree to stop at a log step, rank 0
    writes a mid-epoch checkpoint, and --resume under torchrun finishes the run."""
    import signal
    import time

    graph = tmp_path / "mlp.yaml"
    graph.write_text(MLP.replace("epochs: 2", "epochs: 400").replace("limit: 401", "limit: 1000"))
    run = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                              "--master-port", str(_free_port()), "-m", "builder", "train", str(graph), "--out",
                              str(run), "-q"], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not checkpoints_in(run / "checkpoints"):
            time.sleep(0.2)  # the first epoch's checkpoint: training is under way
        os.killpg(child.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    events = read_events(str(run / "metrics.jsonl"))
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "stopped"
    stopped = events[-1]["summary"]["epochs"]
    _run([sys.executable, "-m", "builder", "train", "--resume", str(run), "--epochs", str(stopped + 1),
          "--nproc", "2", "-q"])
    assert len(epochs(run)) == stopped + 1
    finished = read_events(str(run / "metrics.jsonl"))[-1]
    assert finished["event"] == "run_finished" and finished["status"] == "completed"


def test_ranks_split_each_global_batch():
    """Each rank takes its slice of every global batch, with arrays and with a Dataset (the
    DataLoader path); together they are exactly the single-process batches."""
    from torch.utils.data import Dataset

    from builder.data import ArrayData
    from builder.training.batches import batch_count, training_batches

    class Plain(Dataset):
        def __init__(self, arrays):
            self.arrays = arrays

        def __len__(self):
            return len(self.arrays.targets)

        def __getitem__(self, i):
            return tuple(t[i] for t in self.arrays.inputs), self.arrays.targets[i]

    data = ArrayData([torch.arange(23.0).reshape(23, 1)], torch.arange(23))
    order = torch.randperm(23, generator=torch.Generator().manual_seed(1))
    cpu = torch.device("cpu")
    for source in (data, Plain(data)):
        whole = [y.tolist() for _, y in training_batches(source, order, 1, 6, cpu)]
        parts = [[y.tolist() for _, y in training_batches(source, order, 1, 6, cpu, 0, r, 2)] for r in (0, 1)]
        assert [a + b for a, b in zip(*parts)] == whole  # 23 = 3 x 6 + 5: the last splits 3 / 2
        assert [len(y) for y in parts[0]] == [3, 3, 3] and [len(y) for y in parts[1]] == [3, 3, 2]
    # a last batch smaller than the number of processes is left out on every rank
    assert batch_count(23, 6, 1) == 4 and batch_count(23, 6, 2) == 4 and batch_count(19, 6, 2) == 3
    parts = [list(training_batches(data, order[:19], 0, 6, cpu, 0, r, 2)) for r in (0, 1)]
    assert len(parts[0]) == len(parts[1]) == 3


def test_nproc_builds_the_torchrun_command():
    cmd = distributed.torchrun_command(["train", "g.yaml", "--nproc", "4", "--epochs", "3", "--nproc=4"], 4,
                                       python="py")
    assert cmd == ["py", "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=4", "-m", "builder",
                   "train", "g.yaml", "--epochs", "3"]


def test_environment_describes_the_world(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    world = distributed.env_world()
    assert (world.size, world.rank, world.local_rank, world.enabled, world.main) == (4, 2, 0, True, False)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not distributed.env_world().enabled


def test_the_global_batch_must_divide_among_the_processes(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "init_from_env", lambda: distributed.World(4, 0, 0))
    graph = tmp_path / "mlp.yaml"
    graph.write_text(MLP)
    settings = resolve_settings(load_graph(graph).training, {"batch_size": 30})
    with pytest.raises(TrainingError, match="batch_size 30 does not divide among 4 processes") as err:
        Trainer(load_graph(graph), settings, RunFolder.at(tmp_path / "run")).run()
    assert "multiple of 4" in err.value.hint


def _train_in_process(tmp_path, name, **overrides):
    graph = tmp_path / "g.yaml"
    if not graph.exists():
        graph.write_text(MLP)
    bus = EventBus()
    events: list[dict] = []
    bus.subscribe(events.append)
    settings = resolve_settings(load_graph(graph).training, {"epochs": 1, **overrides})
    run = RunFolder.at(tmp_path / name)
    summary = Trainer(load_graph(graph), settings, run, bus=bus).run()
    return summary, events, run


def test_compiled_model_trains_and_saves_plain_weights(tmp_path):
    pytest.importorskip("torch._inductor")
    summary, _, run = _train_in_process(tmp_path, "compiled", compile=True)
    assert summary["status"] == "completed"
    keys = set(load_file(str(newest_weights(run.root))))
    assert keys and not any("_orig_mod" in k for k in keys)
    _, _, plain = _train_in_process(tmp_path, "plain")
    assert keys == set(load_file(str(newest_weights(plain.root))))


def test_channels_last_trains_a_convolutional_graph(tmp_path):
    lenet = ROOT / "graphs/lenet5.yaml"
    settings = resolve_settings(load_graph(lenet).training, {
        "data": {"name": "digits", "limit": 200}, "epochs": 1, "batch_size": 32, "channels_last": True,
        "device": "cpu"})
    assert settings["channels_last"] == "true"
    trainer = Trainer(load_graph(lenet), settings, RunFolder.at(tmp_path / "cl"))
    summary = trainer.run()
    assert summary["status"] == "completed" and trainer.memory_format is torch.channels_last
    conv = trainer.model.get_submodule("conv1").weight
    assert conv.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_no_device_sync_between_log_steps(tmp_path):
    """With torch's sync debug mode on, a run of many steps syncs only at log steps, epoch
    ends and diagnostic flushes, not once per step."""
    import warnings

    steps = 40
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            summary, _, _ = _train_in_process(tmp_path, "sync", device="cuda", batch_size=8,
                                              data={"name": "digits", "limit": 8 * steps, "val_split": 0},
                                              log_every=1000, diagnostics_every=7)
        finally:
            torch.cuda.set_sync_debug_mode(0)
    assert summary["status"] == "completed"
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) < steps // 2, [str(w.message) for w in syncs[:5]]


def test_a_killed_distributed_run_resumes_from_a_whole_checkpoint_bit_for_bit(tmp_path):
    """Rank 0 killed (SIGKILL) while writing a checkpoint: torchrun ends the other rank, and
    --resume under torchrun continues from the newest whole checkpoint, a mid-epoch one,
    to exactly the weights of an uninterrupted two-process run."""
    from builder.faults import ENV as CRASH_ENV

    graph = tmp_path / "mlp.yaml"  # 14 steps an epoch; checkpoints at 5, 10, 14 (end), 15, ...
    graph.write_text(MLP.replace("log_every: 4", "log_every: 4\n  checkpoint_every: 5"))
    whole, run = tmp_path / "whole", tmp_path / "run"
    torchrun(str(graph), "--out", str(whole))
    killed = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                             "--master-port", str(_free_port()), "-m", "builder", "train", str(graph), "--out",
                             str(run), "-q"], cwd=ROOT, env={**_env(), CRASH_ENV: "checkpoint.state-written@3"},
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode != 0
    assert [c.name for c in checkpoints_in(run / "checkpoints")] == ["step-000000010", "step-000000005"]
    _run([sys.executable, "-m", "builder", "train", "--resume", str(run), "--nproc", "2", "-q"])
    assert not [p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    a, b = load_file(str(newest_weights(run))), load_file(str(newest_weights(whole)))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
