"""Checkpoint folders: a pair that disagrees is found and named, whatever made it disagree;
resume, export and predict never use it; leftovers are cleaned; mid-epoch checkpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from builder import load_graph
from builder.cli import main
from builder.exporting.errors import ExportError
from builder.exporting.source import open_trained
from builder.training.checkpoint import CheckpointError
from builder.training.checkpoint_store import (
    LEGACY_BEST,
    LEGACY_STATE,
    LEGACY_WEIGHTS,
    checkpoints_in,
    open_checkpoint,
    weights_to_use,
)
from builder.training.engine import Trainer
from builder.training.events import EventBus
from builder.training.runs import RunFolder
from builder.training.settings import SettingsError, parse_interval, resolve_settings
from tests.conftest import ROOT

LENET = ROOT / "graphs/lenet5.yaml"


def train(root: Path, resume: bool = False, checkpoint: str | None = None, **overrides):
    """LeNet-5 on 300 digits: 15 steps of 16 per epoch; a checkpoint every 6 steps."""
    settings = {"data": {"name": "digits", "limit": 300}, "epochs": 2, "batch_size": 16, "log_every": 1,
                "diagnostics_every": 0, "checkpoint_every": 6, **overrides}
    events: list[dict] = []
    bus = EventBus()
    bus.subscribe(events.append)
    trainer = Trainer(load_graph(LENET), resolve_settings(load_graph(LENET).training, settings), RunFolder.at(root),
                      bus=bus, resume=resume, checkpoint=checkpoint)
    return trainer.run(), events


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs") / "run"
    summary, events = train(root)
    assert summary["status"] == "completed"
    return root


@pytest.fixture
def run(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "run"))


def names(run: Path) -> list[str]:
    return [c.name for c in checkpoints_in(run / "checkpoints")]


def test_checkpoints_are_step_folders_the_newest_two_and_the_best(trained):
    # steps 6, 12 (mid-epoch), 15 (epoch 1 end), 18, 24 (mid), 30 (epoch 2 end)
    kept = names(trained)
    assert kept[:2] == ["step-000000030", "step-000000024"]
    checkpoint, state, _ = open_checkpoint(trained / "checkpoints")
    assert state["step"] == 30 and state["epoch"] == 2 and state["batch"] == 0
    assert state["best_step"] in (15, 30)
    assert f"step-{state['best_step']:09d}" in kept and len(kept) <= 3
    assert weights_to_use(trained / "checkpoints", "best").parent.name == f"step-{state['best_step']:09d}"
    assert weights_to_use(trained / "checkpoints", "last") == checkpoint.weights


def test_weights_from_another_checkpoint_are_detected_and_named(run, capsys):
    newest, older = checkpoints_in(run / "checkpoints")[:2]
    shutil.copyfile(older.weights, newest.weights)  # a user "fixing" a run by hand
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(run / "checkpoints")
    message = str(caught.value)
    assert str(newest.weights) in message and str(newest.state) in message and "do not belong together" in message
    assert f"--checkpoint {older.name}" in caught.value.hint
    # the CLI refuses with the same words and trains nothing
    assert main(["train", "--resume", str(run), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "do not belong together" in err and f"--checkpoint {older.name}" in err and "Traceback" not in err
    # export and predict of the run refuse too: they never use a pair that disagrees
    with pytest.raises(ExportError, match="do not belong together"):
        open_trained(run, "last")


def test_continuing_from_the_named_older_checkpoint_finishes_like_an_uninterrupted_run(run, trained):
    newest, older = checkpoints_in(run / "checkpoints")[:2]
    expected = {k: v.clone() for k, v in load_file(str(newest.weights)).items()}  # load_file maps the file
    shutil.copyfile(older.weights, newest.weights)
    summary, events = train(run, resume=True, checkpoint=older.name)
    assert summary["status"] == "completed"
    assert any("belong to the abandoned run" in e.get("message", "") for e in events if e["event"] == "warning")
    assert events[0]["event"] == "run_started" and events[0]["start_step"] == older.step
    final = load_file(str(checkpoints_in(run / "checkpoints")[0].weights))
    assert all(torch.equal(final[k], expected[k]) for k in expected)  # mid-epoch resume is exact


def test_weights_of_another_run_and_damaged_files_are_refused(run, tmp_path):
    newest = checkpoints_in(run / "checkpoints")[0]
    other, _ = train(tmp_path / "other", epochs=1, seed=3)
    stranger = checkpoints_in(tmp_path / "other/checkpoints")[0]
    shutil.copyfile(stranger.weights, newest.weights)
    with pytest.raises(CheckpointError, match="do not belong together"):
        open_checkpoint(run / "checkpoints")
    shutil.copyfile(stranger.state, newest.state)  # a whole pair from elsewhere, under another step's name
    with pytest.raises(CheckpointError, match="belongs to step 15, but its folder is step-000000030"):
        open_checkpoint(run / "checkpoints")
    newest.state.write_bytes(newest.state.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="not a valid training-state file"):
        open_checkpoint(run / "checkpoints")
    newest.weights.unlink()
    with pytest.raises(CheckpointError, match="weights.safetensors is missing"):
        open_checkpoint(run / "checkpoints")


def test_leftovers_of_a_killed_write_are_ignored_and_cleaned(run):
    checkpoints = run / "checkpoints"
    half = checkpoints / ".step-000000036.tmp-999-abcd"
    half.mkdir()
    (half / "weights.safetensors").write_bytes(b"half")
    (checkpoints / ".trash-step-000000006-abcd").mkdir()
    (run / ".summary.json.x1y2.tmp").write_text("{")
    assert open_checkpoint(checkpoints)[0].name == "step-000000030"  # a hidden folder is never a checkpoint
    summary, _ = train(run, resume=True, epochs=3)
    assert summary["status"] == "completed"
    assert not [p for p in checkpoints.iterdir() if p.name.startswith(".")]
    assert not (run / ".summary.json.x1y2.tmp").exists()


def test_runs_of_the_earlier_layout_still_resume_and_export(run):
    checkpoints = run / "checkpoints"
    newest = checkpoints_in(checkpoints)[0]
    shutil.copyfile(newest.weights, checkpoints / LEGACY_WEIGHTS)
    shutil.copyfile(newest.weights, checkpoints / LEGACY_BEST)
    shutil.copyfile(newest.state, checkpoints / LEGACY_STATE)
    for checkpoint in checkpoints_in(checkpoints):
        shutil.rmtree(checkpoint.weights.parent)
    assert weights_to_use(checkpoints, "best") == checkpoints / LEGACY_BEST
    summary, events = train(run, resume=True, epochs=3)
    assert summary["status"] == "completed" and summary["epochs"] == 3
    assert any("cannot be checked" in e.get("message", "") for e in events if e["event"] == "warning")
    assert names(run)  # new checkpoints are written in the new layout


def test_resume_of_a_missing_or_empty_folder_says_which(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 1
    assert "nowhere: no such run folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["train", "--resume", str(tmp_path / "empty")]) == 1
    assert "is not a run folder" in capsys.readouterr().err
    assert main(["train", str(LENET), "--checkpoint", "step-000000006", "--out", str(tmp_path / "r")]) == 1
    assert "use it with --resume" in capsys.readouterr().err


def test_a_time_interval_writes_mid_epoch_checkpoints(tmp_path):
    _, events = train(tmp_path / "run", epochs=1, checkpoint_every="0.001s")
    mid = [e for e in events if e["event"] == "checkpoint" and e["step"] < 15]
    assert len(mid) == 14  # one at every log step (log_every 1) but the epoch's last
    _, events = train(tmp_path / "off", epochs=1, checkpoint_every="off")
    assert [e["step"] for e in events if e["event"] == "checkpoint"] == [15]


def test_checkpoint_every_reads_steps_and_times():
    assert parse_interval(500) == (500, None) and parse_interval("500 steps") == (500, None)
    assert parse_interval("10min") == (None, 600.0) and parse_interval("30s") == (None, 30.0)
    assert parse_interval("off") == (None, None) and parse_interval(0) == (None, None)
    assert resolve_settings({})["checkpoint_every"] == "10min"
    with pytest.raises(SettingsError, match="a time"):
        resolve_settings({"checkpoint_every": "often"})
