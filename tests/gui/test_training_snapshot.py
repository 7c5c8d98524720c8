"""Train never writes the user's file: a run trains a snapshot of the document, kept in the
run folder; unsaved edits stay unsaved, relative paths (a data file, a composite part) still
resolve against the graph's folder, also when the run is resumed. Driven like a person:
typing into the settings form, clicking Train and Resume, pasting nodes into a new graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence

from builder import load_graph, parse_graph
from gui.document import GraphDocument
from gui.main_window import MainWindow
from tests.gui.helpers import quiet_main_window
from tests.gui.test_training_documents import RUN_TIMEOUT_MS, popup_closed, press, show_training_dock

PART = """\
format: 1
name: mlp
expose:
  width: [fc.out_features]
nodes:
  x: {block: input, params: {shape: [4]}}
  fc: {block: linear, params: {out_features: 8}, inputs: [x]}
  act: {block: relu, inputs: [fc]}
  y: {block: output, inputs: [act]}
"""

GRAPH = """\
# a tiny graph that reads its data and one of its blocks by relative paths
format: 1
name: tiny
nodes:
  x: {block: input, params: {shape: [4]}}
  body: {graph: parts/mlp.yaml, params: {width: 8}, inputs: [x]}
  head: {block: linear, params: {out_features: 3}, inputs: [body]}
  logits: {block: output, inputs: [head]}
training:
  data: {name: npz, path: data/xy.npz}
  epochs: 1
  batch_size: 16
"""

DIGITS_NODES = """\
nodes:
  image: {block: input, params: {shape: [1, 8, 8]}}
  flat: {block: flatten, inputs: [image]}
  fc: {block: linear, params: {out_features: 10}, inputs: [flat]}
  logits: {block: output, inputs: [fc]}
"""


@pytest.fixture
def project(tmp_path) -> Path:
    """tiny.yaml beside parts/mlp.yaml and data/xy.npz, which it names by relative paths."""
    folder = tmp_path / "project"
    (folder / "parts").mkdir(parents=True)
    (folder / "data").mkdir()
    (folder / "parts" / "mlp.yaml").write_text(PART)
    (folder / "tiny.yaml").write_text(GRAPH)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    np.savez(folder / "data" / "xy.npz", x=x, y=(x[:, 0] > 0).astype("int64") + (x[:, 1] > 0))
    return folder


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELBUILDER_RUNS_DIR", str(tmp_path / "unsaved-runs"))
    win = quiet_main_window(qtbot, tmp_path, (1600, 1000))
    yield win
    if win.training.runner.is_running():
        win.training.runner.kill()
        win.training.runner.wait_for_finished(10_000)


def type_setting(qtbot, window: MainWindow, key: str, text: str) -> None:
    """Click into a setting's field in the Settings tab, select what it shows, type, Enter."""
    panel = window.training
    editor = panel.form.editors[key]
    field = getattr(editor, "spin", None) or editor.editor
    panel.side_tabs.setCurrentIndex(0)
    panel.side_tabs.currentWidget().ensureWidgetVisible(field)  # scrolled to, as a person would
    line = field.lineEdit() if hasattr(field, "lineEdit") else field
    qtbot.mouseClick(line, Qt.LeftButton)
    qtbot.keyClick(line, Qt.Key_A, Qt.ControlModifier)
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key_Return)


def click_and_wait(qtbot, button, runner) -> str:
    """Click Train or Resume; the run's status once it has ended."""
    qtbot.mouseClick(button, Qt.LeftButton)
    panel = button.parent()
    assert runner.is_running(), panel.message_texts()
    with qtbot.waitSignal(runner.finished, timeout=RUN_TIMEOUT_MS) as finished:
        pass
    return finished.args[1]


def test_train_keeps_the_file_and_the_unsaved_edits_and_resume_finds_relative_files(window, qtbot, project):
    graph = project / "tiny.yaml"
    on_disk = graph.read_bytes()
    assert window.open_file(graph, ask=False)
    assert window.document.graph.layout  # laid out on opening, not yet written anywhere
    show_training_dock(qtbot, window)
    panel = window.training

    type_setting(qtbot, window, "epochs", "2")
    assert window.document.graph.training["epochs"] == 2 and window.document.is_modified

    status = click_and_wait(qtbot, panel.train_button, panel.runner)
    assert status == "completed", panel.runner.stderr_log
    assert graph.read_bytes() == on_disk  # no epochs, no layout section written into the file
    assert window.document.is_modified and window.isWindowModified()  # the edit is still unsaved
    run = panel.run_dir
    assert run.parent == project / "runs"  # where runs of a saved graph always went
    trained = load_graph(run / "graph.yaml")  # the snapshot as trained, in the run folder
    assert trained.training["epochs"] == 2 and trained.nodes["body"].graph == "parts/mlp.yaml"
    assert set(trained.layout or {}) >= {"x", "body", "head", "logits"}
    settings = json.loads((run / "settings.json").read_text())
    assert settings["graph_source"] == str(graph.resolve())  # listed, resumed and exported as tiny.yaml's
    assert sorted(p.name for p in project.iterdir()) == ["data", "parts", "runs", "tiny.yaml"]  # no snapshot left
    assert panel.runs.all_runs() == [run]
    assert any("unsaved changes" in t and "tiny.yaml is not written" in t for t in panel.message_texts("info"))

    # Resume to 3 epochs: the run's graph reads data/xy.npz and parts/mlp.yaml beside tiny.yaml
    type_setting(qtbot, window, "epochs", "3")
    events = []
    panel.runner.event.connect(events.append)
    status = click_and_wait(qtbot, panel.resume_button, panel.runner)
    assert status == "completed", panel.runner.stderr_log
    assert events[0]["event"] == "run_started" and events[0]["start_epoch"] == 2
    assert json.loads((run / "summary.json").read_text())["epochs"] == 3
    assert graph.read_bytes() == on_disk and window.document.is_modified
    assert not window.errors


def test_an_untitled_graph_trains_a_snapshot_in_the_runs_folder_for_unsaved_graphs(window, qtbot, tmp_path):
    panel = window.training
    press(qtbot, window, "Ctrl+N")
    QGuiApplication.clipboard().setText(DIGITS_NODES)
    window.view.setFocus()
    press(qtbot, window, QKeySequence(QKeySequence.StandardKey.Paste).toString())
    assert window.document.path is None and set(window.document.graph.nodes) == {"image", "flat", "fc", "logits"}
    show_training_dock(qtbot, window)
    combo = panel.form.dataset
    panel.side_tabs.currentWidget().ensureWidgetVisible(combo)
    qtbot.mouseClick(combo, Qt.LeftButton)  # opens its list: type to choose, Enter
    qtbot.keyClicks(combo.view(), "digits")
    qtbot.keyClick(combo.view(), Qt.Key_Return)
    popup_closed(qtbot, window)
    assert window.document.graph.training["data"]["name"] == "digits"
    type_setting(qtbot, window, "epochs", "1")

    status = click_and_wait(qtbot, panel.train_button, panel.runner)
    assert status == "completed", panel.runner.stderr_log
    run = panel.run_dir
    assert run.parent == tmp_path / "unsaved-runs"
    assert (run / "graph.yaml").is_file() and load_graph(run / "graph.yaml").training["epochs"] == 1
    assert any(t.startswith("The graph is not saved: training a snapshot") and str(run) in t
               for t in panel.message_texts("info"))
    assert panel.runs.all_runs() == [run] and window.document.path is None and window.document.is_modified

    # Save As: the document keeps its training state under its new name, and gets it back
    # when the file is opened again
    saved = tmp_path / "digits_mlp.yaml"
    window.ask_save_path = lambda: str(saved)
    press(qtbot, window, QKeySequence(QKeySequence.StandardKey.SaveAs).toString())
    assert window.document.path == str(saved) and not window.document.is_modified
    messages = panel.message_texts()
    assert panel.runs.all_runs() == [run] and panel.run_dir == run and len(messages) >= 3
    press(qtbot, window, "Ctrl+N")
    assert panel.message_texts() == [] and panel.runs.all_runs() == []
    assert window.open_file(saved)
    assert panel.message_texts() == messages and panel.run_dir == run


def test_an_untitled_graph_with_relative_paths_says_to_save_it_first(window, qtbot, project):
    text = GRAPH.replace("parts/mlp.yaml", str(project / "parts" / "mlp.yaml"))  # only the data is relative
    window.set_document(GraphDocument(parse_graph(text)))  # as recovered after a crash: never saved
    show_training_dock(qtbot, window)
    panel = window.training
    qtbot.mouseClick(panel.train_button, Qt.LeftButton)
    assert not panel.runner.is_running()
    (error,) = panel.message_texts("error")
    assert "never saved" in error and "data path: data/xy.npz" in error and "Save As" in error
    assert "parts/mlp.yaml" not in error
