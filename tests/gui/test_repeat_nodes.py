"""Repeated and switched-off nodes on the canvas: a repeated node is one box marked "× N"
that a double-click opens to show its repetitions; a node with `enabled: false` says it is
off and passes its input on."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui.inside_view import InsideWindow
from tests.gui.helpers import node_point, quiet_main_window

GRAPH = """\
format: 1
nodes:
  x: {block: input, params: {shape: [8]}}
  layers:
    block: linear
    repeat: 3
    vary: {out_features: "16 + 4 * i"}
    inputs: [x]
  act: {block: relu, inputs: [layers], enabled: false}
  y: {block: output, inputs: [act]}
"""


@pytest.fixture
def window(qtbot, tmp_path):
    win = quiet_main_window(qtbot, tmp_path, size=None)
    (tmp_path / "g.yaml").write_text(GRAPH)
    assert win.open_file(tmp_path / "g.yaml")
    return win


def test_a_repeated_node_is_one_box_marked_with_its_count(window):
    items = window.scene.node_items
    assert set(items) == {"x", "layers", "act", "y"}
    assert items["layers"].repeat_text == "× 3" and items["x"].repeat_text == ""
    assert items["layers"].shape_line.startswith("→ 24")  # the last repetition's output
    assert "repeated 3 times in a chain" in items["layers"].toolTip()
    assert items["act"].switched_off and "off: passes its input on" in items["act"].subtitle
    assert not items["layers"].switched_off


def test_double_click_shows_the_repetitions_one_after_another(window, qtbot):
    qtbot.mouseDClick(window.view.viewport(), Qt.LeftButton, pos=node_point(window.view, "layers"))
    inside = window.inside_windows[-1]
    assert isinstance(inside, InsideWindow) and inside.isVisible() and "layers: repetitions" in inside.windowTitle()
    graph = inside.document.graph
    assert [n for n in graph.nodes if n.startswith("layers_")] == ["layers_0", "layers_1", "layers_2"]
    assert [graph.nodes[f"layers_{i}"].params["out_features"] for i in range(3)] == [16, 20, 24]
    assert graph.nodes["layers_1"].inputs == {"x": "layers_0"}
    assert inside.totals.text().startswith(f"Parameters: {window.document.analysis.nodes['layers'].cost.params:,} ")
