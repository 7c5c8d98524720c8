"""Freezing nodes from the editor (issue 16): the inspector's toggle writes the training
section's ``freeze`` as one undo step each, the totals split the parameters into trainable
and frozen as ``modelbuilder check`` does, and frozen boxes look different on the canvas."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel

from builder import parameter_split, parse_graph
from gui.canvas import GraphScene, GraphView
from gui.document import GraphDocument
from gui.inspector import Inspector
from gui.labels import exact_count
from tests.gui.test_document import check_undo_redo


@pytest.fixture
def inspector(qtbot, lenet) -> Inspector:
    widget = Inspector()
    qtbot.addWidget(widget)
    widget.set_document(lenet)
    widget.resize(320, 800)
    widget.show()
    return widget


def box(inspector: Inspector) -> QCheckBox:
    found = inspector.findChild(QCheckBox, "inspectorFreeze")
    assert found is not None and found.isVisibleTo(inspector)
    return found


def text_of(widget, name: str) -> str:
    found = [w for w in widget.findChildren(QLabel, name) if w.isVisibleTo(widget)]
    assert found, f"no visible label {name!r}"
    return found[0].text()


def test_ticking_freeze_is_one_undo_step_and_undo_restores_the_section_exactly(qtbot, inspector, lenet):
    inspector.show_nodes(["conv1"])
    assert not box(inspector).isChecked()
    before, after = check_undo_redo(lenet, lambda: qtbot.mouseClick(box(inspector), Qt.MouseButton.LeftButton))
    assert "freeze" not in before.training and after.training["freeze"] == ["conv1"]
    assert lenet.undo_stack.undoText() == "Freeze conv1"
    assert box(inspector).isChecked()  # redone: the box follows the section
    assert "156 parameters stay as they are" in text_of(inspector, "inspectorFreezeNote")
    # a second node is a second step, not merged into the first
    inspector.show_nodes(["conv2"])
    check_undo_redo(lenet, lambda: box(inspector).click())
    assert lenet.graph.training["freeze"] == ["conv1", "conv2"]
    lenet.undo_stack.undo()
    assert lenet.graph.training["freeze"] == ["conv1"] and not box(inspector).isChecked()
    # thawing the last frozen node leaves the setting out
    inspector.show_nodes(["conv1"])
    check_undo_redo(lenet, lambda: box(inspector).click())
    assert "freeze" not in lenet.graph.training and lenet.undo_stack.undoText() == "Unfreeze conv1"


def test_a_graph_without_training_section_gets_one_and_loses_it_on_undo(qtbot, qapp):
    document = GraphDocument(parse_graph("nodes:\n  x: {block: input, params: {shape: [4]}}\n"
                                         "  fc: {block: linear, params: {out_features: 2}, inputs: [x]}\n"
                                         "  out: {block: output, inputs: [fc]}\n"))
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.set_document(document)
    inspector.show()
    inspector.show_nodes(["x"])
    assert inspector.findChild(QCheckBox, "inspectorFreeze") is None  # an input has nothing to train
    inspector.show_nodes(["fc"])
    check_undo_redo(document, lambda: box(inspector).click())
    assert document.graph.training == {"freeze": ["fc"]}
    document.undo_stack.undo()
    assert document.graph.training is None


def test_nodes_frozen_up_to_a_node_are_ticked_and_one_can_be_thawed(qtbot, inspector, lenet):
    lenet.set_training(dict(lenet.graph.training, freeze={"up_to": "pool2"}))
    inspector.show_nodes(["conv2"])
    assert box(inspector).isChecked()
    assert "up_to: pool2" in text_of(inspector, "inspectorFreezeNote")
    inspector.show_nodes(["fc1"])
    assert not box(inspector).isChecked()
    inspector.show_nodes(["conv1"])
    check_undo_redo(lenet, lambda: box(inspector).click())
    frozen = lenet.graph.training["freeze"]
    assert isinstance(frozen, list) and "conv1" not in frozen and "conv2" in frozen and "pool2" in frozen


def test_totals_show_trainable_and_frozen_parameters_as_check_counts_them(qtbot, inspector, lenet):
    inspector.show_nodes([])
    assert not any(w.isVisibleTo(inspector) for w in inspector.findChildren(QLabel, "inspectorFrozen"))
    lenet.set_training(dict(lenet.graph.training, freeze=["conv1", "conv2"]))  # the form or an undo: totals follow
    split, problems = parameter_split(lenet.analysis)
    assert not problems and split.frozen == 156 + 2416
    assert text_of(inspector, "inspectorTrainable") == exact_count(split.trainable)
    assert text_of(inspector, "inspectorFrozen") == exact_count(split.frozen)
    assert split.trainable + split.frozen == lenet.analysis.total.params
    inspector.show_nodes(["conv1", "fc1"])  # a selection: its own split
    assert text_of(inspector, "inspectorFrozen") == exact_count(156)
    assert text_of(inspector, "inspectorTrainable") == exact_count(lenet.analysis.nodes["fc1"].cost.params)
    # a freeze entry naming no node is said, with the closest id
    lenet.set_training(dict(lenet.graph.training, freeze=["conv9"]))
    inspector.show_nodes([])
    assert "no node 'conv9'" in text_of(inspector, "inspectorProblems")


def test_frozen_boxes_look_different_on_the_canvas_and_follow_undo(qtbot, lenet):
    scene = GraphScene(lenet)
    view = GraphView(scene)
    qtbot.addWidget(view)
    view.resize(900, 900)
    view.show()
    items = scene.node_items
    view.centerOn(items["conv1"])

    def picture():
        rect = view.mapFromScene(items["conv1"].sceneBoundingRect()).boundingRect()
        return view.viewport().grab(rect).toImage()

    assert not any(item.frozen for item in items.values())
    plain = picture()
    lenet.set_training(dict(lenet.graph.training, freeze={"up_to": "pool1"}))
    assert {i for i, item in items.items() if item.frozen} == {"image", "conv1", "act1", "pool1"}
    assert "frozen" in items["conv1"].toolTip()
    assert picture() != plain
    lenet.undo_stack.undo()
    assert not any(item.frozen for item in items.values())
    assert picture() == plain


def test_renaming_a_frozen_node_keeps_it_frozen_in_one_undo_step(qtbot, inspector, lenet):
    inspector.show_nodes(["conv1"])
    box(inspector).click()
    lenet.set_training({**lenet.graph.training, "lr_mult": {"fc3": 10, "conv2": 2}})
    before, after = check_undo_redo(lenet, lambda: lenet.rename_node("conv1", "stem"))
    assert before.training["freeze"] == ["conv1"]
    assert after.training["freeze"] == ["stem"] and after.training["lr_mult"] == {"fc3": 10, "conv2": 2}
    assert lenet.undo_stack.undoText() == "Rename conv1 to stem"
    inspector.show_nodes(["stem"])
    assert box(inspector).isChecked()  # still frozen: it would otherwise silently train again
    check_undo_redo(lenet, lambda: lenet.rename_node("fc3", "head"))
    assert list(lenet.graph.training["lr_mult"]) == ["head", "conv2"]  # key order kept


def test_renamed_in_training_names_each_setting_and_leaves_globs():
    from builder import renamed_in_training

    section = {"freeze": {"up_to": "pool2"}, "loss": {"logits": "cross_entropy"},
               "init": {"from": "w.safetensors", "skip_mismatched": ["fc3", "conv*"]}}
    assert renamed_in_training(section, "pool2", "p2")["freeze"] == {"up_to": "p2"}
    assert renamed_in_training(section, "logits", "out")["loss"] == {"out": "cross_entropy"}
    assert renamed_in_training(section, "fc3", "head")["init"]["skip_mismatched"] == ["head", "conv*"]
    assert renamed_in_training({"freeze": "conv1, conv2"}, "conv2", "c2") == {"freeze": "conv1, c2"}
    assert renamed_in_training({"freeze": ["conv*"]}, "conv1", "x") is None  # a glob names no one node
    assert renamed_in_training(section, "nowhere", "x") is None and renamed_in_training(None, "a", "b") is None
