"""Live training plots: the engine's figures (``builder.draw_*``) in Qt tabs, redrawn at most
about ten times a second from the growing list of training events, off the window's thread.

``LivePlots`` holds the events of one run. ``add_event`` only appends and marks the plots
out of date; a single-shot timer sends the plots that are on screen to a render thread at
most every ``REDRAW_INTERVAL_MS`` (one render per plot in flight, so a burst of events costs
one redraw), and hidden plots are drawn when they are shown. ``overlay`` draws several
runs on shared axes (the "Compare" tab: loss, accuracy and time-step gradients, one legend
entry per run; :mod:`gui.training.compare_plots`), e.g. the RNN and the LSTM memory demos.
Runs that measure IoU (segmentation, boxes) or train several outputs get the "IoU" and
"Outputs" tabs (``builder.draw_iou``, ``builder.draw_outputs``), and a segmentation or box
run's pictures of its predictions, drawn into its folder as it ends, the "Predictions" tab
(:mod:`gui.training.prediction_images`).

How a plot is drawn off the window's thread is :mod:`gui.training.plot_renderer`; the
plots and their pages are :mod:`gui.training.plot_pages`.

Waiting in tests and benchmarks: ``qtbot.wait``/``waitUntil``/``waitSignal`` and
``app.exec()`` let the render thread run; ``QTest.qWait`` keeps Python's GIL while it sleeps
and slows the render thread to a crawl (about 1 s per plot instead of 0.15 s).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from builder import (
    draw_accuracy,
    draw_gradient_bars,
    draw_gradient_heatmap,
    draw_iou,
    draw_loss,
    draw_outputs,
    draw_timestep_gradients,
)
from gui.training.compare_plots import draw_overlay
from gui.training.prediction_images import draw_predictions, prediction_images, run_dir_of
from gui.training.plot_pages import Plot, PlotPage
from gui.training.plot_renderer import RENDER_LOCK, SCREEN_DPI, Done, Job, submit

REDRAW_INTERVAL_MS = 100  # at most ~10 redraws a second
SAVE_DPI = 120
LOSS, GRADIENTS, TIME_STEPS, COMPARE = "Loss", "Gradient flow", "Time steps", "Compare"
IOU, OUTPUTS, PREDICTIONS = "IoU", "Outputs", "Predictions"
TIME_STEPS_HINT = ("Gradient reaching each time step of a recurrent block (rnn, lstm, gru): "
                   "appears when the run reports it")
HINTS = {
    IOU: "Mean IoU of a segmentation run, box IoU of a localization run, per epoch: appears when the run reports it",
    OUTPUTS: "Each output's loss and metrics, for a graph with several outputs: appears when the run reports them",
    PREDICTIONS: "Validation images with their true and predicted masks or boxes: drawn when such a run ends",
}
COMPARE_HINT = ("Select several runs in the runs list (Ctrl-click), or add runs of other graphs with "
                "Add run…, to compare their loss, accuracy and time-step gradients")


class LivePlots(QWidget):
    """Tabs "Loss", "Gradient flow", "Time steps", "IoU", "Outputs", "Predictions" and
    "Compare" over one run's events (the tabs a run has no data for are greyed)."""

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
        self._available: set[str] = set()  # of the tabs that only some runs have (IoU, Outputs)
        self._images: list[Path] = []  # the run's prediction pictures
        self._images_version = 0
        self._run_dir: Path | None = None
        self._done = Done(self)
        self._done.rendered.connect(self._on_rendered)

        def live() -> tuple[int, Any]:
            return self._version, self.events

        def compared() -> tuple[int, Any]:
            return self._runs_version, self._runs

        def images() -> tuple[int, Any]:
            return self._images_version, self._images

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self._pages = [
            PlotPage(LOSS, [Plot("Loss", draw_loss, live), Plot("Accuracy", draw_accuracy, live)]),
            PlotPage(GRADIENTS, [Plot("Per node", draw_gradient_bars, live),
                                  Plot("Over steps", _draw_heatmap, live)]),
            PlotPage(TIME_STEPS, [Plot("Time steps", draw_timestep_gradients, live)]),
            PlotPage(IOU, [Plot("IoU", draw_iou, live)]),
            PlotPage(OUTPUTS, [Plot("Outputs", draw_outputs, live)]),
            PlotPage(PREDICTIONS, [Plot("Predictions", draw_predictions, images)]),
            PlotPage(COMPARE, [Plot("Compare", draw_overlay, compared)]),
        ]
        for page in self._pages:
            self.tabs.addTab(page, page.name)
            for plot in page.plots:
                plot.view.changed = self._schedule
        self._set_tab_available(TIME_STEPS, False, TIME_STEPS_HINT)
        for name, hint in HINTS.items():
            self._set_tab_available(name, False, hint)
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

    def set_events(self, events: Iterable[dict], run_dir: str | Path | None = None) -> None:
        """Show these events instead (e.g. a finished run's ``metrics.jsonl``), of the run in
        ``run_dir`` (default: the folder its ``run_started`` event names)."""
        self.events = list(events)
        self._version += 1
        self._warned = set()
        self._has_time_steps = False
        self._available = set()
        for event in self.events:
            self._note(event)
        self._set_tab_available(TIME_STEPS, self._has_time_steps, TIME_STEPS_HINT)
        for name in (IOU, OUTPUTS):
            self._set_tab_available(name, name in self._available, HINTS[name])
        self._run_dir = Path(run_dir) if run_dir is not None else run_dir_of(self.events)
        self.refresh_images()
        self._schedule()

    def refresh_images(self) -> None:
        """Look again for the run's prediction pictures (a run draws them as it ends)."""
        images = prediction_images(self._run_dir)
        if images != self._images:
            self._images = images
            self._images_version += 1
            self._schedule()
        self._set_tab_available(PREDICTIONS, bool(images), HINTS[PREDICTIONS])

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
        elif kind == "epoch":
            found = {IOU} if any(k.endswith(("_mean_iou", "_box_iou")) for k in event) else set()
            found |= {OUTPUTS} if len(event.get("outputs") or ()) > 1 else set()
            for name in found - self._available:
                self._available.add(name)
                self._set_tab_available(name, True, HINTS[name])
        elif kind == "run_started" and event.get("run_dir") and self._run_dir is None:
            self._run_dir = Path(event["run_dir"])

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

    def page(self, name: str) -> PlotPage:
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
                submit(Job(plot, snapshot, version, plot.generation, size, ratio), self._done)

    def _on_rendered(self, job: Job, image: QImage | None) -> None:
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


__all__ = ["REDRAW_INTERVAL_MS", "LivePlots"]
