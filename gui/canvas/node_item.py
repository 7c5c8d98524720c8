"""A node on the canvas: a box with its id, block, key parameters and output shape.

When data flows from top to bottom, input ports sit on the top edge and output ports on
the bottom edge; when it flows from left to right, on the left and right edges.
Its color, ports and error state are set in :meth:`NodeItem.refresh` (when the document or
its analysis changes); its texts (:mod:`gui.canvas.box_texts`) are worked out the first
time they are needed, and from then on in every refresh. :meth:`paint` draws them with as
much detail as is readable at the zoom (:func:`gui.readable.detail_level`): everything;
farther out only the id and output shape in large letters; farthest out a plain colored
box. The item is cached in device coordinates, so panning blits pixels instead of drawing
text again.
"""

from __future__ import annotations

import functools

from dataclasses import dataclass
from html import escape
from typing import Optional

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from gui import style
from gui.canvas.box_texts import BoxMetrics, BoxTexts, box_texts, repeat_badge
from gui.canvas.frozen_look import FROZEN_FILL, FROZEN_LINE, TOOLTIP, frozen_pen, paint_badge
from gui.layout import DOWN, NODE_HEIGHT, NODE_WIDTH, Flow, flow_of
from gui.readable import BOXES, FULL, detail_level

HEADER = 22
PORT_RADIUS = 5.0
PORT_HIT = 10.0  # how near a click must be to a port to start a wire
PORT_LABEL = 60  # room for a port's name beside a box with several ports
LARGE_TITLE_PX = 24  # the id and shape drawn far out, in scene units: half the box each
LARGE_SHAPE_PX = 21
STACK_OFFSET = 3  # how far each box behind a repeated node shows


@functools.lru_cache(maxsize=None)
def _shared_text_font(bold: bool) -> QFont:
    return _make_text_font(bold)


def text_font(bold: bool = False) -> QFont:
    """The font of a node's texts (a copy of one made once: QFont() is slow to build)."""
    return QFont(_shared_text_font(bold))


def _make_text_font(bold: bool = False) -> QFont:
    """The font of a node's id (bold), block line and shape line, and of wire labels."""
    font = QFont()
    font.setPointSizeF(8.5)
    font.setBold(bold)
    return font


def large_font(pixels: int, bold: bool = False) -> QFont:
    font = QFont()
    font.setPixelSize(pixels)
    font.setBold(bold)
    return font


_METRICS: dict[str, QFontMetrics] = {}


def metrics_of(font: QFont) -> QFontMetrics:
    """The metrics of ``font``, made once per distinct font (a box asks five times on
    every refresh: 5,000 boxes spent a second building them)."""
    key = font.key()
    found = _METRICS.get(key)
    if found is None:
        found = _METRICS[key] = QFontMetrics(font)
    return found


_METRICS_F: dict[str, QFontMetricsF] = {}


def metrics_f(font: QFont) -> QFontMetricsF:
    """The same with fractional sizes (wire labels)."""
    key = font.key()
    found = _METRICS_F.get(key)
    if found is None:
        found = _METRICS_F[key] = QFontMetricsF(font)
    return found


@functools.lru_cache(maxsize=None)  # measured once: asking per node cost 0.1 ms each (0.5 s for 5,000)
def text_height() -> float:
    """The height (scene units) of the smallest font a node's id, block and shape are
    drawn in at full detail: the view's readable zoom follows from it."""
    return min(QFontMetricsF(text_font(bold)).height() for bold in (False, True))


@functools.lru_cache(maxsize=None)
def large_text_height() -> float:
    """The same for the large letters of the far-out level of detail."""
    return min(QFontMetricsF(large_font(LARGE_SHAPE_PX)).height(),
               QFontMetricsF(large_font(LARGE_TITLE_PX, bold=True)).height())


@dataclass(frozen=True)
class PortSpot:
    """A port under the mouse: which node, which port, input or output."""

    node: str
    port: str
    output: bool


@functools.lru_cache(maxsize=None)
def _box_fonts() -> tuple[QFont, QFont, QFont, QFont, QFont]:
    """The fonts every box draws in (text, bold, small, large title, large shape), made
    once and shared: 5,000 boxes each building five fonts took a tenth of a second."""
    small = text_font()
    small.setPointSizeF(7)
    return (text_font(), text_font(bold=True), small, large_font(LARGE_TITLE_PX, bold=True),
            large_font(LARGE_SHAPE_PX))


@functools.lru_cache(maxsize=None)
def _box_metrics() -> BoxMetrics:
    return BoxMetrics(*(QFontMetrics(font) for font in _box_fonts()))


class NodeItem(QGraphicsItem):
    """One node; ``node_id`` is kept current by the scene when the node is renamed."""

    def __init__(self, node_id: str):
        super().__init__()
        self.node_id = node_id
        # no itemChange: the scene makes wires follow a dragged box (a Python itemChange is
        # called for every change of every item: 5,000 boxes took 0.15 s more to make)
        self.setFlags(QGraphicsItem.ItemIsSelectable | QGraphicsItem.ItemIsMovable)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)  # above wires: a wire never hides a box
        self.color = QColor(style.FALLBACK_COLOR)
        self.has_error = False
        self.has_warning = False
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.highlight_port: Optional[tuple[str, bool]] = None  # (port, output) a dragged wire is over
        self.highlight_ok = True
        self._shown: tuple = ()
        self.mark = ""  # a note from outside the graph, e.g. a training run's gradient warning
        self._source: Optional[tuple] = None  # (node, block, info, problems) of the last refresh
        self._texts: Optional[BoxTexts] = None  # None until first needed
        self.flow: Flow = flow_of(DOWN)
        self.repeat_text = ""  # "× 12" on a repeated node (drawn as a stack of boxes)
        self.switched_off = False  # `enabled: false`: drawn faded, its input passes through
        self.frozen = False  # the training section freezes it: drawn icy (gui/canvas/frozen_look.py)
        self._font, self._bold, self._small, self._large_title_font, self._large_shape_font = _box_fonts()
        self._text_height = text_height()
        self._large_height = large_text_height()

    # ------------------------------------------------------------------ content
    def refresh(self, node, block, info, problems) -> None:
        """Take what the box shows from the document's node, its block declaration (None
        if unknown), its analysis info (None if missing) and its problems. Color, ports
        and error state are set now; the texts now only if they were needed before (else
        when first drawn or asked for), and the box is redrawn only if its picture changed."""
        category = block.category if block is not None else ("Composite" if getattr(node, "graph", None) else None)
        self.color = style.category_color(category)
        self.inputs = [p.name for p in block.inputs] if block is not None else []
        self.outputs = [p.name for p in block.outputs] if block is not None else []
        self.repeat_text = repeat_badge(node, block)
        self.switched_off = getattr(node, "enabled", True) is False
        self.has_error = any(p.is_error for p in problems)
        self.has_warning = not self.has_error and bool(problems)
        self._source = (node, block, info, problems)
        if self._texts is not None:  # needed before: likely on screen, so compare them now
            self._texts = box_texts(node, block, info, problems, _box_metrics())
            self._apply_tooltip()
        ports = (tuple(self.inputs), tuple(self.outputs))
        shown = (self.color.rgb(), self.has_error, self.has_warning, self.repeat_text, self.switched_off, ports,
                 self._texts)
        if shown != self._shown:  # redraw (and re-cache) only boxes whose picture changed
            if ports != (self._shown[5] if self._shown else ((), ())):
                self.prepareGeometryChange()  # port labels may have come or gone
            self._shown = shown
            self.update()

    def texts(self) -> BoxTexts:
        """The box's texts, worked out now if they were not yet."""
        if self._texts is None:
            if self._source is None:
                return BoxTexts(self.node_id)
            self._texts = box_texts(*self._source, _box_metrics())
            if self._shown:
                self._shown = self._shown[:-1] + (self._texts,)
            self._apply_tooltip()
        return self._texts

    title = property(lambda self: self.texts().title)
    subtitle = property(lambda self: self.texts().subtitle)
    shape_line = property(lambda self: self.texts().shape_line)
    count_text = property(lambda self: self.texts().count_text)
    large_title = property(lambda self: self.texts().large_title)
    large_shape = property(lambda self: self.texts().large_shape)

    def toolTip(self) -> str:
        self.texts()
        return super().toolTip()

    def hoverEnterEvent(self, event) -> None:
        self.texts()  # the tooltip is set before Qt asks for it
        super().hoverEnterEvent(event)

    def set_flow(self, flow: Flow) -> None:
        """Put the ports on the edges that face the flow (top and bottom, or left and right)."""
        if flow is not self.flow:
            self.prepareGeometryChange()
            self.flow = flow
            self.update()

    def set_mark(self, text: str) -> None:
        """Show (or with "" clear) a badge and tooltip line that the graph itself does
        not know about: the training panel marks nodes with vanishing/exploding gradients."""
        if text != self.mark:
            self.mark = text
            self._apply_tooltip()
            self.update()

    def set_frozen(self, frozen: bool) -> None:
        """Draw the box as frozen (its weights do not train) or not."""
        if frozen != self.frozen:
            self.frozen = frozen
            self._apply_tooltip()
            self.update()

    def _apply_tooltip(self) -> None:
        if self._texts is None:
            return  # set with the texts
        extra = f"<br><span style='color:{style.WARNING_COLOR}'>∇ {escape(self.mark)}</span>" if self.mark else ""
        extra += f"<br><span style='color:{FROZEN_LINE}'>❄ {TOOLTIP}</span>" if self.frozen else ""
        self.setToolTip(self._texts.tooltip + extra)

    # ------------------------------------------------------------------ ports
    def port_pos(self, port: Optional[str], output: bool) -> QPointF:
        """Scene position of a port (the first one when ``port`` is None or unknown)."""
        names = self.outputs if output else self.inputs
        index = names.index(port) if port in names else 0
        share = (index + 1) / (max(len(names), 1) + 1)
        at = self.pos()  # (boxes are never rotated or scaled: no mapToScene, 30 us a call)
        if self.flow.direction == DOWN:
            return QPointF(at.x() + NODE_WIDTH * share, at.y() + (NODE_HEIGHT if output else 0.0))
        return QPointF(at.x() + (NODE_WIDTH if output else 0.0), at.y() + NODE_HEIGHT * share)

    def port_at(self, scene_pos: QPointF) -> Optional[PortSpot]:
        """The port within reach of ``scene_pos``, if any."""
        for output, names in ((True, self.outputs), (False, self.inputs)):
            for name in names:
                delta = self.port_pos(name, output) - scene_pos
                if delta.x() ** 2 + delta.y() ** 2 <= PORT_HIT ** 2:
                    return PortSpot(self.node_id, name, output)
        return None

    def set_highlight(self, port: Optional[str], output: bool = False, ok: bool = True) -> None:
        """Mark the port a dragged wire is over (green: it fits; red: refused)."""
        spot = (port, output) if port is not None else None
        if spot != self.highlight_port or ok != self.highlight_ok:
            self.highlight_port, self.highlight_ok = spot, ok
            self.update()

    # ------------------------------------------------------------------ drawing
    def boundingRect(self) -> QRectF:
        margin = PORT_RADIUS + 2
        labels = len(self.inputs) > 1 or len(self.outputs) > 1
        if self.flow.direction == DOWN:
            return QRectF(-margin, -margin - 14, NODE_WIDTH + 2 * margin, NODE_HEIGHT + 2 * margin + 30)
        side = margin + (PORT_LABEL if labels else 0)
        return QRectF(-side, -margin, NODE_WIDTH + 2 * side, NODE_HEIGHT + 2 * margin)

    def detail(self, zoom: float) -> str:
        """What this box shows at ``zoom`` (see :func:`gui.readable.detail_level`)."""
        return detail_level(zoom, self._text_height, self._large_height)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        if not self.switched_off:
            self._paint_box(painter, option)
            return
        painter.save()  # a switched-off node is drawn faded
        painter.setOpacity(0.45)
        try:
            self._paint_box(painter, option)
        finally:
            painter.restore()

    def _paint_box(self, painter: QPainter, option: QStyleOptionGraphicsItem) -> None:
        box = QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT)
        selected = self.isSelected()
        detail = self.detail(option.levelOfDetailFromTransform(painter.worldTransform()))
        if detail != FULL:
            self._paint_far(painter, box, selected, detail == BOXES)
            return
        painter.setRenderHint(QPainter.Antialiasing, True)
        if self.repeat_text:  # a stack of boxes: the node stands for several
            painter.setPen(QPen(self.color.darker(130), 1.2))
            painter.setBrush(QBrush(QColor("#edf2f7")))
            for offset in (STACK_OFFSET * 2, STACK_OFFSET):
                painter.drawRoundedRect(box.translated(offset, offset), 6, 6)
        border = QColor(style.ERROR_COLOR) if self.has_error else (
            QColor(style.SELECTION_COLOR) if selected else self.color.darker(130))
        plain_border = self.frozen and not (selected or self.has_error)
        painter.setPen(frozen_pen() if plain_border else QPen(border, 3 if (selected or self.has_error) else 1.2))
        painter.setBrush(QBrush(QColor(FROZEN_FILL if self.frozen else "white")))
        painter.drawRoundedRect(box, 6, 6)
        header = QRectF(0, 0, NODE_WIDTH, HEADER)
        painter.setPen(Qt.NoPen)
        painter.setBrush(self.color)
        painter.drawRoundedRect(header.adjusted(1, 1, -1, 0), 5, 5)
        painter.drawRect(header.adjusted(1, HEADER / 2, -1, 0))
        painter.setPen(QColor("white"))
        painter.setFont(self._bold)
        painter.drawText(header.adjusted(8, 0, -8, 0), Qt.AlignVCenter | Qt.AlignLeft, self.title)
        if self.repeat_text:
            right = NODE_WIDTH - (44 if self.mark else 4)
            pill = QRectF(right - metrics_of(self._bold).horizontalAdvance(self.repeat_text) - 10, 3, 0, HEADER - 6)
            pill.setRight(right)
            painter.setBrush(QColor("white"))
            painter.setPen(Qt.NoPen)
            painter.drawRoundedRect(pill, 4, 4)
            painter.setPen(self.color.darker(140))
            painter.drawText(pill, Qt.AlignCenter, self.repeat_text)
        painter.setFont(self._font)
        painter.setPen(QColor("#2d3748"))
        painter.drawText(QRectF(8, HEADER + 3, NODE_WIDTH - 16, 18), Qt.AlignVCenter | Qt.AlignLeft, self.subtitle)
        painter.setPen(QColor(style.ERROR_COLOR) if self.has_error else QColor("#4a5568"))
        line = QRectF(8, HEADER + 23, NODE_WIDTH - 16, 18)
        painter.drawText(line, Qt.AlignVCenter | Qt.AlignLeft, self.shape_line)
        if self.count_text:
            painter.setFont(self._small)
            painter.setPen(QColor("#718096"))
            painter.drawText(line, Qt.AlignVCenter | Qt.AlignRight, self.count_text)
        if self.has_warning:
            painter.setBrush(QColor(style.WARNING_COLOR))
            painter.setPen(Qt.NoPen)
            painter.drawEllipse(QRectF(NODE_WIDTH - 16, 6, 10, 10))
        if self.mark:  # a gradient badge at the right end of the header
            badge = QRectF(NODE_WIDTH - 40, 3, 34, HEADER - 6)
            painter.setBrush(QColor(style.WARNING_COLOR))
            painter.setPen(Qt.NoPen)
            painter.drawRoundedRect(badge, 4, 4)
            painter.setPen(QColor("white"))
            painter.setFont(self._bold)
            painter.drawText(badge, Qt.AlignCenter, "∇ !")
        self._paint_ports(painter)
        if self.frozen:
            paint_badge(painter, QPointF(2, 2))

    def _paint_far(self, painter: QPainter, box: QRectF, selected: bool, plain: bool) -> None:
        """Far out: a colored box; with room for text, its id on the color and its output
        shape below in letters large enough to read."""
        outline = QColor(style.ERROR_COLOR if self.has_error else style.SELECTION_COLOR)
        if plain:
            painter.fillRect(box, self.color)
            if self.has_error or selected:
                painter.setPen(QPen(outline, 6))
                painter.drawRect(box)
            return
        half = NODE_HEIGHT / 2
        painter.fillRect(box, QColor(FROZEN_FILL if self.frozen else "white"))
        painter.fillRect(QRectF(0, 0, NODE_WIDTH, half), self.color)
        painter.setPen(QPen(outline if (self.has_error or selected) else self.color.darker(130),
                            6 if (self.has_error or selected) else 2))
        painter.setBrush(Qt.NoBrush)
        painter.drawRect(box)
        painter.setPen(QColor("white"))
        painter.setFont(self._large_title_font)
        painter.drawText(QRectF(6, 0, NODE_WIDTH - 12, half), Qt.AlignVCenter | Qt.AlignLeft, self.large_title)
        painter.setPen(QColor(style.ERROR_COLOR) if self.has_error else QColor("#1a202c"))
        painter.setFont(self._large_shape_font)
        painter.drawText(QRectF(6, half, NODE_WIDTH - 12, half), Qt.AlignVCenter | Qt.AlignLeft, self.large_shape)

    def _paint_ports(self, painter: QPainter) -> None:
        painter.setFont(self._small)
        for output, names in ((False, self.inputs), (True, self.outputs)):
            label = len(names) > 1
            for name in names:
                center = self.mapFromScene(self.port_pos(name, output))
                fill = QColor("white")
                if self.highlight_port == (name, output):
                    fill = QColor("#38a169") if self.highlight_ok else QColor(style.ERROR_COLOR)
                painter.setBrush(fill)
                painter.setPen(QPen(self.color.darker(140), 1.5))
                painter.drawEllipse(center, PORT_RADIUS, PORT_RADIUS)
                if label:
                    painter.setPen(QColor("#4a5568"))
                    painter.drawText(self._port_label_rect(center, output), self._port_label_align(output), name)

    def _port_label_rect(self, center: QPointF, output: bool) -> QRectF:
        """Where a port's name goes: above an input and below an output when the flow goes
        down; left of an input and right of an output when it goes right."""
        if self.flow.direction == DOWN:
            dy = 14 if output else -8
            return QRectF(center.x() - 40, center.y() + dy - 6, 80, 12)
        if output:
            return QRectF(center.x() + PORT_RADIUS + 3, center.y() - 12, PORT_LABEL, 12)
        return QRectF(center.x() - PORT_RADIUS - 3 - PORT_LABEL, center.y() - 12, PORT_LABEL, 12)

    def _port_label_align(self, output: bool):
        if self.flow.direction == DOWN:
            return Qt.AlignCenter
        return (Qt.AlignLeft if output else Qt.AlignRight) | Qt.AlignVCenter
