"""The overview (minimap): the whole graph small, and a frame around the part the canvas
shows. A click or drag in it moves the canvas there.

It draws from the scene's items directly (a box per node in its category's color, a line
per wire), not by rendering the scene a second time, so it stays cheap for hundreds of
nodes; repaints are batched (a scene edit or a scroll asks for one, the timer paints once).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui import style
from gui.canvas.view import GraphView
from gui.layout import NODE_HEIGHT, NODE_WIDTH
from gui.readable import Mapping, fit_into

REPAINT_MS = 40  # at most 25 overview repaints a second while the canvas changes
PAD = 6  # pixels kept free around the graph


class Minimap(QWidget):
    """The overview of one :class:`GraphView` (and of whichever scene it shows)."""

    def __init__(self, view: GraphView, parent=None):
        super().__init__(parent)
        self.setObjectName("overview")
        self.setToolTip("Overview: the frame is what the canvas shows; click or drag to move it")
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(80, 60)
        self.setCursor(Qt.PointingHandCursor)
        self.view = view
        self.paints = 0  # for tests: how often the overview was drawn
        self._scene = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REPAINT_MS)
        self._timer.timeout.connect(self.update)
        view.viewChanged.connect(self.schedule)
        view.sceneReplaced.connect(self._follow_scene)
        self._follow_scene()

    def sizeHint(self) -> QSize:
        return QSize(220, 170)

    def _follow_scene(self) -> None:
        if self._scene is not None:
            try:
                self._scene.changed.disconnect(self.schedule)
            except (RuntimeError, TypeError):  # the old scene is gone already
                pass
        self._scene = self.view.graph_scene
        self._scene.changed.connect(self.schedule)
        self.schedule()

    def schedule(self, *_args) -> None:
        if not self._timer.isActive():
            self._timer.start()

    # ------------------------------------------------------------------ geometry
    def graph_rect(self) -> QRectF:
        """The scene rectangle the overview shows: the boxes and their wires."""
        scene = self.view.graph_scene
        rect = scene.nodes_rect()
        for wire in scene.wire_items.values():
            rect = rect.united(QRectF(wire.start, wire.end).normalized())
        return rect

    def mapping(self) -> Optional[Mapping]:
        rect = self.graph_rect()
        return fit_into(rect.left(), rect.top(), rect.width(), rect.height(), self.width(), self.height(), PAD)

    def frame_rect(self) -> QRectF:
        """Where the canvas's visible part is drawn in the overview (widget pixels)."""
        mapping = self.mapping()
        if mapping is None:
            return QRectF()
        visible = self.view.visible_scene_rect()
        left, top = mapping.to_frame(visible.left(), visible.top())
        right, bottom = mapping.to_frame(visible.right(), visible.bottom())
        return QRectF(left, top, right - left, bottom - top)

    # ------------------------------------------------------------------ drawing
    def paintEvent(self, event) -> None:
        self.paints += 1
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(style.CANVAS_COLOR))
        mapping = self.mapping()
        if mapping is None:
            painter.setPen(QColor(style.HINT_COLOR))
            painter.drawText(self.rect(), Qt.AlignCenter, "empty graph")
            return
        painter.setRenderHint(QPainter.Antialiasing, True)
        scene = self.view.graph_scene
        painter.setPen(QPen(QColor(style.WIRE_COLOR), 1))
        for wire in scene.wire_items.values():
            painter.drawLine(QPointF(*mapping.to_frame(wire.start.x(), wire.start.y())),
                             QPointF(*mapping.to_frame(wire.end.x(), wire.end.y())))
        painter.setPen(Qt.NoPen)
        width, height = NODE_WIDTH * mapping.scale, NODE_HEIGHT * mapping.scale
        for item in scene.node_items.values():
            x, y = mapping.to_frame(item.pos().x(), item.pos().y())
            color = QColor(style.ERROR_COLOR) if item.has_error else item.color
            painter.fillRect(QRectF(x, y, max(width, 2.0), max(height, 2.0)), color)
        frame = self.frame_rect().intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        if not frame.isEmpty():
            shade = QColor(style.SELECTION_COLOR)
            shade.setAlpha(40)
            painter.setBrush(shade)
            painter.setPen(QPen(QColor(style.SELECTION_COLOR), 2))
            painter.drawRect(frame)

    # ------------------------------------------------------------------ moving the canvas
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.LeftButton:
            self._move_view(event.position())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.LeftButton:
            self._move_view(event.position())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def _move_view(self, point: QPointF) -> None:
        mapping = self.mapping()
        if mapping is not None:
            self.view.center_at(QPointF(*mapping.to_scene(point.x(), point.y())))
