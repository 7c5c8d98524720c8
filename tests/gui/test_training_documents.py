"""The training panel belongs to the open document, and runs of other graphs can join the
comparison; driven like a person: File › Open by its shortcut, clicks on Train, on the
Runs tab and on the Add run… menu."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QMenu, QTabBar

from gui.main_window import MainWindow
from gui.training.state import NOT_TRAINING
from tests.conftest import ROOT
from tests.gui.helpers import quiet_main_window, stop_training

RUN_TIMEOUT_MS = 180_000


def small(name: str, folder: Path, epochs: int = 2, samples: int = 256) -> Path:
    """A gallery graph copied into ``folder`` with settings that train in seconds."""
    text = (ROOT / "graphs" / f"{name}.yaml").read_text(encoding="utf-8")
    text = text.replace("samples: 4000", f"samples: {samples}").replace("epochs: 20", f"epochs: {epochs}")
    text = text.replace("diagnostics_every: 20", "diagnostics_every: 2")
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def graphs(tmp_path) -> Path:
    folder = tmp_path / "graphs"
    folder.mkdir()
    small("rnn_memory", folder, epochs=8)
    small("lstm_memory", folder)
    return folder


@pytest.fixture
def window(qtbot, tmp_path):
    win = quiet_main_window(qtbot, tmp_path, (1600, 1000))
    win.open_answer = None
    win.ask_open_path = lambda: win.open_answer
    yield win
    stop_training(win)


def press(qtbot, win: MainWindow, key: str) -> None:
    combo = QKeySequence(key)[0]
    qtbot.keyClick(win.view.viewport(), combo.key(), combo.keyboardModifiers())


def open_with_shortcut(qtbot, win: MainWindow, path: Path) -> None:
    """File › Open (Ctrl+O) and the file chosen in its dialog."""
    win.open_answer = str(path)
    press(qtbot, win, "Ctrl+O")
    assert win.document.path and Path(win.document.path) == path, win.errors


def click_tab(qtbot, bar: QTabBar, text: str) -> None:
    index = next(i for i in range(bar.count()) if bar.tabText(i).startswith(text))
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(index).center())


def show_training_dock(qtbot, win: MainWindow) -> None:
    """Click the dock's "Training" tab (it shares the bottom with Problems)."""
    bar = next(b for b in win.findChildren(QTabBar)
               if any(b.tabText(i) == "Training" for i in range(b.count())) and b.isVisible())
    click_tab(qtbot, bar, "Training")
    qtbot.waitUntil(win.training.isVisible)


def pick_from_menu(qtbot, button, choose) -> list[str]:
    """Click ``button``, whose menu pops up, then click the menu entry ``choose(action)``
    picks; returns the entries' texts."""
    seen: list[str] = []

    def click_entry():
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(20, click_entry)
            return
        seen.extend(a.text() for a in menu.actions())
        chosen = next((a for a in menu.actions() if a.isEnabled() and choose(a)), None)
        if chosen is None:
            menu.close()
            return
        qtbot.mouseClick(menu, Qt.LeftButton, pos=menu.actionGeometry(chosen).center())

    QTimer.singleShot(0, click_entry)
    qtbot.mouseClick(button, Qt.LeftButton)
    popup_closed(qtbot, button.window())
    return seen


def popup_closed(qtbot, window) -> None:
    """Wait for a popup (a menu, a combo box's list) to close. A window manager gives the
    window back its activation then; Qt's offscreen platform leaves the closed popup active
    (and the window's shortcuts dead), so this does it."""
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def train(qtbot, win: MainWindow) -> Path:
    panel = win.training
    with qtbot.waitSignal(panel.runner.finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(panel.train_button, Qt.LeftButton)
    assert finished.args[1] == "completed", panel.runner.stderr_log
    return panel.run_dir


def test_each_graph_has_its_own_training_state_and_runs_compare_across_graphs(window, qtbot, graphs):
    panel = window.training
    rnn, lstm = graphs / "rnn_memory.yaml", graphs / "lstm_memory.yaml"

    # rnn_memory: Train, and open lstm_memory while it trains
    open_with_shortcut(qtbot, window, rnn)
    show_training_dock(qtbot, window)
    events = []
    panel.runner.event.connect(events.append)
    qtbot.mouseClick(panel.train_button, Qt.LeftButton)
    rnn_run = panel.run_dir
    qtbot.waitUntil(lambda: any(e.get("event") == "epoch" for e in events), timeout=RUN_TIMEOUT_MS)
    assert panel.plots.events and any("epoch 1:" in t for t in panel.message_texts())

    open_with_shortcut(qtbot, window, lstm)
    # lstm_memory's own (empty) state: nothing of the rnn run shows
    assert panel.message_texts() == [] and panel.plots.events == []
    assert panel.runs.all_runs() == [] and panel.run_dir is None
    assert panel.progress_label.text().startswith(NOT_TRAINING) and "rnn_memory" in panel.progress_label.text()
    assert not panel.train_button.isEnabled()  # one run at a time
    with qtbot.waitSignal(panel.runner.finished, timeout=RUN_TIMEOUT_MS) as finished:
        pass  # the rnn run ends while lstm_memory is shown
    assert finished.args[1] == "completed"
    assert panel.message_texts() == [] and panel.plots.events == []  # its messages went to rnn_memory's state
    assert panel.progress_label.text() == NOT_TRAINING and panel.train_button.isEnabled()

    lstm_run = train(qtbot, window)
    assert lstm_run.parent == graphs / "runs" and panel.runs.all_runs() == [lstm_run]
    lstm_messages = panel.message_texts()

    # back to rnn_memory: its state as it was when the run ended, no line of lstm_memory's
    open_with_shortcut(qtbot, window, rnn)
    texts = panel.message_texts()
    assert texts[0].startswith("Training rnn_memory") and texts[-1].startswith("Run completed")
    assert sum(t.startswith("epoch ") for t in texts) == 8 and not set(texts) & set(lstm_messages)
    assert panel.progress_label.text().startswith("completed · epoch 8/8")
    assert panel.run_dir == rnn_run and panel.runs.all_runs() == [rnn_run]
    assert [e for e in panel.plots.events if e.get("event") == "epoch"][-1]["epoch"] == 8
    assert panel.progress_bar.value() == panel.progress_bar.maximum() > 0

    # lstm_memory again, in the Runs tab: Add run… offers rnn_memory's run from the same runs folder
    open_with_shortcut(qtbot, window, lstm)
    click_tab(qtbot, panel.side_tabs.tabBar(), "Runs")
    assert panel.plots.events[0]["run_dir"] == str(lstm_run)  # the curves of its last run
    entries = pick_from_menu(qtbot, panel.runs.add_button, lambda a: a.data() == str(rnn_run))
    assert any(e.startswith("rnn_memory") for e in entries) and "Run Folder…" in entries
    assert not any(e.startswith("lstm_memory") for e in entries)  # its own runs are listed already
    assert panel.runs.selected_runs() == [lstm_run, rnn_run]
    assert panel.runs.listed_runs() == [lstm_run, rnn_run] and panel.runs.all_runs() == [lstm_run]
    assert not panel.runs.tree.isColumnHidden(1)  # the Graph column names whose run each row is
    assert panel.runs.tree.topLevelItem(1).text(1) == "rnn_memory"

    qtbot.waitUntil(lambda: panel.plots.current_tab() == "Compare")
    (figure,) = panel.plots.figures("Compare")
    titles = [ax.get_title().splitlines()[0] for ax in figure.axes if ax.get_title()]
    assert titles == ["Loss", "Accuracy", "Gradient reaching each time step"]
    legends = [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None]
    assert len(legends) == 1  # one legend for all three plots
    labels = [text.get_text() for text in legends[0].get_texts()]
    assert len(labels) == 2  # one entry per run: graph name and start time
    assert re.fullmatch(r"lstm_memory \d\d:\d\d:\d\d", labels[0]) and re.fullmatch(r"rnn_memory \d\d:\d\d:\d\d",
                                                                                      labels[1])
    loss, accuracy, steps = figure.axes[:3]
    colors = {line.get_color() for line in loss.get_lines()}
    assert len(colors) == 2 and {line.get_color() for line in steps.get_lines()} == colors
    assert steps.get_yscale() == "log" and len(steps.get_lines()) == 4  # first and last recorded step per run

    # the comparison is lstm_memory's: rnn_memory does not show it, lstm_memory gets it back
    open_with_shortcut(qtbot, window, rnn)
    assert panel.plots.current_tab() != "Compare" and panel.runs.listed_runs() == [rnn_run]
    open_with_shortcut(qtbot, window, lstm)
    assert panel.plots.current_tab() == "Compare" and panel.runs.selected_runs() == [lstm_run, rnn_run]
    assert not window.errors
