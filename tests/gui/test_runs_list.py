"""The runs list: past runs of a graph from their run folders, newest first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gui.training.runs_list import COLUMNS, RunsList, find_runs, format_wall, load_run_events
from tests.conftest import ROOT

LENET = ROOT / "graphs" / "lenet5.yaml"


def write_run(root: Path, name: str, graph: Path, *, status: str = "completed", epochs: int = 2,
              val_accuracy: float | None = 0.9, val_loss: float = 0.3, wall: float = 12.0,
              summary: bool = True, torn: bool = False) -> Path:
    """A run folder as the trainer leaves it (docs/training.md, docs/events.md), by hand."""
    run = root / name
    (run / "checkpoints").mkdir(parents=True)
    settings = {"data": {"name": "digits"}, "epochs": epochs, "batch_size": 64}
    (run / "settings.json").write_text(json.dumps({"graph_source": str(graph.resolve()), "settings": settings}))
    events = [{"v": 1, "event": "run_started", "time": 0.0, "run_dir": str(run), "graph": graph.stem,
               "settings": settings, "device": "cpu", "params": 61706, "train_samples": 1438, "val_samples": 359,
               "steps_per_epoch": 23, "start_epoch": 0, "start_step": 0}]
    for epoch in range(1, epochs + 1):
        events.append({"v": 1, "event": "step", "time": epoch - 0.5, "epoch": epoch - 1, "step": 23 * epoch - 3,
                       "loss": 1.0 / epoch, "lr": 0.001, "samples_per_s": 1000.0})
        events.append({"v": 1, "event": "epoch", "time": float(epoch), "epoch": epoch, "step": 23 * epoch,
                       "train_loss": 1.0 / epoch, "train_accuracy": 0.5, "val_loss": val_loss + 1 / epoch,
                       "val_accuracy": val_accuracy, "lr": 0.001, "seconds": 1.0, "samples_per_s": 1000.0})
    final = {"train_loss": 0.5, "train_accuracy": 0.8, "val_loss": val_loss, "val_accuracy": val_accuracy}
    record = {"graph": graph.stem, "status": status, "epochs": epochs, "final": final, "best": final,
              "samples_per_s": 1000.0, "device": "cpu", "params": 61706, "wall_seconds": wall,
              "data": "digits: 1,438 train / 359 val"}
    if summary:
        events.append({"v": 1, "event": "run_finished", "time": wall, "status": status, "summary": record})
        (run / "summary.json").write_text(json.dumps(record, indent=2))
    text = "".join(json.dumps(e) + "\n" for e in events)
    if torn:
        text += '{"v": 1, "event": "step", "ti'
    (run / "metrics.jsonl").write_text(text)
    return run


@pytest.fixture
def runs_root(tmp_path) -> Path:
    root = tmp_path / "runs"
    root.mkdir()
    return root


@pytest.fixture
def runs(qtbot) -> RunsList:
    widget = RunsList()
    qtbot.addWidget(widget)
    widget.resize(600, 250)
    widget.show()
    return widget


def row_texts(widget: RunsList) -> list[list[str]]:
    tree = widget.tree
    return [[tree.topLevelItem(i).text(c) for c in range(len(COLUMNS))] for i in range(tree.topLevelItemCount())]


def test_lists_only_this_graphs_runs_newest_first(qtbot, runs, runs_root, tmp_path):
    older = write_run(runs_root, "lenet5-20250101-120000", LENET, epochs=2, val_accuracy=0.9, val_loss=0.3, wall=12)
    newer = write_run(runs_root, "lenet5-20250302-093000", LENET, status="early_stopped", epochs=5,
                      val_accuracy=0.975, val_loss=0.0812, wall=185.4)
    write_run(runs_root, "rnn_memory-20250401-080000", ROOT / "graphs" / "rnn_memory.yaml")  # another graph's run
    (runs_root / "not-a-run").mkdir()
    (runs_root / "stray.txt").write_text("x")
    broken = runs_root / "broken"
    broken.mkdir()
    (broken / "settings.json").write_text("{not json")

    # the graph named through another spelling of its path
    runs.set_graph(str(ROOT / "graphs" / ".." / "graphs" / "lenet5.yaml"), runs_root)
    assert runs.objectName() == "runsList"
    assert runs.all_runs() == [newer, older]
    rows = row_texts(runs)
    assert rows[0] == ["lenet5-20250302-093000", "2025-03-02 09:30", "early stopped", "5", "97.5 %", "0.0812",
                       "3 min 5 s"]
    assert rows[1] == ["lenet5-20250101-120000", "2025-01-01 12:00", "completed", "2", "90.0 %", "0.3", "12 s"]
    tip = runs.tree.topLevelItem(0).toolTip(0)
    assert str(newer) in tip and "cpu" in tip and "61,706" in tip


def test_selecting_runs_signals_their_paths(qtbot, runs, runs_root):
    older = write_run(runs_root, "lenet5-20250101-120000", LENET)
    newer = write_run(runs_root, "lenet5-20250302-093000", LENET)
    runs.set_graph(LENET, runs_root)
    tree = runs.tree
    first = tree.visualItemRect(tree.topLevelItem(0)).center()
    second = tree.visualItemRect(tree.topLevelItem(1)).center()
    with qtbot.waitSignal(runs.runsSelected) as blocker:
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=first)
    assert blocker.args == [[newer]]
    with qtbot.waitSignal(runs.runsSelected) as blocker:
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, second)
    assert blocker.args == [[newer, older]]
    assert runs.selected_runs() == [newer, older]
    # a refresh keeps the selection and says nothing when it did not change
    with qtbot.assertNotEmitted(runs.runsSelected):
        runs.refresh()
    assert runs.selected_runs() == [newer, older]


def test_a_run_just_started_shows_up_and_its_summary_after_refresh(qtbot, runs, runs_root):
    runs.set_graph(LENET, runs_root)
    assert runs.all_runs() == [] and runs.empty.isVisible() and not runs.tree.isVisible()
    assert "lenet5.yaml" in runs.empty.text()
    fresh = runs_root / "lenet5-20990101-000000"
    runs.add_run(fresh)  # nothing on disk yet
    assert runs.all_runs() == [fresh] and runs.tree.isVisible()
    assert row_texts(runs)[0][2] == "running"
    write_run(runs_root, fresh.name, LENET, epochs=1, summary=False)
    runs.refresh()
    assert row_texts(runs)[0][2:6] == ["running", "1", "90.0 %", "1.3"]  # from its events so far
    (fresh / "summary.json").write_text(json.dumps({"status": "stopped", "epochs": 1, "wall_seconds": 3.25,
                                                    "final": {"val_accuracy": 0.5, "val_loss": 0.7}}))
    runs.refresh()
    assert row_texts(runs)[0][2:] == ["stopped", "1", "50.0 %", "0.7", "3.2 s"]


def test_an_unsaved_graph_has_no_runs(qtbot, runs):
    runs.set_graph(None)
    assert runs.all_runs() == [] and "Save the graph" in runs.empty.text()


def test_load_run_events_skips_a_torn_last_line(runs_root):
    run = write_run(runs_root, "lenet5-20250101-120000", LENET, epochs=2, summary=False, torn=True)
    events = load_run_events(run)
    assert [e["event"] for e in events] == ["run_started", "step", "epoch", "step", "epoch"]
    assert load_run_events(run / "metrics.jsonl") == events
    assert load_run_events(runs_root / "missing") == []


def test_format_wall():
    assert [format_wall(s) for s in (None, 2.34, 42.4, 185, 3725)] == ["–", "2.3 s", "42 s", "3 min 5 s", "1 h 2 min"]


def test_a_real_run_appears_with_its_summary(qtbot, runs, tmp_path):
    out = tmp_path / "runs" / "x"
    subprocess.run([sys.executable, "-m", "builder", "train", str(LENET), "--epochs", "1", "--batch-size", "256",
                    "--out", str(out), "-q"], cwd=ROOT, check=True, timeout=300, capture_output=True)
    assert find_runs(LENET, tmp_path / "runs") == [out]
    runs.set_graph(LENET, tmp_path / "runs")
    assert runs.all_runs() == [out]
    summary = json.loads((out / "summary.json").read_text())
    row = row_texts(runs)[0]
    assert row[0] == "x" and row[2] == "completed" and row[3] == "1"
    assert row[4] == f"{100 * summary['final']['val_accuracy']:.1f} %"
    assert row[5] == f"{summary['final']['val_loss']:.4g}"
    events = load_run_events(out)
    assert events[0]["event"] == "run_started" and events[-1]["event"] == "run_finished"
    assert any(e["event"] == "epoch" for e in events)
