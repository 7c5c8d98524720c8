"""The frame the Inspect and Generate panels share: a row of controls on top, then a
splitter with the inputs on the left and the figure on the right (the figure takes the
room), and a single-shot timer that redraws the figure once a resize has settled."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLayout, QSplitter, QVBoxLayout, QWidget


def frame_panel(panel: QWidget, top: QLayout, left: QWidget, right: QWidget, left_width: int,
                redraw_ms: int, redraw: Callable[[], None]) -> tuple[QSplitter, QTimer]:
    """Lay ``panel`` out as described above; returns its splitter and redraw timer."""
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.addWidget(left)
    splitter.addWidget(right)
    splitter.setStretchFactor(1, 1)
    splitter.setChildrenCollapsible(False)
    splitter.setSizes([left_width, 900])
    layout = QVBoxLayout(panel)
    layout.setContentsMargins(6, 6, 6, 6)
    layout.setSpacing(4)
    layout.addLayout(top)
    layout.addWidget(splitter, 1)
    timer = QTimer(panel)
    timer.setSingleShot(True)
    timer.setInterval(redraw_ms)
    timer.timeout.connect(redraw)
    panel.setMinimumSize(300, 200)
    return splitter, timer
