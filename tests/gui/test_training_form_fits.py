"""The training form for a new user (issue 21): the data sets that fit the graph come
first and the others say why they cannot; quick runs (max steps) and the starting weights
(init) are in the form; the panel says what a run's estimate, IoU and outputs were."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from builder import DATA_SOURCES, graph_sources, parse_graph
from gui.document import GraphDocument
from gui.training.run_events import LONG_RUN_SECONDS, epoch_text, follow_event
from gui.training.settings_form import TrainingSettingsForm
from gui.training.source_combo import FIT, NO_FIT, OWN_FILES, REASON_ROLE
from gui.training.state import Progress, TrainingState
from tests.conftest import ROOT

SENTIMENT = ROOT / "graphs" / "lstm_classifier.yaml"


@pytest.fixture
def form(qtbot) -> TrainingSettingsForm:
    widget = TrainingSettingsForm()
    qtbot.addWidget(widget)
    widget.resize(380, 900)
    widget.show()
    return widget


def listed(form: TrainingSettingsForm) -> list[str]:
    """The combo's entries in order: headings as they read, sources by name."""
    combo = form.dataset
    return [combo.itemData(i) or f"# {combo.itemText(i)}" for i in range(combo.count())]


def test_the_sources_that_fit_come_first_and_the_others_say_why(form, lenet):
    form.set_document(lenet)
    entries = listed(form)
    assert entries[0] == f"# {FIT}" and entries[1] == "digits"  # a heading, then the sources that fit
    fitting = entries[1:entries.index(f"# {OWN_FILES}")]
    assert fitting == [f.source for f in graph_sources(lenet.analysis) if f.fits]  # as the engine ranks them
    assert {"digits", "patterns"} <= set(fitting) and "sentiment" not in fitting
    own = entries[entries.index(f"# {OWN_FILES}") + 1:entries.index(f"# {NO_FIT}")]
    assert "npz" in own and "csv" in own
    assert sorted(form.dataset.source_names()) == sorted(DATA_SOURCES)
    combo = form.dataset
    sentiment = combo.findData("sentiment")
    assert sentiment > entries.index(f"# {NO_FIT}")
    # beside the name: what the source needs (the graph's input is the same on every line)
    assert combo.itemData(sentiment, REASON_ROLE).startswith("needs token ids [T]")
    tip = combo.itemData(sentiment, Qt.ItemDataRole.ToolTipRole)  # the whole sentence
    assert tip.startswith(DATA_SOURCES["sentiment"].summary) and "input 'image' is [1, 32, 32] float32" in tip
    assert combo.itemData(combo.findData("reverse"), REASON_ROLE).startswith("gives 2 inputs")
    heading = combo.model().item(0)
    assert not heading.isEnabled() and not heading.isSelectable()
    assert combo.currentData() == "digits" and form.problems() == []


def test_another_graph_reorders_the_combo_and_a_source_that_cannot_fit_is_a_problem(qtbot, form):
    document = GraphDocument.open(SENTIMENT)
    form.set_document(document)
    fitting = listed(form)[1:listed(form).index(f"# {OWN_FILES}")]
    assert "sentiment" in fitting and "digits" not in fitting
    assert form.dataset.currentData() == "sentiment"
    form.dataset.setCurrentIndex(form.dataset.findData("digits"))  # chosen by the user
    assert document.graph.training["data"] == {"name": "digits"}
    problem = next(p for p in form.problems() if p.startswith("training setting 'data'"))
    assert "input 'tokens' is [40] int64, but digits needs images" in problem  # why ...
    assert problem.endswith("first_token and sentiment fit it")  # ... and what fits instead
    assert "cannot fit this graph: needs images" in form.summary.text() and form.message.isVisible()
    document.undo_stack.undo()
    assert form.problems() == []


def test_a_graph_without_data_is_told_which_sources_fit(qtbot, form):
    document = GraphDocument(parse_graph("nodes:\n  x: {block: input, params: {shape: [2]}}\n"
                                         "  fc: {block: linear, params: {out_features: 3}, inputs: [x]}\n"
                                         "  out: {block: output, inputs: [fc]}\n"))
    form.set_document(document)
    assert form.dataset.currentIndex() == -1
    problem = next(p for p in form.problems() if "no data set" in p)
    assert "patterns" not in problem  # images only
    # an edit that keeps the inputs and outputs does not ask the sources again
    fits = form.dataset.fits
    document.set_param("fc", "bias", False)
    assert form.dataset.fits is fits
    document.set_param("x", "shape", [1, 16, 16])  # a new input: asked again
    assert form.dataset.fits is not fits


def test_a_graph_with_errors_lists_every_source_in_order(qtbot, form, lenet):
    form.set_document(lenet)
    lenet.set_param("fc1", "in_features", 399)
    assert listed(form) == list(DATA_SOURCES)
    assert form.dataset.currentData() == "digits"


def test_max_steps_sits_under_epochs_and_is_written_by_its_set_box(qtbot, form, lenet):
    form.set_document(lenet)
    rows = list(form.editors)
    assert rows.index("max_steps") == rows.index("epochs") + 1
    editor = form.editors["max_steps"]
    assert not editor.toggle.isChecked()
    editor.toggle.click()
    assert lenet.graph.training["max_steps"] == 1
    lenet.undo_stack.undo()
    assert "max_steps" not in lenet.graph.training
    assert {"init", "freeze", "lr_mult", "estimate"} <= set(rows)


def test_the_init_picker_writes_a_path_relative_to_the_graph_and_keeps_renames(qtbot, tmp_path, form):
    graph = tmp_path / "g.yaml"
    graph.write_text("nodes:\n  x: {block: input, params: {shape: [4]}}\n"
                     "  fc: {block: linear, params: {out_features: 2}, inputs: [x]}\n"
                     "  out: {block: output, inputs: [fc]}\n"
                     "training: {data: patterns, init: {from: old.safetensors, map: {'net.*': '*'}}}\n")
    document = GraphDocument.open(graph)
    form.set_document(document)
    init = form.editors["init"]
    weights = tmp_path / "runs" / "digits04"
    weights.mkdir(parents=True)
    asked = []
    init.ask_folder = lambda start: asked.append(start) or str(weights)
    init.choose(init.ask_folder)
    assert Path(asked[0]) == tmp_path  # where the current weights are
    assert document.graph.training["init"] == {"from": "runs/digits04", "map": {"net.*": "*"}}
    assert "runs/digits04" in init.line.text()
    init.ask_file = lambda start: ""  # cancelled: nothing changes
    init.choose(init.ask_file)
    assert document.graph.training["init"]["from"] == "runs/digits04"
    init.clear_action.trigger()
    assert "init" not in document.graph.training
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert document.graph.training["init"] == {"from": "old.safetensors", "map": {"net.*": "*"}}


def test_a_loss_per_output_is_shown_and_edited_as_text(qtbot, form):
    document = GraphDocument.open(ROOT / "graphs" / "googlenet_aux.yaml")
    form.set_document(document)
    loss = form.editors["loss"]
    assert "aux1" in loss.line.text() and "weight: 0.3" in loss.line.text()
    loss.line.setText("cross_entropy")
    loss.line.editingFinished.emit()
    assert document.graph.training["loss"] == "cross_entropy"


# ------------------------------------------------------------------ what a run says
def test_the_estimate_event_is_shown_and_a_long_one_says_how_to_shorten_it():
    state = TrainingState("vgg16")
    follow_event(state, {"event": "run_started", "settings": {"epochs": 3, "max_steps": 2}, "steps_per_epoch": 5,
                         "run_dir": "/tmp/x"})
    assert state.progress.total_steps == 2 and "warm-up" in state.status_text
    said = follow_event(state, {"event": "estimate", "epoch_seconds": 3000.0, "run_seconds": 2400.0,
                                "run_steps": 2, "steps_per_epoch": 5, "peak_bytes": 5 * 2**30, "memory": "process",
                                "batch_size": 4, "train_samples": 20})
    assert state.estimate_text.startswith("estimated 1 epoch ≈ 50 min") and "5.4 GB" in state.estimate_text
    assert "warm-up" not in state.status_text
    assert said[0][0].startswith("Estimate: 1 epoch") and said[1][1] == "warning" and "max steps" in said[1][0]
    quick = follow_event(TrainingState("lenet"), {"event": "estimate", "epoch_seconds": 2.0,
                                                   "run_seconds": LONG_RUN_SECONDS / 2, "run_steps": 10,
                                                   "steps_per_epoch": 10, "peak_bytes": None, "memory": "process",
                                                   "batch_size": 64, "train_samples": 1000})
    assert [kind for _, kind in quick] == ["info"]


def test_progress_counts_to_max_steps():
    progress = Progress()
    progress.feed({"event": "run_started", "settings": {"epochs": 10, "max_steps": 3}, "steps_per_epoch": 50})
    progress.feed({"event": "step", "step": 2, "epoch": 0})
    assert progress.total_steps == 3 and progress.text().startswith("epoch 1/1 · step 2/3")


def test_epoch_lines_name_pixel_accuracy_iou_and_each_outputs_loss():
    text = epoch_text({"epoch": 2, "train_loss": 0.5, "val_loss": 0.25, "val_accuracy": 0.993,
                       "val_mean_iou": 0.9712}, "segmentation")
    assert text == "epoch 2: train loss 0.5, val loss 0.25, val pixel accuracy 99.3%, val mean IoU 0.971"
    text = epoch_text({"epoch": 1, "train_loss": 1.0, "val_loss": 0.8, "outputs": {
        "logits": {"val_loss": 0.61, "val_accuracy": 0.5}, "aux1": {"val_loss": 0.952}}}, "multi_output")
    assert text.endswith("(per output: logits 0.61, aux1 0.952)")


def test_the_form_says_what_the_starting_weights_would_load(qtbot, tmp_path, form):
    from safetensors.torch import save_file

    from builder import compile_graph, load_graph

    graph = tmp_path / "lenet5.yaml"
    graph.write_text((ROOT / "graphs" / "lenet5.yaml").read_text())
    save_file(compile_graph(load_graph(graph)).state_dict(), str(tmp_path / "lenet.safetensors"))
    document = GraphDocument.open(graph)
    form.set_document(document)
    preview = form.editors["init"].preview
    assert preview.isHidden()
    document.set_training(dict(document.graph.training, init="lenet.safetensors"))  # relative to the graph
    qtbot.waitUntil(lambda: "tensors into" in preview.text_plain(), timeout=60_000)
    assert "10 of 10 tensors into 5 of 5 nodes" in preview.text_plain()
    document.set_param("fc3", "out_features", 5)  # a new head: its shapes no longer fit
    qtbot.waitUntil(lambda: "fc3" in preview.text_plain(), timeout=60_000)
    assert "fc3.weight: file [10, 84], graph [5, 84]" in preview.text_plain()
    assert "skip_mismatched: [fc3]" in preview.text_plain()  # the hint: how to keep the new head fresh
    document.set_training(dict(document.graph.training, init="missing.safetensors"))
    qtbot.waitUntil(lambda: "missing.safetensors does not exist" in preview.text_plain(), timeout=60_000)


def test_iou_outputs_and_prediction_tabs_follow_what_the_run_reports(qtbot, tmp_path):
    from PySide6.QtGui import QColor, QImage

    from gui.training.live_plots import IOU, OUTPUTS, PREDICTIONS, LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(900, 500)
    plots.show()

    def enabled(name: str) -> bool:
        return plots.tabs.isTabEnabled(plots.tabs.indexOf(plots.page(name)))

    run = tmp_path / "run"
    started = {"event": "run_started", "run_dir": str(run), "settings": {"epochs": 2}, "steps_per_epoch": 3}
    plots.set_events([started, {"event": "epoch", "epoch": 1, "step": 3, "train_loss": 1.0, "val_loss": 0.9}])
    assert not any(enabled(name) for name in (IOU, OUTPUTS, PREDICTIONS))
    plots.add_event({"event": "epoch", "epoch": 2, "step": 6, "train_loss": 0.8, "val_loss": 0.7,
                     "train_mean_iou": 0.5, "val_mean_iou": 0.6,
                     "outputs": {"logits": {"loss": "cross_entropy", "weight": 1, "train_loss": 0.5, "val_loss": 0.4},
                                 "aux1": {"loss": "cross_entropy", "weight": 0.3, "train_loss": 0.9,
                                          "val_loss": 0.8}}})
    assert enabled(IOU) and enabled(OUTPUTS) and not enabled(PREDICTIONS)
    iou = plots.figures(IOU)[0]
    assert [line.get_label().split(" (")[0] for line in iou.axes[0].lines] == ["training mean IoU",
                                                                              "validation mean IoU"]
    outputs = plots.figures(OUTPUTS)[0]
    assert len(outputs.axes) == 4 and "aux1: cross_entropy x 0.3" in outputs.axes[2].get_title()
    # the run ends and its folder gets the masks picture: the panel asks the plots to look again
    (run / "plots").mkdir(parents=True)
    picture = QImage(60, 30, QImage.Format.Format_RGB32)
    picture.fill(QColor("orange"))
    assert picture.save(str(run / "plots" / "masks.png"))
    plots.refresh_images()
    assert enabled(PREDICTIONS)
    assert plots.figures(PREDICTIONS)[0].axes[0].images[0].get_array().shape[:2] == (30, 60)
    plots.set_events([])  # another run (or none): the tabs it has no data for are greyed again
    assert not any(enabled(name) for name in (IOU, OUTPUTS, PREDICTIONS))
