"""The runs list: past runs of a graph from their run folders, newest first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gui.training.run_folders import find_runs, format_wall, load_run_events
from gui.training.runs_list import COLUMNS, RunsList
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
    assert rows[0] == ["2025-03-02 09:30:00", "lenet5", "early stopped", "5", "97.5 %", "–", "0.0812", "3 min 5 s"]
    assert rows[1] == ["2025-01-01 12:00:00", "lenet5", "completed", "2", "90.0 %", "–", "0.3", "12 s"]
    assert runs.tree.isColumnHidden(1)  # the graph's name: only shown when runs of other graphs are added
    assert runs.tree.isColumnHidden(5)  # IoU: only for segmentation and box runs
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
    assert row_texts(runs)[0][2:7] == ["running", "1", "90.0 %", "–", "1.3"]  # from its events so far
    (fresh / "summary.json").write_text(json.dumps({"status": "stopped", "epochs": 1, "wall_seconds": 3.25,
                                                    "final": {"val_accuracy": 0.5, "val_loss": 0.7}}))
    runs.refresh()
    assert row_texts(runs)[0][2:] == ["stopped", "1", "50.0 %", "–", "0.7", "3.2 s"]


def test_an_unsaved_graph_has_no_runs(qtbot, runs):
    runs.set_graph(None)
    assert runs.all_runs() == [] and "press Train" in runs.empty.text()


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
    assert row[1] == "lenet5" and row[2] == "completed" and row[3] == "1"
    assert str(out) in runs.tree.topLevelItem(0).toolTip(0)
    assert row[4] == f"{100 * summary['final']['val_accuracy']:.1f} %"
    assert row[6] == f"{summary['final']['val_loss']:.4g}"
    events = load_run_events(out)
    assert events[0]["event"] == "run_started" and events[-1]["event"] == "run_finished"
    assert any(e["event"] == "epoch" for e in events)


# --- runs of other graphs, and a table that shows everything --------------------------------
def timestep_events(node: str, fade: float) -> list[dict]:
    """Time-step gradients as a recurrent run reports them (``fade``: decades lost over 40 steps)."""
    return [{"v": 1, "event": "timestep_gradients", "time": 0.5, "step": step, "node": node,
             "norms": [10.0 ** (-fade * (39 - t) / 39) for t in range(40)]} for step in (0, 20)]


def add_events(run: Path, events: list[dict]) -> None:
    with (run / "metrics.jsonl").open("a") as stream:
        stream.writelines(json.dumps(e) + "\n" for e in events)


@pytest.fixture
def panel(qtbot, tmp_path):
    """A training panel on lstm_memory.yaml (copied), beside runs of it and of rnn_memory."""
    from gui.document import GraphDocument
    from gui.training.panel import TrainingPanel

    for name in ("lstm_memory", "rnn_memory"):
        (tmp_path / f"{name}.yaml").write_text((ROOT / "graphs" / f"{name}.yaml").read_text())
    root = tmp_path / "runs"
    lstm = write_run(root, "lstm_memory-20250302-093015", tmp_path / "lstm_memory.yaml", status="early_stopped",
                     val_accuracy=1.0, wall=185.4)
    rnn = write_run(root, "rnn_memory-20250302-091502", tmp_path / "rnn_memory.yaml", val_accuracy=0.125)
    add_events(lstm, timestep_events("lstm", 0.5))
    add_events(rnn, timestep_events("rnn", 11))
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.resize(1400, 520)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_document(GraphDocument.open(tmp_path / "lstm_memory.yaml"))
    widget.lstm, widget.rnn = lstm, rnn
    return widget


def click_runs_tab(qtbot, panel) -> None:
    bar = panel.side_tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    qtbot.waitUntil(panel.runs.tree.isVisible)


def test_every_column_is_shown_whole_with_start_times_to_the_second(qtbot, panel):
    click_runs_tab(qtbot, panel)
    runs = panel.runs
    runs.add_foreign(panel.rnn)  # the Graph column joins: the widest table
    tree = runs.tree
    qtbot.waitUntil(lambda: not tree.horizontalScrollBar().isVisible())
    assert tree.topLevelItem(0).text(0) == "2025-03-02 09:30:15"  # seconds, not only minutes
    header = tree.header()
    for column in range(len(COLUMNS)):
        if not tree.isColumnHidden(column):
            assert header.sectionSize(column) >= runs.column_width(column), COLUMNS[column]
    shown = sum(header.sectionSize(c) for c in range(len(COLUMNS)) if not tree.isColumnHidden(c))
    assert shown <= tree.viewport().width()  # the last column ("Time") is on screen too
    assert panel.splitter.sizes()[1] >= 600  # the plots keep most of the room
    bar = panel.side_tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(0).center())
    qtbot.waitUntil(lambda: panel.splitter.sizes()[0] < 400)  # Settings: the side narrow again


def test_a_run_folder_of_another_graph_joins_the_comparison_and_delete_takes_it_off(qtbot, panel, tmp_path):
    click_runs_tab(qtbot, panel)
    runs = panel.runs
    assert runs.all_runs() == [panel.lstm] and runs.tree.isColumnHidden(1)
    not_a_run = tmp_path / "runs"
    answers = [str(not_a_run), str(panel.rnn)]
    runs.ask_run_folder = lambda: answers.pop(0)

    from tests.gui.test_training_documents import pick_from_menu

    pick_from_menu(qtbot, runs.add_button, lambda a: a.text() == "Run Folder…")
    assert "is not a run folder" in panel.message_texts("error")[0] and runs.listed_runs() == [panel.lstm]
    pick_from_menu(qtbot, runs.add_button, lambda a: a.text() == "Run Folder…")
    assert runs.listed_runs() == [panel.lstm, panel.rnn] and runs.all_runs() == [panel.lstm]
    assert runs.selected_runs() == [panel.lstm, panel.rnn]
    assert [runs.tree.topLevelItem(i).text(1) for i in range(2)] == ["lstm_memory", "rnn_memory"]
    assert "a run of rnn_memory" in runs.tree.topLevelItem(1).toolTip(0)
    (figure,) = panel.plots.figures("Compare")
    legend = next(ax.get_legend() for ax in figure.axes if ax.get_legend() is not None)
    assert [t.get_text() for t in legend.get_texts()] == ["lstm_memory 09:30:15", "rnn_memory 09:15:02"]
    steps = figure.axes[2]
    first = {line.get_color(): line.get_ydata()[0] for line in steps.get_lines() if line.get_linestyle() == "-"}
    assert sorted(first.values()) == pytest.approx([1e-11, 10 ** -0.5])  # relative to the last time step

    tree = runs.tree
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(tree.topLevelItem(1)).center())
    assert runs.selected_runs() == [panel.rnn]  # its own curves now
    assert panel.plots.events[0]["graph"] == "rnn_memory" and panel.plots.current_tab() != "Compare"

    # Resume continues this graph's run (here refused: a hand-made run folder), never the added one
    with qtbot.waitSignal(panel.runner.finished, timeout=120_000):
        qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert panel.run_dir == panel.lstm and str(panel.lstm) in panel.message_texts("error")[-1]

    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(tree.topLevelItem(1)).center())
    qtbot.keyClick(tree, Qt.Key.Key_Delete)  # off the list; its folder stays
    assert runs.listed_runs() == [panel.lstm] and panel.rnn.is_dir() and runs.tree.isColumnHidden(1)
