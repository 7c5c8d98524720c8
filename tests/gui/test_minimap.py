"""The overview (minimap) driven like a person: it shows the whole graph and a frame
around what the canvas shows, follows zooming, panning and other files, and a click or
drag in it moves the canvas."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from gui.canvas.minimap import REPAINT_MS
from tests.conftest import ROOT
from tests.gui.test_readable_view import box, open_graph, press, window  # noqa: F401  (the fixture)

GRAPHS = ROOT / "graphs"


def overview_of(win):
    return win._overview_dock.widget()


def frame_center_in_scene(overview) -> QPointF:
    mapping = overview.mapping()
    center = overview.frame_rect().center()
    return QPointF(*mapping.to_scene(center.x(), center.y()))


def test_the_overview_frames_what_the_canvas_shows_and_follows_zoom_and_pan(qtbot, window):
    open_graph(qtbot, window, GRAPHS / "googlenet.yaml")
    overview = overview_of(window)
    assert overview.isVisible() and "Overview" in [a.text() for a in window.menuBar().actions()[2].menu().actions()]
    whole = overview.frame_rect()
    mapping = overview.mapping()
    for item in window.scene.node_items.values():  # the whole graph is in view, so in the frame
        corner = QPointF(*mapping.to_frame(item.pos().x(), item.pos().y()))
        assert whole.contains(corner)

    press(qtbot, window, "Ctrl++")
    press(qtbot, window, "Ctrl++")
    zoomed = overview.frame_rect()
    assert zoomed.width() < whole.width() * 0.8  # zoomed in: less of the graph in view

    painted = overview.paints
    viewport = window.view.viewport()
    start = QPoint(500, 400)
    qtbot.mousePress(viewport, Qt.MiddleButton, Qt.NoModifier, start)
    qtbot.mouseMove(viewport, start + QPoint(-150, -100))
    qtbot.mouseRelease(viewport, Qt.MiddleButton, Qt.NoModifier, start + QPoint(-150, -100))
    # repainted after the pan (the wait is generous: a busy full test run is not a timing test)
    qtbot.waitUntil(lambda: overview.paints > painted, timeout=max(5000, 10 * REPAINT_MS))
    center = frame_center_in_scene(overview)
    assert (center - window.view.visible_scene_rect().center()).manhattanLength() < 2
    assert overview.frame_rect().center().x() > zoomed.center().x()  # panned right: the frame went right


def test_a_click_or_drag_in_the_overview_moves_the_canvas_there(qtbot, window):
    open_graph(qtbot, window, GRAPHS / "resnet50.yaml")
    press(qtbot, window, "Ctrl+0")
    press(qtbot, window, "Ctrl++")
    overview = overview_of(window)
    mapping = overview.mapping()
    target = window.scene.node_items["logits"]
    spot = QPointF(*mapping.to_frame(*box(target).center().toTuple()))
    qtbot.mouseClick(overview, Qt.LeftButton, Qt.NoModifier, spot.toPoint())
    assert window.view.visible_scene_rect().contains(box(target).center())
    first = window.scene.node_items["image"]
    start = QPointF(*mapping.to_frame(*box(first).center().toTuple())).toPoint()
    qtbot.mousePress(overview, Qt.LeftButton, Qt.NoModifier, spot.toPoint())
    for i in range(1, 6):
        qtbot.mouseMove(overview, spot.toPoint() + (start - spot.toPoint()) * (i / 5))
    qtbot.mouseRelease(overview, Qt.LeftButton, Qt.NoModifier, start)
    assert window.view.visible_scene_rect().contains(box(first).center())
    assert window.document.undo_stack.count() == 0  # looking around is not an edit


def test_the_overview_follows_another_file_and_can_be_hidden_from_the_view_menu(qtbot, window):
    open_graph(qtbot, window, GRAPHS / "lenet5.yaml")
    overview = overview_of(window)
    lenet_rect = overview.graph_rect()
    window.open_file(GRAPHS / "vgg16.yaml")
    assert overview.graph_rect() != lenet_rect
    assert overview.graph_rect().contains(window.scene.nodes_rect().center())
    toggle = window._overview_dock.toggleViewAction()
    toggle.trigger()
    assert not overview.isVisible()
    toggle.trigger()
    assert overview.isVisible()


@pytest.mark.parametrize("name", ["lenet5", "vgg16"])
def test_the_overview_draws_every_node(qtbot, window, name):
    open_graph(qtbot, window, GRAPHS / f"{name}.yaml")
    overview = overview_of(window)
    image = overview.grab().toImage()
    mapping = overview.mapping()
    for node_id, item in window.scene.node_items.items():
        x, y = mapping.to_frame(item.pos().x() + 90, item.pos().y() + 35)
        assert image.pixelColor(int(x), int(y)).lightness() < 200, f"{node_id} is not drawn"  # not the light canvas
