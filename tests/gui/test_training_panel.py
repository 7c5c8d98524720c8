"""Training from the app, driven like a person: Train, watch, Stop, export from the menu."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from builder import load_bundle
from builder.training.checkpoint_store import checkpoints_in
from gui.training.run_folders import new_run_dir
from gui.training.state import Progress, format_duration
from tests.conftest import ROOT
from tests.gui.helpers import quiet_main_window, stop_training


@pytest.fixture
def window(qtbot, tmp_path):
    graph = tmp_path / "lenet5.yaml"
    shutil.copy(ROOT / "graphs" / "lenet5.yaml", graph)
    win = quiet_main_window(qtbot, tmp_path)
    assert win.open_file(graph, ask=False)
    yield win
    stop_training(win)


def test_train_watch_stop_and_export_a_bundle_from_the_menu(window, qtbot, tmp_path):
    panel = window.training
    section = dict(window.document.graph.training)
    section.update(epochs=30, batch_size=64, diagnostics_every=5, log_every=5)
    window.document.set_training(section)
    events = []
    panel.runner.event.connect(events.append)
    on_disk = Path(window.document.path).read_bytes()

    qtbot.mouseClick(panel.train_button, Qt.LeftButton)
    assert window.document.is_modified  # not saved: the run trains a snapshot
    assert Path(window.document.path).read_bytes() == on_disk
    assert panel.runner.is_running() and not panel.train_button.isEnabled() and panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: any(e.get("event") == "checkpoint" for e in events), timeout=120_000)
    qtbot.waitUntil(lambda: panel.plots.redraw_count > 0, timeout=20_000)
    assert "epoch" in panel.progress_label.text() and "samples/s" in panel.progress_label.text()
    assert panel.progress_bar.value() > 0
    assert any(e.get("event") == "gradients" for e in events)
    assert panel.plots.figures("Loss")[0].axes[0].lines  # the loss plot has data

    with qtbot.waitSignal(panel.runner.finished, timeout=60_000) as finished:
        qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
    assert finished.args[1] == "stopped"
    run = panel.run_dir
    assert checkpoints_in(run / "checkpoints")[0].weights.is_file()
    assert any("Stopped" in text for text in panel.message_texts("warning"))
    assert panel.train_button.isEnabled()
    assert panel.runs.all_runs()[0] == run

    out = tmp_path / "exported_bundle"
    window.ask_export_path = lambda format, suggested: str(out)
    window.export_menu.actions()[0].trigger()  # Bundle
    assert window.exporter.wait(120_000)
    qtbot.waitUntil(lambda: bool(window.infos or window.errors), timeout=10_000)
    assert not window.errors, window.errors
    model = load_bundle(out)
    assert model.meta["class_names"][:3] == ["0", "1", "2"]


def test_a_graph_with_errors_cannot_be_trained_and_the_problems_say_why(window, qtbot):
    window.document.set_param("fc1", "in_features", 399)
    qtbot.mouseClick(window.training.train_button, Qt.LeftButton)
    assert not window.training.runner.is_running()
    assert "fix it first" in window.training.message_texts("error")[0]
    assert window.problems.count() == 1


def test_export_without_a_run_says_to_train_first(window):
    assert not window.export_model("onnx")
    assert "train it first" in window.errors[0]


def test_progress_text_and_time_left():
    progress = Progress()
    progress.feed({"event": "run_started", "time": 0.0, "settings": {"epochs": 2}, "steps_per_epoch": 50,
                   "start_step": 0, "start_epoch": 0})
    progress.feed({"event": "step", "time": 10.0, "epoch": 0, "step": 25, "samples_per_s": 1234.5})
    assert progress.text() == "epoch 1/2 · step 25/100 · 1,234 samples/s · 0:30 left"
    assert format_duration(3725) == "1:02:05"


def test_new_run_dirs_are_beside_the_graph_and_never_reused(tmp_path):
    first = new_run_dir(str(tmp_path / "g.yaml"), "g")
    first.mkdir(parents=True)
    second = new_run_dir(str(tmp_path / "g.yaml"), "g")
    assert first.parent == second.parent == tmp_path / "runs" and first != second
    assert Path(second).name.startswith("g-")


def test_a_crashed_training_process_resumes_from_its_last_checkpoint(window, qtbot):
    """Killed instead of stopped (out of memory, a crash): the panel says so, and Resume
    continues from the last checkpoint, here a mid-epoch one, as it does after Stop."""
    panel = window.training
    section = dict(window.document.graph.training)
    section.update(epochs=3, batch_size=256, checkpoint_every=2, log_every=1)  # 6 steps an epoch
    window.document.set_training(section)
    events = []
    panel.runner.event.connect(events.append)
    qtbot.mouseClick(panel.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: any(e.get("event") == "checkpoint" for e in events), timeout=120_000)
    with qtbot.waitSignal(panel.runner.finished, timeout=60_000) as finished:
        panel.runner.kill()  # SIGKILL: no chance to write anything more
    assert finished.args[1] == "crashed"
    assert any("ended unexpectedly" in text and "Resume continues from its last checkpoint" in text
               for text in panel.message_texts("warning"))
    saved = checkpoints_in(panel.run_dir / "checkpoints")[0].step
    assert saved > 0

    events.clear()
    with qtbot.waitSignal(panel.runner.finished, timeout=120_000) as finished:
        qtbot.mouseClick(panel.resume_button, Qt.LeftButton)
    assert finished.args[1] == "completed", panel.runner.stderr_log
    assert events[0]["event"] == "run_started" and events[0]["start_step"] == saved
