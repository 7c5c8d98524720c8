"""What the training panel shows for one document, kept while another is open.

The window shows one document at a time; opening another graph puts the panel's state
for the first aside (:class:`TrainingState`) and shows the other's: its runs, its last
run's plots (or the run it is training), its messages. Opening the first again brings
its state back, including a run that went on training meanwhile: the run's events keep
arriving into the state of the document that started it, shown or not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

NOT_TRAINING = "Not training"


def format_duration(seconds: float) -> str:
    """``75`` -> ``1:15``; ``3725`` -> ``1:02:05``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Epoch, step, speed and time left, from the event stream."""

    def __init__(self) -> None:
        self.epochs = 0
        self.max_steps: Optional[int] = None  # the run stops after this many optimizer steps (a quick run)
        self.task: Optional[str] = None  # what the run learns: classification, segmentation, multi_output ...
        self.steps_per_epoch = 0
        self.step = 0
        self.start_step = 0
        self.epoch = 0
        self.samples_per_s: Optional[float] = None
        self.started_at: Optional[float] = None  # event time of run_started
        self.now = 0.0

    def feed(self, event: dict) -> None:
        kind = event.get("event")
        self.now = float(event.get("time", self.now) or self.now)
        if kind == "run_started":
            settings = event.get("settings") or {}
            self.epochs = int(settings.get("epochs") or 0)
            self.max_steps = int(settings["max_steps"]) if settings.get("max_steps") else None
            self.task = event.get("task")
            self.steps_per_epoch = int(event.get("steps_per_epoch") or 0)
            self.step = self.start_step = int(event.get("start_step") or 0)
            self.epoch = int(event.get("start_epoch") or 0)
            self.started_at = self.now
        elif kind == "step":
            self.step = int(event.get("step") or self.step)
            self.epoch = int(event.get("epoch") or 0)
            self.samples_per_s = event.get("samples_per_s") or self.samples_per_s
        elif kind == "epoch":
            self.step = int(event.get("step") or self.step)
            self.epoch = int(event.get("epoch") or self.epoch)
            self.samples_per_s = event.get("samples_per_s") or self.samples_per_s

    @property
    def total_steps(self) -> int:
        every = self.epochs * self.steps_per_epoch
        return min(every, self.max_steps) if self.max_steps else every

    def seconds_left(self) -> Optional[float]:
        done = self.step - self.start_step
        if self.started_at is None or done <= 0 or not self.total_steps:
            return None
        rate = done / max(self.now - self.started_at, 1e-6)
        return (self.total_steps - self.step) / rate

    def text(self) -> str:
        if not self.total_steps:
            return "starting…"
        epochs = -(-self.total_steps // self.steps_per_epoch) if self.steps_per_epoch else self.epochs
        parts = [f"epoch {min(self.epoch + 1, epochs)}/{epochs}", f"step {self.step:,}/{self.total_steps:,}"]
        if self.samples_per_s:
            parts.append(f"{self.samples_per_s:,.0f} samples/s")
        left = self.seconds_left()
        if left is not None:
            parts.append(f"{format_duration(left)} left")
        return " · ".join(parts)


@dataclass
class TrainingState:
    """The training panel's state for one document (see the module's docstring)."""

    name: str  # the document's display name, for messages about it
    messages: list[tuple[str, str]] = field(default_factory=list)  # (text, kind), oldest first
    status_text: str = NOT_TRAINING
    bar: tuple[int, int, int] = (0, 100, 0)  # the progress bar's minimum, maximum, value
    events: list[dict] = field(default_factory=list)  # what the plots show: the live run, or the selected one
    compared: list[Path] = field(default_factory=list)  # the runs in the Compare tab
    selected: list[Path] = field(default_factory=list)
    added: list[Path] = field(default_factory=list)  # runs of this document started here
    foreign: list[Path] = field(default_factory=list)  # runs of other graphs added to compare
    marks: dict[str, str] = field(default_factory=dict)  # node -> gradient warning, for the canvas
    plot_tab: Optional[str] = None
    side_tab: int = 0  # Settings or Runs
    fresh: bool = True  # never shown yet: show the newest run's plots
    # the run started from this document last (or going on now)
    run_dir: Optional[Path] = None
    graph_path: Optional[str] = None  # the graph file it was started from (None: untitled)
    progress: Progress = field(default_factory=Progress)
    last_checkpoint: Optional[dict] = None  # the run's last checkpoint event
    estimate_text: str = ""  # one epoch's time and the peak memory, from the run's warm-up (its estimate event)
    stderr: list[str] = field(default_factory=list)
    running: bool = False
    created: float = field(default_factory=time.time)


__all__ = ["NOT_TRAINING", "Progress", "TrainingState", "format_duration"]
