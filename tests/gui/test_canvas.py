"""The canvas, napari-style: change the document and look at the items; act on the items
with the mouse and look at the document."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QRectF, Qt
from PySide6.QtWidgets import QGraphicsItem

from builder import load_graph
from gui.canvas import GraphScene, GraphView
from gui.canvas.node_item import NodeItem
from gui.document import GraphDocument
from gui.layout import NODE_HEIGHT, NODE_WIDTH
from gui.readable import MIN_TEXT_PX
from gui.style import BLOCK_MIME_TYPE
from tests.conftest import GALLERY, ROOT
from tests.gui.helpers import drag, drop_mime, empty_point, node_point, port_point


@pytest.fixture
def canvas(qtbot):
    """lenet5 open in a shown view at 100 % zoom."""
    def make(path=ROOT / "graphs" / "lenet5.yaml", read_only=False):
        document = GraphDocument.open(path)
        scene = GraphScene(document, read_only=read_only)
        view = GraphView(scene)
        qtbot.addWidget(view)
        view.resize(1200, 900)
        view.show()
        qtbot.waitExposed(view)
        view.fit_all()
        view.zoom_reset()
        return document, scene, view
    return make


def box(item: NodeItem) -> QRectF:
    return QRectF(item.pos().x(), item.pos().y(), NODE_WIDTH, NODE_HEIGHT)


def wire(scene: GraphScene, source: str, target: str):
    found = [w for w in scene.wire_items.values() if w.source == source and w.target == target]
    assert len(found) == 1, f"expected one wire {source} -> {target}, found {len(found)}"
    return found[0]


# ---------------------------------------------------------------- model -> items
def test_every_node_and_wire_has_an_item_with_the_shape_it_carries(canvas):
    document, scene, _ = canvas()
    assert set(scene.node_items) == set(document.graph.nodes)
    assert len(scene.wire_items) == len(document.wires())
    assert wire(scene, "conv1", "act1").label == "6×28×28"
    assert wire(scene, "flatten", "fc1").label == "400"
    assert "→ 6×28×28" in scene.node_items["conv1"].shape_line
    assert "conv2d" in scene.node_items["conv1"].subtitle and "out=6" in scene.node_items["conv1"].subtitle


def test_a_param_change_reshapes_the_wires_downstream_and_undo_restores_them(canvas):
    document, scene, _ = canvas()
    document.set_param("conv1", "kernel_size", 3)
    assert wire(scene, "conv1", "act1").label == "6×30×30"
    assert wire(scene, "act1", "pool1").label == "6×30×30"
    document.undo_stack.undo()
    assert wire(scene, "conv1", "act1").label == "6×28×28"


def test_a_box_works_out_its_texts_when_first_drawn_with_text_or_hovered(qtbot):
    """Opening a big graph measures and elides no text: a box's texts and tooltip are made
    when it is first drawn at a zoom that shows text, hovered, or asked for."""
    scene = GraphScene(GraphDocument.open(ROOT / "graphs" / "resnet50.yaml"))
    items = list(scene.node_items.values())
    assert all(item._texts is None for item in items)
    view = GraphView(scene)
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    qtbot.waitExposed(view)
    view.zoom_by(0.05 / view.zoom())  # far out: plain colored boxes
    view.centerOn(scene.nodes_rect().center())
    view.viewport().grab()
    assert all(item._texts is None for item in items)
    target = items[len(items) // 2]
    qtbot.mouseMove(view.viewport(), view.mapFromScene(target.sceneBoundingRect().center()))
    qtbot.waitUntil(lambda: target._texts is not None)  # hovered: the tooltip is there before Qt asks
    assert QGraphicsItem.toolTip(target).startswith(f"<b>{target.node_id}</b>")
    view.zoom_by(1.0 / view.zoom())
    view.centerOn(target)
    view.viewport().grab()
    visible = view.visible_scene_rect()
    drawn = [item for item in items if visible.intersects(item.sceneBoundingRect())]
    assert drawn and all(item._texts is not None for item in drawn)
    assert any(item._texts is None for item in items)  # the boxes off screen still have none
    assert items[0].title == items[0].node_id and items[0]._texts is not None  # asked for: made


def test_a_node_with_an_error_is_marked_with_its_message_and_its_wire_is_red(canvas):
    document, scene, _ = canvas()
    document.set_param("fc1", "in_features", 399)
    item = scene.node_items["fc1"]
    assert item.has_error
    assert "399" in item.toolTip() and "400" in item.toolTip()
    assert wire(scene, "flatten", "fc1").broken
    assert not scene.node_items["conv1"].has_error
    document.undo_stack.undo()
    assert not item.has_error and not wire(scene, "flatten", "fc1").broken


def test_adding_removing_renaming_and_undo_keep_items_in_step(canvas):
    document, scene, _ = canvas()
    node_id = document.add_node("relu", position=(600, 40), inputs=["conv1"])
    assert scene.node_items[node_id].pos() == QPointF(600, 40)
    assert wire(scene, "conv1", node_id).label == "6×28×28"
    document.rename_node("conv1", "first_conv")
    assert "conv1" not in scene.node_items and "first_conv" in scene.node_items
    assert wire(scene, "first_conv", node_id) and wire(scene, "image", "first_conv")
    document.remove_nodes(["first_conv"])
    assert "first_conv" not in scene.node_items
    assert not [w for w in scene.wire_items.values() if "first_conv" in (w.source, w.target)]
    for _ in range(3):
        document.undo_stack.undo()
    assert set(scene.node_items) == set(document.graph.nodes) == set(load_graph(ROOT / "graphs/lenet5.yaml").nodes)
    assert len(scene.wire_items) == len(document.wires())


# ---------------------------------------------------------------- mouse -> model
def test_dragging_a_box_moves_the_node_in_one_undo_step(canvas, qtbot):
    document, scene, view = canvas()
    before = document.position("conv2")
    drag(qtbot, view, node_point(view, "conv2"), node_point(view, "conv2") + QPoint(150, 30))
    after = document.position("conv2")
    assert (after[0] - before[0], after[1] - before[1]) == (150, 30)
    assert document.undo_stack.count() == 1
    route = wire(scene, "pool1", "conv2")
    assert route.end == scene.node_items["conv2"].port_pos("x", output=False)  # the wire followed
    document.undo_stack.undo()
    assert document.position("conv2") == before
    assert scene.node_items["conv2"].pos() == QPointF(*before)


def test_the_wires_of_every_selected_box_follow_a_drag_as_it_goes(canvas, qtbot):
    document, scene, view = canvas()
    scene.select_nodes(["conv2", "fc1"])
    viewport = view.viewport()
    start = node_point(view, "conv2")
    qtbot.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, start)
    for step in range(1, 4):
        qtbot.mouseMove(viewport, start + QPoint(40 * step, 10 * step))
    # still dragging: nothing is in the document yet, but the wires are where the boxes are
    assert document.undo_stack.count() == 0
    assert wire(scene, "pool1", "conv2").end == scene.node_items["conv2"].port_pos("x", output=False)
    assert wire(scene, "conv2", "act2").start == scene.node_items["conv2"].port_pos("out", output=True)
    assert wire(scene, "flatten", "fc1").end == scene.node_items["fc1"].port_pos("x", output=False)
    assert scene.node_items["fc1"].pos() != QPointF(*document.position("fc1"))
    qtbot.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, start + QPoint(120, 30))
    assert document.undo_stack.count() == 1


def test_dragging_from_an_output_port_to_an_input_port_connects_them(canvas, qtbot):
    document, scene, view = canvas()
    node_id = document.add_node("relu", position=(500, 120))
    drag(qtbot, view, port_point(view, "conv1", "out", True), port_point(view, node_id, "x", False))
    assert document.graph.nodes[node_id].inputs == ["conv1"]
    assert wire(scene, "conv1", node_id).label == "6×28×28"
    document.undo_stack.undo()
    assert document.graph.nodes[node_id].inputs == []
    assert not [w for w in scene.wire_items.values() if w.target == node_id]
    document.undo_stack.redo()
    assert wire(scene, "conv1", node_id)


def test_dragging_from_an_input_port_to_an_output_port_connects_the_other_way(canvas, qtbot):
    document, scene, view = canvas()
    node_id = document.add_node("relu", position=(500, 120))
    drag(qtbot, view, port_point(view, node_id, "x", False), port_point(view, "pool1", "out", True))
    assert document.graph.nodes[node_id].inputs == ["pool1"]


def test_a_wire_that_does_not_fit_is_refused_with_the_reason_shown(canvas, qtbot):
    document, scene, view = canvas()
    node_id = document.add_node("conv2d", {"out_channels": 4, "kernel_size": 3}, position=(520, 500))
    messages = []
    scene.message.connect(messages.append)
    start, end = port_point(view, "flatten", "out", True), port_point(view, node_id, "x", False)
    viewport = view.viewport()
    qtbot.mousePress(viewport, Qt.LeftButton, pos=start)
    for i in range(1, 6):
        qtbot.mouseMove(viewport, start + (end - start) * (i / 5))
    pending = scene._pending
    assert pending is not None and not pending.ok
    assert "dimensions" in pending.message  # conv2d wants [C, H, W]; flatten gives [400]
    assert scene.node_items[node_id].highlight_port == ("x", False) and not scene.node_items[node_id].highlight_ok
    qtbot.mouseRelease(viewport, Qt.LeftButton, pos=end)
    assert document.graph.nodes[node_id].inputs == []
    assert messages and "dimensions" in messages[0]
    assert document.undo_stack.count() == 1  # only the add


def test_a_wire_that_would_make_a_cycle_is_refused(canvas, qtbot):
    document, scene, view = canvas()
    document.disconnect("conv1")
    messages = []
    scene.message.connect(messages.append)
    before = document.undo_stack.count()
    drag(qtbot, view, port_point(view, "pool2", "out", True), port_point(view, "conv1", "x", False))
    assert document.undo_stack.count() == before
    assert messages and "cycle" in messages[0]


def test_dropping_a_palette_block_adds_it_where_it_was_dropped(canvas, qtbot):
    document, scene, view = canvas()
    mime = QMimeData()
    mime.setData(BLOCK_MIME_TYPE, b"conv2d")
    point = empty_point(view)
    assert drop_mime(view, mime, point)
    new = [i for i in document.graph.nodes if i.startswith("conv2d_")]
    assert new == ["conv2d_1"]
    center = scene.node_items["conv2d_1"].mapRectToScene(0, 0, NODE_WIDTH, NODE_HEIGHT).center()
    dropped = view.mapToScene(point)
    assert abs(center.x() - dropped.x()) <= 1 and abs(center.y() - dropped.y()) <= 1
    assert scene.selected_ids() == ["conv2d_1"]
    assert document.graph.nodes["conv2d_1"].params  # starter params: valid where it can be
    text = QMimeData()
    text.setText("conv2d")
    assert not drop_mime(view, text, point)  # only blocks are taken


def test_double_click_on_empty_canvas_opens_a_block_search_that_adds_there(canvas, qtbot):
    document, scene, view = canvas()
    point = empty_point(view)
    qtbot.mouseDClick(view.viewport(), Qt.LeftButton, pos=point)
    popup = view.popup
    assert popup is not None and popup.isVisible()
    qtbot.keyClicks(popup.edit, "gelu")
    qtbot.keyClick(popup.edit, Qt.Key_Return)
    assert "gelu_1" in document.graph.nodes
    center = scene.node_items["gelu_1"].mapRectToScene(0, 0, NODE_WIDTH, NODE_HEIGHT).center()
    assert (center - view.mapToScene(point)).manhattanLength() <= 2


def test_a_wire_let_go_on_empty_canvas_offers_the_blocks_that_fit_and_connects_the_choice(canvas, qtbot):
    document, scene, view = canvas()
    point = empty_point(view)
    drag(qtbot, view, port_point(view, "flatten", "out", True), point)
    popup = view.popup
    assert popup is not None and popup.isVisible()
    offered = popup.names()
    assert "linear" in offered and "conv2d" not in offered and "lstm" not in offered
    qtbot.keyClicks(popup.edit, "linear")
    qtbot.keyClick(popup.edit, Qt.Key_Return)
    new = [i for i in document.graph.nodes if i.startswith("linear")]
    assert new == ["linear_1"]
    assert document.graph.nodes["linear_1"].inputs == ["flatten"]
    assert document.undo_stack.undoText() == "Add linear"
    document.undo_stack.undo()  # add and connect are one step
    assert "linear_1" not in document.graph.nodes


def test_rubber_band_selects_the_boxes_it_touches(canvas, qtbot):
    document, scene, view = canvas()
    top = scene.node_items["conv1"].mapRectToScene(0, 0, NODE_WIDTH, NODE_HEIGHT)
    bottom = scene.node_items["act1"].mapRectToScene(0, 0, NODE_WIDTH, NODE_HEIGHT)
    start = view.mapFromScene(QPointF(top.right() + 60, top.top() + 10))
    end = view.mapFromScene(QPointF(bottom.center().x(), bottom.center().y()))
    drag(qtbot, view, start, end)
    assert scene.selected_ids() == ["conv1", "act1"]


def test_read_only_scene_takes_no_edits(canvas, qtbot):
    document, scene, view = canvas(read_only=True)
    before = document.position("conv2")
    drag(qtbot, view, node_point(view, "conv2"), node_point(view, "conv2") + QPoint(100, 0))
    drag(qtbot, view, port_point(view, "pool2", "out", True), port_point(view, "conv1", "x", False))
    assert document.position("conv2") == before
    assert document.undo_stack.count() == 0
    mime = QMimeData()
    mime.setData(BLOCK_MIME_TYPE, b"relu")
    assert not drop_mime(view, mime, empty_point(view))


def test_zoom_and_fit(canvas):
    document, scene, view = canvas(ROOT / "graphs" / "googlenet.yaml")
    view.zoom_in()
    assert view.zoom() == pytest.approx(1.2)
    view.zoom_out()
    view.zoom_out()
    assert view.zoom() == pytest.approx(1 / 1.2)
    view.fit_all()  # one column, too tall to fit readably: shown readably from its start
    assert view.text_pixels() >= MIN_TEXT_PX - 1e-6
    assert view.visible_scene_rect().contains(scene.node_items["image"].sceneBoundingRect())
    view.arrange()  # laid out in columns for the view: the whole graph fits, readably
    assert view.visible_scene_rect().contains(scene.nodes_rect())
    assert view.text_pixels() >= MIN_TEXT_PX - 1e-6
    for _ in range(50):
        view.zoom_out()
    assert view.zoom() >= 0.05


# ---------------------------------------------------------------- the gallery laid out
def _crosses_box(path, rect: QRectF) -> bool:
    inner = rect.adjusted(2, 2, -2, -2)
    return any(inner.contains(path.pointAtPercent(t / 200)) for t in range(201))


@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.stem)
def test_gallery_graph_laid_out_without_overlaps_and_with_every_wire_labeled(qtbot, path):
    document = GraphDocument.open(path)
    document.graph.layout = None  # as hand-written YAML: the editor lays it out
    scene = GraphScene(document)
    boxes = {i: box(item) for i, item in scene.node_items.items()}
    ids = list(boxes)
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            assert not boxes[ids[a]].intersects(boxes[ids[b]]), f"{ids[a]} overlaps {ids[b]}"
    assert len(scene.wire_items) == len(document.wires()) > 0
    for wire_item in scene.wire_items.values():
        assert wire_item.label not in ("", "?"), wire_item.key
        assert not wire_item.broken
        others = [boxes[i] for i in ids if i not in (wire_item.source, wire_item.target)]
        assert not any(_crosses_box(wire_item._path, r) for r in others), f"{wire_item.key} runs under a box"
        assert not any(r.intersects(wire_item.label_rect()) for r in boxes.values()), \
            f"the label of {wire_item.key} is hidden by a box"


def test_wires_between_boxes_side_by_side_go_around_them(qtbot):
    """Arranging before wiring leaves a row: outputs (bottom) feed inputs (top) level with
    them. Such wires run through a lane beside the boxes, never through one."""
    document = GraphDocument()
    ids = [document.add_node(name, position=(x, 0)) for name, x in
           (("input", 0), ("conv2d", 220), ("relu", 440), ("output", 660))]
    for source, target in zip(ids, ids[1:]):
        assert document.connect(source, target)
    scene = GraphScene(document)
    boxes = [box(item) for item in scene.node_items.values()]
    assert len(scene.wire_items) == 3
    for wire_item in scene.wire_items.values():
        assert wire_item.lane is not None
        assert not any(_crosses_box(wire_item._path, r) for r in boxes), wire_item.key
        assert not any(r.intersects(wire_item.label_rect()) for r in boxes), wire_item.key


def test_wheel_zooms_under_the_mouse_and_middle_button_or_space_drag_pans(canvas, qtbot):
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    document, scene, view = canvas(ROOT / "graphs" / "googlenet.yaml")
    viewport = view.viewport()
    spot = P(300, 300)
    under = view.mapToScene(spot)
    wheel = QWheelEvent(QPointF(spot), QPointF(view.mapToGlobal(spot)), P(0, 0), P(0, 120), Qt.NoButton,
                        Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(viewport, wheel)
    assert view.zoom() == pytest.approx(1.2)
    after = view.mapToScene(spot)
    assert abs(after.x() - under.x()) < 2 and abs(after.y() - under.y()) < 2  # the point under the mouse stays

    before = view.mapToScene(P(400, 400))
    qtbot.mousePress(viewport, Qt.MiddleButton, pos=P(400, 400))
    qtbot.mouseMove(viewport, P(400, 300))
    qtbot.mouseRelease(viewport, Qt.MiddleButton, pos=P(400, 300))
    moved = view.mapToScene(P(400, 400)) - before
    assert moved.y() == pytest.approx(100 / 1.2, abs=2)
    assert document.undo_stack.count() == 0  # panning is not an edit

    before = view.mapToScene(P(400, 400))
    qtbot.keyPress(view, Qt.Key_Space)
    drag(qtbot, view, empty_point(view), empty_point(view) + P(0, -60))
    qtbot.keyRelease(view, Qt.Key_Space)
    assert (view.mapToScene(P(400, 400)) - before).y() == pytest.approx(60 / 1.2, abs=2)
    assert scene.selected_ids() == [] and document.undo_stack.count() == 0


def test_training_marks_badge_nodes_and_clear(canvas):
    document, scene, _ = canvas()
    scene.set_marks({"conv1": "vanishing gradient: norm 1e-9"})
    assert scene.node_items["conv1"].mark and "vanishing" in scene.node_items["conv1"].toolTip()
    assert not scene.node_items["fc1"].mark
    document.set_param("conv1", "out_channels", 8)  # a refresh keeps the mark
    assert "vanishing" in scene.node_items["conv1"].toolTip()
    scene.set_marks({})
    assert not scene.node_items["conv1"].mark and "vanishing" not in scene.node_items["conv1"].toolTip()
