"""What a student sees when opening a graph, driven like a person in a 1600x1000 window:
every node's id, block and shape readable after opening, F and Ctrl+L; tall graphs laid
out in columns or rows that use the window's shape, in a direction the user picks and the
file keeps; large letters far out; a grid that stays aligned while panning; Ctrl+0 that
keeps the graph in view; refusals written where they can be read."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QColor, QGuiApplication, QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from builder import load_graph
from gui import style
from gui.app import SCREENSHOT_SIZE, open_window
from gui.canvas.node_item import text_height
from gui.layout import NODE_HEIGHT, NODE_WIDTH
from gui.main_window import MainWindow
from gui.readable import BOXES, FULL, LARGE_TEXT, MIN_TEXT_PX, is_readable
from tests.conftest import GALLERY, ROOT
from tests.gui.helpers import drag, empty_point, node_point, port_point

GRAPHS = ROOT / "graphs"


@pytest.fixture
def window(qtbot, tmp_path):
    """A main window of 1600x1000 with its own settings; Save As answers ``save_path``."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings=settings, recovery_folder=tmp_path / "recovery")
    win.save_path = None
    win.ask_save_path = lambda: win.save_path
    win.ask_unsaved = lambda: QMessageBox.Discard
    win.show_error = lambda title, text: pytest.fail(f"{title}: {text}")
    qtbot.addWidget(win)
    win.resize(*SCREENSHOT_SIZE)
    return win


def open_graph(qtbot, win: MainWindow, path) -> None:
    """Open as ``modelbuilder gui GRAPH`` does: window shown, then the file opened."""
    _, opened = open_window(str(path), SCREENSHOT_SIZE, win)
    assert opened
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)  # keys go to the active window, as they do for a person


def press(qtbot, win: MainWindow, key: str) -> None:
    from PySide6.QtGui import QKeySequence

    combo = QKeySequence(key)[0]
    qtbot.keyClick(win.view.viewport(), combo.key(), combo.keyboardModifiers())


def wheel(view, point: QPoint, clicks: int) -> None:
    """Turn the mouse wheel over ``point`` (negative: away from the user, zoom out)."""
    event = QWheelEvent(QPointF(point), QPointF(view.mapToGlobal(point)), QPoint(0, 0), QPoint(0, 120 * clicks),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def box(item):
    return item.mapRectToScene(0, 0, NODE_WIDTH, NODE_HEIGHT)


def assert_readable_and_whole(win: MainWindow) -> None:
    view = win.view
    assert is_readable(view.zoom(), text_height()), f"text {view.text_pixels():.1f} px < {MIN_TEXT_PX}"
    visible = view.visible_scene_rect()
    for node_id, item in win.scene.node_items.items():
        assert visible.contains(box(item)), f"{node_id} is not in view"
        assert item.detail(view.zoom()) == FULL
    for wire in win.scene.wire_items.values():  # the labels use the nodes' font
        assert is_readable(view.zoom(), wire.text_height)


# ---------------------------------------------------------------- opening, F, Ctrl+L
@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.stem)
def test_every_gallery_graph_opens_readable_and_whole(qtbot, window, path):
    open_graph(qtbot, window, path)
    assert_readable_and_whole(window)
    assert not window.isWindowModified()  # laying a file out for the window is no edit


def test_f_after_zooming_out_with_the_wheel_fits_readably_again(qtbot, window):
    open_graph(qtbot, window, GRAPHS / "googlenet.yaml")
    view = window.view
    for _ in range(6):
        wheel(view, QPoint(100, 100), -1)
    assert not is_readable(view.zoom(), text_height())
    press(qtbot, window, "F")
    assert_readable_and_whole(window)


def test_ctrl_l_lays_a_scattered_graph_out_for_the_window_in_one_undo_step(qtbot, window):
    open_graph(qtbot, window, GRAPHS / "resnet50.yaml")
    view = window.view
    start = node_point(view, "fc")
    drag(qtbot, view, start, start + QPoint(300, 200))
    moved = window.document.position("fc")
    view.zoom_by(0.2 / view.zoom())
    press(qtbot, window, "Ctrl+L")
    assert_readable_and_whole(window)
    assert window.document.position("fc") != moved
    press(qtbot, window, "Ctrl+Z")
    assert window.document.position("fc") == moved


def test_a_graph_too_large_for_one_screen_opens_readable_from_its_start(qtbot, window, tmp_path):
    path = tmp_path / "deep.yaml"
    lines = ["format: 1", "nodes:", "  x: {block: input, params: {shape: [8]}}"]
    lines += [f"  r{i}: {{block: relu, inputs: [{'x' if i == 0 else f'r{i - 1}'}]}}" for i in range(200)]
    path.write_text("\n".join(lines + ["  y: {block: output, inputs: [r199]}", ""]))
    open_graph(qtbot, window, path)
    view = window.view
    visible = view.visible_scene_rect()
    assert is_readable(view.zoom(), text_height())
    assert visible.contains(box(window.scene.node_items["x"]))  # the start of the reading order
    for node_id, item in window.scene.node_items.items():  # columns a screen high: scroll sideways only
        assert visible.top() <= box(item).top() and box(item).bottom() <= visible.bottom(), node_id
    overview = window._overview_dock.widget()
    assert overview.frame_rect().width() < overview.width() / 2  # the overview shows which part is in view


# ---------------------------------------------------------------- direction
def test_left_to_right_is_a_choice_the_file_keeps_and_undo_takes_back(qtbot, window, tmp_path):
    open_graph(qtbot, window, GRAPHS / "lenet5.yaml")
    window.actions["layout_right"].trigger()  # View › Lay Out Left to Right
    assert window.document.layout_direction == "right" and window.actions["layout_right"].isChecked()
    assert_readable_and_whole(window)
    conv1, act1 = window.scene.node_items["conv1"], window.scene.node_items["act1"]
    assert act1.pos().x() > conv1.pos().x() and act1.pos().y() == conv1.pos().y()
    wire = next(w for w in window.scene.wire_items.values() if (w.source, w.target) == ("conv1", "act1"))
    assert wire.start.x() == box(conv1).right() and wire.end.x() == box(act1).left()  # ports on the sides

    window.save_path = str(tmp_path / "lenet_right.yaml")
    press(qtbot, window, "Ctrl+Shift+S")
    text = (tmp_path / "lenet_right.yaml").read_text()
    assert re.search(r"^layout:\n  \.direction: right$", text, re.M)
    assert load_graph(tmp_path / "lenet_right.yaml").layout[".direction"] == "right"

    press(qtbot, window, "Ctrl+Z")
    assert window.document.layout_direction == "down" and window.actions["layout_down"].isChecked()
    assert wire.start.y() == box(conv1).bottom()  # ports back on top and bottom
    window.open_file(tmp_path / "lenet_right.yaml")
    assert window.document.layout_direction == "right" and window.actions["layout_right"].isChecked()
    assert window.scene.node_items["conv1"].port_pos(None, output=True).x() == box(
        window.scene.node_items["conv1"]).right()


def test_a_hand_written_file_can_ask_for_left_to_right(qtbot, window, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("format: 1\nnodes:\n  x: {block: input, params: {shape: [8]}}\n"
                    "  fc: {block: linear, params: {out_features: 2}, inputs: [x]}\n"
                    "  y: {block: output, inputs: [fc]}\nlayout: {.direction: right}\n")
    open_graph(qtbot, window, path)
    assert window.document.layout_direction == "right" and not window.isWindowModified()
    xs = [window.document.position(i)[0] for i in ("x", "fc", "y")]
    assert xs == sorted(xs) and len(set(xs)) == 3  # left to right by data flow
    assert_readable_and_whole(window)


# ---------------------------------------------------------------- far out, Ctrl+0
def dark_pixels(image, rect) -> int:
    return sum(QColor(image.pixel(x, y)).lightness() < 80
               for x in range(int(rect.left()) + 2, int(rect.right()) - 2)
               for y in range(int(rect.top()) + 2, int(rect.bottom()) - 2))


def test_zoomed_far_out_nodes_show_id_and_shape_while_there_is_room(qtbot, window):
    open_graph(qtbot, window, GRAPHS / "resnet50.yaml")
    view = window.view
    item = window.scene.node_items["layer2_0"]
    center = view.mapFromScene(box(item).center())
    while item.detail(view.zoom()) == FULL:
        wheel(view, center, -1)
    assert item.detail(view.zoom()) == LARGE_TEXT
    image = view.viewport().grab().toImage()
    rect = view.mapFromScene(box(item)).boundingRect()
    lower = rect.adjusted(0, rect.height() // 2, 0, 0)
    assert dark_pixels(image, lower) > 10  # the shape, written in the white half
    assert view.zoom() * item._large_height >= MIN_TEXT_PX
    while item.detail(view.zoom()) != BOXES:
        wheel(view, center, -1)
    image = view.viewport().grab().toImage()
    rect = view.mapFromScene(box(item)).boundingRect()
    assert dark_pixels(image, rect) == 0  # no room for text: a plain box


def test_ctrl_0_shows_100_percent_with_the_graph_still_in_view(qtbot, window):
    open_graph(qtbot, window, GRAPHS / "lenet5.yaml")
    view = window.view
    middle = view.viewport().rect().center()
    for _ in range(9):
        wheel(view, middle, -1)  # far out: the graph small in the middle
    qtbot.mouseMove(view.viewport(), QPoint(8, 8))  # the mouse resting in a corner
    press(qtbot, window, "Ctrl+0")
    assert view.zoom() == pytest.approx(1.0)
    visible = view.visible_scene_rect()
    assert any(visible.intersects(box(item)) for item in window.scene.node_items.values())
    view.pan_by(-5000, -5000)  # nothing in view any more, the mouse anywhere
    view.zoom_by(0.5)
    press(qtbot, window, "Ctrl+0")
    visible = view.visible_scene_rect()
    assert any(visible.intersects(box(item)) for item in window.scene.node_items.values())


# ---------------------------------------------------------------- refusals, grid
def test_a_refusal_near_the_right_edge_is_written_inside_the_view(qtbot, window):
    open_graph(qtbot, window, GRAPHS / "lenet5.yaml")
    view, scene = window.view, window.scene
    target = scene.node_items["fc3"].port_pos(None, output=False)
    edge = view.mapToScene(QPoint(view.viewport().width() - 12, view.viewport().height() // 2))
    view.center_at(view.visible_scene_rect().center() + (target - edge))  # fc3's input at the right edge
    start = port_point(view, "image", None, output=True)
    end = port_point(view, "fc3", None, output=False)
    assert view.viewport().rect().contains(start) and view.viewport().rect().contains(end)
    viewport = view.viewport()
    qtbot.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, start)
    for i in range(1, 9):
        qtbot.mouseMove(viewport, start + (end - start) * (i / 8))
    pending = scene._pending
    assert pending is not None and not pending.ok
    assert "connected" in pending.message  # fc3's only input is taken
    shown = view.mapFromScene(pending.message_rect()).boundingRect()
    assert viewport.rect().contains(shown), f"{shown} leaves the view {viewport.rect()}"
    qtbot.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, end)
    assert window.document.graph.nodes["fc3"].inputs == ["act4"]


def grid_columns(win: MainWindow, row: int) -> list[int]:
    """x of the grid's vertical lines on one row of the canvas as the window shows it (the
    pixels on screen, which panning fills in strips, not a fresh rendering)."""
    viewport = win.view.viewport()
    origin = viewport.mapTo(win, QPoint(0, 0))
    image = QGuiApplication.primaryScreen().grabWindow(win.winId(), origin.x(), origin.y(), viewport.width(),
                                                       viewport.height()).toImage()
    grid = QColor(style.GRID_COLOR).rgb()
    return [x for x in range(image.width()) if image.pixel(x, row) == grid]


def test_the_background_grid_stays_aligned_while_panning(qtbot, window):
    open_graph(qtbot, window, GRAPHS / "lenet5.yaml")
    view = window.view
    viewport = view.viewport()
    for _ in range(7):  # a middle-button drag in small, odd steps
        start = empty_point(view)
        qtbot.mousePress(viewport, Qt.MiddleButton, Qt.NoModifier, start)
        qtbot.mouseMove(viewport, start - QPoint(13, 7))
        qtbot.mouseRelease(viewport, Qt.MiddleButton, Qt.NoModifier, start - QPoint(13, 7))
        qtbot.wait(5)
    row = empty_point(view).y()
    columns = grid_columns(window, row)
    spacing = 40 * view.zoom()
    assert len(columns) > 10
    assert all(abs((b - a) - spacing) <= 1 for a, b in zip(columns, columns[1:])), columns


def test_a_node_dragged_level_with_its_source_is_wired_by_a_smooth_loop(qtbot, window):
    open_graph(qtbot, window, GRAPHS / "lenet5.yaml")
    view, scene = window.view, window.scene
    conv1, act1 = box(scene.node_items["conv1"]), box(scene.node_items["act1"])
    grab = node_point(view, "act1")
    beside = view.mapFromScene(conv1.center() + QPointF(NODE_WIDTH + 60, 10))
    drag(qtbot, view, grab, beside)
    assert window.document.position("act1")[1] == window.document.position("conv1")[1]  # the same height
    scene.route_wires()
    wire = next(w for w in scene.wire_items.values() if (w.source, w.target) == ("conv1", "act1"))
    assert wire.lane is not None  # round the boxes, not through them
    angles = [wire._path.angleAtPercent(t / 200) for t in range(201)]
    turns = [min(abs(b - a), 360 - abs(b - a)) for a, b in zip(angles, angles[1:])]
    assert max(turns) < 30, "the wire doubles back on itself (a zig-zag)"
    boxes = [box(item).adjusted(2, 2, -2, -2) for item in scene.node_items.values()]
    assert not any(r.contains(wire._path.pointAtPercent(t / 300)) for r in boxes for t in range(301))


# ---------------------------------------------------------------- --screenshot
def test_screenshot_shows_what_opening_shows(qtbot, window, tmp_path):
    open_graph(qtbot, window, GRAPHS / "googlenet.yaml")
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-m", "builder", "gui", str(GRAPHS / "googlenet.yaml"), "--screenshot",
                           str(out)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"zoom {window.view.zoom():.2f}," in done.stdout  # the same start, the same view
    assert f"text {window.view.text_pixels():.1f} px" in done.stdout


# ---------------------------------------------------------------- wrapped layouts drawn
@pytest.mark.parametrize("direction", ["down", "right"])
@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.stem)
def test_wrapped_layouts_keep_wires_and_labels_clear_of_boxes(qtbot, path, direction):
    from gui.canvas import GraphScene
    from gui.document import GraphDocument
    from gui.layout import wrapped_layout
    from gui.readable import Screen, readable_zoom

    document = GraphDocument.open(path)
    screen = Screen(1000, 800, readable_zoom(text_height()))
    scene = GraphScene(document, arrange=lambda ids, sources: wrapped_layout(ids, sources, direction, screen))
    if direction == "right":
        document.arrange(document.layered_positions(arrange=lambda i, s: wrapped_layout(i, s, "right", screen)),
                         "right")
        scene.route_wires()
    boxes = {i: box(item) for i, item in scene.node_items.items()}
    for wire in scene.wire_items.values():
        others = [r.adjusted(2, 2, -2, -2) for i, r in boxes.items() if i not in (wire.source, wire.target)]
        points = [wire._path.pointAtPercent(t / 300) for t in range(301)]
        assert not any(r.contains(p) for r in others for p in points), f"{wire.key} runs under a box"
        assert not any(r.intersects(wire.label_rect()) for r in boxes.values()), f"the label of {wire.key} is hidden"
