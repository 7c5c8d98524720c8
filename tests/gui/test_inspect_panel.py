"""The Inspect panel, driven like a person: open a trained run from the runs list, click a
sample in the strip and a node on the canvas, switch views, pick an explanation method."""

from __future__ import annotations

import re
import shutil

import pytest
from PySide6.QtCore import Qt, QTimer

from builder.cli import main
from builder import open_subject
from builder.inspecting.explain import default_gradcam_node
from gui.inspect.figure_view import ERROR
from tests.conftest import ROOT
from tests.gui.helpers import node_point, quiet_main_window

LABEL = re.compile(r"^true (\d)\npredicted (\d) \((\d+)%\)$")
FIGURE_TIMEOUT_MS = 60_000  # a generous bound for a busy machine; no timing is asserted


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    """LeNet-5 trained for one epoch on digits (about 80% right: plenty misclassified),
    its run folder beside the graph file, where the runs list looks."""
    root = tmp_path_factory.mktemp("inspect")
    graph = root / "lenet5.yaml"
    shutil.copy(ROOT / "graphs" / "lenet5.yaml", graph)
    run = root / "runs" / "lenet5-20250101-120000"
    assert main(["train", str(graph), "--epochs", "1", "--out", str(run), "-q", "--device", "cpu"]) == 0
    return graph, run


@pytest.fixture
def window(qtbot, tmp_path, lenet_run):
    graph, _run = lenet_run
    win = quiet_main_window(qtbot, tmp_path)
    assert win.open_file(graph, ask=False)
    return win


def inspect_from_runs_list(window, qtbot, run):
    """Training › Runs: select the run, press Inspect; wait for the strip."""
    training = window.training
    window.show_training()
    training.side_tabs.setCurrentWidget(training.runs)
    training.runs.select_runs([run])
    assert training.runs.inspect_button.isEnabled()
    qtbot.mouseClick(training.runs.inspect_button, Qt.LeftButton)
    panel = window.inspect
    qtbot.waitUntil(lambda: panel.run is not None, timeout=FIGURE_TIMEOUT_MS)
    return panel


def click_sample(qtbot, panel, position: int) -> None:
    rect = panel.strip.cell_rect(position)
    qtbot.mouseClick(panel.strip.viewport(), Qt.LeftButton, pos=rect.center())


def click_node(qtbot, window, node: str) -> None:
    window.view.center_on_node(node)  # scrolled into view, as a person would
    qtbot.mouseClick(window.view.viewport(), Qt.LeftButton, pos=node_point(window.view, node))
    assert window.scene.selected_ids() == [node]


def wait_figure(qtbot, panel, **expected):
    """Wait until the figure on screen is the one asked for (its request's fields)."""
    def shown():
        drawn = panel.drawn
        return (drawn is not None and not panel.is_busy()
                and all(getattr(drawn.request, k) == v for k, v in expected.items()))
    qtbot.waitUntil(shown, timeout=FIGURE_TIMEOUT_MS)
    assert panel.figure_view.showing_image() and panel.message_text() == ""
    return panel.drawn


def pick(combo, data) -> None:
    """Choose an entry of a combo box as the popup does."""
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def image_shapes(figure) -> list[tuple[int, int]]:
    return [tuple(image.get_array().shape[:2]) for ax in figure.axes for image in ax.images]


def test_the_runs_list_opens_the_run_with_its_misclassified_samples_first(window, qtbot, lenet_run):
    _graph, run = lenet_run
    assert not window._inspect_holder.built  # nothing built before a run is inspected
    window.training.runs.select_runs([run])
    assert [text for text, _slot in window.training.runs.context_actions()] == ["Inspect Run"]

    panel = inspect_from_runs_list(window, qtbot, run)
    assert window._inspect_dock.isVisible()
    assert run.name in panel.run_label.text() and "misclassified" in panel.run_label.text()
    wrong = open_subject(run).misclassified()
    assert len(wrong) > 16
    assert [row.index for row in panel.run.rows[:16]] == wrong[:16]  # the most confidently wrong first

    labels = [LABEL.match(panel.strip.item(i).text()) for i in range(panel.strip.count())]
    assert len(labels) == 16 + 8 and all(labels)
    assert all(m.group(1) != m.group(2) for m in labels[:16])  # misclassified: true is not predicted
    assert all(m.group(1) == m.group(2) for m in labels[16:])  # then some classified correctly
    confidence = [int(m.group(3)) for m in labels[:16]]
    assert confidence == sorted(confidence, reverse=True)
    assert "misclassified" in panel.strip_label.text().lower()
    assert panel.message_text().startswith("1. Click a sample")

    # File › Inspect Run… opens the run selected in the runs list as well
    window.actions["inspect"].trigger()
    qtbot.waitUntil(lambda: panel.run is not None, timeout=FIGURE_TIMEOUT_MS)
    assert panel.run.path == run


def test_a_sample_and_a_node_show_that_nodes_feature_maps(window, qtbot, lenet_run):
    panel = inspect_from_runs_list(window, qtbot, lenet_run[1])
    click_sample(qtbot, panel, 0)
    caption = panel.run.rows[0].caption
    assert panel.sample == 0 and "Now click a layer on the canvas" in panel.message_text()

    click_node(qtbot, window, "conv1")
    drawn = wait_figure(qtbot, panel, view="activations", sample=0, node="conv1")
    assert drawn.view.values.shape == (6, 28, 28)
    assert (2 * 28 + 1, 3 * 28 + 2) in image_shapes(drawn.figure)  # 6 channel tiles: 2 rows of 3, 1-px gaps
    assert "conv1" in panel.title.text() and caption in panel.title.text()
    assert panel.bar.node_box.currentText() == "conv1"

    click_node(qtbot, window, "conv2")  # another node: the same sample
    drawn = wait_figure(qtbot, panel, view="activations", sample=0, node="conv2")
    assert drawn.view.values.shape == (16, 10, 10)
    assert (4 * 10 + 3, 4 * 10 + 3) in image_shapes(drawn.figure)  # 16 tiles, 4 x 4

    click_sample(qtbot, panel, 20)  # another sample (a correct one): the same node
    drawn = wait_figure(qtbot, panel, view="activations", sample=20, node="conv2")
    assert panel.run.rows[20].caption in panel.title.text()


def test_a_node_first_then_a_sample(window, qtbot, lenet_run):
    panel = inspect_from_runs_list(window, qtbot, lenet_run[1])
    click_node(qtbot, window, "act1")
    assert "Now click a sample" in panel.message_text() and "act1" in panel.message_text()
    click_sample(qtbot, panel, 3)
    drawn = wait_figure(qtbot, panel, view="activations", sample=3, node="act1")
    assert drawn.view.values.shape == (6, 28, 28)


def test_explain_shows_the_picked_method(window, qtbot, lenet_run):
    panel = inspect_from_runs_list(window, qtbot, lenet_run[1])
    click_sample(qtbot, panel, 0)
    qtbot.mouseClick(panel.view_buttons["explain"], Qt.LeftButton)
    drawn = wait_figure(qtbot, panel, view="explain", method="saliency")
    assert drawn.view.explanation.maps.shape == (1, 32, 32)
    assert len(drawn.figure.axes) >= 3  # input, map (with its colour bar), overlay
    assert panel.bar.method_box.isVisible() and panel.bar.target_box.currentText() == "predicted class"

    click_node(qtbot, window, "conv1")  # Grad-CAM at the selected node: it has spatial axes
    pick(panel.bar.method_box, "gradcam")
    drawn = wait_figure(qtbot, panel, view="explain", method="gradcam", node="conv1")
    assert drawn.view.explanation.node == "conv1"

    click_node(qtbot, window, "fc1")  # no spatial axes: the engine's default layer
    drawn = wait_figure(qtbot, panel, view="explain", method="gradcam", node="fc1")
    assert drawn.view.explanation.node == default_gradcam_node(panel.run.subject)
    assert "default layer" in panel.title.text()

    pick(panel.bar.target_box, 3)
    drawn = wait_figure(qtbot, panel, view="explain", target=3)
    assert drawn.view.explanation.target == [3]


def test_a_view_that_does_not_apply_is_disabled_with_the_reason(window, qtbot, lenet_run):
    panel = inspect_from_runs_list(window, qtbot, lenet_run[1])
    click_node(qtbot, window, "conv1")
    qtbot.mouseClick(panel.view_buttons["filters"], Qt.LeftButton)
    drawn = wait_figure(qtbot, panel, view="filters", node="conv1")
    assert drawn.view.node == "conv1"

    click_node(qtbot, window, "fc1")
    buttons = panel.view_buttons
    assert not buttons["filters"].isEnabled() and not buttons["attention"].isEnabled()
    assert not buttons["gates"].isEnabled()
    assert buttons["activations"].isEnabled() and buttons["embedding"].isEnabled()
    assert "filters are shown for convolutions" in buttons["filters"].toolTip()
    assert "gate activity is shown for LSTM and GRU" in buttons["gates"].toolTip()
    text = panel.message_text()  # the view stays chosen and says why it shows nothing
    assert text.startswith("Filters does not apply here") and "fc1" in text and "convolutions" in text

    click_node(qtbot, window, "logits")
    assert not buttons["activations"].isEnabled()
    assert "graph's output" in buttons["activations"].toolTip()


def test_a_canvas_node_the_run_does_not_have_gets_a_sentence(window, qtbot, lenet_run):
    panel = inspect_from_runs_list(window, qtbot, lenet_run[1])
    click_sample(qtbot, panel, 0)
    assert window.document.rename_node("conv2", "features")  # edited after training
    click_node(qtbot, window, "features")
    text = panel.message_text()
    assert "has no node 'features'" in text and "train the graph again" in text
    assert not panel.view_buttons["activations"].isEnabled()
    assert panel.bar.node_box.currentIndex() == -1
    assert "not in the run" in panel.bar.node_box.placeholderText()
    click_node(qtbot, window, "conv1")  # still in both: fine again
    wait_figure(qtbot, panel, view="activations", node="conv1")


def test_the_view_menu_shows_the_panel_and_says_how_to_open_a_run(window, qtbot):
    assert not window._inspect_dock.isVisible() and not window._inspect_holder.built
    window._inspect_dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: window._inspect_holder.built)
    assert "No run open" in window.inspect.message_text() and "Inspect" in window.inspect.message_text()


def test_errors_are_shown_as_text(window, qtbot, tmp_path):
    panel = window.inspect
    window.show_inspect()
    panel.ask_run_folder = lambda: str(tmp_path / "no-such-run")
    qtbot.mouseClick(panel.open_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=FIGURE_TIMEOUT_MS)
    assert panel.run is None and panel.run_label.text() == "Cannot open the run"
    assert panel.figure_view.kind == ERROR and "no-such-run" in panel.message_text()
    assert "Traceback" not in panel.message_text() and not window.errors


def test_the_window_stays_responsive_while_an_embedding_is_computed(window, qtbot, lenet_run):
    panel = inspect_from_runs_list(window, qtbot, lenet_run[1])
    click_node(qtbot, window, "fc2")
    ticks = {"all": 0, "busy": 0}

    def tick():
        ticks["all"] += 1
        ticks["busy"] += panel.is_busy()

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    qtbot.mouseClick(panel.view_buttons["embedding"], Qt.LeftButton)
    assert panel.is_busy() and panel.busy.isVisible()  # "computing …" at once
    drawn = wait_figure(qtbot, panel, view="embedding", node="fc2", projection="pca")
    timer.stop()
    # the window's timers kept firing while the worker computed (a blocked window fires none)
    assert ticks["busy"] >= 3, ticks
    assert drawn.view.node == "fc2" and not panel.busy.isVisible()
