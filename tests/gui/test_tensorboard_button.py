"""Training › Runs › TensorBoard: starts TensorBoard on the graph's runs folder with the
app's Python, reads the address it prints and opens it; says why when it cannot."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt

from gui.training.runs_list import RunsList
from gui.training.tensorboard_launcher import MISSING, TensorBoardLauncher, address_in, tensorboard_arguments

SERVING = ("import sys, time; print('NOTE: see https://github.com/tensorflow/tensorboard/issues/4784'); "
           "print('TensorBoard 2.21.0 at http://localhost:40123/ (Press CTRL+C to quit)', flush=True); "
           "time.sleep(30)")
FAILING = "import sys; print('E1203 tensorboard: [Errno 98] Address already in use', flush=True); sys.exit(1)"


def test_the_address_is_read_from_what_tensorboard_prints():
    assert address_in("TensorBoard 2.21.0 at http://localhost:6006/ (Press CTRL+C to quit)") == "http://localhost:6006/"
    assert address_in("More details: https://github.com/tensorflow/tensorboard/issues/4784") is None
    assert tensorboard_arguments(Path("/x/runs"))[:4] == ["-m", "tensorboard.main", "--logdir", "/x/runs"]


def test_the_button_serves_the_runs_folder_and_opens_it(qtbot, tmp_path, monkeypatch):
    runs = RunsList()
    qtbot.addWidget(runs)
    (tmp_path / "runs").mkdir()
    runs.set_graph(tmp_path / "g.yaml")
    opened, started = [], []
    launcher = runs.tensorboard
    launcher.open_url = lambda url: opened.append(url.toString()) or True
    monkeypatch.setattr(TensorBoardLauncher, "available", staticmethod(lambda: True))
    monkeypatch.setattr(launcher, "arguments", lambda folder: started.append(folder) or ["-c", SERVING])
    with qtbot.waitSignal(launcher.opened, timeout=20_000) as signal:
        qtbot.mouseClick(runs.tensorboard_button, Qt.LeftButton)
    assert signal.args == ["http://localhost:40123/"] and opened == ["http://localhost:40123/"]
    assert started == [(tmp_path / "runs").resolve()]
    qtbot.mouseClick(runs.tensorboard_button, Qt.LeftButton)  # a second click reuses the same server
    assert started == [(tmp_path / "runs").resolve()] and len(opened) == 2
    launcher.stop_all()
    assert not launcher.processes


def test_a_tensorboard_that_fails_or_is_missing_says_why(qtbot, tmp_path, monkeypatch):
    runs = RunsList()
    qtbot.addWidget(runs)
    runs.set_graph(tmp_path / "g.yaml")
    launcher = runs.tensorboard
    monkeypatch.setattr(TensorBoardLauncher, "available", staticmethod(lambda: True))
    monkeypatch.setattr(launcher, "arguments", lambda folder: ["-c", FAILING])
    with qtbot.waitSignal(launcher.failed, timeout=20_000) as signal:
        qtbot.mouseClick(runs.tensorboard_button, Qt.LeftButton)
    assert "stopped before it served" in signal.args[0] and "Address already in use" in signal.args[1]
    assert "Address already in use" in runs.hint.text()
    monkeypatch.setattr(TensorBoardLauncher, "available", staticmethod(lambda: False))
    with qtbot.waitSignal(launcher.failed, timeout=2_000) as signal:
        qtbot.mouseClick(runs.tensorboard_button, Qt.LeftButton)
    assert tuple(signal.args) == MISSING
    assert sys.executable  # (the app's own Python runs TensorBoard)
