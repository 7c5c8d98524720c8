"""The training panel: settings, Train / Stop / Resume, progress, messages, live plots,
past runs of the open graph, and runs of other graphs to compare with.

Training runs in a child process (:class:`gui.training.runner.TrainingRunner`, the
headless ``modelbuilder train --json-events``), so the window never waits on it; the
panel only reads its event stream. Nothing here trains or plots by itself: the engine
does the work and :mod:`builder`'s plot functions draw the figures.

A run trains a *snapshot* of the document (:mod:`gui.training.snapshot`): the graph file
is never written, unsaved edits stay unsaved and are trained as they are. The panel's
state belongs to the document (:mod:`gui.training.state`): opening another graph shows
that graph's runs and messages, and opening the first again brings its state back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.document import GraphDocument
from gui.form_widgets import info_label
from gui.style import HINT_COLOR
from gui.training.live_plots import LivePlots
from gui.training.messages import MessageList
from gui.training.runner import TrainingRunner
from gui.training.run_events import finish_run, follow_event
from gui.training.run_folders import load_run_events, run_label
from gui.training.runs_list import RunsList
from gui.training.settings_form import TrainingSettingsForm
from gui.training.side_width import SideWidth
from gui.training.snapshot import SnapshotRefused, snapshot_run, untitled_runs_root
from gui.training.state import NOT_TRAINING, Progress, TrainingState

SIDE_WIDTH = 330  # the settings' width beside the plots


def _state_key(document: GraphDocument) -> Optional[str]:
    """Documents of one graph file share a state; an untitled one has its own (no key)."""
    return str(Path(document.path).resolve()) if document.path else None


class TrainingPanel(QWidget):
    """Train the open graph and watch it learn. ``nodeMarks`` carries gradient warnings
    for the canvas; ``showProblems`` asks the window to show the problems list.
    ``save_document`` is no longer needed to train (runs train a snapshot); it is kept
    for callers that set it."""

    nodeMarks = Signal(dict)
    showProblems = Signal()
    runFinished = Signal(str, str)  # run folder, status

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.document: Optional[GraphDocument] = None
        self.save_document: Callable[[], bool] = lambda: False
        self.runner = TrainingRunner(self)
        self.untitled_runs_root: Optional[Path] = None  # None: untitled_runs_root() when needed
        self.state = TrainingState("untitled")  # what the panel shows: the open document's
        self._states: dict[str, TrainingState] = {}  # by graph file, for when it is opened again
        self._run_state: Optional[TrainingState] = None  # the document whose run the runner trains

        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("trainButton")
        self.train_button.setToolTip("Train the graph as it is now (unsaved changes too); the file is not written")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resumeButton")
        self.resume_button.setToolTip("Continue the selected run (or the latest) up to the epochs set here")
        self.save_plot_button = QPushButton("Save plot…")
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(12)
        self.progress_label = QLabel(NOT_TRAINING)
        self.progress_label.setObjectName("trainingProgress")
        self.estimate_label = info_label(name="trainingEstimate", color=HINT_COLOR)
        self.estimate_label.setToolTip("Timed on a warm-up step on this machine before the first epoch "
                                       "(the 'estimate first' setting)")
        self.estimate_label.hide()
        bar = QHBoxLayout()
        for button in (self.train_button, self.stop_button, self.resume_button):
            bar.addWidget(button)
        bar.addSpacing(12)
        bar.addWidget(self.progress_label, 1)
        bar.addWidget(self.save_plot_button)

        self.form = TrainingSettingsForm()
        self.runs = RunsList()
        self.plots = LivePlots()
        self.messages = MessageList()
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
        split.setSizes([SIDE_WIDTH, 700])
        self.splitter = split

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.estimate_label)
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
        self.runs.message.connect(self.message)
        self.side_width = SideWidth(split, side, self.runs)
        self._update_buttons()
        # tabbed with Problems: let the dock be short until a run needs the room
        self.setMinimumSize(200, 100)

    # ------------------------------------------------------------------ compatibility
    @property
    def run_dir(self) -> Optional[Path]:
        """The run started last from the open document (None: none yet)."""
        return self.state.run_dir

    @property
    def progress(self) -> Progress:
        return self.state.progress

    @property
    def last_checkpoint(self) -> Optional[dict]:
        return self.state.last_checkpoint

    # ------------------------------------------------------------------ document
    def set_document(self, document: GraphDocument) -> None:
        """Show ``document``'s training state: a document seen before gets its own back (also
        after its file was opened again), a new one starts with its runs and the newest
        run's plots. The same document again (its path changed: Save As) keeps its state."""
        if document is self.document:
            self._keep_view()
            key = _state_key(document)
            if key is not None:
                self._states[key] = self.state
            self.state.name = document.display_name
            self.form.set_document(document)
            self._show_runs_list()
            self._update_buttons()
            return
        if self.document is not None:
            self._keep_view()
        self.document = document
        document.analysisChanged.connect(self._update_buttons)  # Train needs nodes: a new graph gets some
        key = _state_key(document)
        state = self._states.get(key) if key is not None else None
        if state is None:
            state = TrainingState(document.display_name)
            if key is not None:
                self._states[key] = state
        self.state = state
        self.form.set_document(document)
        self._show_state()

    def _keep_view(self) -> None:
        """Put what the widgets show aside into the state (before another document's)."""
        state = self.state
        state.selected = self.runs.selected_runs()
        state.added = self.runs.added_runs()
        state.foreign = self.runs.foreign_runs()
        state.plot_tab = self.plots.current_tab()
        state.side_tab = self.side_tabs.currentIndex()

    def _runs_root(self) -> Path:
        return Path(self.untitled_runs_root) if self.untitled_runs_root is not None else untitled_runs_root()

    def _show_runs_list(self) -> None:
        state = self.state
        self.runs.default_root = self._runs_root() if self.document is not None and not self.document.path else None
        self.runs.set_graph(self.document.path if self.document is not None else None, added=state.added,
                            foreign=state.foreign, selected=state.selected)

    def _show_state(self) -> None:
        """Show ``self.state`` in the widgets."""
        state = self.state
        self.messages.show_all(state.messages)
        self.progress_label.setText(self._status_text(state))
        self._show_estimate(state)
        low, high, value = state.bar
        self.progress_bar.setRange(low, high)
        self.progress_bar.setValue(value)
        self._show_runs_list()
        if state.fresh:  # first time: the newest run's curves, as after a click on it
            state.fresh = False
            newest = self.runs.all_runs()[:1]
            if newest and not state.running:
                state.selected = newest
                self.runs.select_runs(newest)  # -> _show_runs
        self.plots.set_events(state.events)
        self._overlay(state.compared)
        if state.plot_tab and not state.compared:
            index = self.plots.tabs.indexOf(self.plots.page(state.plot_tab))
            if self.plots.tabs.isTabEnabled(index):
                self.plots.show_tab(state.plot_tab)
        self.side_tabs.setCurrentIndex(state.side_tab)
        self.nodeMarks.emit(dict(state.marks))
        self._update_buttons()

    def _status_text(self, state: TrainingState) -> str:
        other = self._run_state
        if state is not other and other is not None and other.running and state.status_text == NOT_TRAINING:
            return f"{NOT_TRAINING} ({other.name} is training: one run at a time)"
        return state.status_text

    # ------------------------------------------------------------------ actions
    def train(self) -> bool:
        """Start a new run of the open graph as it is now (a snapshot: the file is not
        written); False (with a message saying why) if it cannot start: errors in the
        graph, relative paths in a graph never saved, or a run going on."""
        if self.document is None:
            return False
        if self.runner.is_running():
            self.message(f"{self._run_state.name if self._run_state else 'Another graph'} is training: "
                         f"stop that run first (one run at a time).", "error")
            return False
        document = self.document
        errors = [p for p in document.analysis.problems if p.is_error]
        if errors:
            self.message(f"The graph has {len(errors)} error{'s' * (len(errors) > 1)}; fix "
                         f"{'them' if len(errors) > 1 else 'it'} first (see Problems): {errors[0]}", "error")
            self.showProblems.emit()
            return False
        graph_path = document.path
        name = document.graph.name or (Path(graph_path).stem if graph_path else "untitled")
        try:
            run_dir, snapshot = snapshot_run(document.graph, graph_path, self._runs_root())
        except SnapshotRefused as refused:
            self.message(str(refused), "error")
            return False
        state = self.state
        self._begin(state, run_dir)
        state.graph_path = graph_path
        self.runner.start(str(snapshot), str(run_dir), graph_source=graph_path)
        if graph_path is None:
            self.message(f"The graph is not saved: training a snapshot of it (its graph.yaml) in {run_dir}. Save "
                         f"the graph to keep its runs beside it.", "info")
        else:
            unsaved = " with its unsaved changes" if document.is_modified else ""
            self.message(f"Training {name}{unsaved} into {run_dir} (a snapshot in the run folder: "
                         f"{Path(graph_path).name} is not written)", "info")
        return True

    def resume(self) -> bool:
        """Continue the selected run of this graph (else its newest) up to the epochs in the form."""
        if self.runner.is_running():
            return False
        own = {p.resolve() for p in self.runs.all_runs()}
        chosen = [p for p in self.runs.selected_runs() if p.resolve() in own] or self.runs.all_runs()[:1]
        if not chosen:
            self.message("No run of this graph to resume yet: press Train.", "error")
            return False
        state = self.state
        self._begin(state, Path(chosen[0]))
        state.events = load_run_events(state.run_dir)
        if state is self.state:
            self.plots.set_events(state.events)
        self.runner.resume(str(state.run_dir), epochs=self.form.values().get("epochs"))
        self.message(f"Resuming {state.run_dir.name}", "info")
        return True

    def stop(self) -> None:
        """Ask the run to save a checkpoint and end."""
        if self.runner.is_running():
            owner = self._run_state
            if owner is not None and owner is not self.state:
                self.message(f"Stopping the run of {owner.name}: it saves a checkpoint first…", "info")
            self._say(owner or self.state, "Stopping: the run saves a checkpoint first…", "info")
            self.runner.stop()

    def _begin(self, state: TrainingState, run_dir: Path) -> None:
        state.run_dir = run_dir
        state.progress = Progress()
        state.last_checkpoint = None
        state.stderr = []
        state.events = []
        state.compared = []
        state.running = True
        state.status_text = "starting…"
        state.estimate_text = ""
        state.bar = (0, 0, 0)  # busy until the run says how long it is
        self._run_state = state
        self._set_marks(state, {})
        if state is self.state:
            self.plots.clear()
            self._overlay([])
            self.progress_bar.setRange(0, 0)
            self.progress_label.setText(state.status_text)
            self._show_estimate(state)
        self._update_buttons(running=True)

    # ------------------------------------------------------------------ events
    def _on_event(self, event: dict) -> None:
        state = self._run_state
        if state is None:
            return
        marks = state.marks
        said = follow_event(state, event)
        if state is self.state:
            self.plots.add_event(event)
            if event.get("event") in ("run_started", "step", "epoch", "estimate"):
                self.progress_bar.setRange(state.bar[0], state.bar[1])
                self.progress_bar.setValue(state.bar[2])
                self.progress_label.setText(state.status_text)
                self._show_estimate(state)
            if event.get("event") == "run_started" and event.get("run_dir"):
                self.runs.add_run(Path(event["run_dir"]))
        for text, kind in said:
            self._say(state, text, kind)
        if state.marks is not marks:
            self._set_marks(state, state.marks)

    def _on_stderr(self, text: str) -> None:
        if self._run_state is not None:
            self._run_state.stderr.append(text)

    def _on_finished(self, code: int, status: str) -> None:
        state = self._run_state or self.state
        shown = state is self.state
        for text, kind in finish_run(state, code, status):
            self._say(state, text, kind)
        if shown:
            self.progress_bar.setRange(state.bar[0], state.bar[1])
            self.progress_bar.setValue(state.bar[2])
            self.progress_label.setText(state.status_text)
            self.runs.refresh()
            self.plots.refresh_images()  # masks or boxes, drawn as the run ended
        elif self.state is not None:
            self.progress_label.setText(self._status_text(self.state))
        self._update_buttons(running=False)
        self.runFinished.emit(str(state.run_dir or ""), status)

    def _show_runs(self, paths: list) -> None:
        """One run selected: its plots; several: all of them in the Compare tab."""
        state = self.state
        state.selected = list(paths)
        live = state is self._run_state and state.running
        if len(paths) > 1:
            self._overlay(paths)
            state.compared = list(paths)
        elif live or not paths:
            return  # the plots keep following the run going on
        else:
            state.events = load_run_events(Path(paths[0]))
            self.plots.set_events(state.events, run_dir=paths[0])
            if state.compared:
                state.compared = []
                self._overlay([])

    def _overlay(self, paths: list) -> None:
        """Compare ``paths`` in the plots' Compare tab, each named by its graph and start time."""
        labels: list[str] = []
        runs = []
        for path in paths:
            path = Path(path)
            info = self.runs.info(path)
            label = info.label if info is not None else run_label(path)
            if label in labels:  # two runs started in the same second
                label = f"{label} ({path.name})"
            labels.append(label)
            runs.append((label, load_run_events(path)))
        self.plots.overlay(runs)

    # ------------------------------------------------------------------ helpers
    def message(self, text: str, kind: str = "info") -> None:
        """Add a line to the open document's messages (newest last)."""
        self._say(self.state, text, kind)

    def _say(self, state: TrainingState, text: str, kind: str) -> None:
        state.messages.append((text, kind))
        if state is self.state:
            self.messages.add(text, kind)

    def message_texts(self, kind: Optional[str] = None) -> list[str]:
        """The messages shown (those of ``kind``: "info", "warning", "error")."""
        return self.messages.texts(kind)

    def _show_estimate(self, state: TrainingState) -> None:
        self.estimate_label.setText(state.estimate_text)
        self.estimate_label.setVisible(bool(state.estimate_text))

    def _set_marks(self, state: TrainingState, marks: dict[str, str]) -> None:
        state.marks = marks
        if state is self.state:
            self.nodeMarks.emit(dict(marks))

    def _save_plot(self) -> None:
        suggested = str((self.state.run_dir or Path.cwd()) / "plot.png")
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
        owner = self._run_state
        if running and owner is not None and owner is not self.state:
            self.stop_button.setToolTip(f"Stop the run of {owner.name} (it saves a checkpoint first)")
        else:
            self.stop_button.setToolTip("Stop the run: it saves a checkpoint first; Resume continues it")


__all__ = ["TrainingPanel"]
