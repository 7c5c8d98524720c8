"""A wire on the canvas: a curve from an output port down to an input port, labeled with
the shape of the tensor it carries.

A wire that would cross other boxes (a skip connection past several layers) is routed
through a free vertical lane beside them; the scene computes the lane (it knows where the
boxes are) and hands it to :meth:`WireItem.set_route`.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from gui import style
from gui.canvas.node_item import FAR_OUT
from gui.layout import V_GAP

BEND = V_GAP / 2  # the height over which a routed wire swings into its lane


class WireItem(QGraphicsItem):
    """One wire, keyed in the scene by (target, target port, reference text)."""

    def __init__(self, key: tuple, source: str, source_port: Optional[str], target: str, target_port: Optional[str]):
        super().__init__()
        self.key = key
        self.source, self.source_port = source, source_port
        self.target, self.target_port = target, target_port
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setZValue(0)
        self.label = ""
        self.broken = False  # the target has an error: draw the wire red and dashed
        self.start = QPointF()
        self.end = QPointF()
        self.lane: Optional[float] = None
        self.side = 0  # where the label sits beside a lane: -1 left, 0 centred, +1 right
        self._path = QPainterPath()
        self._label_rect = QRectF()
        self._font = QFont()
        self._font.setPointSizeF(7.5)

    def set_label(self, text: str, broken: bool, tooltip: str) -> None:
        if text != self.label or broken != self.broken:
            self.prepareGeometryChange()
            self.label, self.broken = text, broken
            self._update_label_rect()
            self.update()
        self.setToolTip(tooltip)

    def set_route(self, start: QPointF, end: QPointF, lane: Optional[float], side: int = 0) -> None:
        """Run from ``start`` to ``end``; through the vertical line x = ``lane`` if given,
        with the label on ``side`` of it (away from the boxes the lane passes)."""
        if start == self.start and end == self.end and lane == self.lane and side == self.side:
            return
        self.prepareGeometryChange()
        self.start, self.end, self.lane, self.side = QPointF(start), QPointF(end), lane, side
        self._path = self._make_path()
        self._update_label_rect()

    def label_center(self) -> QPointF:
        """Where the shape label sits: mid-lane for a routed wire, mid-curve otherwise."""
        if self.lane is not None and self.end.y() - self.start.y() < BEND:  # upward: below the source
            return QPointF((self.start.x() + self.lane) / 2, self.start.y() + BEND / 2)
        if self.lane is not None:
            return QPointF(self.lane, (self.start.y() + BEND + self.end.y() - BEND) / 2)
        return self._path.pointAtPercent(0.5)

    def label_rect(self) -> QRectF:
        return QRectF(self._label_rect)

    def _make_path(self) -> QPainterPath:
        s, e = self.start, self.end
        path = QPainterPath(s)
        if self.lane is None:
            dy = max(abs(e.y() - s.y()) / 2, 40.0)
            path.cubicTo(QPointF(s.x(), s.y() + dy), QPointF(e.x(), e.y() - dy), e)
            return path
        x = self.lane
        path.cubicTo(QPointF(s.x(), s.y() + BEND / 2), QPointF(x, s.y() + BEND / 2), QPointF(x, s.y() + BEND))
        path.lineTo(QPointF(x, e.y() - BEND))
        path.cubicTo(QPointF(x, e.y() - BEND / 2), QPointF(e.x(), e.y() - BEND / 2), e)
        return path

    def _update_label_rect(self) -> None:
        if not self.label:
            self._label_rect = QRectF()
            return
        metrics = QFontMetricsF(self._font)
        width = metrics.horizontalAdvance(self.label) + 8
        height = metrics.height() + 2
        center = self.label_center()
        left = center.x() - width / 2
        if self.lane is not None and self.side and self.end.y() - self.start.y() >= BEND:
            left = center.x() + 3 if self.side > 0 else center.x() - 3 - width
        self._label_rect = QRectF(left, center.y() - height / 2, width, height)

    # ------------------------------------------------------------------ drawing
    def boundingRect(self) -> QRectF:
        return self._path.boundingRect().adjusted(-4, -4, 4, 4).united(self._label_rect.adjusted(-1, -1, 1, 1))

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        outline = stroker.createStroke(self._path)
        outline.addRect(self._label_rect)
        return outline

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        near = option.levelOfDetailFromTransform(painter.worldTransform()) >= FAR_OUT
        painter.setRenderHint(QPainter.Antialiasing, near)
        color = QColor(style.ERROR_COLOR) if self.broken else QColor(style.WIRE_COLOR)
        if self.isSelected():
            color = QColor(style.SELECTION_COLOR)
        pen = QPen(color, 2.5 if self.isSelected() else 1.5)
        if self.broken:
            pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self._path)
        if near and self.label:
            painter.setPen(QPen(color.lighter(160), 1))
            painter.setBrush(QColor("white"))
            painter.drawRoundedRect(self._label_rect, 3, 3)
            painter.setFont(self._font)
            painter.setPen(QColor(style.ERROR_COLOR) if self.broken else QColor(style.WIRE_LABEL_COLOR))
            painter.drawText(self._label_rect, Qt.AlignCenter, self.label)


class PendingWire(QGraphicsItem):
    """The wire following the mouse while the user drags from a port, with the verdict
    (why it cannot connect here) written beside the cursor."""

    def __init__(self, anchor: QPointF, from_output: bool):
        super().__init__()
        self.anchor = QPointF(anchor)
        self.from_output = from_output
        self.tip = QPointF(anchor)
        self.ok = True
        self.message = ""
        self.setZValue(10)
        self._font = QFont()
        self._font.setPointSizeF(8)

    def follow(self, tip: QPointF, ok: bool = True, message: str = "") -> None:
        self.prepareGeometryChange()
        self.tip, self.ok, self.message = QPointF(tip), ok, message
        self.update()

    def _path(self) -> QPainterPath:
        s, e = (self.anchor, self.tip) if self.from_output else (self.tip, self.anchor)
        dy = max(abs(e.y() - s.y()) / 2, 40.0)
        path = QPainterPath(s)
        path.cubicTo(QPointF(s.x(), s.y() + dy), QPointF(e.x(), e.y() - dy), e)
        return path

    def _message_rect(self) -> QRectF:
        if not self.message:
            return QRectF()
        metrics = QFontMetricsF(self._font)
        rect = metrics.boundingRect(QRectF(0, 0, 320, 400), Qt.TextWordWrap, self.message)
        return rect.translated(self.tip + QPointF(14, 10)).adjusted(-5, -3, 5, 3)

    def boundingRect(self) -> QRectF:
        return self._path().boundingRect().adjusted(-4, -4, 4, 4).united(self._message_rect().adjusted(-2, -2, 2, 2))

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        painter.setRenderHint(QPainter.Antialiasing, True)
        color = QColor("#38a169") if self.ok else QColor(style.ERROR_COLOR)
        pen = QPen(color, 2)
        pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self._path())
        if self.message:
            rect = self._message_rect()
            painter.setPen(QPen(color, 1))
            painter.setBrush(QColor("#fffaf0") if not self.ok else QColor("#f0fff4"))
            painter.drawRoundedRect(rect, 4, 4)
            painter.setFont(self._font)
            painter.setPen(QColor("#1a202c"))
            painter.drawText(rect.adjusted(5, 3, -5, -3), Qt.TextWordWrap, self.message)
