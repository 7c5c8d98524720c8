"""LivePlots: the engine's training figures in tabs, throttled, drawn off the window's thread."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from builder import read_events
from gui.training.live_plots import LivePlots
from tests.conftest import ROOT

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def run_events(tmp_path_factory) -> list[dict]:
    """The events of a real two-epoch LeNet-5 run (about 10 s, once for the module)."""
    out = tmp_path_factory.mktemp("lenet") / "run"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-m", "builder", "train", "graphs/lenet5.yaml", "--epochs", "2",
                    "--batch-size", "256", "--out", str(out), "-q"], cwd=ROOT, env=env, check=True, timeout=300)
    return read_events(str(out / "metrics.jsonl"))


@pytest.fixture
def plots(qtbot):
    widget = LivePlots()
    qtbot.addWidget(widget)
    widget.resize(700, 450)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def settle(qtbot, plots: LivePlots) -> None:
    qtbot.waitUntil(plots.is_current, timeout=WAIT_MS)


def step(i: int, loss: float | None = None) -> dict:
    return {"v": 1, "event": "step", "time": i * 0.01, "epoch": 0, "step": i,
            "loss": 2.3 / (1 + i / 50) if loss is None else loss, "lr": 1e-3, "samples_per_s": 1000.0}


def epoch(n: int, train_loss: float, val_loss: float, accuracy: float | None = 0.5) -> dict:
    return {"v": 1, "event": "epoch", "time": float(n), "epoch": n, "step": 10 * n, "train_loss": train_loss,
            "train_accuracy": accuracy, "val_loss": val_loss, "val_accuracy": accuracy, "lr": 1e-3,
            "seconds": 1.0, "samples_per_s": 1000.0}


def lines_with_data(figure) -> list:
    return [line for ax in figure.axes for line in ax.get_lines() if len(line.get_xdata())]


def test_a_real_run_fills_the_loss_and_gradient_figures(qtbot, plots, run_events):
    for event in run_events:
        plots.add_event(event)
    settle(qtbot, plots)
    assert plots.redraw_count >= 1
    assert plots.current_tab() == "Loss"
    loss, accuracy = plots.figures("Loss")
    assert loss.axes[0].get_title() == "Loss" and "step" in loss.axes[0].get_xlabel()
    assert lines_with_data(loss) and lines_with_data(accuracy)
    assert "%" in accuracy.axes[0].get_ylabel()
    bars, heatmap = plots.figures("Gradient flow")
    nodes = [label.get_text() for label in bars.axes[0].get_yticklabels()]
    assert nodes[:2] == ["conv1", "conv2"] and "fc3" in nodes
    assert len(bars.axes[0].patches) == 2 * len(nodes)  # max and mean bar per node
    assert heatmap.axes[0].collections  # the node x step mesh
    assert not plots.tabs.isTabEnabled(plots.tabs.indexOf(plots.page("Time steps")))  # no recurrent block


def test_redraws_are_throttled_and_catch_up_with_the_latest_event(qtbot, plots):
    for i in range(1, 501):
        plots.add_event(step(i))
        if i % 100 == 0:
            QApplication.processEvents()
    assert plots.redraw_count <= 2
    settle(qtbot, plots)
    assert plots.redraw_count <= 10
    shown = plots.page("Loss").plots[0].figure  # as the render thread last drew it
    assert max(max(line.get_xdata()) for line in lines_with_data(shown)) == 500


def test_only_the_tab_on_screen_is_drawn(qtbot, plots, run_events):
    plots.set_events(run_events)
    settle(qtbot, plots)
    assert plots.page("Gradient flow").plots[0].view.image is None  # hidden: not drawn
    before = plots.redraw_count
    plots.show_tab("Gradient flow")
    settle(qtbot, plots)
    assert plots.redraw_count > before
    assert plots.page("Gradient flow").plots[0].view.image is not None


def test_a_small_panel_shows_one_plot_at_a_time_a_wide_one_side_by_side(qtbot, plots):
    page = plots.page("Loss")
    assert page.mode == page.SINGLE
    assert page.plots[0].view.isVisible() and not page.plots[1].view.isVisible()
    page.show_plot(1)
    assert page.plots[1].view.isVisible() and not page.plots[0].view.isVisible()
    plots.resize(1300, 500)
    qtbot.waitUntil(lambda: page.mode == page.SIDE)
    assert all(plot.view.isVisible() for plot in page.plots)
    plots.resize(700, 900)
    qtbot.waitUntil(lambda: page.mode == page.STACKED)


def test_save_png_writes_the_current_tab(qtbot, plots, run_events, tmp_path):
    plots.set_events(run_events)
    path = plots.save_png(tmp_path / "loss.png")
    image = QImage(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.width() > 2 * image.height()  # loss and accuracy side by side
    plots.show_tab("Gradient flow")
    assert not QImage(str(plots.save_png(tmp_path / "gradients.png"))).isNull()


def test_overlay_draws_one_line_per_run_named_in_the_legend(qtbot, plots):
    rnn = [epoch(n, 2.1, 2.1) for n in (1, 2, 3)]
    lstm = [epoch(n, 2.0 / n**2, 1.8 / n**2) for n in (1, 2, 3)]
    compare = plots.tabs.indexOf(plots.page("Compare"))
    assert not plots.tabs.isTabEnabled(compare)
    plots.overlay([("rnn_memory", rnn), ("lstm_memory", lstm)])
    assert plots.current_tab() == "Compare" and plots.tabs.isTabEnabled(compare)
    (figure,) = plots.figures()
    ax = figure.axes[0]
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_label() for line in solid] == ["rnn_memory", "lstm_memory"]
    assert len(dashed) == 2  # validation loss
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[:2] == ["rnn_memory", "lstm_memory"]
    assert ax.get_xlabel() == "epoch" and "loss" in ax.get_ylabel()
    settle(qtbot, plots)
    assert plots.page("Compare").plots[0].view.image is not None
    plots.overlay([])
    assert not plots.tabs.isTabEnabled(compare)


def test_time_steps_tab_follows_recurrent_runs_and_warnings_name_nodes(qtbot, plots):
    tab = plots.tabs.indexOf(plots.page("Time steps"))
    assert not plots.tabs.isTabEnabled(tab) and plots.tabs.tabToolTip(tab)
    plots.add_event({"v": 1, "event": "warning", "time": 0.1, "node": "rnn",
                     "message": "vanishing gradient through time in 'rnn'"})
    for s in (0, 20, 40):
        norms = [10.0 ** (-(40 - t) / (4 + s / 10)) for t in range(40)]
        plots.add_event({"v": 1, "event": "timestep_gradients", "time": 0.2, "step": s, "node": "rnn",
                         "norms": norms})
    assert plots.tabs.isTabEnabled(tab)
    assert plots.warned_nodes() == {"rnn"}
    plots.show_tab("Time steps")
    settle(qtbot, plots)
    (figure,) = plots.figures()
    ax = figure.axes[0]
    assert len(lines_with_data(figure)) == 3 and ax.get_yscale() == "log"
    assert "time step" in ax.get_xlabel()
    plots.clear()
    assert plots.events == [] and plots.warned_nodes() == set()
    assert not plots.tabs.isTabEnabled(tab) and plots.current_tab() == "Loss"
