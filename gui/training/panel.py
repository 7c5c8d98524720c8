"""The training panel: settings, Train / Stop / Resume, progress, messages, live plots and
past runs of the open graph.

Training runs in a child process (:class:`gui.training.runner.TrainingRunner`, the
headless ``modelbuilder train --json-events``), so the window never waits on it; the
panel only reads its event stream. Nothing here trains or plots by itself: the engine
does the work and :mod:`builder`'s plot functions draw the figures.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui import style
from gui.document import GraphDocument
from gui.training.live_plots import LivePlots
from gui.training.runner import TrainingRunner
from gui.training.runs_list import RunsList, load_run_events
from gui.training.settings_form import TrainingSettingsForm


def format_duration(seconds: float) -> str:
    """``75`` -> ``1:15``; ``3725`` -> ``1:02:05``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def new_run_dir(graph_path: str, name: str) -> Path:
    """``<graph folder>/runs/<name>-<date>-<time>`` (a suffix if that exists already)."""
    base = Path(graph_path).resolve().parent / "runs"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = base / f"{name}-{stamp}"
    number = 2
    while candidate.exists():
        candidate = base / f"{name}-{stamp}-{number}"
        number += 1
    return candidate


class Progress:
    """Epoch, step, speed and time left, from the event stream."""

    def __init__(self) -> None:
        self.epochs = 0
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
            self.epochs = int((event.get("settings") or {}).get("epochs") or 0)
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
        return self.epochs * self.steps_per_epoch

    def seconds_left(self) -> Optional[float]:
        done = self.step - self.start_step
        if self.started_at is None or done <= 0 or not self.total_steps:
            return None
        rate = done / max(self.now - self.started_at, 1e-6)
        return (self.total_steps - self.step) / rate

    def text(self) -> str:
        if not self.total_steps:
            return "starting…"
        parts = [f"epoch {min(self.epoch + 1, self.epochs)}/{self.epochs}",
                 f"step {self.step:,}/{self.total_steps:,}"]
        if self.samples_per_s:
            parts.append(f"{self.samples_per_s:,.0f} samples/s")
        left = self.seconds_left()
        if left is not None:
            parts.append(f"{format_duration(left)} left")
        return " · ".join(parts)


class TrainingPanel(QWidget):
    """Train the open graph and watch it learn. ``save_document`` is asked to save the
    graph before a run (the trainer reads the file); ``nodeMarks`` carries gradient
    warnings for the canvas; ``showProblems`` asks the window to show the problems list."""

    nodeMarks = Signal(dict)
    showProblems = Signal()
    runFinished = Signal(str, str)  # run folder, status

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.document: Optional[GraphDocument] = None
        self.save_document: Callable[[], bool] = lambda: False
        self.runner = TrainingRunner(self)
        self.last_checkpoint: dict | None = None  # the last checkpoint event of the current run
        self.progress = Progress()
        self.run_dir: Optional[Path] = None
        self._stderr: list[str] = []
        self._marks: dict[str, str] = {}

        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("trainButton")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resumeButton")
        self.resume_button.setToolTip("Continue the selected run (or the latest) up to the epochs set here")
        self.save_plot_button = QPushButton("Save plot…")
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(12)
        self.progress_label = QLabel("Not training")
        self.progress_label.setObjectName("trainingProgress")
        bar = QHBoxLayout()
        for button in (self.train_button, self.stop_button, self.resume_button):
            bar.addWidget(button)
        bar.addSpacing(12)
        bar.addWidget(self.progress_label, 1)
        bar.addWidget(self.save_plot_button)

        self.form = TrainingSettingsForm()
        self.runs = RunsList()
        self.plots = LivePlots()
        self.messages = QListWidget()
        self.messages.setObjectName("trainingMessages")
        self.messages.setMaximumHeight(72)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        side = QTabWidget()
        side.addTab(scroll, "Settings")
        side.addTab(self.runs, "Runs")
        self.side_tabs = side
        split = QSplitter(Qt.Horizontal)
        split.addWidget(side)
        split.addWidget(self.plots)
        split.setStretchFactor(1, 1)
        split.setSizes([330, 700])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.progress_bar)
        layout.addWidget(split, 1)
        layout.addWidget(self.messages)

        self.train_button.clicked.connect(self.train)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume)
        self.save_plot_button.clicked.connect(self._save_plot)
        self.runner.event.connect(self._on_event)
        self.runner.stderrText.connect(self._on_stderr)
        self.runner.finished.connect(self._on_finished)
        self.runs.runsSelected.connect(self._show_runs)
        self._update_buttons()
        # tabbed with Problems: let the dock be short until a run needs the room
        self.setMinimumSize(200, 100)

    # ------------------------------------------------------------------ document
    def set_document(self, document: GraphDocument) -> None:
        self.document = document
        self.form.set_document(document)
        self.runs.set_graph(document.path)
        if not self.runner.is_running():
            self.plots.clear()
            self._set_marks({})
        self._update_buttons()

    # ------------------------------------------------------------------ actions
    def train(self) -> bool:
        """Start a new run of the open graph; False (with a message saying why) if it
        cannot start: errors in the graph, not saved, or a run going on."""
        if self.runner.is_running() or self.document is None:
            return False
        errors = [p for p in self.document.analysis.problems if p.is_error]
        if errors:
            self.message(f"The graph has {len(errors)} error{'s' * (len(errors) > 1)}; fix "
                         f"{'them' if len(errors) > 1 else 'it'} first (see Problems): {errors[0]}", "error")
            self.showProblems.emit()
            return False
        if (self.document.path is None or self.document.is_modified) and not self.save_document():
            self.message("Training reads the graph file: save it first.", "error")
            return False
        name = self.document.graph.name or Path(self.document.path).stem
        self.run_dir = new_run_dir(self.document.path, name)
        self._begin()
        self.runner.start(str(self.document.path), str(self.run_dir))
        self.message(f"Training {name} into {self.run_dir}", "info")
        return True

    def resume(self) -> bool:
        """Continue the selected run (else the newest) up to the epochs in the form."""
        if self.runner.is_running():
            return False
        chosen = self.runs.selected_runs() or self.runs.all_runs()[:1]
        if not chosen:
            self.message("No run of this graph to resume yet: press Train.", "error")
            return False
        self.run_dir = Path(chosen[0])
        self._begin()
        self.plots.set_events(load_run_events(self.run_dir))
        self.runner.resume(str(self.run_dir), epochs=self.form.values().get("epochs"))
        self.message(f"Resuming {self.run_dir.name}", "info")
        return True

    def stop(self) -> None:
        """Ask the run to save a checkpoint and end."""
        if self.runner.is_running():
            self.message("Stopping: the run saves a checkpoint first…", "info")
            self.runner.stop()

    def _begin(self) -> None:
        self.progress = Progress()
        self.last_checkpoint = None
        self._stderr.clear()
        self._set_marks({})
        self.plots.clear()
        self.progress_bar.setRange(0, 0)  # busy until the run says how long it is
        self.progress_label.setText("starting…")
        self._update_buttons(running=True)

    # ------------------------------------------------------------------ events
    def _on_event(self, event: dict) -> None:
        self.plots.add_event(event)
        self.progress.feed(event)
        kind = event.get("event")
        if kind in ("run_started", "step", "epoch"):
            if self.progress.total_steps:
                self.progress_bar.setRange(0, self.progress.total_steps)
                self.progress_bar.setValue(min(self.progress.step, self.progress.total_steps))
            self.progress_label.setText(self.progress.text())
        if kind == "run_started" and event.get("run_dir"):
            self.runs.add_run(event["run_dir"])
        elif kind == "epoch":
            accuracy = event.get("val_accuracy")
            text = f"epoch {event.get('epoch')}: train loss {event.get('train_loss', float('nan')):.4g}"
            if event.get("val_loss") is not None:
                text += f", val loss {event['val_loss']:.4g}"
            if accuracy is not None:
                text += f", val accuracy {100 * accuracy:.1f}%"
            self.message(text, "info")
        elif kind == "warning":
            self.message(event.get("message", "warning"), "warning")
            if event.get("node"):
                self._set_marks({**self._marks, event["node"]: event.get("message", "")})
        elif kind == "error":
            hint = f" ({event['hint']})" if event.get("hint") else ""
            self.message(f"{event.get('message', 'the run failed')}{hint}; the last good checkpoint is kept",
                         "error")
        elif kind == "checkpoint":
            self.last_checkpoint = event  # what Resume continues from after a stop or a crash

    def _on_stderr(self, text: str) -> None:
        self._stderr.append(text)

    def _on_finished(self, code: int, status: str) -> None:
        self._update_buttons(running=False)
        self.progress_bar.setRange(0, max(self.progress.total_steps, 1))
        if code == 0:
            self.progress_bar.setValue(self.progress_bar.maximum())
            self.message(f"Run {status}: {self.run_dir}", "info")
        elif status == "stopped" or code == 130:
            self.message(f"Stopped; the checkpoint is in {self.run_dir / 'checkpoints'}", "warning")
        elif status == "crashed" and self.last_checkpoint is not None:
            # killed (out of memory, the Stop timeout, a crash): the last checkpoint is whole,
            # so Resume goes on from it exactly as after a stop
            self.message(f"The training process ended unexpectedly (exit status {code}). Resume continues from "
                         f"its last checkpoint (step {self.last_checkpoint.get('step')}).", "warning")
        else:
            lines = [line for text in self._stderr for line in text.splitlines() if line.strip()]
            reason = "\n".join(line for line in lines if line.startswith(("error", "  ", "    hint"))) \
                or "\n".join(lines[-3:]) or f"exit status {code}"
            self.message(f"The run failed: {reason}", "error")
        self.progress_label.setText(f"{status} · " + self.progress.text() if self.progress.total_steps else status)
        self.runs.refresh()
        self.runFinished.emit(str(self.run_dir or ""), status)

    def _show_runs(self, paths: list) -> None:
        """One past run selected: its plots; several: their loss curves on one axes."""
        if self.runner.is_running() or not paths:
            return
        if len(paths) == 1:
            self.plots.set_events(load_run_events(Path(paths[0])))
        else:
            self.plots.overlay([(Path(p).name, load_run_events(Path(p))) for p in paths])

    # ------------------------------------------------------------------ helpers
    def message(self, text: str, kind: str = "info") -> None:
        """Add a line to the panel's messages (newest last)."""
        item = QListWidgetItem(text)
        item.setData(Qt.UserRole, kind)
        if kind == "error":
            item.setForeground(QColor(style.ERROR_COLOR))
        elif kind == "warning":
            item.setForeground(QColor(style.WARNING_COLOR))
        item.setToolTip(text)
        self.messages.addItem(item)
        self.messages.scrollToBottom()

    def message_texts(self, kind: Optional[str] = None) -> list[str]:
        return [self.messages.item(i).text() for i in range(self.messages.count())
                if kind is None or self.messages.item(i).data(Qt.UserRole) == kind]

    def _set_marks(self, marks: dict[str, str]) -> None:
        self._marks = marks
        self.nodeMarks.emit(dict(marks))

    def _save_plot(self) -> None:
        suggested = str((self.run_dir or Path.cwd()) / "plot.png")
        path, _ = QFileDialog.getSaveFileName(self, "Save plot", suggested, "PNG images (*.png)")
        if path:
            self.plots.save_png(path)
            self.message(f"Saved {path}", "info")

    def _update_buttons(self, running: Optional[bool] = None) -> None:
        running = self.runner.is_running() if running is None else running
        has_graph = self.document is not None and bool(self.document.graph.nodes)
        self.train_button.setEnabled(not running and has_graph)
        self.resume_button.setEnabled(not running and has_graph)
        self.stop_button.setEnabled(running)
