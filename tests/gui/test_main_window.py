"""The main window driven like a person: menus and shortcuts, files, clipboard, autosave,
composite blocks, the status bar and ``modelbuilder gui --screenshot``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QGraphicsItem, QMessageBox

from builder import load_graph
from gui.main_window import MainWindow
from gui.recovery import RecoveryStore
from tests.conftest import ROOT
from tests.gui.helpers import drag, drop_mime, empty_point, node_point, port_point

LENET = ROOT / "graphs" / "lenet5.yaml"


@pytest.fixture
def window(qtbot, tmp_path):
    """A main window with its own settings and recovery folder; questions answered by
    ``answers`` (a dict the test fills in)."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings=settings, recovery_folder=tmp_path / "recovery")
    win.answers = {"unsaved": QMessageBox.Cancel, "save_path": None, "open_path": None, "recover": False}
    win.errors = []
    win.ask_unsaved = lambda: win.answers["unsaved"]
    win.ask_save_path = lambda: win.answers["save_path"]
    win.ask_open_path = lambda: win.answers["open_path"]
    win.ask_recover = lambda recovery: win.answers["recover"]
    win.show_error = lambda title, text: win.errors.append(text)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def press(qtbot, win: MainWindow, key: str) -> None:
    """Type a shortcut such as "Ctrl+Z" on the canvas."""
    from PySide6.QtGui import QKeySequence

    combo = QKeySequence(key)[0]
    qtbot.keyClick(win.view.viewport(), combo.key(), combo.keyboardModifiers())


def test_open_shows_the_graph_title_status_and_recent_file(window, tmp_path):
    assert window.open_file(LENET)
    assert window.windowTitle() == "lenet5.yaml[*] — Model Builder"
    assert not window.isWindowModified()
    analysis = window.document.analysis
    assert window._status_labels["params"].text() == f"Parameters: {analysis.total.params:,}"
    assert window._status_labels["output"].text() == "Output: 10"
    assert window._status_labels["problems"].text() == "No problems"
    assert window.recent_files() == [str(LENET.resolve())]
    assert [a.toolTip() for a in window.recent_menu.actions() if a.toolTip()][0] == str(LENET.resolve())


def test_an_unreadable_file_is_reported_and_the_current_graph_stays(window, tmp_path):
    window.open_file(LENET)
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: 1\nnodes:\n  a: {block: input\n")
    assert not window.open_file(bad)
    assert "bad.yaml:4:1" in window.errors[0] and "malformed YAML" in window.errors[0]
    assert window.document.display_name == "lenet5.yaml"


def test_an_edit_marks_the_title_and_undo_redo_shortcuts_work(window, qtbot):
    window.open_file(LENET)
    window.document.set_param("conv1", "out_channels", 8)
    assert window.isWindowModified()
    press(qtbot, window, "Ctrl+Z")
    assert window.document.graph.nodes["conv1"].params["out_channels"] == 6
    assert not window.isWindowModified()
    press(qtbot, window, "Ctrl+Shift+Z")
    assert window.document.graph.nodes["conv1"].params["out_channels"] == 8
    assert "conv1.out_channels" in window.actions["undo"].text()


def test_copy_paste_gives_fresh_ids_and_keeps_the_wires_among_the_copies(window, qtbot):
    window.open_file(LENET)
    window.scene.select_nodes(["conv1", "act1"])
    press(qtbot, window, "Ctrl+C")
    assert "conv1" in QGuiApplication.clipboard().text()
    press(qtbot, window, "Ctrl+V")
    nodes = window.document.graph.nodes
    assert window.scene.selected_ids() == ["conv1_1", "act1_1"]
    assert nodes["act1_1"].inputs == ["conv1_1"]  # the wire among the copies
    assert nodes["conv1_1"].inputs == []  # the wire from outside is not copied
    assert nodes["conv1_1"].params == nodes["conv1"].params
    press(qtbot, window, "Ctrl+Z")
    assert "conv1_1" not in nodes and "act1_1" not in nodes


def test_cut_duplicate_and_delete(window, qtbot):
    window.open_file(LENET)
    window.scene.select_nodes(["fc3"])
    press(qtbot, window, "Ctrl+D")
    assert window.scene.selected_ids() == ["fc3_1"]
    assert window.document.position("fc3_1")[0] == window.document.position("fc3")[0] + 40
    window.scene.select_nodes(["act3"])
    press(qtbot, window, "Ctrl+X")
    assert "act3" not in window.document.graph.nodes
    assert window.document.graph.nodes["fc2"].inputs == []  # its reference went with it
    press(qtbot, window, "Ctrl+V")
    assert "act3" in window.document.graph.nodes  # the id was free again
    window.scene.select_nodes(["conv2", "act2"])
    press(qtbot, window, "Delete")
    assert "conv2" not in window.document.graph.nodes and "act2" not in window.document.graph.nodes
    press(qtbot, window, "Ctrl+Z")
    assert "conv2" in window.document.graph.nodes and "act2" in window.document.graph.nodes


def test_deleting_a_selected_wire_disconnects_it(window, qtbot):
    window.open_file(LENET)
    wire = next(w for w in window.scene.wire_items.values() if w.source == "pool1")
    window.scene.clearSelection()
    wire.setSelected(True)
    press(qtbot, window, "Delete")
    assert window.document.graph.nodes["conv2"].inputs == []
    press(qtbot, window, "Ctrl+Z")
    assert window.document.graph.nodes["conv2"].inputs == ["pool1"]


def test_save_as_then_reload_gives_the_same_graph_with_positions(window, qtbot, tmp_path):
    window.open_file(LENET)
    drag(qtbot, window.view, node_point(window.view, "fc1"), node_point(window.view, "fc1") + QPointF_(120, 0))
    window.document.set_param("fc1", "out_features", 100)
    target = tmp_path / "mine.yaml"
    window.answers["save_path"] = str(target)
    window.actions["save_as"].trigger()
    assert not window.isWindowModified()
    assert window.windowTitle().startswith("mine.yaml")
    saved = load_graph(target)
    assert saved == window.document.graph
    assert saved.layout["fc1"] == list(window.document.position("fc1"))
    assert "# C1 + S2" in target.read_text()  # the file's comments are kept
    reopened = MainWindow(settings=window.settings, recovery_folder=tmp_path / "r2")
    qtbot.addWidget(reopened)
    assert reopened.open_file(target)
    assert reopened.document.graph == saved
    assert reopened.document.position("fc1") == window.document.position("fc1")


def QPointF_(x, y):
    from PySide6.QtCore import QPoint

    return QPoint(x, y)


def test_hand_written_yaml_opens_laid_out_and_unmodified(window, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("format: 1\nnodes:\n  x: {block: input, params: {shape: [8]}}\n"
                    "  fc: {block: linear, params: {out_features: 2}, inputs: [x]}\n"
                    "  y: {block: output, inputs: [fc]}\n")
    window.open_file(path)
    assert not window.isWindowModified()
    ys = [window.document.position(i)[1] for i in ("x", "fc", "y")]
    assert ys == sorted(ys) and len(set(ys)) == 3  # top to bottom by data flow


def test_unsaved_changes_are_asked_about_before_close_and_open(window, qtbot, tmp_path):
    window.open_file(LENET)
    window.document.set_param("conv1", "out_channels", 8)
    window.answers["unsaved"] = QMessageBox.Cancel
    assert not window.close()
    assert window.isVisible()
    assert not window.open_file(ROOT / "graphs" / "alexnet.yaml")
    assert window.document.display_name == "lenet5.yaml"
    window.answers["unsaved"] = QMessageBox.Save
    copy = tmp_path / "copy.yaml"
    window.document.graph.path = str(copy)  # save goes here, not over the gallery file
    assert window.open_file(ROOT / "graphs" / "alexnet.yaml")
    assert load_graph(copy).nodes["conv1"].params["out_channels"] == 8
    window.document.set_param("conv1", "out_channels", 32)
    window.answers["unsaved"] = QMessageBox.Discard
    assert window.close()


def test_autosave_writes_a_recovery_copy_that_a_later_start_offers(window, qtbot, tmp_path):
    window.open_file(LENET)
    window.document.set_param("fc1", "out_features", 99)
    window.autosave()
    store = RecoveryStore(tmp_path / "recovery")
    assert list((tmp_path / "recovery").glob("recovery-*.yaml"))
    assert store.left_behind() == []  # this process is alive: not a crash yet

    # simulate the crash: the copy now belongs to a process that is gone
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    for meta in (tmp_path / "recovery").glob("*.json"):
        meta.write_text(meta.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {dead}'))
    later = MainWindow(settings=window.settings, recovery_folder=tmp_path / "recovery")
    qtbot.addWidget(later)
    later.ask_recover = lambda recovery: True
    assert later.offer_recovery()
    assert later.document.graph.nodes["fc1"].params["out_features"] == 99
    assert later.document.path == str(LENET)
    assert later.isWindowModified()
    assert store.left_behind() == []  # the old copy is gone; this process holds its own now
    later.document.undo_stack.setClean()
    window.document.undo_stack.setClean()


def test_saving_removes_the_recovery_copy(window, tmp_path):
    window.open_file(LENET)
    window.document.set_param("fc1", "out_features", 99)
    window.autosave()
    window.answers["save_path"] = str(tmp_path / "saved.yaml")
    window.save_as()
    assert not list((tmp_path / "recovery").glob("recovery-*"))


def test_problems_list_click_selects_the_node(window, qtbot):
    window.open_file(LENET)
    window.document.set_param("fc1", "in_features", 399)
    assert "1" in window._status_labels["problems"].text()
    assert window._problems_dock.windowTitle() == "Problems (1)"
    window.problems.nodeActivated.emit("fc1")
    assert window.scene.selected_ids() == ["fc1"]


def test_palette_double_click_adds_blocks_in_the_middle_of_the_view_one_below_the_other(window, qtbot):
    window.new_file()
    for name in ("input", "conv2d", "relu"):
        window.palette.blockActivated.emit(name)
    center = window.view.mapToScene(window.view.viewport().rect().center())
    x, y = window.document.position("input_1")
    assert abs(x + 90 - center.x()) <= 1 and abs(y + 35 - center.y()) <= 1
    ys = [window.document.position(i)[1] for i in ("input_1", "conv2d_1", "relu_1")]
    assert ys[1] - ys[0] == ys[2] - ys[1] >= 70  # a column, not a pile
    assert window.scene.selected_ids() == ["relu_1"]


def test_opening_files_keeps_the_canvas_size_and_undo_working(window, qtbot):
    window.open_file(LENET)
    width = window.view.width()
    window.document.move_nodes({"conv1": (300, 300)})
    window.answers["unsaved"] = QMessageBox.Discard
    for path in (ROOT / "graphs" / "alexnet.yaml", LENET):
        window.open_file(path)
        qtbot.wait(10)
        assert window.view.width() == width, "the canvas must not shrink when a file is opened"
    window.document.move_nodes({"conv1": (100, 130)})
    press(qtbot, window, "Ctrl+Z")
    assert window.document.position("conv1") != (100, 130)


def test_composite_node_double_click_opens_its_inside_read_only(window, qtbot, tmp_path):
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
    assert window.scene.node_items["down"].subtitle == "double_conv.yaml  width=4"
    assert window.scene.node_items["down"].shape_line.startswith("→ 4×16×16")
    qtbot.mouseDClick(window.view.viewport(), Qt.LeftButton, pos=node_point(window.view, "down"))
    inside = window.inside_windows[-1]
    assert inside.isVisible() and "read-only" in inside.windowTitle()
    scene = inside.centralWidget().graph_scene
    assert set(scene.node_items) == {"x", "c1", "c2", "y"}
    # shown as this node uses it: width 4 and the caller's 3x16x16 input, not the file's 8 / 3x8x8
    assert scene.node_items["c2"].shape_line.startswith("→ 4×16×16")
    assert "width=4" in inside.statusBar().currentMessage()
    assert window.open_inside("down") is inside  # a second double-click brings it back
    assert scene.read_only and not (scene.node_items["c1"].flags() & QGraphicsItem.ItemIsMovable)
    inside.close()


def test_arrange_is_one_undo_step(window, qtbot):
    window.open_file(LENET)
    before = {i: window.document.position(i) for i in window.document.graph.nodes}
    window.document.move_nodes({"conv1": (900, 900)})
    press(qtbot, window, "Ctrl+L")
    assert window.document.position("conv1") != (900, 900)
    press(qtbot, window, "Ctrl+Z")
    assert window.document.position("conv1") == (900, 900)
    press(qtbot, window, "Ctrl+Z")
    assert {i: window.document.position(i) for i in window.document.graph.nodes} == before


def test_screenshot_command_writes_the_window_picture(tmp_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-m", "builder", "gui", str(LENET), "--screenshot", str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1600, 1000)
    colors = {image.pixelColor(x, y).name() for x in range(0, 1600, 40) for y in range(0, 1000, 40)}
    assert len(colors) > 5  # a drawn window, not a blank picture
    missing = subprocess.run([sys.executable, "-m", "builder", "gui", str(tmp_path / "nope.yaml"),
                              "--screenshot", str(out)], capture_output=True, text=True, env=env, cwd=ROOT,
                             timeout=120)
    assert missing.returncode == 1 and "error:" in missing.stderr and "nope.yaml" in missing.stderr
    assert "Traceback" not in missing.stderr


def type_into(qtbot, spin, text: str) -> None:
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key_Return)


def test_a_person_builds_on_lenet_drag_connect_edit_and_undo_everything(window, qtbot):
    """The issue's walk-through: palette drag, wire, inspector edit, wire label, undo/redo."""
    window.open_file(LENET)
    view, document = window.view, window.document
    tree = window.palette.tree
    mime = tree.mimeData([window.palette.item_for("conv2d")])
    spot = empty_point(view)
    assert drop_mime(view, mime, spot)
    assert window.scene.selected_ids() == ["conv2d_1"]
    assert window.inspector.node_id == "conv2d_1"

    drag(qtbot, view, port_point(view, "image", "out", True), port_point(view, "conv2d_1", "x", False))
    assert document.graph.nodes["conv2d_1"].inputs == ["image"]
    drag(qtbot, view, port_point(view, "conv2d_1", "out", True), empty_point(view))
    qtbot.keyClicks(view.popup.edit, "relu")
    qtbot.keyClick(view.popup.edit, Qt.Key_Return)
    out_wire = next(w for w in window.scene.wire_items.values() if w.source == "conv2d_1")
    params = document.graph.nodes["conv2d_1"].params
    k = params["kernel_size"]
    size = 32 - k + 1
    assert out_wire.label == f"{params['out_channels']}×{size}×{size}"

    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=node_point(view, "conv2d_1"))
    assert window.inspector.node_id == "conv2d_1"
    first, second = window.inspector.editor("kernel_size").spins
    new_k = 3 if k != 3 else 5
    type_into(qtbot, first, str(new_k))
    type_into(qtbot, second, str(new_k))
    assert document.graph.nodes["conv2d_1"].params["kernel_size"] == new_k
    new_size = 32 - new_k + 1
    assert out_wire.label == f"{params['out_channels']}×{new_size}×{new_size}"

    # an invalid wire: the flatten output into the new conv is refused, nothing changes
    count = document.undo_stack.index()
    document.disconnect("conv2d_1")
    drag(qtbot, view, port_point(view, "flatten", "out", True), port_point(view, "conv2d_1", "x", False))
    assert document.graph.nodes["conv2d_1"].inputs == []
    assert "Not connected" in window.statusBar().currentMessage()
    document.undo_stack.undo()  # the disconnect
    assert document.undo_stack.index() == count

    # undo each step: kernel size, relu+wire, wire, drop
    press(qtbot, window, "Ctrl+Z")
    assert out_wire.label == f"{params['out_channels']}×{size}×{size}"
    press(qtbot, window, "Ctrl+Z")
    assert not [n for n in document.graph.nodes if n.startswith("relu")]
    press(qtbot, window, "Ctrl+Z")
    assert document.graph.nodes["conv2d_1"].inputs == []
    press(qtbot, window, "Ctrl+Z")
    assert "conv2d_1" not in document.graph.nodes and "conv2d_1" not in window.scene.node_items
    assert document.graph.nodes == load_graph(LENET).nodes
    for _ in range(4):
        press(qtbot, window, "Ctrl+Shift+Z")
    assert document.graph.nodes["conv2d_1"].params["kernel_size"] == new_k
    assert [w.label for w in window.scene.wire_items.values() if w.source == "conv2d_1"] == \
        [f"{params['out_channels']}×{new_size}×{new_size}"]


def test_save_as_elsewhere_and_copy_paste_keep_composite_blocks_working(window, qtbot, tmp_path):
    # composite files must lie inside the project (builder/composite.py): work in a copy of one
    project = tmp_path / "project"
    shutil.copytree(ROOT / "graphs" / "parts", project / "parts")
    shutil.copy(ROOT / "graphs" / "unet_small.yaml", project)
    (project / ".git").mkdir()
    window.open_file(project / "unet_small.yaml")
    window.answers["save_path"] = str(project / "mine" / "my_unet.yaml")
    assert window.save_as()
    assert not Path(window.document.graph.nodes["enc1"].graph).is_absolute()
    reopened = load_graph(project / "mine" / "my_unet.yaml")
    from builder import analyze

    assert not analyze(reopened).problems, "the saved file must still find parts/double_conv.yaml"
    assert analyze(reopened).total.params == 117_090
    window.scene.select_nodes(["enc1"])
    press(qtbot, window, "Ctrl+C")
    window.new_file()
    press(qtbot, window, "Ctrl+V")
    assert not [p for p in window.document.analysis.problems if "cannot use" in p.message]
    assert window.document.analysis.nodes["enc1"].block is not None  # the file was found


def test_two_identical_wires_into_a_variadic_port_are_two_items_and_delete_one_at_a_time(window, qtbot):
    window.open_file(LENET)
    document = window.document
    cat = document.add_node("concat", position=(700, 300))
    document.connect("conv1", cat)
    document.connect("conv1", cat)
    assert document.graph.nodes[cat].inputs == ["conv1", "conv1"]
    items = window.scene.wires_into(cat)
    assert len(items) == 2
    window.scene.clearSelection()
    items[0].setSelected(True)
    press(qtbot, window, "Delete")
    assert document.graph.nodes[cat].inputs == ["conv1"]
    assert len(window.scene.wires_into(cat)) == 1
