"""Every kind of gallery graph trains from the app's Train button as shipped (issue 21): the
graph's own data source is chosen already, the only setting touched is max steps (a quick
run, set through its box in the form), and the run folder is finished. The panel shows the
run's estimate, and a segmentation run its IoU and its masks."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import Qt

from gui.training.live_plots import IOU, PREDICTIONS
from tests.conftest import ROOT
from tests.gui.helpers import quiet_main_window, stop_training

# one graph of each kind: image classifier, sequence classifier, sequence to sequence, segmentation
GRAPHS = ("lenet5", "gru_classifier", "seq2seq_attention", "unet_small")


@pytest.fixture
def window(qtbot, tmp_path):
    shutil.copytree(ROOT / "graphs" / "parts", tmp_path / "parts")
    win = quiet_main_window(qtbot, tmp_path)
    yield win
    stop_training(win)


def tab_enabled(plots, name: str) -> bool:
    return plots.tabs.isTabEnabled(plots.tabs.indexOf(plots.page(name)))


@pytest.mark.parametrize("name", GRAPHS)
def test_train_as_shipped_with_max_steps_set_in_the_form(window, qtbot, tmp_path, name):
    graph = tmp_path / f"{name}.yaml"
    shutil.copy(ROOT / "graphs" / f"{name}.yaml", graph)
    assert window.open_file(graph, ask=False)
    panel = window.training
    form = panel.form
    declared = window.document.graph.training["data"]["name"]
    assert form.dataset.currentData() == declared and declared in form.dataset.fitting()
    assert form.problems() == []
    form.editors["max_steps"].toggle.click()  # "set": one optimizer step, then validation
    assert window.document.graph.training["max_steps"] == 1

    with qtbot.waitSignal(panel.runner.finished, timeout=240_000) as finished:
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert finished.args == [0, "completed"], panel.runner.stderr_log[-2000:]
    run = panel.run_dir
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 1
    assert json.loads((run / "settings.json").read_text())["settings"]["max_steps"] == 1
    assert any((run / "checkpoints").iterdir())
    assert panel.estimate_label.isVisible() and panel.estimate_label.text().startswith("estimated 1 epoch ≈")
    assert "step 1/1" in panel.progress_label.text()
    if name == "unet_small":
        assert summary["task"] == "segmentation"
        assert any("mean IoU" in text for text in panel.message_texts("info"))
        assert tab_enabled(panel.plots, IOU) and tab_enabled(panel.plots, PREDICTIONS)
        panel.plots.show_tab(PREDICTIONS)
        assert panel.plots.figures()[0].axes[0].images  # the masks picture of the run folder
