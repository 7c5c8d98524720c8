"""The training engine, driven through its Python API and the ``modelbuilder train`` CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from builder import load_graph
from builder.cli import main
from builder.training.engine import Trainer, TrainingError
from builder.training.events import EVENT_FIELDS, SCHEMA_VERSION, EventBus, read_events
from builder.training.checkpoint_store import checkpoints_in, weights_to_use
from builder.training.runs import RunFolder
from builder.training.settings import SettingsError, resolve_settings
from tests.conftest import ROOT

LENET = ROOT / "graphs/lenet5.yaml"
SMALL_DATA = {"name": "digits", "limit": 400}


def settings(**overrides):
    # one thread: "auto" picks the free cores, so two runs on a busy machine could differ in
    # their float sums, and these tests compare runs bit for bit
    base = {"data": SMALL_DATA, "epochs": 2, "batch_size": 32, "log_every": 1, "diagnostics_every": 5,
            "threads": 1}
    base.update(overrides)
    return resolve_settings(load_graph(LENET).training, base)


def train(tmp_path, name="run", resume=False, stop_at=None, **overrides):
    bus = EventBus()
    events = []
    bus.subscribe(events.append)
    run = RunFolder.at(tmp_path / name)
    trainer = Trainer(load_graph(LENET), settings(**overrides), run, bus=bus, resume=resume)
    if stop_at is not None:
        bus.subscribe(lambda e: trainer.request_stop() if e["event"] == "step" and e["step"] >= stop_at else None)
    summary = trainer.run()
    return summary, events, run


def newest(run):
    return checkpoints_in(run.checkpoints)[0]


def weights(run):
    return load_file(str(newest(run).weights))


def test_events_follow_the_documented_schema(tmp_path):
    summary, events, run = train(tmp_path)
    assert summary["status"] == "completed" and summary["epochs"] == 2
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert {"step", "epoch", "gradients", "checkpoint"} <= set(kinds)
    for event in events:
        assert event["v"] == SCHEMA_VERSION
        missing = set(EVENT_FIELDS[event["event"]]) - set(event)
        assert not missing, (event["event"], missing)
    epoch = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epoch] == [1, 2]
    assert epoch[-1]["val_accuracy"] is not None and 0 <= epoch[-1]["val_accuracy"] <= 1


def test_run_folder_holds_everything(tmp_path):
    summary, _, run = train(tmp_path)
    for path in (run.graph, run.settings, run.metrics, run.summary, newest(run).weights, newest(run).state):
        assert path.exists(), path
    saved = json.loads(run.summary.read_text())
    assert saved == json.loads(json.dumps(summary))
    for key in ("final", "best", "epochs", "samples_per_s", "device", "params", "wall_seconds"):
        assert key in saved
    assert saved["params"] == 61706 and saved["device"] == "cpu"
    assert set(weights(run)) == set(load_file(str(weights_to_use(run.checkpoints, "best"))))


def test_same_seed_gives_the_same_run(tmp_path):
    _, first, run_a = train(tmp_path, "a", epochs=1)
    _, second, run_b = train(tmp_path, "b", epochs=1)
    losses = lambda events: [e["loss"] for e in events if e["event"] == "step"]  # noqa: E731
    assert losses(first) == losses(second)
    a, b = weights(run_a), weights(run_b)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_stop_then_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    train(tmp_path, "whole", epochs=3)
    summary, events, _ = train(tmp_path, "interrupted", epochs=3, stop_at=17)  # mid-epoch 2
    assert summary["status"] == "stopped"
    assert any(e["event"] == "checkpoint" and e["step"] == 17 for e in events)
    summary, events, _ = train(tmp_path, "interrupted", epochs=3, resume=True)
    assert summary["status"] == "completed" and summary["epochs"] == 3
    assert events[0]["start_step"] == 17
    whole, resumed = weights(RunFolder(tmp_path / "whole")), weights(RunFolder(tmp_path / "interrupted"))
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_resume_with_more_epochs_continues_the_run(tmp_path):
    train(tmp_path, "r", epochs=1)
    summary, events, _ = train(tmp_path, "r", epochs=3, resume=True)
    assert summary["epochs"] == 3
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [2, 3]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    train(tmp_path, "nan", epochs=1)
    good = weights(RunFolder(tmp_path / "nan"))
    summary, events, run = train(tmp_path, "nan", epochs=3, resume=True, optimizer="sgd", lr=1e38, momentum=0.0)
    assert summary["status"] == "failed"
    error = next(e for e in events if e["event"] == "error")
    assert "NaN or infinite" in error["message"] and "last good checkpoint" in error["message"]
    assert "clip_norm" in error["hint"]
    kept = weights(run)
    assert all(torch.equal(good[k], kept[k]) for k in good)


def test_schedules_clipping_and_optimizers_run(tmp_path):
    for i, extra in enumerate([
        {"optimizer": "sgd", "nesterov": True, "schedule": "step", "step_size": 1, "clip_norm": 1.0},
        {"optimizer": "adamw", "weight_decay": 0.01, "schedule": "onecycle", "clip_value": 0.5},
        {"schedule": "plateau", "early_stopping": 1, "epochs": 4},
        {"schedule": "cosine"},
    ]):
        summary, events, _ = train(tmp_path, f"s{i}", **extra)
        assert summary["status"] in ("completed", "early_stopped")
    lrs = [e["lr"] for e in events if e["event"] == "epoch"]
    assert lrs[-1] < lrs[0]  # cosine decays


def test_settings_precedence_and_errors():
    graph = load_graph(LENET)
    resolved = resolve_settings(graph.training, {"epochs": 3, "lr": None})
    assert resolved["epochs"] == 3 and resolved["lr"] == 0.001 and resolved["batch_size"] == 64
    with pytest.raises(SettingsError, match="did you mean 'epochs'"):
        resolve_settings({"epoch": 3})
    with pytest.raises(SettingsError, match="expected an integer >= 1"):
        resolve_settings({"batch_size": 0})


def test_training_needs_data_and_one_output(tmp_path):
    graph = load_graph(LENET)
    with pytest.raises(TrainingError, match="no dataset"):
        Trainer(graph, resolve_settings({}), RunFolder.at(tmp_path / "x")).run()


# --- the command line -----------------------------------------------------------------
def test_cli_json_events_stream(tmp_path, capsys):
    code = main(["train", str(LENET), "--epochs", "1", "--out", str(tmp_path / "cli"), "--json-events",
                 "--data", "digits"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "run_started" and lines[-1]["event"] == "run_finished"
    assert all(line["v"] == SCHEMA_VERSION for line in lines)
    assert read_events(str(tmp_path / "cli/metrics.jsonl")) == lines
    assert (tmp_path / "cli/plots/loss.png").exists()


def test_cli_reports_bad_data_clearly(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(LENET.read_text().replace("data: {name: digits}", "data: {name: npz, path: missing.npz}"))
    assert main(["train", str(bad), "--out", str(tmp_path / "r"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "missing.npz" in err and "Traceback" not in err


def test_cli_resume_needs_a_checkpoint(tmp_path, capsys):
    run = tmp_path / "started"  # a run killed before its first checkpoint
    run.mkdir()
    (run / "graph.yaml").write_text(LENET.read_text())
    (run / "settings.json").write_text('{"graph_source": null, "settings": {}}')
    assert main(["train", "--resume", str(run)]) == 1
    assert "no checkpoint to resume from" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_checkpoints_and_resume_matches_an_uninterrupted_run(tmp_path):
    common = ["--epochs", "6", "--batch-size", "16", "--quiet"]
    graph = tmp_path / "lenet.yaml"
    graph.write_text(LENET.read_text().replace("data: {name: digits}", "data: {name: digits, limit: 300}"))
    run = tmp_path / "interrupted"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "builder", "train", str(graph), "--out", str(run), *common],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        metrics = run / "metrics.jsonl"
        if metrics.exists() and any(e["event"] == "step" for e in read_events(str(metrics))):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "resume with: modelbuilder train --resume" in out
    assert checkpoints_in(run / "checkpoints")
    resumed = subprocess.run([sys.executable, "-m", "builder", "train", "--resume", str(run), *common],
                             cwd=ROOT, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    whole = tmp_path / "whole"
    subprocess.run([sys.executable, "-m", "builder", "train", str(graph), "--out", str(whole), *common],
                   cwd=ROOT, check=True, capture_output=True)
    a = load_file(str(checkpoints_in(run / "checkpoints")[0].weights))
    b = load_file(str(checkpoints_in(whole / "checkpoints")[0].weights))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_trainer_shows_the_rnn_gradient_vanishing_and_the_lstm_learning(tmp_path):
    """The RNN-lecture result, through the real trainer and its recorded diagnostics:
    on "remember the first of 40 tokens" the LSTM learns and the vanilla RNN cannot,
    because the gradient reaching the RNN's first time step is orders of magnitude smaller."""
    import math
    import statistics

    results = {}
    for name in ("rnn_memory", "lstm_memory"):
        graph = load_graph(ROOT / f"graphs/{name}.yaml")
        events = []
        bus = EventBus()
        bus.subscribe(events.append)
        trainer = Trainer(graph, resolve_settings(graph.training, {"epochs": 6, "diagnostics_every": 10}),
                          RunFolder.at(tmp_path / name), bus=bus)
        summary = trainer.run()
        ratios = [math.log10(e["norms"][0] / e["norms"][-1]) for e in events if e["event"] == "timestep_gradients"]
        results[name] = (summary["final"]["val_accuracy"], statistics.median(ratios), events)
    rnn_accuracy, rnn_ratio, rnn_events = results["rnn_memory"]
    lstm_accuracy, lstm_ratio, _ = results["lstm_memory"]
    assert lstm_accuracy >= 0.9 and rnn_accuracy <= 0.3, (lstm_accuracy, rnn_accuracy)
    assert lstm_ratio - rnn_ratio >= 3, (lstm_ratio, rnn_ratio)  # >= 1000x, measured ~1e6-1e10
    assert any(e["event"] == "warning" and e["node"] == "rnn" for e in rnn_events)
    assert (tmp_path / "rnn_memory/plots/timestep_gradients.png").exists()


def test_a_new_run_into_a_run_folder_is_refused(tmp_path, capsys):
    """Training again into a finished run's folder replaced its metrics and mixed its
    checkpoints with the new run's, so that export and resume took the old newest one."""
    graph = tmp_path / "lenet.yaml"
    graph.write_text((ROOT / "graphs/lenet5.yaml").read_text().replace("data: {name: digits}",
                                                                      "data: {name: digits, limit: 200}"))
    run = tmp_path / "run"
    assert main(["train", str(graph), "--epochs", "1", "--out", str(run), "-q"]) == 0
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    metrics = (run / "metrics.jsonl").read_bytes()
    capsys.readouterr()
    assert main(["train", str(graph), "--epochs", "1", "--out", str(run), "-q"]) == 1
    err = capsys.readouterr().err
    assert "already holds a run" in err and f"--resume {run}" in err and "Traceback" not in err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before
    assert (run / "metrics.jsonl").read_bytes() == metrics
    # a folder holding only the graph being trained (the app's snapshot) is a fresh run
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    snapshot = fresh / "graph.yaml"
    snapshot.write_text(graph.read_text())
    assert main(["train", str(snapshot), "--epochs", "1", "--out", str(fresh), "-q"]) == 0


def test_json_events_reader_going_away_stops_with_a_checkpoint(tmp_path):
    """``modelbuilder train --json-events | head`` died with a BrokenPipeError traceback
    mid-step; now the run stops as after Ctrl-C, with a checkpoint to resume from."""
    run = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-m", "builder", "train", str(ROOT / "graphs/lenet5.yaml"),
                              "--epochs", "3", "--json-events", "--out", str(run)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = child.stdout.readline()
    assert json.loads(first)["event"] == "run_started"
    child.stdout.close()  # the reader goes away, as `| head -1` does
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert "Traceback" not in err and "reader went away" in err and f"--resume {run}" in err
    assert checkpoints_in(run / "checkpoints")
