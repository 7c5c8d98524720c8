"""The problems list: built from a document, it follows the analysis; clicking a row that
names a node asks for that node."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui.document import GraphDocument
from gui.problems import LOCATION, MESSAGE, NODE, SEVERITY, SEVERITY_ROLE, ProblemsPanel
from tests.conftest import ROOT


@pytest.fixture
def panel(qtbot, lenet) -> ProblemsPanel:
    widget = ProblemsPanel()
    qtbot.addWidget(widget)
    widget.set_document(lenet)
    widget.resize(700, 200)
    widget.show()
    return widget


def rows(panel: ProblemsPanel) -> list[tuple[str, str, str, str]]:
    tree = panel.tree
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    return [(item.toolTip(SEVERITY), *(item.text(c) for c in (NODE, MESSAGE, LOCATION))) for item in items]


def click_row(qtbot, panel: ProblemsPanel, row: int) -> None:
    tree = panel.tree
    rect = tree.visualItemRect(tree.topLevelItem(row))
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_a_clean_graph_lists_nothing(panel):
    assert panel.count() == 0 and rows(panel) == []
    assert panel.empty.isVisibleTo(panel) and not panel.tree.isVisibleTo(panel)


def test_a_problem_appears_and_clicking_it_asks_for_its_node(qtbot, panel, lenet):
    counts = []
    panel.countChanged.connect(counts.append)
    lenet.set_param("fc1", "in_features", 399)
    assert panel.count() == 1 and counts == [1]
    [(severity, node, message, location)] = rows(panel)
    assert (severity, node) == ("error", "fc1")
    assert panel.tree.topLevelItem(0).data(SEVERITY, SEVERITY_ROLE) == "error"
    assert "expects 399 input features but receives 400" in message
    assert location.startswith("lenet5.yaml:")
    item = panel.tree.topLevelItem(0)
    assert item.toolTip(MESSAGE).startswith(message) and "hint: " in item.toolTip(MESSAGE)
    with qtbot.waitSignal(panel.nodeActivated) as blocker:
        click_row(qtbot, panel, 0)
    assert blocker.args == ["fc1"]
    lenet.undo_stack.undo()  # fixing it empties the list
    assert panel.count() == 0 and rows(panel) == [] and counts == [1, 0]


def test_a_bad_shape_reports_on_its_node_with_the_hint(panel, lenet):
    lenet.set_param("conv2", "kernel_size", 20)
    [(_, node, message, _)] = rows(panel)
    assert node == "conv2" and "smaller than the kernel" in message
    assert "hint: check the shapes" in panel.tree.topLevelItem(0).toolTip(MESSAGE)
    lenet.set_param("conv2", "kernel_size", 5)
    assert rows(panel) == []


def test_errors_come_first_and_graph_problems_activate_nothing(qtbot, panel, lenet):
    lenet.remove_nodes(["logits"])
    assert [(r[0], r[1]) for r in rows(panel)] == [("error", ""), ("warning", "fc3")]
    assert panel.count() == 2
    activated = []
    panel.nodeActivated.connect(activated.append)
    click_row(qtbot, panel, 0)
    assert activated == []
    panel.tree.setCurrentItem(panel.tree.topLevelItem(1))
    qtbot.keyClick(panel.tree, Qt.Key.Key_Return)  # activation from the keyboard
    assert activated == ["fc3"]


def test_switching_documents(qtbot, panel, lenet):
    lenet.set_param("fc1", "in_features", 3)
    assert panel.count() == 1
    other = GraphDocument.open(ROOT / "graphs" / "lenet5.yaml")
    panel.set_document(other)
    assert panel.count() == 0
    lenet.set_param("fc2", "in_features", 3)  # the old document is no longer followed
    assert panel.count() == 0
    panel.set_document(None)
    assert rows(panel) == [] and not panel.empty.isVisibleTo(panel)


def test_a_narrow_panel_gives_the_location_column_to_the_message(panel):
    assert not panel.tree.isColumnHidden(LOCATION)
    panel.resize(320, 300)
    assert panel.tree.isColumnHidden(LOCATION)
