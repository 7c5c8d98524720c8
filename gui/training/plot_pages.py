"""The live plots' widgets: a plot (its figure, the function that draws it, the widget that
paints its last render) and a tab's page of plots, laid out side by side, stacked, or one
at a time, whichever the panel's size allows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QSizePolicy, QSplitter, QToolButton, QVBoxLayout, QWidget

from gui.training.plot_renderer import SCREEN_DPI, Draw

MIN_PLOT_WIDTH, MIN_PLOT_HEIGHT = 520, 330  # pixels a plot needs to be readable beside/above another


class PlotView(QWidget):
    """Paints the last image the render thread made of a plot (scaled while a resize waits)."""

    def __init__(self, plot: Plot):
        super().__init__()
        self.plot = plot
        self.image: QImage | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.changed: Callable[[], None] = lambda: None  # size or visibility changed: maybe render

    def set_image(self, image: QImage) -> None:
        self.image = image
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        if self.image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(QRect(0, 0, self.width(), self.height()), self.image)
        painter.end()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.changed()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.changed()


class Plot:
    """One figure, the function that draws it, its widget and what it last showed."""

    def __init__(self, title: str, draw: Draw, data: Callable[[], tuple[int, Any]]):
        self.title = title
        self.draw = draw
        self.data = data  # -> (version, snapshot of what draw needs)
        self.figure = Figure(figsize=(7, 4.5), dpi=SCREEN_DPI)
        self.agg = FigureCanvasAgg(self.figure)
        self.view = PlotView(self)
        self.generation = 0
        self.in_flight = False
        self.shown: tuple[int, tuple[int, int], float] | None = None  # (version, size, ratio) on screen

    def target(self) -> tuple[int, tuple[int, int], float]:
        return self.data()[0], (self.view.width(), self.view.height()), self.view.devicePixelRatioF()

    def due(self) -> bool:
        """On screen and not showing the latest data at its present size."""
        return self.view.isVisible() and not self.in_flight and self.shown != self.target()


class PlotPage(QWidget):
    """A tab's page: its plots side by side when there is room for that, one above the other
    in a tall page, or one at a time (with a button per plot) in a small one."""

    SIDE, STACKED, SINGLE = "side by side", "stacked", "one at a time"

    def __init__(self, name: str, plots: list[Plot]):
        super().__init__()
        self.name = name
        self.plots = plots
        self.setObjectName(name)
        self.mode = self.SINGLE
        self._sized_for: str | None = None
        self.shown = 0  # the plot shown in SINGLE mode
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.chooser = QWidget(self)
        row = QHBoxLayout(self.chooser)
        row.setContentsMargins(6, 4, 6, 0)
        row.setSpacing(4)
        self.buttons = QButtonGroup(self)
        for i, plot in enumerate(plots):
            button = QToolButton(self.chooser)
            button.setText(plot.title)
            button.setCheckable(True)
            button.setChecked(i == 0)
            button.setToolTip(f"Show the {plot.title.lower()} plot (the panel is too small for all at once)")
            self.buttons.addButton(button, i)
            row.addWidget(button)
        row.addStretch(1)
        self.buttons.idClicked.connect(self.show_plot)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setChildrenCollapsible(False)
        for i, plot in enumerate(plots):
            self.splitter.addWidget(plot.view)
            self.splitter.setStretchFactor(i, 1)
        layout.addWidget(self.chooser)
        layout.addWidget(self.splitter, 1)
        self._arrange()

    def show_plot(self, index: int) -> None:
        """In a small panel: which of the page's plots is shown."""
        self.shown = index
        self.buttons.button(index).setChecked(True)
        self._arrange()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()

    def _choose_mode(self) -> str:
        count = len(self.plots)
        if count == 1 or self.width() >= count * MIN_PLOT_WIDTH:
            return self.SIDE
        if self.height() >= count * MIN_PLOT_HEIGHT:
            return self.STACKED
        return self.SINGLE

    def _arrange(self) -> None:
        mode = self._choose_mode()
        self.mode = mode
        self.chooser.setVisible(mode == self.SINGLE)
        orientation = Qt.Orientation.Vertical if mode == self.STACKED else Qt.Orientation.Horizontal
        if self.splitter.orientation() != orientation:
            self.splitter.setOrientation(orientation)
        for i, plot in enumerate(self.plots):
            plot.view.setVisible(mode != self.SINGLE or i == self.shown)
        if mode != self.SINGLE and mode != self._sized_for:
            total = self.width() if mode == self.SIDE else self.height()
            self.splitter.setSizes([total // len(self.plots)] * len(self.plots))
        self._sized_for = mode

    def plot_size(self) -> tuple[int, int]:
        """The pixel size of a plot on screen (hidden plots are saved at that size)."""
        for plot in self.plots:
            if plot.view.isVisible() and plot.view.width() >= MIN_PLOT_WIDTH // 2:
                return plot.view.width(), plot.view.height()
        return 700, 450

