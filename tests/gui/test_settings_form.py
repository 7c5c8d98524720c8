"""The training settings form: built from the settings schema, showing the graph's
training section, writing edits back through the document (one undo step each)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from builder import DATA_SOURCES, TRAINING_SETTINGS, parse_graph
from gui.document import GraphDocument
from gui.param_editors import FloatEditor
from gui.training.settings_form import TrainingSettingsForm
from gui.training.yaml_values import LiteralEditor, parse_yaml_value, yaml_text


@pytest.fixture
def form(qtbot, lenet) -> TrainingSettingsForm:
    widget = TrainingSettingsForm()
    qtbot.addWidget(widget)
    widget.set_document(lenet)
    widget.resize(360, 900)
    widget.show()
    return widget


def type_into(qtbot, widget, text: str) -> None:
    """Select what the field shows, type ``text`` and press Enter, as a person would."""
    widget.setFocus()
    widget.selectAll()
    if text:
        qtbot.keyClicks(widget, text)
    else:
        qtbot.keyClick(widget, Qt.Key.Key_Backspace)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def choose(combo: QComboBox, text: str) -> None:
    index = combo.findText(text)
    assert index >= 0, text
    combo.setCurrentIndex(index)


def test_every_setting_but_out_has_an_editor(form):
    assert form.objectName() == "trainingSettings"
    assert set(form.editors) == set(TRAINING_SETTINGS) - {"out"}
    combo = form.dataset
    assert sorted(combo.source_names()) == sorted(DATA_SOURCES)
    for i in range(combo.count()):
        name = combo.itemData(i)
        if name is not None:
            assert combo.itemData(i, Qt.ItemDataRole.ToolTipRole).startswith(DATA_SOURCES[name].summary)


def test_shows_the_graphs_training_values_and_defaults_elsewhere(form, lenet):
    assert lenet.graph.training == {"data": {"name": "digits"}, "epochs": 10, "batch_size": 64,
                                    "optimizer": "adam", "lr": 0.001}
    assert form.dataset.currentText() == "digits"
    assert form.summary.text() == DATA_SOURCES["digits"].summary
    assert form.editors["epochs"].spin.value() == 10
    assert form.editors["batch_size"].spin.value() == 64
    assert form.editors["optimizer"].combo.currentText() == "adam"
    assert form.editors["lr"].line.text() == "0.001"
    assert form.editors["momentum"].line.text() == "0.9"  # a default
    assert not form.editors["momentum"].isEnabled()  # only used with sgd
    assert form.editors["amp"].check.isChecked()
    assert form.labels["epochs"].font().bold() and not form.labels["seed"].font().bold()
    # the digits source's own options
    assert set(form.option_editors) == set(DATA_SOURCES["digits"].options)
    assert form.option_editors["normalize"].check.isChecked()
    values = form.values()
    assert values["epochs"] == 10 and values["lr"] == 0.001 and values["seed"] == 0
    assert values["data"] == {"name": "digits"}
    assert form.problems() == [] and form.message.isHidden()


def test_typing_epochs_writes_the_section_and_one_undo_restores_it(qtbot, form, lenet):
    spin = form.editors["epochs"].spin
    type_into(qtbot, spin, "12")
    assert lenet.graph.training["epochs"] == 12
    assert lenet.undo_stack.count() == 1 and lenet.is_modified
    # only what the file had plus the changed key: no defaults written
    assert list(lenet.graph.training) == ["data", "epochs", "batch_size", "optimizer", "lr"]
    assert form.values()["epochs"] == 12
    lenet.undo_stack.undo()
    assert lenet.graph.training["epochs"] == 10
    assert spin.value() == 10 and form.values()["epochs"] == 10
    assert not lenet.is_modified


def test_a_new_setting_is_added_alone_and_reset_removes_it(qtbot, form, lenet):
    type_into(qtbot, form.editors["seed"].spin, "7")
    assert lenet.graph.training["seed"] == 7 and form.labels["seed"].font().bold()
    assert set(lenet.graph.training) == {"data", "epochs", "batch_size", "optimizer", "lr", "seed"}
    form.editors["seed"].reset()
    assert "seed" not in lenet.graph.training
    assert form.editors["seed"].spin.value() == 0


def test_clipping_starts_at_one_when_set(qtbot, form, lenet):
    editor = form.editors["clip_norm"]
    editor.toggle.setChecked(True)
    assert lenet.graph.training["clip_norm"] == 1.0
    type_into(qtbot, editor.inner.line, "0.5")
    assert lenet.graph.training["clip_norm"] == 0.5
    editor.toggle.setChecked(False)
    assert "clip_norm" not in lenet.graph.training


def test_choosing_sgd_enables_momentum(qtbot, form, lenet):
    choose(form.editors["optimizer"].combo, "sgd")
    assert lenet.graph.training["optimizer"] == "sgd"
    assert form.editors["momentum"].isEnabled() and form.editors["nesterov"].isEnabled()


def test_choosing_another_dataset_updates_the_data_mapping(qtbot, form, lenet):
    choose(form.dataset, "npz")
    assert lenet.graph.training["data"] == {"name": "npz"}
    assert set(form.option_editors) == set(DATA_SOURCES["npz"].options)
    assert form.summary.text() == DATA_SOURCES["npz"].summary
    # the required path is missing: said in the form, and marked on its editor
    assert any("'path'" in p and "required" in p for p in form.problems())
    assert form.message.isVisible() and form.option_editors["path"].problem
    type_into(qtbot, form.option_editors["path"].line, "data/xy.npz")
    assert lenet.graph.training["data"] == {"name": "npz", "path": "data/xy.npz"}
    assert form.problems() == []
    # a type without a widget of its own (names) is edited as YAML text
    names = form.option_editors["x"]
    assert isinstance(names, LiteralEditor) and names.line.text() == "[x]"
    type_into(qtbot, names.line, "[image, mask]")
    assert lenet.graph.training["data"]["x"] == ["image", "mask"]
    steps = lenet.undo_stack.count()
    for _ in range(steps):
        lenet.undo_stack.undo()
    assert lenet.graph.training["data"] == {"name": "digits"}
    assert form.dataset.currentText() == "digits" and "augment" in form.option_editors


def test_switching_data_sets_keeps_options_both_take_and_common_ones(qtbot, lenet, form):
    training = dict(lenet.graph.training, data={"name": "digits", "normalize": False, "limit": 100,
                                                   "augment": {"flip": True}})
    lenet.set_training(training)
    assert not form.option_editors["normalize"].check.isChecked()
    assert form.option_editors["augment"].line.text() == "{flip: true}"
    choose(form.dataset, "npz")
    # npz also takes normalize; limit is an option of every source; augment is for images only
    assert lenet.graph.training["data"] == {"name": "npz", "normalize": False, "limit": 100}


def test_invalid_text_is_not_committed_and_says_why(qtbot, form, lenet):
    lr = form.editors["lr"]
    assert isinstance(lr, FloatEditor)
    type_into(qtbot, lr.line, "abc")
    assert lenet.graph.training["lr"] == 0.001 and lenet.undo_stack.count() == 0
    assert lr.problem and form.message.isVisible()
    assert any(p.startswith("training setting 'lr': 'abc' is not a number") for p in form.problems())
    type_into(qtbot, lr.line, "-1")
    assert lenet.graph.training["lr"] == 0.001 and lenet.undo_stack.count() == 0
    assert any("'lr'" in p and ">= 0" in p for p in form.problems())
    type_into(qtbot, lr.line, "3e-4")
    assert lenet.graph.training["lr"] == 3e-4 and form.problems() == [] and form.message.isHidden()


def test_invalid_yaml_option_is_not_committed(qtbot, form, lenet):
    augment = form.option_editors["augment"]
    type_into(qtbot, augment.line, "{flip: maybe}")
    type_into(qtbot, augment.line, "{flip")
    assert lenet.graph.training["data"] == {"name": "digits"}
    assert any(p.startswith("data option 'augment'") for p in form.problems())
    type_into(qtbot, augment.line, "{flip: true, crop: 4}")
    assert lenet.graph.training["data"] == {"name": "digits", "augment": {"flip": True, "crop": 4}}
    type_into(qtbot, augment.line, "")
    assert lenet.graph.training["data"] == {"name": "digits"}


def test_bad_values_in_the_file_are_shown_and_unknown_keys_kept(qtbot, qapp):
    graph = parse_graph("nodes: {x: {block: input, params: {shape: [4]}}}\n"
                        "training: {data: {name: digits}, epochs: 0, lr: 0.1, momentom: 0.5}\n")
    document = GraphDocument(graph)
    form = TrainingSettingsForm()
    qtbot.addWidget(form)
    form.set_document(document)
    problems = form.problems()
    assert any(p.startswith("training setting 'epochs'") for p in problems)
    assert any("'momentom'" in p and "did you mean 'momentum'" in p for p in problems)
    assert form.editors["epochs"].problem
    assert form.values()["epochs"] == 10  # the default stands in for the bad value
    form.editors["lr"].line.setText("0.2")
    form.editors["lr"].line.editingFinished.emit()
    assert document.graph.training == {"data": {"name": "digits"}, "epochs": 0, "lr": 0.2, "momentom": 0.5}


def test_a_graph_without_training_section(qtbot, qapp):
    document = GraphDocument(parse_graph("nodes: {x: {block: input, params: {shape: [4]}}}\n"))
    form = TrainingSettingsForm()
    qtbot.addWidget(form)
    form.set_document(document)
    assert form.dataset.currentIndex() == -1 and not form.option_editors
    assert any("no data set" in p for p in form.problems())
    type_into(qtbot, form.editors["epochs"].spin, "3")
    assert document.graph.training == {"epochs": 3}
    choose(form.dataset, "digits")
    assert document.graph.training == {"epochs": 3, "data": {"name": "digits"}}
    assert form.problems() == []
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert document.graph.training is None and form.editors["epochs"].spin.value() == 10


def test_switching_documents_follows_the_new_one(qtbot, form, lenet):
    other = GraphDocument(parse_graph("nodes: {x: {block: input, params: {shape: [4]}}}\n"
                                      "training: {data: adding, epochs: 3}\n"))
    form.set_document(other)
    assert form.dataset.currentText() == "adding" and form.editors["epochs"].spin.value() == 3
    lenet.set_training(dict(lenet.graph.training, epochs=99))  # the old one no longer shows
    assert form.editors["epochs"].spin.value() == 3


def test_yaml_text_round_trips():
    for value in (["x"], {"flip": True, "crop": 4}, "auto", True, 3, "3", "a: b", "", "true", -1.5, [1, None]):
        assert parse_yaml_value(yaml_text(value)) == value, value
    assert yaml_text({"flip": True, "crop": 4}) == "{flip: true, crop: 4}" and yaml_text("3") == '"3"'
    assert yaml_text(None) == "" and parse_yaml_value("  ") is None
