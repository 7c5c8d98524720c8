"""``max_steps`` (a quick run: N optimizer steps, then one validation) and the estimate of
one epoch's time and memory told before the first epoch (builder/training/estimate.py)."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from builder import load_graph
from builder.cli import main
from builder.training.checkpoint_store import checkpoints_in
from builder.training.engine import Trainer
from builder.training.estimate import duration_text, estimate_line
from builder.training.events import EVENT_FIELDS, EventBus
from builder.training.runs import RunFolder
from builder.training.settings import SettingsError, resolve_settings
from tests.conftest import ROOT

LENET = ROOT / "graphs/lenet5.yaml"
GRU = ROOT / "graphs/gru_classifier.yaml"  # dropout: the warm-up must not shift the run's random numbers


def train(tmp_path, graph=LENET, name="run", resume=False, **overrides):
    base = {"data": {"name": "digits", "limit": 40}, "epochs": 3, "batch_size": 16, "threads": 1,
            "tensorboard": False, "estimate": False, "log_every": 1}
    if graph != LENET:
        base["data"] = {"name": "sentiment", "samples": 80}
    events = []
    bus = EventBus()
    bus.subscribe(events.append)
    settings = resolve_settings(load_graph(graph).training, {**base, **overrides})
    summary = Trainer(load_graph(graph), settings, RunFolder.at(tmp_path / name), bus=bus, resume=resume).run()
    return summary, events, RunFolder.at(tmp_path / name)


def kinds(events, kind):
    return [e for e in events if e["event"] == kind]


def test_max_steps_stops_inside_an_epoch_and_validates_once(tmp_path):
    summary, events, run = train(tmp_path, max_steps=3)  # 32 train samples at 16: 2 steps an epoch
    assert summary["status"] == "completed" and summary["epochs"] == 2
    assert [(e["epoch"], e["step"]) for e in kinds(events, "epoch")] == [(1, 2), (2, 3)]
    assert all(e["val_loss"] is not None for e in kinds(events, "epoch"))
    assert [c.name for c in checkpoints_in(run.checkpoints)][0] == "step-000000003"
    assert kinds(events, "step")[-1]["step"] == 3


def test_max_steps_beyond_the_epochs_changes_nothing(tmp_path):
    summary, events, _ = train(tmp_path, max_steps=100)
    assert summary["epochs"] == 3 and kinds(events, "epoch")[-1]["step"] == 6


def test_resuming_a_quick_run_trains_on(tmp_path, capsys):
    out = tmp_path / "quick"
    args = ["train", str(LENET), "--batch-size", "16", "--epochs", "2", "--threads", "1", "--no-tensorboard",
            "--no-estimate", "-q"]
    text = LENET.read_text(encoding="utf-8").replace("data: {name: digits}", "data: {name: digits, limit: 40}")
    graph = tmp_path / "lenet.yaml"
    graph.write_text(text, encoding="utf-8")
    args[1] = str(graph)
    assert main([*args, "--max-steps", "1", "--out", str(out)]) == 0
    assert main([*args, "--resume", str(out)]) == 0  # the step limit is not inherited
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "completed" and summary["epochs"] == 2
    assert checkpoints_in(out / "checkpoints")[0].name == "step-000000003"  # 1 step, then a whole epoch of 2


@pytest.mark.parametrize("value", ["0", "-3"])
def test_max_steps_must_be_positive(tmp_path, capsys, value):
    assert main(["train", str(LENET), "--max-steps", value, "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "max_steps" in err and ">= 1" in err and value in err and "Traceback" not in err
    with pytest.raises(SettingsError, match="max_steps"):
        resolve_settings({"max_steps": int(value)})


def test_the_estimate_comes_before_the_first_step_and_changes_nothing(tmp_path):
    _, events, run = train(tmp_path, graph=GRU, name="with", estimate=True, max_steps=2)
    _, plain_events, plain = train(tmp_path, graph=GRU, name="without", max_steps=2)
    order = [e["event"] for e in events if e["event"] in ("run_started", "estimate", "step")]
    assert order[:3] == ["run_started", "estimate", "step"] and "estimate" not in [e["event"] for e in plain_events]
    estimate = kinds(events, "estimate")[0]
    assert set(EVENT_FIELDS["estimate"]) <= set(estimate)
    assert estimate["step_seconds"] > 0 and estimate["timed_steps"] >= 1 and estimate["peak_bytes"] > 0
    assert estimate["steps_per_epoch"] == 4 and estimate["run_steps"] == 2  # 64 train samples at 16
    assert estimate["epoch_seconds"] >= estimate["step_seconds"]
    assert estimate["checkpoint_bytes"] > 3 * 22_276 * 4  # weights and Adam's two moments
    assert estimate["macs_per_sample"] > 0 and estimate["batch_size"] == 16
    # the warm-up ran on a copy, with its own random numbers: the runs are the same
    assert kinds(events, "epoch")[-1]["train_loss"] == kinds(plain_events, "epoch")[-1]["train_loss"]
    first, second = (load_file(str(checkpoints_in(r.checkpoints)[0].weights)) for r in (run, plain))
    assert first.keys() == second.keys() and all((first[k] == second[k]).all() for k in first)
    assert not [p for p in run.checkpoints.iterdir() if p.name.startswith(".estimate")]


def test_the_cli_prints_the_estimate(tmp_path, capsys):
    text = LENET.read_text(encoding="utf-8").replace("data: {name: digits}", "data: {name: digits, limit: 40}")
    graph = tmp_path / "lenet.yaml"
    graph.write_text(text, encoding="utf-8")
    assert main(["train", str(graph), "--max-steps", "1", "--threads", "1", "--no-tensorboard",
                 "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "estimated 1 epoch ≈" in out and "peak memory ≈" in out and "(batch 64, 32 samples)" in out


def test_estimate_line_and_durations():
    event = {"epoch_seconds": 40.2, "run_seconds": 402.0, "steps_per_epoch": 5, "run_steps": 50,
             "peak_bytes": 1_234_000_000, "memory": "process", "batch_size": 8, "train_samples": 40}
    assert estimate_line(event) == ("estimated 1 epoch ≈ 40 s (10 epochs ≈ 7 min), peak memory ≈ 1.2 GB "
                                    "(batch 8, 40 samples)")
    quick = dict(event, run_steps=2, run_seconds=9.5, memory="device")
    assert "(this run, 2 steps ≈ 9.5 s)" in estimate_line(quick) and "on the GPU" in estimate_line(quick)
    assert estimate_line(dict(event, run_steps=5, peak_bytes=None)).endswith("≈ 40 s (batch 8, 40 samples)")
    assert [duration_text(s) for s in (0.42, 75, 600, 9000)] == ["0.4 s", "75 s", "10 min", "2.5 h"]
