"""The live plots' render thread: draws matplotlib figures into QImages off the window's
thread, one daemon thread for all plots, at the lowest CPU priority.

Why a thread: drawing one training figure with matplotlib (constrained layout, Agg) takes
100-200 ms of CPU on a small machine; in the window's thread that would stall the editor
ten times a second. A job (:class:`Job`) names a plot, a snapshot of its data and the size
to draw at; the thread draws the plot's ``Figure`` with its plain Agg canvas into a QImage
and hands it back, in the window's thread, to the job's :class:`Done`. Every matplotlib
draw holds ``RENDER_LOCK``, so the window's thread (and the Inspect panel) can still draw a
figure itself. Never pyplot, never a change to matplotlib's global state.
"""

from __future__ import annotations

import atexit
import os
import queue
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from builder import PLOT_SMALL_SIZE, figure_note

PLOT_NICENESS = 19  # the render thread's CPU priority: the lowest (see _yield_to_training)
SCREEN_DPI = 100  # points to pixels on screen (times the screen's device pixel ratio)

# Every matplotlib draw of the live plots holds this lock: the render thread and the window's
# thread never draw at the same time (matplotlib is not thread-safe; pyparsing in mathtext).
RENDER_LOCK = threading.RLock()

# A plot squeezed to a few pixels by the user draws as well as it can, without a warning each time.
warnings.filterwarnings("ignore", message="constrained_layout not applied")

Draw = Callable[[Figure, Any], bool]


class Renderable(Protocol):
    """What the render thread needs of a plot (:class:`gui.training.plot_pages.Plot`)."""

    figure: Figure
    agg: FigureCanvasAgg
    draw: Draw
    generation: int  # of the figure: raised by every draw in the window's thread


@dataclass
class Job:
    """One render: a plot, the data to draw and the size to draw it at."""

    plot: Renderable
    data: Any  # a snapshot: the events list (or the compared runs) when the job was made
    version: int  # of the data
    generation: int  # of the plot's figure: a job older than the figure's last draw is skipped
    size: tuple[int, int]  # logical pixels
    ratio: float  # device pixel ratio


class Done(QObject):
    """Hands a plot widget its finished renders (in the window's thread)."""

    rendered = Signal(object, object)  # job, QImage (None: skipped)


class _Bridge(QObject):
    """Carries finished renders from the render thread into the window's thread. It lives
    as long as the process: the render thread never touches a ``Done``, which the window
    may delete at any moment (closing a tab, a window); emitting on one while it was being
    deleted crashed the process. Here the window's thread delivers, and a widget that is
    gone by then is skipped."""

    rendered = Signal(object, object, object)  # the Done to deliver to, job, QImage

    def __init__(self) -> None:
        super().__init__()
        self.rendered.connect(self._deliver)  # queued: the bridge belongs to the window's thread

    @Slot(object, object, object)
    def _deliver(self, done: Done, job: Job, image: QImage | None) -> None:
        try:
            done.rendered.emit(job, image)
        except RuntimeError:
            pass  # the plots were closed meanwhile


def _render(job: Job) -> QImage | None:
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
    last = details.strip().splitlines()[-1] if details.strip() else "unknown error"
    figure_note(figure, f"this plot could not be drawn:\n{last}", fontsize=PLOT_SMALL_SIZE, color="tab:red",
                wrap=True)


class _RenderThread:
    """One daemon thread for all live plots; jobs in, QImages out through each job's ``Done``.

    It runs at the lowest CPU priority (``_yield_to_training``) and is stopped before the
    interpreter exits: a render still going on while Qt and matplotlib are torn down
    crashes the process."""

    def __init__(self) -> None:
        self.jobs: queue.Queue = queue.Queue()
        self.bridge = _Bridge()  # made here, in the window's thread
        self.thread = threading.Thread(target=self._serve, name="live-plot-render", daemon=True)
        self.thread.start()
        atexit.register(self.stop)

    def submit(self, job: Job, done: Done) -> None:
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


def submit(job: Job, done: Done) -> None:
    """Draw ``job`` on the render thread (started on first use); ``done.rendered(job,
    image)`` follows in the window's thread, with None for a job that was out of date."""
    _renderer().submit(job, done)
