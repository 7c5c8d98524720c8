"""The inspector's Repeat section: a repeated node's count, editable with undo and redo,
and its repetitions as the analysis works them out."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt

from gui.document import GraphDocument
from gui.inspector import Inspector
from tests.gui.test_document import check_undo_redo

GRAPH = """\
format: 1
nodes:
  x: {block: input, params: {shape: [8]}}
  layers:
    block: linear
    repeat: 3
    vary: {out_features: [16, 20, 24], bias: "i < 2"}
    inputs: [x]
  y: {block: output, inputs: [layers]}
"""


@pytest.fixture
def shown(qtbot, tmp_path):
    (tmp_path / "g.yaml").write_text(GRAPH)
    document = GraphDocument.open(tmp_path / "g.yaml")
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.set_document(document)
    inspector.show_nodes(["layers"])
    return document, inspector


def rows(part) -> list[list[str]]:
    """The repetitions table's cells, row by row (the header left out)."""
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in part.table.text().split("<tr>")[1:]]


def section(inspector):
    return inspector._view.repeat_section


def test_the_count_and_each_repetition_are_shown(shown):
    document, inspector = shown
    part = section(inspector)
    assert part is not None and part.count.value() == 3
    # i, then the varied values in name order (bias, out_features), the output and the params
    assert rows(part) == [["0", "True", "16", "16", "144"], ["1", "True", "20", "20", "340"],
                          ["2", "False", "24", "24", "480"]]
    assert "[16, 20, 24]" in part.vary.text() and "&quot;i &lt; 2&quot;" in part.vary.text()
    inspector.show_nodes(["x"])
    assert section(inspector) is None  # only repeated nodes have one


def test_changing_the_count_is_one_undoable_step_that_keeps_the_graph_valid(shown, qtbot):
    document, inspector = shown
    spin = section(inspector).count.spin
    before, after = check_undo_redo(document, lambda: spin.setValue(5))
    assert after.nodes["layers"].repeat == 5
    assert after.nodes["layers"].vary == {"out_features": [16, 20, 24, 24, 24], "bias": "i < 2"}
    assert document.analysis.ok and document.analysis.nodes["y"].shape == (24,)
    assert "applied 5 times" in inspector._view.findChild(type(section(inspector).table), "inspectorSummary").text()
    # arrow clicks right after merge into that same step (as parameter edits do); undo
    # restores the node exactly as the file had it, the lists' third value included
    steps = document.undo_stack.index()
    for _ in range(3):
        qtbot.keyClick(spin, Qt.Key_Down)
    node = document.graph.nodes["layers"]
    assert node.repeat == 2 and node.vary["out_features"] == [16, 20]
    assert [r[0] for r in rows(section(inspector))] == ["0", "1"]
    assert document.undo_stack.index() == steps
    document.undo_stack.undo()
    assert document.graph == before and list(document.graph.nodes) == list(before.nodes)
    assert section(inspector).count.value() == 3
