"""Where the Inspect panel shows a figure, or, in its place, a sentence: what to click next,
why a view does not apply, what went wrong and what to do about it.

The figure arrives as a picture the worker thread drew (:mod:`gui.inspect.render`); this
widget only paints it, scaled down while a redraw at a new size is on its way. A figure
taller than the panel (an LSTM's four gates, many attention heads) is drawn at a legible
size and scrolls, rather than being squashed into the low dock.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from gui.style import ERROR_COLOR, HINT_COLOR

INFO, ERROR = "info", "error"
MIN_WIDTH, MIN_HEIGHT = 240, 160


class _Picture(QWidget):
    """Paints the image (centered; scaled down, keeping its shape, if it does not fit)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.image: Optional[QImage] = None
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        if self.image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self._fit(), self.image)
        painter.end()

    def _fit(self) -> QRect:
        size = logical_size(self.image)
        if size.width() > self.width() or size.height() > self.height():
            size = size.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        return QRect((self.width() - size.width()) // 2, (self.height() - size.height()) // 2,
                     size.width(), size.height())


def logical_size(image: QImage) -> QSize:
    ratio = image.devicePixelRatio() or 1.0
    return QSize(round(image.width() / ratio), round(image.height() / ratio))


class FigureView(QScrollArea):
    """A figure (QImage) or a message; ``resized`` asks for a redraw at the new size."""

    resized = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("inspectFigure")
        self.kind = INFO
        self.picture = _Picture()
        self.setWidget(self.picture)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(MIN_WIDTH, MIN_HEIGHT)
        self.message = QLabel(self.picture)
        self.message.setObjectName("inspectMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.message.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)  # the one thing to read in an empty panel
        self.message.setFont(font)
        layout = QVBoxLayout(self.picture)
        layout.setContentsMargins(24, 12, 24, 12)
        layout.addWidget(self.message)

    @property
    def image(self) -> Optional[QImage]:
        return self.picture.image

    # ------------------------------------------------------------------ public
    def show_image(self, image: QImage) -> None:
        self.picture.image = image
        self.message.hide()
        # taller than the panel: the picture keeps its size and the panel scrolls
        tall = logical_size(image).height() > self.viewport().height()
        self.picture.setMinimumHeight(logical_size(image).height() if tall else 0)
        self.picture.update()

    def show_message(self, text: str, kind: str = INFO) -> None:
        """A sentence instead of the figure (``kind`` "error" is drawn in the error color)."""
        self.picture.image = None
        self.picture.setMinimumHeight(0)
        self.kind = kind
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {ERROR_COLOR if kind == ERROR else HINT_COLOR};")
        self.message.show()
        self.picture.update()

    def message_text(self) -> str:
        """The sentence shown ("" while a figure is shown)."""
        return "" if self.picture.image is not None else self.message.text()

    def showing_image(self) -> bool:
        return self.picture.image is not None

    def figure_size(self) -> QSize:
        """The logical pixels a figure should be drawn at to fill the visible area."""
        size = self.viewport().size()
        return QSize(max(size.width(), 320), max(size.height(), 220))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resized.emit()
