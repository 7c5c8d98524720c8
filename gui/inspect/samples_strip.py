"""The strip of validation samples beside the Inspect panel's figure: the misclassified
ones first (most confidently wrong first), then a few classified correctly, each with its
true and predicted label. An image is shown as a thumbnail; a sequence as a short token row.

A column, not a row: the panel sits under the canvas in a wide, low dock, where height is
what the figure needs most.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem

from gui.inspect.compute import StripRow, sample_text
from gui.style import ERROR_COLOR

THUMBNAIL = 48  # pixels: a 32x32 digit at a size one recognizes, pixels kept sharp
RIGHT_COLOR = "#2f855a"
POSITION = Qt.ItemDataRole.UserRole


def picture_pixmap(picture: np.ndarray, size: int = THUMBNAIL) -> QPixmap:
    """A [H, W] (grey) or [H, W, 3] array in 0..1 as a square-fitted pixmap, pixels kept sharp."""
    pixels = np.ascontiguousarray((np.clip(picture, 0, 1) * 255).astype(np.uint8))
    if pixels.ndim == 2:
        image = QImage(pixels.data, pixels.shape[1], pixels.shape[0], pixels.shape[1],
                       QImage.Format.Format_Grayscale8).copy()
    else:
        rgb = np.ascontiguousarray(pixels[..., :3])
        image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], 3 * rgb.shape[1], QImage.Format.Format_RGB888).copy()
    scaled = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
    return QPixmap.fromImage(scaled)


def label_text(row: StripRow) -> str:
    """Two short lines under a thumbnail: ``true 3`` and ``predicted 5 (87%)``."""
    if row.true is None:
        return row.caption
    chance = f" ({100 * row.probability:.0f}%)" if row.probability is not None else ""
    return f"true {row.true}\npredicted {row.predicted}{chance}"


class SamplesStrip(QListWidget):
    """A column of sample cells; clicking one emits ``sampleChosen(position)``."""

    sampleChosen = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("samplesStrip")
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setSpacing(1)
        self.setUniformItemSizes(True)
        self.rows: list[StripRow] = []
        # a click or the arrow keys (one signal per change, not one per click)
        self.currentItemChanged.connect(lambda item, _old: item is not None and self._clicked(item))

    def set_rows(self, rows: list[StripRow]) -> None:
        """Show these samples (nothing selected)."""
        self.blockSignals(True)
        try:
            self.clear()
            self.rows = list(rows)
            texts = [label_text(r) if r.picture is not None else f"{r.tokens}\n{label_text(r)}" for r in rows]
            for row, text in zip(rows, texts):
                item = QListWidgetItem(text)
                if row.picture is not None:
                    pixmap = picture_pixmap(row.picture)
                    icon = QIcon(pixmap)
                    icon.addPixmap(pixmap, QIcon.Mode.Selected)  # the digit stays as it is, not tinted blue
                    item.setIcon(icon)
                item.setData(POSITION, row.position)
                item.setToolTip(sample_text(row) + ("\nmisclassified" if row.wrong else ""))
                if row.wrong is not None:
                    item.setForeground(QBrush(QColor(ERROR_COLOR if row.wrong else RIGHT_COLOR)))
                self.addItem(item)
            self.setCurrentRow(-1)
        finally:
            self.blockSignals(False)

    def chosen(self) -> Optional[int]:
        item = self.currentItem()
        return item.data(POSITION) if item is not None and item.isSelected() else None

    def choose(self, position: Optional[int]) -> None:
        """Select a sample without a signal (None: none)."""
        self.blockSignals(True)
        try:
            if position is None:
                self.clearSelection()
                self.setCurrentRow(-1)
            else:
                self.setCurrentRow(position)
        finally:
            self.blockSignals(False)

    def preferred_width(self) -> int:
        """Wide enough for a thumbnail and its longest label line, and a scroll bar."""
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(line) for i in range(self.count())
                      for line in self.item(i).text().split("\n")), default=120)
        icon = THUMBNAIL + 8 if any(r.picture is not None for r in self.rows) else 0
        return icon + widest + 24 + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()

    def cell_rect(self, position: int) -> QRect:
        """The sample's cell on screen (in the viewport), scrolled into view first."""
        item = self.item(position)
        self.scrollToItem(item)
        return self.visualItemRect(item)

    def _clicked(self, item: QListWidgetItem) -> None:
        self.sampleChosen.emit(int(item.data(POSITION)))
