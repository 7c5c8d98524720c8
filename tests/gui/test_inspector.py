"""The inspector and its typed parameter editors, tested the napari way: build the widget
from a document, change the model and look at the widget; then act on the widget like a
person (typing, Enter, clicks) and look at the model."""

from __future__ import annotations

import textwrap

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from blocks import Bool, Choice, Float, Int, Ints, Text, all_blocks
from builder import parse_graph
from gui.document import GraphDocument
from gui.inspector import Inspector
from gui.labels import exact_count, short_number
from gui.param_editors import (
    BoolEditor,
    ChoiceEditor,
    FloatEditor,
    IntEditor,
    IntsEditor,
    OptionalEditor,
    ShapeEditor,
    TextEditor,
    make_editor,
)


@pytest.fixture
def inspector(qtbot, lenet) -> Inspector:
    widget = Inspector()
    qtbot.addWidget(widget)
    widget.set_document(lenet)
    widget.resize(320, 700)
    widget.show()
    return widget


def label(widget, name: str) -> QLabel:
    found = [w for w in widget.findChildren(QLabel, name) if w.isVisibleTo(widget)]
    assert found, f"no visible label {name!r}"
    return found[0]


def type_into(qtbot, widget, text: str) -> None:
    """Select what the field shows, type ``text`` and press Enter, as a person would."""
    widget.setFocus()
    widget.selectAll()
    if text:
        qtbot.keyClicks(widget, text)
    else:
        qtbot.keyClick(widget, Qt.Key.Key_Backspace)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def steps(document: GraphDocument) -> int:
    return document.undo_stack.index()


# ------------------------------------------------------------------ model -> widget
def test_one_node_shows_block_id_values_shapes_and_cost(inspector, lenet):
    inspector.show_nodes(["conv1"])
    assert inspector.node_id == "conv1"
    assert label(inspector, "inspectorTitle").text() == "conv2d"
    assert label(inspector, "inspectorCategory").text() == "Convolution"
    assert "2-D convolution" in label(inspector, "inspectorSummary").text()
    assert inspector.findChild(object, "inspectorId").text() == "conv1"
    assert list(inspector.editors) == list(lenet.block_of("conv1").params)
    assert inspector.editor("out_channels").editor.value() == 6
    assert [s.value() for s in inspector.editor("kernel_size").spins] == [5, 5]
    assert inspector.editor("padding").word.currentText() == "numbers"
    assert inspector.editor("bias").editor.isChecked()
    assert inspector.editor("padding_mode").editor.currentText() == "zeros"
    assert not inspector.editor("in_channels").toggle.isChecked()
    shapes = label(inspector, "inspectorOutputs").text()
    assert "[1, 32, 32]" in shapes and "[6, 28, 28]" in shapes
    assert label(inspector, "inspectorParams").text() == "156"
    assert label(inspector, "inspectorMacs").text() == "117,600 (117.6 K)"


def test_parameter_counts_match_the_analysis_for_every_node(inspector, lenet):
    for node_id, info in lenet.analysis.nodes.items():
        inspector.show_nodes([node_id])
        assert label(inspector, "inspectorParams").text() == exact_count(info.cost.params)
        assert label(inspector, "inspectorMacs").text() == exact_count(info.cost.macs)


def test_numbers_read_with_thousands_separators_and_units():
    assert exact_count(61_100_840) == "61,100,840 (61.1 M)"
    assert exact_count(999) == "999"
    assert short_number(2_500_000_000) == "2.5 G"


def test_model_changes_refresh_the_editors_in_place(inspector, lenet):
    inspector.show_nodes(["conv1"])
    editor = inspector.editor("out_channels")
    lenet.set_param("conv1", "out_channels", 8)
    assert inspector.editor("out_channels") is editor, "same block: editors are kept (and their focus)"
    assert editor.editor.value() == 8
    assert "[8, 28, 28]" in label(inspector, "inspectorOutputs").text()
    assert label(inspector, "inspectorParams").text() == exact_count(lenet.analysis.nodes["conv1"].cost.params)
    lenet.undo_stack.undo()
    assert editor.editor.value() == 6


def test_text_being_typed_survives_an_unrelated_refresh(qtbot, inspector, lenet):
    inspector.show_nodes(["image"])
    line = inspector.editor("shape").editor
    line.setFocus()
    line.selectAll()
    qtbot.keyClicks(line, "3, 64")
    lenet.set_param("conv2", "out_channels", 12)  # e.g. an undo elsewhere: analysisChanged
    assert line.text() == "3, 64"


def test_empty_selection_shows_hint_and_graph_totals(inspector, lenet):
    inspector.show_nodes([])
    assert "Select a node" in label(inspector, "inspectorHint").text()
    total = lenet.analysis.total
    assert label(inspector, "inspectorParams").text() == exact_count(total.params) == "61,706 (61.7 K)"
    assert label(inspector, "inspectorMacs").text() == exact_count(total.macs)
    assert label(inspector, "inspectorOutputs").text() == "logits: [10]"
    lenet.set_param("fc3", "out_features", 5)
    assert label(inspector, "inspectorOutputs").text() == "logits: [5]"


def test_several_nodes_show_their_summed_cost(inspector, lenet):
    inspector.show_nodes(["conv1", "fc1"])
    assert label(inspector, "inspectorTitle").text() == "2 nodes selected"
    nodes = lenet.analysis.nodes
    assert label(inspector, "inspectorParams").text() == exact_count(nodes["conv1"].cost.params
                                                                   + nodes["fc1"].cost.params)
    assert inspector.editor("out_channels") is None


def test_removed_node_clears_and_renamed_node_is_followed(inspector, lenet):
    inspector.show_nodes(["fc2"])
    lenet.rename_node("fc2", "hidden")
    assert inspector.node_id == "hidden"
    assert inspector.findChild(object, "inspectorId").text() == "hidden"
    lenet.undo_stack.undo()
    assert inspector.node_id == "fc2"
    lenet.remove_nodes(["fc2"])
    assert inspector.node_id is None
    assert "Select a node" in label(inspector, "inspectorHint").text()


def test_a_new_block_rebuilds_the_editors(inspector, lenet):
    inspector.show_nodes(["act1"])
    assert inspector.editors == {}
    lenet.set_node_block("act1", "leaky_relu")
    assert label(inspector, "inspectorTitle").text() == "leaky_relu"
    assert isinstance(inspector.editor("negative_slope"), FloatEditor)


def test_a_bad_parameter_value_marks_its_editor(inspector, lenet):
    inspector.show_nodes(["conv1"])
    lenet.set_param("conv1", "out_channels", 0)
    editor = inspector.editor("out_channels")
    assert editor.problem and "out_channels" in editor.problem and "found 0" in editor.problem
    assert editor.problem in editor.toolTip()
    assert editor.editor.text() == "?", "a number outside the range is not shown as another number"
    assert "found 0" in label(inspector, "inspectorProblems").text()
    assert inspector.editor("kernel_size").problem is None
    lenet.undo_stack.undo()
    assert editor.problem is None and not label_visible(inspector, "inspectorProblems")


def label_visible(widget, name: str) -> bool:
    return any(w.isVisibleTo(widget) for w in widget.findChildren(QLabel, name))


def test_required_parameter_not_set_shows_as_unset(inspector, lenet):
    node = lenet.add_node("conv2d", {}, inputs=["pool1"])
    inspector.show_nodes([node])
    editor = inspector.editor("out_channels")
    assert editor.editor.text() == "?" and editor.value() is None
    assert "missing required parameter" in editor.problem
    assert [s.text() for s in inspector.editor("kernel_size").spins] == ["?", "?"]


# ------------------------------------------------------------------ widget -> model
def test_typing_a_spin_box_value_and_enter_is_one_undo_step(qtbot, inspector, lenet):
    inspector.show_nodes(["conv1"])
    before = steps(lenet)
    type_into(qtbot, inspector.editor("out_channels").editor, "16")
    assert lenet.node("conv1").params["out_channels"] == 16
    assert steps(lenet) == before + 1
    assert lenet.analysis.nodes["conv1"].shape == (16, 28, 28)
    lenet.undo_stack.undo()
    assert lenet.node("conv1").params["out_channels"] == 6


def test_kernel_size_edit_changes_params_and_shape_and_undoes_at_once(qtbot, inspector, lenet):
    inspector.show_nodes(["conv1"])
    before = steps(lenet)
    first, second = inspector.editor("kernel_size").spins
    type_into(qtbot, first, "3")
    assert lenet.node("conv1").params["kernel_size"] == [3, 5]
    type_into(qtbot, second, "3")
    assert lenet.node("conv1").params["kernel_size"] == 3, "one number again, as the file wrote it"
    assert lenet.analysis.nodes["conv1"].shape == (6, 30, 30)
    assert "[6, 30, 30]" in label(inspector, "inspectorOutputs").text()
    assert steps(lenet) == before + 1, "changes of one parameter merge into one undo step"
    lenet.undo_stack.undo()
    assert lenet.node("conv1").params["kernel_size"] == 5
    assert lenet.analysis.nodes["conv1"].shape == (6, 28, 28)
    assert [s.value() for s in inspector.editor("kernel_size").spins] == [5, 5]


def test_padding_word_commits_the_word(qtbot, inspector, lenet):
    inspector.show_nodes(["conv1"])
    word = inspector.editor("padding").word
    qtbot.keyClick(word, Qt.Key.Key_Down)
    assert lenet.node("conv1").params["padding"] == "same"
    assert lenet.analysis.nodes["conv1"].shape == (6, 32, 32)
    assert not inspector.editor("padding").spins[0].isEnabled()
    qtbot.keyClick(word, Qt.Key.Key_Up)
    assert lenet.node("conv1").params["padding"] == 0


def test_choice_and_bool_editors_commit(qtbot, inspector, lenet):
    inspector.show_nodes(["conv1"])
    qtbot.keyClick(inspector.editor("padding_mode").editor, Qt.Key.Key_Down)
    assert lenet.node("conv1").params["padding_mode"] == "reflect"
    qtbot.mouseClick(inspector.editor("bias").editor, Qt.MouseButton.LeftButton)
    assert lenet.node("conv1").params["bias"] is False
    assert label(inspector, "inspectorParams").text() == "150"


def test_optional_toggle_commits_a_value_then_none(qtbot, inspector, lenet):
    inspector.show_nodes(["fc1"])
    editor = inspector.editor("in_features")
    assert isinstance(editor, OptionalEditor) and not editor.inner.isVisibleTo(inspector)
    qtbot.mouseClick(editor.toggle, Qt.MouseButton.LeftButton)
    assert lenet.node("fc1").params["in_features"] == 1
    assert any("expects 1 input features" in p.message for p in lenet.analysis.problems_for("fc1"))
    type_into(qtbot, editor.editor, "400")
    assert lenet.node("fc1").params["in_features"] == 400 and lenet.analysis.ok
    qtbot.mouseClick(editor.toggle, Qt.MouseButton.LeftButton)
    assert "in_features" not in lenet.node("fc1").params
    assert not editor.inner.isVisibleTo(inspector)


def test_optional_in_channels_set_in_the_file_can_be_unset(qtbot, inspector, lenet):
    lenet.set_param("conv1", "in_channels", 1)
    inspector.show_nodes(["conv1"])
    editor = inspector.editor("in_channels")
    assert editor.toggle.isChecked() and editor.editor.value() == 1
    qtbot.mouseClick(editor.toggle, Qt.MouseButton.LeftButton)
    assert "in_channels" not in lenet.node("conv1").params


def test_shape_text_commits_a_list_and_invalid_text_is_kept_back(qtbot, inspector, lenet):
    inspector.show_nodes(["image"])
    editor = inspector.editor("shape")
    assert isinstance(editor, ShapeEditor) and editor.editor.text() == "1, 32, 32"
    type_into(qtbot, editor.editor, "3, 32, 32")
    assert lenet.node("image").params["shape"] == [3, 32, 32]
    assert lenet.analysis.nodes["conv1"].input_shapes["x"] == (3, 32, 32)
    before = steps(lenet)
    for text in ("3, a, 32", "0, 32, 32", ""):
        type_into(qtbot, editor.editor, text)
        assert editor.problem, text
        assert editor.problem in editor.toolTip()
    assert "expected at least 1 integers, found 0" in editor.problem
    assert lenet.node("image").params["shape"] == [3, 32, 32] and steps(lenet) == before
    type_into(qtbot, editor.editor, "[3, 28, 28]")
    assert lenet.node("image").params["shape"] == [3, 28, 28] and editor.problem is None
    editor.editor.selectAll()
    qtbot.keyClicks(editor.editor, "3, a")
    qtbot.keyClick(editor.editor, Qt.Key.Key_Escape)
    assert editor.editor.text() == "3, 28, 28" and editor.problem is None


def test_rename_through_the_id_field_moves_the_wires(qtbot, inspector, lenet):
    inspector.show_nodes(["conv1"])
    type_into(qtbot, inspector.findChild(object, "inspectorId"), "stem")
    assert "stem" in lenet.graph.nodes and "conv1" not in lenet.graph.nodes
    assert lenet.node("act1").inputs == ["stem"]
    assert inspector.node_id == "stem"
    type_into(qtbot, inspector.editor("out_channels").editor, "7")
    assert lenet.node("stem").params["out_channels"] == 7, "editors follow the new id"


@pytest.mark.parametrize("text, reason", [("9x", "cannot be a node id"), ("conv2", "already a node")])
def test_an_invalid_id_shows_why_and_changes_nothing(qtbot, inspector, lenet, text, reason):
    inspector.show_nodes(["conv1"])
    field = inspector.findChild(object, "inspectorId")
    before = steps(lenet)
    field.selectAll()
    qtbot.keyClicks(field, text)
    error = label(inspector, "inspectorIdError")
    assert reason in error.text() and field.property("invalid")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert steps(lenet) == before and "conv1" in lenet.graph.nodes
    assert reason in error.text()
    qtbot.keyClick(field, Qt.Key.Key_Escape)
    assert field.text() == "conv1" and not field.property("invalid")
    assert not label_visible(inspector, "inspectorIdError")


# ------------------------------------------------------------------ other kinds of node
def test_unknown_block_shows_the_error_and_no_editors(qtbot, qapp):
    document = GraphDocument(parse_graph(textwrap.dedent("""\
        format: 1
        nodes:
          x: {block: input, params: {shape: [4]}}
          y: {block: lineer, params: {out_features: 3}, inputs: [x]}
          out: {block: output, inputs: [y]}
        """)))
    widget = Inspector()
    qtbot.addWidget(widget)
    widget.set_document(document)
    widget.show_nodes(["y"])
    assert widget.editors == {}
    assert label(widget, "inspectorTitle").text() == "lineer"
    text = label(widget, "inspectorProblems").text()
    assert "unknown block" in text and "linear" in text  # the hint: did you mean 'linear'?


DOUBLE_CONV = """\
format: 1
name: double_conv
description: Two 3x3 convolutions without padding.
expose:
  width: [c1.out_channels, c2.out_channels]
nodes:
  x: {block: input, params: {shape: [3, 8, 8]}}
  c1: {block: conv2d, params: {out_channels: 4, kernel_size: 3}, inputs: [x]}
  c2: {block: conv2d, params: {out_channels: 4, kernel_size: 3}, inputs: [c1]}
  out: {block: output, inputs: [c2]}
"""

PARENT = """\
format: 1
name: parent
nodes:
  img: {block: input, params: {shape: [3, 32, 32]}}
  down: {graph: double_conv.yaml, params: {width: 8}, inputs: [img]}
  y: {block: output, inputs: [down]}
"""


def test_a_graph_node_shows_its_file_and_exposed_params(qtbot, qapp, tmp_path):
    (tmp_path / "double_conv.yaml").write_text(DOUBLE_CONV)
    (tmp_path / "parent.yaml").write_text(PARENT)
    document = GraphDocument.open(tmp_path / "parent.yaml")
    widget = Inspector()
    qtbot.addWidget(widget)
    widget.set_document(document)
    widget.show_nodes(["down"])
    assert "double_conv.yaml" in label(widget, "inspectorGraphFile").text()
    assert "look inside" in label(widget, "inspectorLookInside").text()
    assert label(widget, "inspectorSummary").text() == "Two 3x3 convolutions without padding."
    assert list(widget.editors) == ["width"] and widget.editor("width").editor.value() == 8
    type_into(qtbot, widget.editor("width").editor, "6")
    assert document.node("down").params["width"] == 6
    assert document.analysis.nodes["down"].shape == (6, 28, 28)
    assert "[6, 28, 28]" in label(widget, "inspectorOutputs").text()


# ------------------------------------------------------------------ the editors themselves
EDITOR_TYPES = {Int: IntEditor, Float: FloatEditor, Bool: BoolEditor, Choice: ChoiceEditor, Text: TextEditor}


def test_every_declared_parameter_gets_a_silent_editor_of_its_type(qtbot):
    """Adding a block needs nothing in gui/: every parameter of every block gets an editor
    that shows its default without committing it."""
    for block in all_blocks():
        for name, param in block.params.items():
            value = None if param.required else param.default
            editor = make_editor(name, param, value)
            qtbot.addWidget(editor)
            committed = []
            editor.valueCommitted.connect(committed.append)
            editor.set_value(value)
            assert committed == [], (block.name, name)
            assert param.describe() in editor.toolTip() and param.doc in editor.toolTip()
            if param.optional and param.default is None:
                assert isinstance(editor, OptionalEditor) and editor.value() is None
                continue
            expected = IntsEditor if isinstance(param, Ints) and param.length else \
                ShapeEditor if isinstance(param, Ints) else EDITOR_TYPES[type(param)]
            assert isinstance(editor, expected), (block.name, name)
            if value is not None:
                assert param.check(editor.value()) == param.check(value), (block.name, name)


def test_float_editor_takes_scientific_notation(qtbot):
    param = Float(1e-5, min=0.0, doc="eps")
    editor = make_editor("eps", param, 1e-5)
    qtbot.addWidget(editor)
    assert editor.editor.text() == "1e-05"
    committed = []
    editor.valueCommitted.connect(committed.append)
    type_into(qtbot, editor.editor, "2.5e-4")
    type_into(qtbot, editor.editor, "-1")
    type_into(qtbot, editor.editor, "abc")
    assert committed == [2.5e-4]
    assert "not a number" in editor.problem
    editor.set_value(3)
    assert editor.editor.text() == "3.0" and editor.problem is None


def test_optional_bool_and_fixed_ints_with_words(qtbot):
    editor = make_editor("align_corners", Bool(None, optional=True), None)
    qtbot.addWidget(editor)
    editor.show()
    committed = []
    editor.valueCommitted.connect(committed.append)
    qtbot.mouseClick(editor.toggle, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(editor.editor, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(editor.toggle, Qt.MouseButton.LeftButton)
    assert committed == [False, True, None]
    padding = make_editor("padding", Ints(0, length=3, min=0, words=("same",)), "same")
    qtbot.addWidget(padding)
    assert padding.value() == "same" and len(padding.spins) == 3


def test_reset_to_default_commits_none(qtbot):
    editor = make_editor("groups", Int(1, min=1), 4)
    qtbot.addWidget(editor)
    committed = []
    editor.valueCommitted.connect(committed.append)
    editor.reset()  # what the context menu's "Reset to default (1)" does
    assert committed == [None]


def test_reset_puts_the_default_back_and_names_set_in_the_file_are_bold(inspector, lenet):
    inspector.show_nodes(["conv1"])
    labels = inspector.findChildren(QLabel)
    bold = {w.text() for w in labels if w.font().bold() and w.text() in inspector.editors}
    assert bold == {"out_channels", "kernel_size"}
    inspector.editor("out_channels").reset()
    assert "out_channels" not in lenet.node("conv1").params
    assert inspector.editor("out_channels").problem, "out_channels is required"


def test_text_left_by_selecting_another_node_is_committed_to_its_node(qtbot, inspector, lenet):
    inspector.show_nodes(["image"])
    line = inspector.editor("shape").editor
    inspector.activateWindow()
    line.setFocus()
    line.selectAll()
    qtbot.keyClicks(line, "3, 32, 32")
    inspector.show_nodes(["conv1"])
    assert lenet.node("image").params["shape"] == [3, 32, 32]
    assert inspector.node_id == "conv1"
    assert lenet.analysis.nodes["conv1"].input_shapes["x"] == (3, 32, 32)


def test_ctrl_z_in_a_field_undoes_the_document_once_the_typing_is_committed(qtbot, inspector, lenet):
    """Undo from anywhere: with the cursor still in the inspector's field after Enter,
    Ctrl+Z is the window's Undo; while typing, it undoes the typing first."""
    from PySide6.QtGui import QAction, QKeySequence

    inspector.show_nodes(["conv1"])
    undo = QAction("Undo", inspector)  # what the main window's Edit > Undo is
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    undo.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    undo.triggered.connect(lenet.undo_stack.undo)
    inspector.addAction(undo)
    qtbot.waitExposed(inspector)
    for name in ("out_channels", "shape"):  # a spin box and a text field
        node = "conv1" if name == "out_channels" else "image"
        inspector.show_nodes([node])
        field = inspector.editor(name).editor
        before = dict(lenet.node(node).params)
        type_into(qtbot, field, "16" if name == "out_channels" else "3, 32, 32")
        assert lenet.node(node).params != before
        assert field.hasFocus()
        qtbot.keyClick(field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert lenet.node(node).params == before, name


def test_an_invalid_value_shows_its_reason_under_the_field(qtbot, inspector, lenet):
    inspector.show_nodes(["image"])
    editor = inspector.editor("shape")
    type_into(qtbot, editor.editor, "1, 0, 32")
    reason = editor.findChild(QLabel, "paramReason")
    assert reason.isVisibleTo(inspector) and "found 0" in reason.text()
    assert lenet.node("image").params["shape"] == [1, 32, 32]  # nothing committed
    type_into(qtbot, editor.editor, "1, 28, 28")
    assert not reason.isVisibleTo(inspector)
