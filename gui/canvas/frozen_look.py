"""How a frozen node looks on the canvas (the training section's ``freeze``; docs/transfer.md).

A frozen node's weights do not train. Its box is drawn icy: a pale blue body, a dashed
blue outline, and a snowflake badge on its top-left corner, so that the part of a network
that stays fixed during fine-tuning can be seen at a glance. The snowflake is drawn with
lines rather than a font glyph, which not every system font has.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

FROZEN_FILL = "#e3eefa"  # the body of a frozen box
FROZEN_LINE = "#3b75b0"  # its outline and its snowflake
BADGE_RADIUS = 8.5  # (centred 2 units inside the corner: the item's bounds leave 7 around the box)
TOOLTIP = "frozen: its weights do not train (training setting 'freeze')"


def frozen_pen() -> QPen:
    """The dashed outline of a frozen box that is neither selected nor wrong."""
    pen = QPen(QColor(FROZEN_LINE), 1.6)
    pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def paint_badge(painter: QPainter, center: QPointF) -> None:
    """A white disc with a blue six-armed snowflake at ``center``."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(QColor(FROZEN_LINE), 1.4))
    painter.setBrush(QColor("white"))
    painter.drawEllipse(center, BADGE_RADIUS, BADGE_RADIUS)
    pen = QPen(QColor(FROZEN_LINE), 1.6)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    arm = BADGE_RADIUS - 2.5
    for k in range(6):
        angle = math.pi / 2 + k * math.pi / 3
        tip = center + QPointF(arm * math.cos(angle), -arm * math.sin(angle))
        painter.drawLine(center, tip)
        mid = center + QPointF(0.55 * arm * math.cos(angle), -0.55 * arm * math.sin(angle))
        for side in (-1, 1):  # the barbs that make it a snowflake, not a star
            barb = angle + side * math.pi / 3.5
            painter.drawLine(mid, mid + QPointF(2.0 * math.cos(barb), -2.0 * math.sin(barb)))
    painter.restore()
