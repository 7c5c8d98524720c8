"""Seeing inside composite blocks, driven like a person: double-click a residual,
inception or squeeze_excitation node (or the block in the palette) to see the graph of
primitive blocks it is, read-only and with shapes; Edit This File on a graph-file
composite opens the file, and saving it makes the graph that uses it check again."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsItem, QMessageBox, QToolBar

from gui.inside_view import InsideWindow
from gui.labels import short_shape
from gui.main_window import MainWindow
from gui.part_window import is_part_window
from tests.gui.helpers import node_point, quiet_main_window


@pytest.fixture
def window(qtbot, tmp_path):
    """A main window with its own settings and recovery folder; no modal questions."""
    return quiet_main_window(qtbot, tmp_path, size=None)


def open_graph(window, tmp_path, block: str, params: str, shape="[16, 9, 9]"):
    (tmp_path / "g.yaml").write_text(
        f"format: 1\nnodes:\n  image: {{block: input, params: {{shape: {shape}}}}}\n"
        f"  part: {{block: {block}, params: {params}, inputs: [image]}}\n"
        "  result: {block: output, inputs: [part]}\n")
    assert window.open_file(tmp_path / "g.yaml")


def double_click_node(qtbot, view, node_id: str) -> None:
    qtbot.mouseDClick(view.viewport(), Qt.LeftButton, pos=node_point(view, node_id))


def last_inside(window) -> InsideWindow:
    inside = window.inside_windows[-1]
    assert isinstance(inside, InsideWindow) and inside.isVisible()
    return inside


@pytest.mark.parametrize("block,params,parts", [
    ("residual", "{kind: bottleneck, channels: 8, stride: 2}", {"conv3", "shortcut", "shortcut_bn", "add"}),
    ("inception", "{ch1x1: 4, ch3x3_reduce: 4, ch3x3: 8, ch5x5_reduce: 2, ch5x5: 4, pool_proj: 4, batch_norm: false}",
     {"branch1x1", "branch3x3_conv", "branch5x5_conv", "branch_pool", "branch_pool_proj", "concat"}),
    ("squeeze_excitation", "{reduction: 4}", {"squeeze", "fc1", "fc2", "gate", "scale"}),
])
def test_double_click_on_a_composite_node_shows_its_inside_read_only_with_shapes(window, qtbot, tmp_path,
                                                                                 block, params, parts):
    open_graph(window, tmp_path, block, params)
    info = window.document.analysis.nodes["part"]
    double_click_node(qtbot, window.view, "part")
    inside = last_inside(window)
    assert "read-only" in inside.windowTitle() and f"part: inside {block}" in inside.windowTitle()
    scene = inside.centralWidget().graph_scene
    assert parts <= set(scene.node_items) and {"x", "out"} <= set(scene.node_items)
    assert scene.read_only and not (scene.node_items["x"].flags() & QGraphicsItem.ItemIsMovable)
    # the node's input shape flows in, and what comes out is the node's output shape
    assert scene.node_items["x"].shape_line.startswith("→ 16×9×9")
    last = inside.document.graph.nodes["out"].inputs[0]
    assert scene.node_items[last].shape_line.startswith(f"→ {short_shape(info.shape)}")
    assert inside.totals.text().startswith(f"Parameters: {info.cost.params:,} ")  # the node's own count
    message = inside.statusBar().currentMessage()
    assert message.startswith("Read-only") and "x: 16×9×9" in message and f"as part uses it ({params[1:5]}" in message
    assert "Read-only" in inside.caption.text()
    if block == "inception":  # batch_norm: false is the 2014 network: no batch norm inside
        assert not [i for i in scene.node_items if i.endswith("_bn")]
        assert len(inside.document.graph.nodes["concat"].inputs) == 4
    double_click_node(qtbot, window.view, "part")
    assert window.inside_windows[-1] is inside, "a second double-click brings the same window back"


def test_the_inside_follows_the_nodes_parameters(window, qtbot, tmp_path):
    open_graph(window, tmp_path, "residual", "{channels: 16, stride: 2}")
    double_click_node(qtbot, window.view, "part")
    inside = last_inside(window)
    assert inside.centralWidget().graph_scene.node_items["add"].shape_line.startswith("→ 16×5×5")
    assert inside.document.graph.nodes["add"].inputs == ["bn2", "shortcut_bn"]  # projected: stride 2
    scene = inside.centralWidget().graph_scene
    with qtbot.waitSignal(window.document.analysisChanged, timeout=1000):
        window.document.rename_node("result", "logits")  # an edit that does not change the inside
    assert inside.centralWidget().graph_scene is scene, "redrawn only when the inside changes"
    window.document.set_param("part", "stride", 1)
    scene = inside.centralWidget().graph_scene
    assert scene.node_items["add"].shape_line.startswith("→ 16×9×9")
    assert inside.document.graph.nodes["add"].inputs == ["bn2", "x"]  # 16 -> 16 at stride 1: the identity
    assert "shortcut" not in scene.node_items and "stride=1" in inside.statusBar().currentMessage()


def test_an_unconnected_block_shows_its_inside_for_the_examples_shape(window, qtbot):
    window.new_file()
    palette = window.palette
    palette.tree.setCurrentItem(palette.item_for("residual"))
    qtbot.keyClick(palette.tree, Qt.Key.Key_Return)  # Enter adds a composite block, as any other
    assert list(window.document.graph.nodes) == ["residual_1"]
    double_click_node(qtbot, window.view, "residual_1")
    message = last_inside(window).statusBar().currentMessage()
    assert "channels=8" in message and "x: 8×10×10" in message and "x not connected" in message


def test_palette_double_click_shows_the_first_example_without_adding_a_node(window, qtbot):
    window.new_file()
    tree = window.palette.tree
    item = window.palette.item_for("inception")
    tree.scrollToItem(item)
    center = tree.visualItemRect(item).center()
    # a real double-click starts with a click (see test_palette.py)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=center)
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=center)
    inside = last_inside(window)
    assert "inside inception: first example (read-only)" in inside.windowTitle()
    assert "first example's values" in inside.statusBar().currentMessage()
    assert "x: 8×9×9" in inside.statusBar().currentMessage()
    assert inside.centralWidget().graph_scene.node_items["concat"].shape_line.startswith("→ 20×9×9")
    assert not window.document.graph.nodes, "looking inside adds nothing to the graph"
    assert "Double-click to see inside" in item.toolTip(0)


def test_a_primitive_block_has_no_inside(window, qtbot, tmp_path):
    open_graph(window, tmp_path, "relu", "{}")
    double_click_node(qtbot, window.view, "part")
    assert window.inside_windows == []
    assert "primitive block" in window.statusBar().currentMessage()


def test_edit_this_file_opens_the_part_and_saving_it_rechecks_its_users(window, qtbot, tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "double_conv.yaml").write_text(
        "format: 1\nexpose: {width: [c1.out_channels, c2.out_channels]}\nnodes:\n"
        "  x: {block: input, params: {shape: [3, 8, 8]}}\n"
        "  c1: {block: conv2d, params: {out_channels: 8, kernel_size: 3, padding: same}, inputs: [x]}\n"
        "  c2: {block: conv2d, params: {out_channels: 8, kernel_size: 3, padding: same}, inputs: [c1]}\n"
        "  y: {block: output, inputs: [c2]}\n")
    (tmp_path / "main.yaml").write_text(
        "format: 1\nnodes:\n  image: {block: input, params: {shape: [3, 16, 16]}}\n"
        "  down: {graph: parts/double_conv.yaml, params: {width: 4}, inputs: [image]}\n"
        "  out: {block: output, inputs: [down]}\n")
    window.open_file(tmp_path / "main.yaml")
    double_click_node(qtbot, window.view, "down")
    inside = last_inside(window)
    toolbar_button = inside.findChild(QToolBar, "insideToolbar").widgetForAction(inside.edit_action)
    qtbot.mouseClick(toolbar_button, Qt.LeftButton)
    part = window.inside_windows[-1]
    assert isinstance(part, MainWindow) and is_part_window(part) and part.isVisible()
    assert not is_part_window(window)
    part.ask_unsaved = lambda: QMessageBox.Discard
    part.show_error = lambda title, text: window.errors.append(text)
    assert Path(part.document.path).resolve() == (parts / "double_conv.yaml").resolve()
    assert not part.scene.read_only  # an editor: the file's own values, changeable
    part.document.set_param("c2", "padding", 0)  # 3x3 without padding: 2 pixels smaller
    assert window.scene.node_items["down"].shape_line.startswith("→ 4×16×16"), "not before it is saved"
    qtbot.waitUntil(part.isActiveWindow, timeout=2000)
    qtbot.keyClick(part.view.viewport(), Qt.Key.Key_S, Qt.ControlModifier)
    assert not part.isWindowModified()
    assert "padding: 0" in (parts / "double_conv.yaml").read_text()
    # the graph using it checked again, and the read-only inside shows the new file
    assert window.scene.node_items["down"].shape_line.startswith("→ 4×14×14")
    assert window._status_labels["output"].text() == "Output: 4×14×14"
    assert inside.centralWidget().graph_scene.node_items["c2"].shape_line.startswith("→ 4×14×14")
    qtbot.mouseClick(toolbar_button, Qt.LeftButton)
    assert window.inside_windows[-1] is part, "the file's editor window is brought back, not opened twice"
    assert part.recovery.slot >= 1  # its autosave copies do not overwrite the main window's
    part.close()


def test_a_composite_inside_a_composite_opens_from_the_inside_window(window, qtbot, tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "stage.yaml").write_text(
        "format: 1\nnodes:\n  x: {block: input, params: {shape: [8, 8, 8]}}\n"
        "  block1: {block: residual, params: {channels: 16, stride: 2}, inputs: [x]}\n"
        "  y: {block: output, inputs: [block1]}\n")
    (tmp_path / "main.yaml").write_text(
        "format: 1\nnodes:\n  image: {block: input, params: {shape: [8, 12, 12]}}\n"
        "  stage: {graph: parts/stage.yaml, inputs: [image]}\n  out: {block: output, inputs: [stage]}\n")
    window.open_file(tmp_path / "main.yaml")
    double_click_node(qtbot, window.view, "stage")
    stage = last_inside(window)
    double_click_node(qtbot, stage.view, "block1")
    residual = stage.inside_windows[-1]
    assert "block1: inside residual" in residual.windowTitle()
    assert "x: 8×12×12" in residual.statusBar().currentMessage()  # the shape that reaches it, as used
    assert residual.centralWidget().graph_scene.node_items["add"].shape_line.startswith("→ 16×6×6")


def test_a_composite_outside_the_project_is_not_opened_from_the_canvas(window, qtbot, tmp_path):
    """Double-clicking a composite node whose file lies outside the project shows why,
    and opens nothing: the analysis' rule holds in the inside view too."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("")
    (tmp_path / "outside.yaml").write_text(
        "format: 1\nnodes:\n  x: {block: input, params: {shape: [4]}}\n  y: {block: output, inputs: [x]}\n")
    (project / "main.yaml").write_text(
        "format: 1\nnodes:\n  image: {block: input, params: {shape: [4]}}\n"
        "  part: {graph: ../outside.yaml, inputs: [image]}\n  out: {block: output, inputs: [part]}\n")
    assert window.open_file(project / "main.yaml")
    before = len(window.inside_windows)
    double_click_node(qtbot, window.view, "part")
    assert len(window.inside_windows) == before
    assert window.errors and "outside the project folder" in window.errors[-1]
