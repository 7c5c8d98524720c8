"""Computation for the Inspect panel, off the window's thread, newest request first.

Every job of the panel (opening a run, feature maps, an explanation, a t-SNE) runs on a
background thread, so the window keeps painting and answering clicks while torch and
matplotlib work. Two threads ("lanes"), not a pool: the quick figures a click asks for
(feature maps, explanations, filters) share one model on the "main" lane, and
:meth:`Subject.capture` puts forward hooks on it that another thread's forward would
trigger too; the slow views (a t-SNE, gradient ascent: seconds to tens of seconds on a
laptop) run on the "slow" lane with their own copy of the model, so a click on a sample
while a t-SNE runs is answered at once.

Each job has a *key* ("open", "figure", ...). A newer job with the same key makes the
older one stale: if it has not started it is skipped, and if it is running its result is
dropped when it ends (torch cannot be interrupted half-way). So a student clicking
through ten samples waits for at most one stale computation, never for ten.

Results reach the window's thread through a bridge that lives as long as the process
(as in :mod:`gui.training.live_plots`): the worker thread never emits on a panel's own
object, which the window may delete at any moment.
"""

from __future__ import annotations

import atexit
import itertools
import queue
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Signal, Slot

STOP_TIMEOUT_S = 5.0  # at exit: how long to wait for a computation still running


@dataclass
class Failure:
    """A job that raised: one sentence and what to do (an InspectError's hint), never a traceback."""

    message: str
    hint: Optional[str] = None

    def text(self) -> str:
        return f"{self.message}\nhint: {self.hint}" if self.hint else self.message


@dataclass
class _Job:
    owner: "InspectWorker"
    key: str
    generation: int
    work: Callable[[], Any]


class _Bridge(QObject):
    """Made in the window's thread; carries results there (queued) and skips owners that are gone."""

    done = Signal(object, object)  # job, result (a Failure when it raised)

    def __init__(self) -> None:
        super().__init__()
        self.done.connect(self._deliver)

    @Slot(object, object)
    def _deliver(self, job: _Job, result: Any) -> None:
        try:
            job.owner._finish(job, result)
        except RuntimeError:
            pass  # the panel was closed meanwhile


class _Thread:
    """One lane's background thread, shared by all Inspect panels."""

    def __init__(self, lane: str) -> None:
        self.jobs: queue.Queue = queue.Queue()
        self.bridge = _Bridge()
        self.thread = threading.Thread(target=self._serve, name=f"inspect-{lane}", daemon=True)
        self.thread.start()
        atexit.register(self.stop)

    def stop(self) -> None:
        # a computation still running while Qt and torch are torn down can crash the exit
        self.jobs.put(None)
        self.thread.join(STOP_TIMEOUT_S)

    def _serve(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if not job.owner.is_current(job):
                continue  # superseded before it started
            try:
                result = job.work()
            except Exception as error:  # noqa: BLE001 - shown as text in the panel, never a crash
                result = as_failure(error)
            self.bridge.done.emit(job, result)


def as_failure(error: Exception) -> Failure:
    """An InspectError (or the engine's other errors with a hint) as message and hint; anything
    else is a bug: its traceback goes to stderr and the panel says what happened in one line."""
    hint = getattr(error, "hint", None)
    if type(error).__name__ in ("InspectError", "DataError", "ExportError", "GraphError") or hint:
        text = str(error).split("\n    hint:")[0]
        return Failure(getattr(error, "message", None) or text, hint)
    traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    return Failure(f"this could not be computed ({type(error).__name__}: {error})",
                   "it looks like a bug in Model Builder; the details are on the terminal")


MAIN, SLOW = "main", "slow"
_threads: dict[str, _Thread] = {}


def _shared_thread(lane: str) -> _Thread:
    if lane not in _threads:
        _threads[lane] = _Thread(lane)  # made on the window's thread: so is its bridge
    return _threads[lane]


class InspectWorker(QObject):
    """One panel's view of the worker thread: ``submit`` a function under a key, get
    ``finished(key, result)`` (or ``failed(key, Failure)``) in the window's thread for the
    newest job of each key only."""

    finished = Signal(str, object)
    failed = Signal(str, object)
    busyChanged = Signal(bool)  # some job of this panel is waiting or running

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._counter = itertools.count(1)
        self._latest: dict[str, int] = {}  # key -> generation of the newest job (read by the thread too)
        self._pending: dict[str, int] = {}  # key -> generation not delivered yet

    def submit(self, key: str, work: Callable[[], Any], lane: str = MAIN) -> int:
        """Run ``work()`` on ``lane``'s thread; an older job under ``key`` (on any lane) becomes stale."""
        generation = next(self._counter)
        self._latest[key] = generation
        was_busy = self.is_busy()
        self._pending[key] = generation
        _shared_thread(lane).jobs.put(_Job(self, key, generation, work))
        if not was_busy:
            self.busyChanged.emit(True)
        return generation

    def cancel(self, key: Optional[str] = None) -> None:
        """Forget the jobs under ``key`` (every key if None): their results are not delivered."""
        keys = [key] if key is not None else list(self._latest)
        was_busy = self.is_busy()
        for k in keys:
            self._latest[k] = next(self._counter)  # no job has this generation
            self._pending.pop(k, None)
        if was_busy and not self.is_busy():
            self.busyChanged.emit(False)

    def is_busy(self, key: Optional[str] = None) -> bool:
        """A job (under ``key``, or any) is waiting or running and will be delivered."""
        return key in self._pending if key is not None else bool(self._pending)

    def is_current(self, job: _Job) -> bool:
        return self._latest.get(job.key) == job.generation

    # called on the window's thread, through the bridge
    def _finish(self, job: _Job, result: Any) -> None:
        if not self.is_current(job):
            return
        self._pending.pop(job.key, None)
        if not self._pending:
            self.busyChanged.emit(False)
        if isinstance(result, Failure):
            self.failed.emit(job.key, result)
        else:
            self.finished.emit(job.key, result)

