"""A wire on the canvas: a curve from an output port to an input port, labeled with the
shape of the tensor it carries.

A wire that would cross other boxes (a skip connection past several layers, or the wire
from the end of one column of a wrapped layout to the start of the next) is routed
through a free lane beside them; the scene computes the lane (it knows where the boxes
are, see :mod:`gui.routing`) and hands it to :meth:`WireItem.set_route`. Paths are built
in flow coordinates, so the same code draws graphs that flow down and graphs that flow
right.
"""

from __future__ import annotations

import functools
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
from gui.canvas.node_item import metrics_f, text_font
from gui.layout import DOWN, Flow, flow_of
from gui.readable import FULL, detail_level
from gui.routing import direct_span, from_flow, is_backward, label_anchor, to_flow, wire_points


def label_font() -> QFont:
    """The wire labels' font: as large as a node's text, so that both are readable at
    the same zoom."""
    return text_font()


@functools.lru_cache(maxsize=None)
def _shared_label_font() -> QFont:
    return label_font()  # one for all wires: building a font per wire cost 6,000 wires 50 ms


@functools.lru_cache(maxsize=4096)
def _label_size(text: str) -> tuple[float, float]:
    """(width, height) of a label's box: a few distinct shapes label thousands of wires."""
    metrics = metrics_f(_shared_label_font())
    return metrics.horizontalAdvance(text) + 8, metrics.height() + 2


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
        self._tooltip = ""
        self.broken = False  # the target has an error: draw the wire red and dashed
        self.start = QPointF()
        self.end = QPointF()
        self.lane: Optional[float] = None
        self.side = 0  # where the label sits beside a lane: -1 before it, 0 centred, +1 after it
        self.flow: Flow = flow_of(DOWN)
        self._flow_ends = ((0.0, 0.0), (0.0, 0.0))  # start and end as (across, along)
        self._routed = False  # set_route was called: the label can be placed
        self._built_path: Optional[QPainterPath] = QPainterPath()  # None: not built since the route changed
        self._label_rect = QRectF()
        self._bounds = QRectF()  # boundingRect, kept (Qt asks for it many times per wire)
        self._font = _shared_label_font()
        self.text_height = _label_size("")[1] - 2

    def set_label(self, text: str, broken: bool, tooltip: str) -> None:
        if text != self.label or broken != self.broken:
            if not self._routed:  # placed with the route (the scene labels wires before routing them)
                self.label, self.broken = text, broken
            else:
                self.prepareGeometryChange()
                self.label, self.broken = text, broken
                self._update_label_rect()
                self.update()
        if tooltip != self._tooltip:
            self._tooltip = tooltip
            self.setToolTip(tooltip)

    def set_route(self, start: QPointF, end: QPointF, lane: Optional[float], side: int = 0,
                  flow: Optional[Flow] = None) -> None:
        """Run from ``start`` to ``end`` (scene points); through the lane at across-
        coordinate ``lane`` if given, with the label on ``side`` of it (away from the
        boxes the lane passes)."""
        flow = flow or self.flow
        if (self._routed and start == self.start and end == self.end and lane == self.lane and side == self.side
                and flow is self.flow):
            return
        self.prepareGeometryChange()
        self.start, self.end, self.lane, self.side, self.flow = QPointF(start), QPointF(end), lane, side, flow
        self._flow_ends = (to_flow(flow, (start.x(), start.y())), to_flow(flow, (end.x(), end.y())))
        self._routed = True
        # the curve itself is built when first drawn or hit: most wires of a big graph
        # are off screen when it opens (its bounds and label need only the two ends)
        self._built_path = None
        self._update_label_rect()

    @property
    def _path(self) -> QPainterPath:
        if self._built_path is None:
            self._built_path = self._make_path()
        return self._built_path

    def _ends(self):
        return self._flow_ends

    def label_center(self) -> QPointF:
        """Where the shape label sits: beside the lane for a routed wire, mid-curve otherwise."""
        start, end = self._ends()
        anchor = label_anchor(self.flow, start, end, self.lane)
        if anchor is None:  # a direct curve is symmetric about its middle
            return QPointF((self.start.x() + self.end.x()) / 2, (self.start.y() + self.end.y()) / 2)
        return QPointF(*from_flow(self.flow, anchor))

    def label_rect(self) -> QRectF:
        return QRectF(self._label_rect)

    def _make_path(self) -> QPainterPath:
        start, end = self._ends()
        path = QPainterPath(QPointF(*from_flow(self.flow, start)))
        for kind, points in wire_points(self.flow, start, end, self.lane):
            scene = [QPointF(*from_flow(self.flow, p)) for p in points]
            if kind == "cubic":
                path.cubicTo(*scene)
            else:
                path.lineTo(scene[0])
        return path

    def _update_label_rect(self) -> None:
        if not self.label:
            self._label_rect = QRectF()
            self._update_bounds()
            return
        width, height = _label_size(self.label)
        center = self.label_center()
        rect = QRectF(center.x() - width / 2, center.y() - height / 2, width, height)
        start, end = self._ends()
        if self.lane is not None and self.side and not is_backward(self.flow, start, end):
            # beside the lane, on the side away from the boxes it passes
            if self.flow.direction == DOWN:
                rect.moveLeft(center.x() + 3 if self.side > 0 else center.x() - 3 - width)
            else:
                rect.moveTop(center.y() + 3 if self.side > 0 else center.y() - 3 - height)
        self._label_rect = rect
        self._update_bounds()

    def _update_bounds(self) -> None:
        start, end = self._ends()
        span = direct_span(start, end) if self.lane is None and self._built_path is None else None
        if span is not None:  # without building the curve
            curve = QRectF(QPointF(*from_flow(self.flow, span[0])), QPointF(*from_flow(self.flow, span[1])))
        else:
            curve = self._path.boundingRect()
        self._bounds = curve.adjusted(-4, -4, 4, 4).united(self._label_rect.adjusted(-1, -1, 1, 1))

    # ------------------------------------------------------------------ drawing
    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        outline = stroker.createStroke(self._path)
        outline.addRect(self._label_rect)
        return outline

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        zoom = option.levelOfDetailFromTransform(painter.worldTransform())
        near = detail_level(zoom, self.text_height, self.text_height) == FULL  # a label only where it is readable
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
    (why it cannot connect here) written beside the cursor: at the screen size of
    normal text whatever the zoom, and kept inside the visible part of the canvas."""

    def __init__(self, anchor: QPointF, from_output: bool, flow: Optional[Flow] = None):
        super().__init__()
        self.anchor = QPointF(anchor)
        self.from_output = from_output
        self.flow = flow or flow_of(DOWN)
        self.tip = QPointF(anchor)
        self.ok = True
        self.message = ""
        self.setZValue(10)
        self._font = QFont()
        self._font.setPointSizeF(9)
        self._scale = 1.0  # scene units per screen pixel: the message keeps its screen size
        self._visible = QRectF()  # the part of the scene the view shows
        self._message_box = QRectF()

    def follow(self, tip: QPointF, ok: bool = True, message: str = "", visible: Optional[QRectF] = None,
               zoom: float = 1.0) -> None:
        """Move the loose end to ``tip``; ``visible`` (scene rectangle of the view) and
        ``zoom`` place and size the message so that it stays whole on screen."""
        self.prepareGeometryChange()
        self.tip, self.ok, self.message = QPointF(tip), ok, message
        self._scale = 1.0 / max(zoom, 1e-6)
        self._visible = QRectF(visible) if visible is not None else QRectF()
        self._message_box = self._place_message()
        self.update()

    def _path(self) -> QPainterPath:
        s, e = (self.anchor, self.tip) if self.from_output else (self.tip, self.anchor)
        start, end = to_flow(self.flow, (s.x(), s.y())), to_flow(self.flow, (e.x(), e.y()))
        path = QPainterPath(s)
        for _kind, points in wire_points(self.flow, start, end, None):
            path.cubicTo(*[QPointF(*from_flow(self.flow, p)) for p in points])
        return path

    def _place_message(self) -> QRectF:
        """The message's box in scene units: below-right of the cursor, flipped to the left
        (or above) where it would leave the visible canvas, then pushed inside it."""
        if not self.message:
            return QRectF()
        metrics = QFontMetricsF(self._font)
        text = metrics.boundingRect(QRectF(0, 0, 320, 400), Qt.TextWordWrap, self.message)
        k = self._scale
        width, height = (text.width() + 10) * k, (text.height() + 6) * k
        gap_x, gap_y = 14 * k, 10 * k
        box = QRectF(self.tip.x() + gap_x, self.tip.y() + gap_y, width, height)
        area = self._visible
        if area.isEmpty():
            return box
        if box.right() > area.right():
            box.moveRight(self.tip.x() - gap_x)
        if box.bottom() > area.bottom():
            box.moveBottom(self.tip.y() - gap_y)
        box.moveLeft(max(area.left(), min(box.left(), area.right() - box.width())))
        box.moveTop(max(area.top(), min(box.top(), area.bottom() - box.height())))
        return box

    def message_rect(self) -> QRectF:
        """Where the message is drawn (scene coordinates)."""
        return QRectF(self._message_box)

    def boundingRect(self) -> QRectF:
        return self._path().boundingRect().adjusted(-4, -4, 4, 4).united(self._message_box.adjusted(-2, -2, 2, 2))

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        painter.setRenderHint(QPainter.Antialiasing, True)
        color = QColor("#38a169") if self.ok else QColor(style.ERROR_COLOR)
        pen = QPen(color, 2)
        pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self._path())
        if self.message:
            box = self._message_box
            painter.save()
            # draw in screen-sized units: the message reads the same at any zoom
            painter.translate(box.topLeft())
            painter.scale(self._scale, self._scale)
            inner = QRectF(0, 0, box.width() / self._scale, box.height() / self._scale)
            painter.setPen(QPen(color, 1))
            painter.setBrush(QColor("#fffaf0") if not self.ok else QColor("#f0fff4"))
            painter.drawRoundedRect(inner, 4, 4)
            painter.setFont(self._font)
            painter.setPen(QColor("#1a202c"))
            painter.drawText(inner.adjusted(5, 3, -5, -3), Qt.TextWordWrap, self.message)
            painter.restore()
