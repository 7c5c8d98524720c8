"""The canvas view: zoom (wheel, keys), pan (middle button or space + drag), fit to view,
rubber-band selection, blocks dropped from the palette, and the block search that opens
on a double-click or when a wire is let go on empty canvas."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QGraphicsView

from gui.canvas.scene import GraphScene
from gui.document import starter_params
from gui.layout import LAYER_PITCH, NODE_HEIGHT, NODE_WIDTH
from gui.style import BLOCK_MIME_TYPE

MIN_SCALE, MAX_SCALE = 0.05, 4.0
ZOOM_STEP = 1.2


class GraphView(QGraphicsView):
    """Shows a :class:`GraphScene`; ``nodesAdded`` reports nodes the user added here."""

    nodesAdded = Signal(list)

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
        self.setAcceptDrops(not scene.read_only)
        self._pan_from: Optional[QPointF] = None
        self._space = False
        self.popup = None  # the open block search, for tests
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
        self._connect(scene)

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

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def zoom_reset(self) -> None:
        self.zoom_by(1 / self.zoom())

    def fit_all(self) -> None:
        """Show every node (never magnified beyond 100 %: small graphs stay readable)."""
        rect = self.graph_scene.nodes_rect()
        if rect.isEmpty():
            return
        rect = rect.adjusted(-30, -30, 30, 30)
        self.setSceneRect(self.graph_scene.itemsBoundingRect().united(rect).adjusted(-2000, -2000, 2000, 2000))
        self.fitInView(rect, Qt.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.zoom_reset()
        self.centerOn(rect.center())

    def show_readable(self, min_zoom: float = 0.75) -> None:
        """Fit the graph to the view; if that makes labels too small to read, zoom to
        ``min_zoom`` instead and show the top of the graph (where data enters)."""
        self.fit_all()
        rect = self.graph_scene.nodes_rect()
        if rect.isEmpty() or self.zoom() >= min_zoom:
            return
        self.zoom_by(min_zoom / self.zoom())
        visible = self.visible_scene_rect()
        self.centerOn(rect.center().x(), rect.top() - 20 + visible.height() / 2)

    def center_on_node(self, node_id: str) -> None:
        item = self.graph_scene.node_items.get(node_id)
        if item is not None:
            self.centerOn(item.sceneBoundingRect().center())

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & (Qt.ShiftModifier | Qt.AltModifier):
            super().wheelEvent(event)  # scroll instead of zoom
            return
        steps = event.angleDelta().y() / 120
        if steps:
            # keep the scene point under the wheel's position in place (Qt's own anchor
            # follows the last mouse move, which a wheel event does not update)
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
