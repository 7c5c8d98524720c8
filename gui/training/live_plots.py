"""Live training plots: the engine's figures (``builder.draw_*``) in Qt tabs, redrawn at most
about ten times a second from the growing list of training events, off the window's thread.

``LivePlots`` holds the events of one run. ``add_event`` only appends and marks the plots
out of date; a single-shot timer sends the plots that are on screen to a render thread at
most every ``REDRAW_INTERVAL_MS`` (one render per plot in flight, so a burst of events costs
one redraw), and hidden plots are drawn when they are shown. ``overlay`` draws several
runs on shared axes (the "Compare" tab: loss, accuracy and time-step gradients, one legend
entry per run; :mod:`gui.training.compare_plots`), e.g. the RNN and the LSTM memory demos.

Why a render thread: drawing one of these figures with matplotlib (constrained layout, Agg)
takes 100-200 ms of CPU on a small machine; in the window's thread that would stall the
editor ten times a second. The render thread draws each ``Figure`` with a plain Agg canvas
into a QImage, which the plot widget paints. All matplotlib drawing in this module happens
under ``RENDER_LOCK``, so the window's thread can still draw a figure itself (``figures``,
``save_png``). Never pyplot, never a change to matplotlib's global state.

Waiting in tests and benchmarks: ``qtbot.wait``/``waitUntil``/``waitSignal`` and
``app.exec()`` let the render thread run; ``QTest.qWait`` keeps Python's GIL while it sleeps
and slows the render thread to a crawl (about 1 s per plot instead of 0.15 s).
"""

from __future__ import annotations

import io
import queue
import atexit
import os
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QObject, QRect, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from builder import (
    draw_accuracy,
    draw_gradient_bars,
    draw_gradient_heatmap,
    draw_loss,
    draw_timestep_gradients,
)
from gui.training.compare_plots import draw_overlay

REDRAW_INTERVAL_MS = 100  # at most ~10 redraws a second
PLOT_NICENESS = 19  # the render thread's CPU priority: the lowest (see _yield_to_training)
SAVE_DPI = 120
SCREEN_DPI = 100  # points to pixels on screen (times the screen's device pixel ratio)
MIN_PLOT_WIDTH, MIN_PLOT_HEIGHT = 520, 330  # pixels a plot needs to be readable beside/above another
LABEL, TITLE, SMALL = 11, 12, 9  # font sizes in points, as in the engine's PNG plots
GRID = {"alpha": 0.3, "linewidth": 0.6}

LOSS, GRADIENTS, TIME_STEPS, COMPARE = "Loss", "Gradient flow", "Time steps", "Compare"
TIME_STEPS_HINT = ("Gradient reaching each time step of a recurrent block (rnn, lstm, gru): "
                   "appears when the run reports it")
COMPARE_HINT = ("Select several runs in the runs list (Ctrl-click), or add runs of other graphs with "
                "Add run…, to compare their loss, accuracy and time-step gradients")

# Every matplotlib draw of this module holds this lock: the render thread and the window's
# thread never draw at the same time (matplotlib is not thread-safe; pyparsing in mathtext).
RENDER_LOCK = threading.RLock()

# A plot squeezed to a few pixels by the user draws as well as it can, without a warning each time.
warnings.filterwarnings("ignore", message="constrained_layout not applied")

Draw = Callable[[Figure, Any], bool]


# --- the render thread -------------------------------------------------------------------------
@dataclass
class _Job:
    plot: _Plot
    data: Any  # a snapshot: the events list (or the compared runs) when the job was made
    version: int  # of the data
    generation: int  # of the plot's figure: a job older than the figure's last draw is skipped
    size: tuple[int, int]  # logical pixels
    ratio: float  # device pixel ratio


class _Done(QObject):
    """Hands a plot widget its finished renders (in the window's thread)."""

    rendered = Signal(object, object)  # job, QImage (None: skipped)


class _Bridge(QObject):
    """Carries finished renders from the render thread into the window's thread. It lives
    as long as the process: the render thread never touches a ``_Done``, which the window
    may delete at any moment (closing a tab, a window); emitting on one while it was being
    deleted crashed the process. Here the window's thread delivers, and a widget that is
    gone by then is skipped."""

    rendered = Signal(object, object, object)  # the _Done to deliver to, job, QImage

    def __init__(self) -> None:
        super().__init__()
        self.rendered.connect(self._deliver)  # queued: the bridge belongs to the window's thread

    @Slot(object, object, object)
    def _deliver(self, done: _Done, job: _Job, image: QImage | None) -> None:
        try:
            done.rendered.emit(job, image)
        except RuntimeError:
            pass  # the plots were closed meanwhile


def _render(job: _Job) -> QImage | None:
    plot = job.plot
    with RENDER_LOCK:
        if job.generation != plot.generation:
            return None
        figure = plot.figure
        figure.set_dpi(SCREEN_DPI * job.ratio)
        figure.set_size_inches(max(job.size[0], 1) / SCREEN_DPI, max(job.size[1], 1) / SCREEN_DPI, forward=False)
        try:
            plot.draw(figure, job.data)
        except Exception:  # noqa: BLE001 - a plot that cannot draw must not end the render thread
            _draw_failure(figure, traceback.format_exc())
        plot.agg.draw()
        pixels = np.asarray(plot.agg.buffer_rgba())
        height, width = pixels.shape[:2]
        image = QImage(pixels.tobytes(), width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()
        image.setDevicePixelRatio(job.ratio)
        return image


def _draw_failure(figure: Figure, details: str) -> None:
    print(f"live plot failed to draw:\n{details}", file=sys.stderr)
    figure.clear()
    ax = figure.add_subplot()
    ax.set_axis_off()
    last = details.strip().splitlines()[-1] if details.strip() else "unknown error"
    ax.text(0.5, 0.5, f"this plot could not be drawn:\n{last}", ha="center", va="center", fontsize=SMALL,
            color="tab:red", wrap=True, transform=ax.transAxes)


class _RenderThread:
    """One daemon thread for all live plots; jobs in, QImages out through each job's ``_Done``.

    It runs at the lowest CPU priority (``_yield_to_training``) and is stopped before the
    interpreter exits: a render still going on while Qt and matplotlib are torn down
    crashes the process."""

    def __init__(self) -> None:
        self.jobs: queue.Queue = queue.Queue()
        self.bridge = _Bridge()  # made here, in the window's thread
        self.thread = threading.Thread(target=self._serve, name="live-plot-render", daemon=True)
        self.thread.start()
        atexit.register(self.stop)

    def submit(self, job: _Job, done: _Done) -> None:
        self.jobs.put((job, done))

    def stop(self, timeout_s: float = 5.0) -> None:
        self.jobs.put((None, None))
        self.thread.join(timeout_s)

    def _serve(self) -> None:
        _yield_to_training()
        while True:
            job, done = self.jobs.get()
            if job is None:
                return
            try:
                image = _render(job)
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                image = None
            self.bridge.rendered.emit(done, job, image)


def _yield_to_training() -> None:
    """Run the calling thread at the lowest CPU priority. The trainer's OpenMP threads wait
    for each other at every step, so a plot drawn on one of their cores stalls all of them
    (training from the app ran at half the command line's speed on 2 cores); at the lowest
    priority the drawing gets what the trainer leaves: on a busy machine the plots update
    less often, and the training does not slow down. Linux sets one thread's priority;
    elsewhere this does nothing."""
    if sys.platform.startswith("linux") and hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PLOT_NICENESS)
        except OSError:
            pass


_render_thread: _RenderThread | None = None


def _renderer() -> _RenderThread:
    global _render_thread
    if _render_thread is None:
        _render_thread = _RenderThread()
    return _render_thread


# --- widgets -------------------------------------------------------------------------------------
class _PlotView(QWidget):
    """Paints the last image the render thread made of a plot (scaled while a resize waits)."""

    def __init__(self, plot: _Plot):
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


class _Plot:
    """One figure, the function that draws it, its widget and what it last showed."""

    def __init__(self, title: str, draw: Draw, data: Callable[[], tuple[int, Any]]):
        self.title = title
        self.draw = draw
        self.data = data  # -> (version, snapshot of what draw needs)
        self.figure = Figure(figsize=(7, 4.5), dpi=SCREEN_DPI)
        self.agg = FigureCanvasAgg(self.figure)
        self.view = _PlotView(self)
        self.generation = 0
        self.in_flight = False
        self.shown: tuple[int, tuple[int, int], float] | None = None  # (version, size, ratio) on screen

    def target(self) -> tuple[int, tuple[int, int], float]:
        return self.data()[0], (self.view.width(), self.view.height()), self.view.devicePixelRatioF()

    def due(self) -> bool:
        """On screen and not showing the latest data at its present size."""
        return self.view.isVisible() and not self.in_flight and self.shown != self.target()


class _PlotPage(QWidget):
    """A tab's page: its plots side by side when there is room for that, one above the other
    in a tall page, or one at a time (with a button per plot) in a small one."""

    SIDE, STACKED, SINGLE = "side by side", "stacked", "one at a time"

    def __init__(self, name: str, plots: list[_Plot]):
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


class LivePlots(QWidget):
    """Tabs "Loss", "Gradient flow", "Time steps" and "Compare" over one run's events."""

    redrawn = Signal()  # a plot on screen now shows newer data (or a new size)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.events: list[dict] = []
        self.redraw_count = 0  # plot redraws that reached the screen (tests, benchmarks)
        self._version = 0  # of self.events
        self._warned: set[str] = set()
        self._has_time_steps = False
        self._runs: list[tuple[str, list[dict]]] = []
        self._runs_version = 0
        self._done = _Done(self)
        self._done.rendered.connect(self._on_rendered)

        def live() -> tuple[int, Any]:
            return self._version, self.events

        def compared() -> tuple[int, Any]:
            return self._runs_version, self._runs

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self._pages = [
            _PlotPage(LOSS, [_Plot("Loss", draw_loss, live), _Plot("Accuracy", draw_accuracy, live)]),
            _PlotPage(GRADIENTS, [_Plot("Per node", draw_gradient_bars, live),
                                  _Plot("Over steps", _draw_heatmap, live)]),
            _PlotPage(TIME_STEPS, [_Plot("Time steps", draw_timestep_gradients, live)]),
            _PlotPage(COMPARE, [_Plot("Compare", draw_overlay, compared)]),
        ]
        for page in self._pages:
            self.tabs.addTab(page, page.name)
            for plot in page.plots:
                plot.view.changed = self._schedule
        self._set_tab_available(TIME_STEPS, False, TIME_STEPS_HINT)
        self._set_tab_available(COMPARE, False, COMPARE_HINT)
        self.tabs.currentChanged.connect(lambda _index: self._schedule())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._send_due)

    # --- feeding events --------------------------------------------------------------------
    def add_event(self, event: dict) -> None:
        """Append one event of the running run; the plots follow within ~0.1 s."""
        self.events.append(event)
        self._version += 1
        self._note(event)
        self._schedule()

    def set_events(self, events: Iterable[dict]) -> None:
        """Show these events instead (e.g. a finished run's ``metrics.jsonl``)."""
        self.events = list(events)
        self._version += 1
        self._warned = set()
        self._has_time_steps = False
        for event in self.events:
            self._note(event)
        self._set_tab_available(TIME_STEPS, self._has_time_steps, TIME_STEPS_HINT)
        self._schedule()

    def clear(self) -> None:
        """Forget the run's events (the comparison stays until ``overlay([])``)."""
        self.set_events([])

    def warned_nodes(self) -> set[str]:
        """Nodes with a warning event (vanishing or exploding gradients), to mark on the canvas."""
        return set(self._warned)

    def _note(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "warning" and event.get("node"):
            self._warned.add(str(event["node"]))
        elif kind == "timestep_gradients" and event.get("norms") and not self._has_time_steps:
            self._has_time_steps = True
            self._set_tab_available(TIME_STEPS, True, TIME_STEPS_HINT)

    # --- comparing runs ----------------------------------------------------------------------
    def overlay(self, runs: list[tuple[str, list[dict]]]) -> None:
        """Draw ``runs`` ((legend label, events) pairs) on shared axes in the Compare tab
        (loss, accuracy, time-step gradients), and show that tab; an empty list hides it."""
        self._runs = [(str(name), list(events)) for name, events in runs]
        self._runs_version += 1
        self._set_tab_available(COMPARE, bool(self._runs), COMPARE_HINT)
        if self._runs:
            self.tabs.setCurrentIndex(self._index(COMPARE))
        self._schedule()

    # --- tabs, figures and files -----------------------------------------------------------
    def current_tab(self) -> str:
        return self._pages[self.tabs.currentIndex()].name

    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentIndex(self._index(name))

    def page(self, name: str) -> _PlotPage:
        return self._pages[self._index(name)]

    def is_current(self) -> bool:
        """True when every plot on screen shows the latest data (nothing due, none drawing)."""
        plots = [plot for page in self._pages for plot in page.plots]
        return not any(plot.in_flight or (plot.view.isVisible() and plot.shown != plot.target()) for plot in plots)

    def figures(self, tab: str | None = None) -> list[Figure]:
        """The figures of a tab (default: the current one), drawn now from the latest data.

        Draws in the calling (window) thread; the figures stay as drawn until the next
        redraw of the tab, so read them right away."""
        page = self._pages[self.tabs.currentIndex() if tab is None else self._index(tab)]
        with RENDER_LOCK:
            for plot in page.plots:
                plot.generation += 1  # a render job made before this is out of date
                plot.draw(plot.figure, plot.data()[1])
        self._schedule()  # the images on screen follow
        return [plot.figure for plot in page.plots]

    def save_png(self, path: str | Path, tab: str | None = None) -> Path:
        """Save a tab's figure (default: the current one) as a PNG at 120 dpi: all its plots side
        by side (also those a small panel shows one at a time), at the size of a plot on screen."""
        path = Path(path)
        page = self._pages[self.tabs.currentIndex() if tab is None else self._index(tab)]
        width, height = page.plot_size()
        images = []
        with RENDER_LOCK:
            for figure in self.figures(page.name):
                figure.set_dpi(SCREEN_DPI)
                figure.set_size_inches(max(width, 320) / SCREEN_DPI, max(height, 240) / SCREEN_DPI, forward=False)
                buffer = io.BytesIO()
                figure.savefig(buffer, format="png", dpi=SAVE_DPI, facecolor="white")
                images.append(buffer.getvalue())
        if len(images) == 1:
            path.write_bytes(images[0])
            return path
        pieces = [QImage.fromData(data, "PNG") for data in images]
        combined = QImage(sum(p.width() for p in pieces), max(p.height() for p in pieces),
                          QImage.Format.Format_RGB32)
        combined.fill(QColor("white"))
        painter = QPainter(combined)
        x = 0
        for piece in pieces:
            painter.drawImage(x, 0, piece)
            x += piece.width()
        painter.end()
        if not combined.save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")
        return path

    # --- redrawing -----------------------------------------------------------------------------
    def _index(self, name: str) -> int:
        for i, page in enumerate(self._pages):
            if page.name == name:
                return i
        raise KeyError(f"no plot tab {name!r}")

    def _set_tab_available(self, name: str, available: bool, hint: str) -> None:
        index = self._index(name)
        if not available and self.tabs.currentIndex() == index:
            self.tabs.setCurrentIndex(0)  # back to the loss (Qt would pick the neighbouring tab)
        self.tabs.setTabEnabled(index, available)
        self.tabs.setTabToolTip(index, "" if available else hint)

    def _schedule(self) -> None:
        """Something changed: send the due plots within REDRAW_INTERVAL_MS (once per interval)."""
        if not self._timer.isActive():
            self._timer.start()

    def _send_due(self) -> None:
        page = self._pages[self.tabs.currentIndex()]
        for plot in page.plots:
            if plot.due():
                version, data = plot.data()
                snapshot = list(data)  # the render thread reads a list the window no longer changes
                _, size, ratio = plot.target()
                plot.in_flight = True
                _renderer().submit(_Job(plot, snapshot, version, plot.generation, size, ratio), self._done)

    def _on_rendered(self, job: _Job, image: QImage | None) -> None:
        plot = job.plot
        plot.in_flight = False
        if image is not None:
            plot.view.set_image(image)
            plot.shown = (job.version, job.size, job.ratio)
            self.redraw_count += 1
            self.redrawn.emit()
        if plot.due() or any(p.due() for p in self._pages[self.tabs.currentIndex()].plots):
            self._schedule()


# --- fitting the engine's figures into a panel ---------------------------------------------
def _draw_heatmap(fig: Figure, events: list) -> bool:
    drawn = draw_gradient_heatmap(fig, events)
    if drawn:
        _fit_colorbar_labels(fig)
    return drawn


def _fit_colorbar_labels(fig: Figure) -> None:
    """Break a colorbar's long label in two lines where the figure is too short for it."""
    height_pt = fig.get_size_inches()[1] * 72
    for ax in fig.axes:
        label = ax.yaxis.get_label()
        text = label.get_text()
        if not text or "\n" in text or len(text) * 0.6 * label.get_fontsize() < 0.8 * height_pt:
            continue
        cut = text.find(" (")
        if cut < 0:
            cut = text.rfind(" ", 0, len(text) // 2 + 1)
        if cut > 0:
            label.set_text(text[:cut] + "\n" + text[cut + 1:])


__all__ = ["REDRAW_INTERVAL_MS", "RENDER_LOCK", "LivePlots", "draw_overlay"]
