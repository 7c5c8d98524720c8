"""Timing helpers shared by the editor benchmarks (bench/editor.py and its parts,
bench/big_graph_app.py): a measure's samples and its table row, timing one action in wall
clock and process CPU time, the load average, counting paints, and deleting Qt objects
outside the timings.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIEW_SIZE = (1600, 1000)
SCRATCH = tempfile.TemporaryDirectory()  # settings and recovery folders of the windows opened


@dataclass
class Measure:
    """Samples of one measure, in seconds: wall clock and process CPU time."""

    name: str
    target_ms: float | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.wall) * 1e3

    @property
    def min_ms(self) -> float:
        return min(self.wall) * 1e3

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.wall)  # nearest rank
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1e3

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1e3

    def row(self) -> str:
        target = f"< {self.target_ms:g}" if self.target_ms is not None else ""
        ok = ("ok" if self.median_ms < self.target_ms else "SLOW") if self.target_ms is not None else ""
        return (f"{self.name:<50} {self.median_ms:>9.1f} {self.min_ms:>9.1f} {self.p95_ms:>9.1f} "
                f"{self.cpu_ms:>9.1f} {len(self.wall):>5}  {target:<7} {ok}").rstrip()


HEADER = (f"{'measure':<50} {'median ms':>9} {'min ms':>9} {'p95 ms':>9} {'cpu ms':>9} {'n':>5}  "
          f"{'target':<7} ok?")


def binding_leaks_none() -> bool:
    """Whether this PySide6 drops references to None (6.12.0 does; pyproject excludes it):
    on Python < 3.12 such a binding aborts the run with "none_dealloc" within seconds."""
    from PySide6.QtCore import QPointF

    point = QPointF()
    before = sys.getrefcount(None)
    for _ in range(1000):
        point.setX(1.0)  # returns None
    return before - sys.getrefcount(None) > 10


def timed(measure: Measure, action: Callable[[], object]) -> object:
    """Run ``action`` once, adding its wall-clock and process CPU time to ``measure``."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = action()
    measure.add(time.perf_counter() - start, time.process_time() - start_cpu)
    return result


def load_report() -> str:
    """The load average, with a warning when other processes compete for the CPU."""
    try:
        load = os.getloadavg()
    except (AttributeError, OSError):  # Windows
        return "load average unknown"
    cores = os.cpu_count() or 1
    text = f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {cores} cores"
    if load[0] > max(0.75, cores - 1 + 0.25):
        text += ("\nwarning: other processes compete for the CPU; wall-clock times will be inflated "
                 "and noisy (the cpu ms column is less affected)")
    return text


class PaintCounter:
    """Counts paint events of the widgets it watches (an event filter), to check that a
    timed paint really painted."""

    def __init__(self) -> None:
        self.count = 0
        self._filter = None

    def watch(self, widget) -> None:
        from PySide6.QtCore import QEvent, QObject

        if self._filter is None:
            counter = self

            class Filter(QObject):
                def eventFilter(self, obj, event):
                    if event.type() == QEvent.Paint:
                        counter.count += 1
                    return False

            self._filter = Filter()
        widget.installEventFilter(self._filter)


PAINTS = PaintCounter()


def dispose(app, *objects) -> None:
    """Delete Qt objects now (outside any timing) so one repeat does not slow the next."""
    for obj in objects:
        if obj is not None and hasattr(obj, "close"):
            obj.close()
    for obj in objects:
        if obj is not None:
            obj.deleteLater()
    app.processEvents()
    from PySide6.QtCore import QCoreApplication, QEvent
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    gc.collect()
