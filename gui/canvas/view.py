"""The canvas view: zoom (wheel, keys), pan (middle button or space + drag), fit to view,
arrange, rubber-band selection, blocks dropped from the palette, and the block search
that opens on a double-click or when a wire is let go on empty canvas.

Fitting, opening and arranging never choose a zoom at which the nodes' text is
unreadable (:mod:`gui.readable`): a graph too large for one readable screen is laid out
in columns (or rows) that use the window's shape, and shown from its start."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QGraphicsView

from gui.canvas.node_item import text_height
from gui.canvas.scene import GraphScene
from gui.document import starter_params
from gui.layout import LAYER_PITCH, NODE_HEIGHT, NODE_WIDTH, wrapped_layout
from gui.readable import Screen, choose_view, readable_zoom
from gui.style import BLOCK_MIME_TYPE

MIN_SCALE, MAX_SCALE = 0.05, 4.0
ZOOM_STEP = 1.2
SCENE_SLACK = 2000  # room to scroll beyond the graph, so that any part of it can be centred


class GraphView(QGraphicsView):
    """Shows a :class:`GraphScene`; ``nodesAdded`` reports nodes the user added here."""

    nodesAdded = Signal(list)
    viewChanged = Signal()  # zoomed, scrolled or resized: the overview follows
    sceneReplaced = Signal()  # another document's scene is shown

    def __init__(self, scene: GraphScene, parent=None):
        super().__init__(scene, parent)
        self.setObjectName("canvas")
        # items antialias themselves where it shows (near); the cache keeps panning cheap
        self.setRenderHint(QPainter.TextAntialiasing, True)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.DontSavePainterState, True)
        # scroll bars always there: the viewport's size, which layouts are made for, stays put
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOn)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOn)
        self.setAcceptDrops(not scene.read_only)
        self._pan_from: Optional[QPointF] = None
        self._space = False
        self.popup = None  # the open block search, for tests
        # until the user zooms or pans, a resized view fits the graph again (a window
        # manager may size the window after the file was opened)
        self._fitted = False
        self.horizontalScrollBar().valueChanged.connect(self.viewChanged)
        self.verticalScrollBar().valueChanged.connect(self.viewChanged)
        self._connect(scene)

    def set_graph_scene(self, scene: GraphScene) -> None:
        """Show another document's scene in this view (the view, and so the window's
        layout, stays put when a file is opened)."""
        old = self.graph_scene
        if old is not None:
            old.canvasDoubleClicked.disconnect(self._search_at)
            old.wireDroppedOnCanvas.disconnect(self._search_for_wire)
        self.setScene(scene)
        self.setAcceptDrops(not scene.read_only)
        self.resetTransform()
        self._fitted = False
        self._connect(scene)
        self.sceneReplaced.emit()

    def _connect(self, scene: GraphScene) -> None:
        scene.canvasDoubleClicked.connect(self._search_at)
        scene.wireDroppedOnCanvas.connect(self._search_for_wire)

    @property
    def graph_scene(self) -> GraphScene:
        return self.scene()

    # ------------------------------------------------------------------ zoom and pan
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        factor = max(MIN_SCALE / self.zoom(), min(MAX_SCALE / self.zoom(), factor))
        self.scale(factor, factor)
        self.viewChanged.emit()

    def zoom_in(self) -> None:
        self._fitted = False
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self._fitted = False
        self.zoom_by(1 / ZOOM_STEP)

    def zoom_reset(self) -> None:
        """100 %, about the middle of the view; if that leaves no node in view (the graph
        was small and off-centre), the nearest node is brought to the middle."""
        self._fitted = False
        self._zoom_about_center(1.0 / self.zoom())
        rect = self.graph_scene.nodes_rect()
        visible = self.visible_scene_rect()
        if rect.isEmpty() or visible.intersects(rect):
            return
        middle = visible.center()
        nearest = min(self.graph_scene.node_items.values(),
                      key=lambda item: _distance(item.sceneBoundingRect().center(), middle))
        self.centerOn(nearest.sceneBoundingRect().center())

    def _zoom_about_center(self, factor: float) -> None:
        middle = self.mapToScene(self.viewport().rect().center())
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.NoAnchor)
        self.zoom_by(factor)
        self.centerOn(middle)
        self.setTransformationAnchor(anchor)

    # ------------------------------------------------------------------ readable fitting
    def readable_zoom(self) -> float:
        """The smallest zoom at which the nodes' id, block and shape (and the wires'
        labels) are readable."""
        return readable_zoom(text_height())

    def text_pixels(self) -> float:
        """How high the nodes' text is drawn at the current zoom, in screen pixels."""
        return self.zoom() * text_height()

    def screen(self, settle: bool = False) -> Screen:
        """This view as a screen to lay out and fit for: its size and readable zooms.
        ``settle`` first applies the window's pending layout (dock sizes given when the
        window is shown apply later), so that a file opened right after ``show()`` is
        laid out for the size the user will see."""
        if settle and self.window().layout() is not None:
            self.window().layout().activate()
        size = self.viewport().size()
        return Screen(size.width(), size.height(), self.readable_zoom())

    def fit_all(self) -> None:
        """Show the whole graph at the largest zoom up to 100 %, but never smaller than
        readable: a graph that does not fit readably is shown from its start (top left,
        where an automatic layout begins its reading order)."""
        rect = self.graph_scene.nodes_rect()
        if rect.isEmpty():
            return
        self._extend_scene_rect(rect)
        choice = choose_view(self.screen(), rect.left(), rect.top(), rect.width(), rect.height())
        self.zoom_by(choice.zoom / self.zoom())
        self.centerOn(choice.center_x, choice.center_y)
        self._fitted = True
        self.viewChanged.emit()

    def _extend_scene_rect(self, rect: QRectF) -> None:
        room = self.graph_scene.itemsBoundingRect().united(rect)
        self.setSceneRect(room.adjusted(-SCENE_SLACK, -SCENE_SLACK, SCENE_SLACK, SCENE_SLACK))

    def layout_function(self, direction: str):
        """``arrange(ids, sources)``: positions in ``direction`` that fit this view at a
        readable zoom (for arranging, and for a file opened without positions)."""
        return lambda ids, sources: wrapped_layout(ids, sources, direction, self.screen(settle=True))

    def arrange(self, direction: Optional[str] = None) -> None:
        """Lay the graph out for this window (in ``direction``, default the document's),
        as one undo step, and fit it."""
        document = self.graph_scene.document
        if not document.graph.nodes:
            return
        direction = direction or document.layout_direction
        document.arrange(document.layered_positions(arrange=self.layout_function(direction)), direction)
        self.graph_scene.route_wires()  # before fitting: routed wires are part of the picture
        self.fit_all()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self.fit_all()
        self.viewChanged.emit()

    def center_at(self, point: QPointF) -> None:
        """Put the scene ``point`` in the middle of the view (the overview's clicks)."""
        self._fitted = False
        self.centerOn(point)

    def center_on_node(self, node_id: str) -> None:
        """Bring a node into view: centred, unless it is in view already (then the view
        stays put, so that the rest of the graph does not jump away)."""
        item = self.graph_scene.node_items.get(node_id)
        if item is not None and not self.visible_scene_rect().contains(item.sceneBoundingRect()):
            self._fitted = False
            self.centerOn(item.sceneBoundingRect().center())

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & (Qt.ShiftModifier | Qt.AltModifier):
            super().wheelEvent(event)  # scroll instead of zoom
            return
        steps = event.angleDelta().y() / 120
        if steps:
            # keep the scene point under the wheel's position in place (Qt's own anchor
            # follows the last mouse move, which a wheel event does not update)
            self._fitted = False
            pos = event.position().toPoint()
            before = self.mapToScene(pos)
            self.setTransformationAnchor(QGraphicsView.NoAnchor)
            self.zoom_by(ZOOM_STEP ** steps)
            delta = self.mapToScene(pos) - before
            self.translate(delta.x(), delta.y())
            self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.OpenHandCursor)
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MiddleButton or (event.button() == Qt.LeftButton and self._space):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.pan_by(-delta.x(), -delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def pan_by(self, dx: float, dy: float) -> None:
        """Scroll the canvas by (dx, dy) screen pixels."""
        self._fitted = False
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(dx))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(dy))

    # ------------------------------------------------------------------ adding blocks
    def add_block(self, block_name: str, scene_pos: QPointF, source_ref: Optional[str] = None) -> Optional[str]:
        """Add a block centred at ``scene_pos`` (fed from ``source_ref`` if given, as one
        undo step), select it and return its id; None if the wire was refused."""
        document = self.graph_scene.document
        position = (round(scene_pos.x() - NODE_WIDTH / 2), round(scene_pos.y() - NODE_HEIGHT / 2))
        with document.macro(f"Add {block_name}"):
            node_id = document.add_node(block_name, starter_params(block_name), position=position)
            if source_ref is not None:
                verdict = document.connect(source_ref, node_id)
                if not verdict:
                    self.graph_scene.message.emit(f"Not connected: {verdict.reason}")
        self.graph_scene.select_nodes([node_id])
        self.nodesAdded.emit([node_id])
        return node_id

    def add_block_at_center(self, block_name: str) -> Optional[str]:
        """Add a block in the middle of what the view shows (palette double-click), or
        below the boxes already there, so that blocks added one after another form a
        column instead of a pile."""
        center = self.mapToScene(self.viewport().rect().center())
        boxes = [item.sceneBoundingRect() for item in self.graph_scene.node_items.values()]
        spot = QRectF(center.x() - NODE_WIDTH / 2, center.y() - NODE_HEIGHT / 2, NODE_WIDTH, NODE_HEIGHT)
        for _ in range(len(boxes) + 1):
            if not any(box.intersects(spot) for box in boxes):
                break
            spot.translate(0, LAYER_PITCH)
        return self.add_block(block_name, spot.center())

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(BLOCK_MIME_TYPE) and not self.graph_scene.read_only:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        if not event.mimeData().hasFormat(BLOCK_MIME_TYPE) or self.graph_scene.read_only:
            event.ignore()
            return
        name = bytes(event.mimeData().data(BLOCK_MIME_TYPE)).decode("utf-8")
        self.add_block(name, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()

    def _open_search(self, names, title: str, scene_pos: QPointF, source_ref: Optional[str]) -> None:
        from gui.block_search import (
            BlockSearchPopup,  # the popup is only needed on demand
        )

        popup = BlockSearchPopup(names, self, title=title)
        popup.blockChosen.connect(lambda name: self.add_block(name, scene_pos, source_ref))
        self.popup = popup
        popup.popup_at(self.viewport().mapToGlobal(self.mapFromScene(scene_pos)))

    def _search_at(self, scene_pos: QPointF) -> None:
        self._open_search(None, "Add a block here", scene_pos, None)

    def _search_for_wire(self, source_ref: str, scene_pos: QPointF) -> None:
        from gui.fitting import fitting_blocks

        document = self.graph_scene.document
        node_id = source_ref.partition(".")[0]
        info = document.analysis.nodes.get(node_id)
        shape = ""
        if info is not None and info.outputs:
            port = source_ref.partition(".")[2] or next(iter(info.outputs))
            from gui.labels import short_shape

            shape = f" ({short_shape(info.outputs.get(port))})"
        self._open_search(fitting_blocks(document, source_ref), f"Blocks that take {source_ref}{shape}",
                          scene_pos, source_ref)

    def visible_scene_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()


def _distance(a: QPointF, b: QPointF) -> float:
    return ((a.x() - b.x()) ** 2 + (a.y() - b.y()) ** 2) ** 0.5
