"""Edit › Fold Repeated Structure… driven like a person: flat graphs written to a folder,
the menu action, the dialog's list of runs, OK, and the folded graph opened from its new
file after the proof ran off the window's thread; and the cases where nothing is folded
(nothing found, no file yet, a proof that fails, a part folder outside the project, a
write that fails), which leave nothing behind."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QMessageBox

import builder
from builder import dump_graph, load_graph
from builder.graph import Node
from gui.document import GraphDocument
from gui.fold_dialog import FoldDialog
from gui.main_window import MainWindow
from tests.builder.flat_nets import chain, flatten, with_input_shape
from tests.conftest import ROOT

PROOF_TIMEOUT_MS = 60_000  # the first fold imports torch and compiles two models


@pytest.fixture
def window(qtbot, tmp_path_factory):
    """A main window with its own settings and recovery folder (apart from the graphs'
    folder, tmp_path); its questions answered from ``answers`` and its messages collected
    in ``errors`` and ``infos``."""
    own = tmp_path_factory.mktemp("app")
    settings = QSettings(str(own / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings=settings, recovery_folder=own / "recovery")
    win.answers = {"save_first": False, "save_path": None}
    win.asked, win.errors, win.infos = [], [], []
    win.ask_unsaved = lambda: QMessageBox.Cancel
    win.ask_save_path = lambda: win.answers["save_path"]
    win.show_error = lambda title, text: win.errors.append(text)
    win.show_info = lambda title, text: win.infos.append(text)
    win.folding.ask_save_first = lambda text: win.asked.append(text) or win.answers["save_first"]
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def written(path, graph):
    path.write_text(dump_graph(graph))
    return path


def fold_action(win: MainWindow):
    """The Edit menu's entry, found by its text as a person finds it."""
    (action,) = [a for a in win.edit_menu.actions() if a.text().replace("&", "") == "Fold Repeated Structure…"]
    return action


def open_fold_dialog(win: MainWindow) -> FoldDialog:
    fold_action(win).trigger()
    dialog = win.folding.dialog
    assert dialog is not None and dialog.isVisible() and not win.errors and not win.infos
    return dialog


def rows(dialog: FoldDialog) -> list[str]:
    return [dialog.repeat_list.item(i).text() for i in range(dialog.repeat_list.count())]


def accept(qtbot, win: MainWindow, dialog: FoldDialog) -> bool:
    """Click Fold and wait for the proof; True when it was written and opened."""
    with qtbot.waitSignal(win.folding.finished, timeout=PROOF_TIMEOUT_MS) as done:
        qtbot.mouseClick(dialog.ok_button, Qt.LeftButton)
        assert win.folding.is_running() and not dialog.isVisible()
    return done.args[0]


def test_chain_folds_into_a_new_file_that_opens_with_its_repeated_node_selected(window, qtbot, tmp_path):
    flat = written(tmp_path / "chain.yaml", chain(6))
    original = flat.read_text()
    window.open_file(flat)
    dialog = open_fold_dialog(window)
    assert rows(dialog) == ["6 copies × 2 nodes: linear, relu starting at fc1, fc2, ..."]
    assert dialog.repeat_list.item(0).checkState() == Qt.Checked
    assert dialog.parts_edit.text() == str(tmp_path / "parts")
    note = dialog.note.text()
    assert "15 → 4 nodes" in note and "chain_folded.yaml" in note and "parts/" in note and "chain.yaml stays" in note
    assert dialog.repeat_box.isChecked()  # one repeated node per run, unless unchecked
    assert accept(qtbot, window, dialog)

    folded, part = tmp_path / "chain_folded.yaml", tmp_path / "parts" / "chain_linear_relu.yaml"
    assert folded.is_file() and part.is_file() and flat.read_text() == original
    document = window.document
    assert document.path == str(folded) and len(document.graph.nodes) == 4 and document.analysis.ok
    node = document.graph.nodes["linear_relu"]
    assert (node.graph, node.repeat) == ("parts/chain_linear_relu.yaml", 6)
    # opened like any file: in the recent files, nothing to undo, not modified
    assert window.recent_files()[0] == str(folded.resolve())
    assert document.undo_stack.count() == 0 and not window.isWindowModified()
    assert window.scene.selected_ids() == ["linear_relu"]
    assert window.statusBar().currentMessage() == \
        "Folded 6 copies into 1 part file: 15 → 4 nodes; outputs equal (max difference 0)"

    window.open_file(flat)  # again: a new name beside the first, and the same part reused
    assert accept(qtbot, window, open_fold_dialog(window))
    assert window.document.path == str(tmp_path / "chain_folded_2.yaml")
    assert sorted(p.name for p in part.parent.iterdir()) == ["chain_linear_relu.yaml"]


def test_resnet18_folds_off_the_window_thread(window, qtbot, tmp_path):
    graph = with_input_shape(flatten(load_graph(ROOT / "graphs/resnet18.yaml")), [3, 32, 32])
    flat = written(tmp_path / "resnet18_flat.yaml", graph)
    window.open_file(flat)
    dialog = open_fold_dialog(window)
    assert rows(dialog) == ["2 copies × 7 nodes: conv2d, batch_norm2d, relu ... starting at layer1_0_conv1, "
                            "layer1_1_conv1"]
    dialog.repeat_box.setChecked(False)  # one composite node per copy
    assert "70 → 58 nodes" in dialog.note.text()
    ticks = []
    timer = QTimer(window)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    assert accept(qtbot, window, dialog)
    timer.stop()
    assert len(ticks) >= 3  # the window's event loop ran while two models were compiled

    assert (tmp_path / "parts" / "resnet18_layer1.yaml").is_file()  # named after the graph
    document = window.document
    assert document.path == str(tmp_path / "resnet18_flat_folded.yaml")
    assert len(document.graph.nodes) == 58 < len(graph.nodes) == 70 and document.analysis.ok
    assert window.scene.selected_ids() == ["layer1_0", "layer1_1"]
    assert window.statusBar().currentMessage().startswith("Folded 2 copies into 1 part file: 70 → 58 nodes")


def test_only_the_checked_runs_are_folded(window, qtbot, tmp_path):
    graph = chain(3)  # then three tanh layers of another width: a second run
    last = "act3"
    for i in range(1, 4):
        graph.add(Node(f"wide{i}", "linear", {"out_features": 8}, [last]))
        graph.add(Node(f"tanh{i}", "tanh", {}, [f"wide{i}"]))
        last = f"tanh{i}"
    graph.nodes["head"].inputs = [last]
    window.open_file(written(tmp_path / "two.yaml", graph))
    dialog = open_fold_dialog(window)
    assert [r.split(":")[0] for r in rows(dialog)] == ["3 copies × 2 nodes"] * 2
    for i in (0, 1):
        dialog.repeat_list.item(i).setCheckState(Qt.Unchecked)
    assert not dialog.ok_button.isEnabled() and "Check at least one run" in dialog.note.text()
    dialog.repeat_list.item(1).setCheckState(Qt.Checked)
    assert dialog.ok_button.isEnabled() and "15 → 10 nodes" in dialog.note.text()
    assert accept(qtbot, window, dialog)
    nodes = window.document.graph.nodes
    assert "fc1" in nodes and "act1" in nodes and "tanh1" not in nodes and nodes["linear_tanh"].repeat == 3


def test_nothing_found_is_said_and_no_dialog_opens(window, tmp_path):
    lenet = tmp_path / "lenet5.yaml"
    lenet.write_text((ROOT / "graphs/lenet5.yaml").read_text())
    window.open_file(lenet)
    fold_action(window).trigger()
    assert window.folding.dialog is None
    assert "No repeated structure found in lenet5.yaml" in window.infos[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet5.yaml"]


def test_a_graph_without_a_file_is_saved_first(window, tmp_path):
    window.set_document(GraphDocument(chain(4)))
    fold_action(window).trigger()  # declined: nothing happens
    assert "never been saved" in window.asked[0] and window.folding.dialog is None
    window.answers.update(save_first=True, save_path=str(tmp_path / "mine.yaml"))
    dialog = open_fold_dialog(window)
    assert (tmp_path / "mine.yaml").is_file() and dialog.source == tmp_path / "mine.yaml"
    dialog.reject()
    window.document.set_param("fc1", "out_features", 32)  # unsaved changes: asked again
    window.answers["save_first"] = False
    fold_action(window).trigger()
    assert "unsaved changes" in window.asked[-1] and window.folding.dialog is None


def test_a_proof_that_fails_writes_nothing(window, qtbot, tmp_path, monkeypatch):
    flat = written(tmp_path / "chain.yaml", chain(6))
    window.open_file(flat)
    monkeypatch.setattr(builder, "check_fold", lambda flat, result: 1.0)
    assert not accept(qtbot, window, open_fold_dialog(window))
    assert "does not compute the same function" in window.errors[0] and "Nothing was written" in window.errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.yaml"]
    assert window.document.path == str(flat) and not window.folding.is_running()


def test_parts_outside_the_project_are_refused(window, qtbot, tmp_path, tmp_path_factory):
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    flat = written(project / "chain.yaml", chain(6))
    window.open_file(flat)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    dialog = open_fold_dialog(window)
    dialog.parts_edit.setText(str(elsewhere))
    assert not accept(qtbot, window, dialog)
    assert "outside the project folder" in window.errors[0] and "Traceback" not in window.errors[0]
    assert sorted(p.name for p in project.iterdir()) == [".git", "chain.yaml"] and not list(elsewhere.iterdir())


def test_a_write_that_fails_leaves_nothing_behind(window, qtbot, tmp_path, monkeypatch):
    window.open_file(written(tmp_path / "chain.yaml", chain(6)))
    real_write = builder.FoldResult.write

    def parts_then_full_disk(result):
        real_write(result)
        raise OSError(28, "No space left on device", result.graph.path)

    monkeypatch.setattr(builder.FoldResult, "write", parts_then_full_disk)
    assert not accept(qtbot, window, open_fold_dialog(window))
    assert "No space left on device" in window.errors[0] and "Nothing was written" in window.errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.yaml"]
