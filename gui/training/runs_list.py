"""Past runs of the open graph, read from their run folders (docs/training.md), and runs
of other graphs added to compare with them.

A run folder belongs to a graph when its ``settings.json`` names that graph file as
``graph_source``. The list shows each run's summary (``summary.json``): start time,
status, epochs, final validation accuracy and loss, wall time; a run without a summary
(still going, or killed) shows what its ``metrics.jsonl`` has so far. Select runs to
compare them. **Add run…** lists the newest runs of other graphs in the same runs
folder, and opens any run folder, so that e.g. ``lstm_memory`` can be compared with
``rnn_memory``; such runs are marked with their graph's name.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from builder import read_events
from gui.style import ERROR_COLOR, HINT_COLOR, SELECTION_COLOR, WARNING_COLOR
from gui.training.tensorboard_launcher import TensorBoardLauncher

COLUMNS = ("Started", "Graph", "Status", "Epochs", "Val acc", "Val loss", "Time")
STARTED, GRAPH, STATUS = 0, 1, 2  # column numbers
NUMBERS = 3  # this column and those after it are right-aligned numbers
STARTED_FORMAT = "%Y-%m-%d %H:%M:%S"
OTHER_RUNS_SHOWN = 12  # how many runs of other graphs the Add run menu offers
_STAMP = re.compile(r"(\d{8})-(\d{6})")  # runs/<graph>-YYYYMMDD-HHMMSS
_EPOCH = datetime(1970, 1, 2)  # sorts a run without a start time last
_NAME = re.compile(r"^(.*?)-\d{8}-\d{6}(?:-\d+)?$")
RUNNING, UNFINISHED = "running", "unfinished"
STATUS_COLORS = {"failed": ERROR_COLOR, "stopped": WARNING_COLOR, UNFINISHED: WARNING_COLOR,
                 "early_stopped": None, "completed": None, RUNNING: SELECTION_COLOR}


def load_run_events(path: str | Path) -> list[dict]:
    """The events of a run (a run folder, or its ``metrics.jsonl``); a torn last line of a
    killed run is skipped; no file: no events."""
    path = Path(path)
    metrics = path / "metrics.jsonl" if path.is_dir() else path
    try:
        return read_events(str(metrics))
    except OSError:
        return []


def _read_json(path: Path) -> Optional[dict]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _same_file(a: Path, b: Path) -> bool:
    return os.path.normcase(str(a.resolve())) == os.path.normcase(str(b.resolve()))


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def format_wall(seconds: Optional[float]) -> str:
    """``8.25`` -> ``8.3 s``; ``185`` -> ``3 min 5 s``; ``3725`` -> ``1 h 2 min``."""
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@dataclass
class RunInfo:
    """What the list shows about one run folder."""

    path: Path
    started: Optional[datetime]
    status: str
    epochs: Optional[int] = None
    val_accuracy: Optional[float] = None
    val_loss: Optional[float] = None
    wall_seconds: Optional[float] = None
    summary: dict = field(default_factory=dict)
    graph: str = ""  # the graph's name (summary, events, settings or folder name)
    foreign: bool = False  # a run of another graph, added to compare

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        """How plots name the run: its graph and when it started (``rnn_memory 14:03:22``)."""
        return run_label(self.path, self.graph, self.started)

    @classmethod
    def read(cls, path: Path, running: bool = False) -> RunInfo:
        """A run folder's summary (or, while it has none, its events so far)."""
        summary = _read_json(path / "summary.json")
        started = _start_time(path)
        if summary is not None:
            final = summary.get("final") if isinstance(summary.get("final"), dict) else {}
            epochs = summary.get("epochs")
            graph = summary.get("graph") if isinstance(summary.get("graph"), str) else None
            return cls(path, started, str(summary.get("status") or "?"),
                       epochs if isinstance(epochs, int) else None, _number(final.get("val_accuracy")),
                       _number(final.get("val_loss")), _number(summary.get("wall_seconds")), summary,
                       graph or run_graph_name(path))
        events = load_run_events(path)
        epochs = [e for e in events if e.get("event") == "epoch"]
        last = epochs[-1] if epochs else {}
        finished = [e for e in events if e.get("event") == "run_finished"]
        status = RUNNING if running else UNFINISHED
        if finished:
            status = str(finished[-1].get("status") or status)
        elif any(e.get("event") == "error" for e in events):
            status = "failed"
        wall = _number(events[-1].get("time")) if events else None
        return cls(path, started, status, int(last["epoch"]) if isinstance(last.get("epoch"), int) else
                   (0 if events else None), _number(last.get("val_accuracy")), _number(last.get("val_loss")),
                   wall, {}, run_graph_name(path, events))

    def tooltip(self) -> str:
        lines = [str(self.path)]
        if self.foreign:
            lines.append(f"a run of {self.graph or 'another graph'}, added to compare (Delete takes it off the list)")
        s = self.summary
        for key, label in (("device", "device"), ("data", "data"), ("params", "parameters")):
            if s.get(key) is not None:
                value = s[key]
                lines.append(f"{label}: {value:,}" if isinstance(value, int) else f"{label}: {value}")
        best = s.get("best") if isinstance(s.get("best"), dict) else {}
        if _number(best.get("val_accuracy")) is not None:
            lines.append(f"best val accuracy: {100 * best['val_accuracy']:.2f} %")
        if _number(best.get("val_loss")) is not None:
            lines.append(f"best val loss: {best['val_loss']:.4g}")
        if _number(s.get("samples_per_s")) is not None:
            lines.append(f"{s['samples_per_s']:,.0f} samples/s")
        return "\n".join(lines)


def _start_time(path: Path) -> Optional[datetime]:
    """When the run started: the stamp in its folder name, else when settings.json was written."""
    match = _STAMP.search(path.name)
    if match:
        try:
            return datetime.strptime("".join(match.groups()), "%Y%m%d%H%M%S")
        except ValueError:
            pass
    for candidate in (path / "settings.json", path):
        try:
            return datetime.fromtimestamp(candidate.stat().st_mtime)
        except OSError:
            continue
    return None


def run_graph_name(path: Path, events: Optional[list[dict]] = None) -> str:
    """The name of the graph a run trained: from its events, its settings' graph_source,
    else its folder name without the time stamp."""
    summary = _read_json(path / "summary.json")
    if summary and isinstance(summary.get("graph"), str) and summary["graph"]:
        return summary["graph"]
    for event in events if events is not None else load_run_events(path)[:1]:
        if event.get("event") == "run_started" and isinstance(event.get("graph"), str) and event["graph"]:
            return event["graph"]
    settings = _read_json(path / "settings.json")
    source = settings.get("graph_source") if settings else None
    match = _NAME.match(path.name)
    if match:
        return match.group(1)
    return Path(source).stem if isinstance(source, str) and source else path.name


def run_label(path: Path, graph: Optional[str] = None, started: Optional[datetime] = None) -> str:
    """``rnn_memory 14:03:22``: a run's graph and start time, to name it in a legend."""
    graph = graph or run_graph_name(path)
    started = started or _start_time(path)
    return f"{graph} {started:%H:%M:%S}" if started else f"{graph} ({path.name})"


def is_run_folder(path: str | Path) -> bool:
    """A folder the trainer wrote: it has metrics.jsonl or settings.json."""
    path = Path(path)
    return path.is_dir() and ((path / "metrics.jsonl").is_file() or (path / "settings.json").is_file())


def _graph_source(path: Path) -> Optional[str]:
    settings = _read_json(path / "settings.json")
    source = settings.get("graph_source") if settings else None
    return source if isinstance(source, str) and source else None


def find_other_runs(graph_path: str | Path | None, runs_root: str | Path,
                    limit: int = OTHER_RUNS_SHOWN) -> list[Path]:
    """The newest ``limit`` run folders under ``runs_root`` that are not runs of
    ``graph_path`` (runs of other graphs, to compare with), newest first."""
    try:
        children = [p for p in Path(runs_root).iterdir() if p.is_dir() and is_run_folder(p)]
    except OSError:
        return []
    graph = Path(graph_path) if graph_path else None
    others = []
    for child in children:
        source = _graph_source(child)
        if graph is not None and source is not None and _same_file(Path(source), graph):
            continue
        others.append(child)
    others.sort(key=lambda p: (_start_time(p) or _EPOCH, p.name), reverse=True)
    return others[:limit]


def find_runs(graph_path: str | Path, runs_root: str | Path | None = None) -> list[Path]:
    """The run folders under ``runs_root`` (default ``<graph folder>/runs``) whose
    settings.json names ``graph_path`` as their graph_source."""
    graph = Path(graph_path)
    root = Path(runs_root) if runs_root is not None else graph.resolve().parent / "runs"
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return []
    found = []
    for child in children:
        settings = _read_json(child / "settings.json")
        source = settings.get("graph_source") if settings else None
        if isinstance(source, str) and source and _same_file(Path(source), graph):
            found.append(child)
    return found


class RunsList(QWidget):
    """The runs of one graph, newest first, and runs of other graphs added to compare;
    select several to compare them. ``runsSelected`` carries the selected run folders
    (Paths) in list order; ``message`` a sentence for the panel's messages."""

    runsSelected = Signal(list)
    inspectRequested = Signal(Path)  # look inside this run (the window's Inspect panel)
    message = Signal(str, str)  # text, kind ("info", "error")
    listChanged = Signal()  # the rows were read again (their widths may have changed)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("runsList")
        self.graph_path: Optional[Path] = None
        self.runs_root: Optional[Path] = None
        self.default_root: Optional[Path] = None  # where runs go when the graph has no folder (untitled)
        self._added: list[Path] = []  # runs of this graph started here: listed even before they have files
        self._foreign: list[Path] = []  # runs of other graphs added to compare
        self._runs: list[RunInfo] = []

        self.tree = QTreeWidget()
        self.tree.setObjectName("runsTree")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        header = self.tree.header()
        header.setStretchLastSection(False)
        # every column as wide as its widest text: nothing is cut; a narrow panel scrolls
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        for column in range(NUMBERS, len(COLUMNS)):
            self.tree.headerItem().setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        # Delete in the list takes added runs off it, and never reaches the window's Delete
        # (which deletes the canvas selection)
        self.tree.installEventFilter(self)

        self.empty = QLabel()
        self.empty.setObjectName("runsEmpty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(f"color: {HINT_COLOR}; padding: 12px;")
        self.hint = QLabel("Select one run to see its curves; Ctrl- or Shift-click more to compare them.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"color: {HINT_COLOR}; padding: 2px 4px 4px 4px;")
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.add_button = QToolButton()
        self.add_button.setObjectName("addRunButton")
        self.add_button.setText("Add run…")
        self.add_button.setToolTip("Compare with a run of another graph: the newest ones in the same runs "
                                   "folder, or any run folder")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_menu = QMenu(self.add_button)
        self.add_menu.setObjectName("addRunMenu")
        self.add_menu.aboutToShow.connect(self._fill_add_menu)
        self.add_button.setMenu(self.add_menu)
        self.inspect_button = QToolButton()
        self.inspect_button.setObjectName("inspectRunButton")
        self.inspect_button.setText("Inspect")
        self.inspect_button.setToolTip("Look inside the selected run: its misclassified samples, feature maps "
                                       "and explanations (Inspect panel)")
        self.inspect_button.clicked.connect(self._inspect_selected)
        self.tensorboard = TensorBoardLauncher(self)
        self.tensorboard.failed.connect(lambda message, hint: self.hint.setText(f"{message}: {hint}"))
        self.tensorboard_button = QToolButton()
        self.tensorboard_button.setObjectName("tensorboardButton")
        self.tensorboard_button.setText("TensorBoard")
        self.tensorboard_button.setToolTip("Open every run of this graph in TensorBoard, in your browser")
        self.tensorboard_button.clicked.connect(lambda: self.root() and self.tensorboard.open(self.root()))
        buttons = QHBoxLayout()
        buttons.setContentsMargins(4, 0, 4, 0)
        buttons.addWidget(self.hint, 1)
        buttons.addWidget(self.inspect_button, 0, Qt.AlignmentFlag.AlignTop)
        buttons.addWidget(self.tensorboard_button, 0, Qt.AlignmentFlag.AlignTop)
        buttons.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignTop)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty, 1)
        layout.addLayout(buttons)
        self._show_empty()

    # ------------------------------------------------------------------ public
    def set_graph(self, path: str | Path | None, runs_root: str | Path | None = None,
                  added: list[Path] | tuple = (), foreign: list[Path] | tuple = (),
                  selected: Optional[list[Path]] = None) -> None:
        """List the runs of the graph file ``path`` found in ``runs_root`` (default: the
        ``runs`` folder beside the graph; None: a graph never saved, only ``added`` runs),
        the runs ``added`` (started from this document) and ``foreign`` (other graphs'
        runs to compare with); select ``selected`` (without a signal)."""
        self.graph_path = Path(path) if path else None
        self.runs_root = Path(runs_root) if runs_root is not None else None
        self._added = [Path(p) for p in added]
        self._foreign = [Path(p) for p in foreign]
        self.tree.blockSignals(True)
        try:
            self.tree.clearSelection()
            self.refresh()
            if selected:
                self._select(selected)
        finally:
            self.tree.blockSignals(False)
        self._update_inspect_button()

    def root(self) -> Optional[Path]:
        """The runs folder this graph's runs are looked for in (and others' runs offered from)."""
        if self.runs_root is not None:
            return self.runs_root
        if self.graph_path is not None:
            return self.graph_path.resolve().parent / "runs"
        return self.default_root

    def refresh(self) -> None:
        """Read the run folders again (a run finished, a folder appeared); the selection is kept."""
        selected = self.selected_runs()
        paths = find_runs(self.graph_path, self.runs_root) if self.graph_path is not None else []
        known = {p.resolve() for p in paths}
        paths += [p for p in self._added if p.resolve() not in known]
        added = {p.resolve() for p in self._added}
        runs = [RunInfo.read(p, running=p.resolve() in added) for p in paths]
        own = {p.resolve() for p in paths}
        for path in self._foreign:
            if path.resolve() not in own:
                info = RunInfo.read(path)
                info.foreign = True
                runs.append(info)
        runs.sort(key=lambda r: (r.started.timestamp() if r.started else 0.0, r.name), reverse=True)
        self._runs = runs
        self.tree.blockSignals(True)
        try:
            self.tree.clear()
            for run in runs:
                self.tree.addTopLevelItem(self._item(run))
            self._select(selected)
        finally:
            self.tree.blockSignals(False)
        self.tree.setColumnHidden(GRAPH, not any(r.foreign for r in runs))
        self._show_empty()
        self.listChanged.emit()
        if [p.resolve() for p in self.selected_runs()] != [p.resolve() for p in selected]:
            self._selection_changed()

    def add_run(self, path: str | Path) -> None:
        """Show a run of this graph that just started (it may have no summary, or no files, yet)."""
        path = Path(path)
        if all(p.resolve() != path.resolve() for p in self._added):
            self._added.append(path)
        self.refresh()

    def add_foreign(self, path: str | Path, select: bool = True) -> bool:
        """Add a run (of another graph, or of this one) to compare; with ``select`` it
        joins the selection (the newest run of this graph too when nothing was selected),
        so the comparison shows at once. False (and a message) if it is no run folder."""
        path = Path(path)
        if not is_run_folder(path):
            self.message.emit(f"{path} is not a run folder (it has no metrics.jsonl or settings.json): choose "
                              f"a folder inside runs/, such as runs/<graph>-<date>-<time>", "error")
            return False
        own = {p.resolve() for p in self.all_runs()}
        if path.resolve() not in own and all(p.resolve() != path.resolve() for p in self._foreign):
            self._foreign.append(path)
        if not select:
            self.refresh()
            return True
        chosen = self.selected_runs() or self.all_runs()[:1]
        self.tree.blockSignals(True)
        try:
            self.refresh()
        finally:
            self.tree.blockSignals(False)
        self.select_runs([*chosen, path])
        return True

    def remove_selected_foreign(self) -> None:
        """Take the selected runs of other graphs off the list (their folders stay)."""
        chosen = {p.resolve() for p in self.selected_runs()}
        kept = [p for p in self._foreign if p.resolve() not in chosen]
        if len(kept) != len(self._foreign):
            self._foreign = kept
            self.refresh()

    def runs(self) -> list[RunInfo]:
        """What the list shows, newest first."""
        return list(self._runs)

    def all_runs(self) -> list[Path]:
        """Every listed run folder of this graph (not the runs added to compare), newest first."""
        return [r.path for r in self._runs if not r.foreign]

    def listed_runs(self) -> list[Path]:
        """Every listed run folder, this graph's and the others added, newest first."""
        return [r.path for r in self._runs]

    def added_runs(self) -> list[Path]:
        """The runs of this graph started from here (kept with the document's state)."""
        return list(self._added)

    def foreign_runs(self) -> list[Path]:
        """The runs of other graphs added to compare."""
        return list(self._foreign)

    def info(self, path: str | Path) -> Optional[RunInfo]:
        wanted = Path(path).resolve()
        return next((r for r in self._runs if r.path.resolve() == wanted), None)

    def selected_runs(self) -> list[Path]:
        """The selected run folders, in list order (newest first)."""
        items = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        return [Path(item.data(0, Qt.ItemDataRole.UserRole)) for item in items if item.isSelected()]

    def select_runs(self, paths: list[str | Path]) -> None:
        """Select these runs (others are deselected); ``runsSelected`` follows."""
        self.tree.blockSignals(True)
        try:
            self._select(paths)
        finally:
            self.tree.blockSignals(False)
        self._selection_changed()

    def preferred_width(self) -> int:
        """The width that shows every column whole, without a horizontal scroll bar."""
        return sum(self.column_width(c) for c in range(len(COLUMNS)) if not self.tree.isColumnHidden(c)) \
            + 2 * self.tree.frameWidth() + self.tree.verticalScrollBar().sizeHint().width() + 4

    def column_width(self, column: int) -> int:
        """The width column ``column`` needs for its header and every row's text."""
        return max(self.tree.header().sectionSizeHint(column), self.tree.sizeHintForColumn(column))

    def ask_run_folder(self) -> Optional[str]:
        """The run folder to add, from a folder dialog (tests answer it themselves)."""
        start = self.root() or Path.cwd()
        path = QFileDialog.getExistingDirectory(self, "Add a run to compare", str(start))
        return path or None

    def add_from_dialog(self) -> bool:
        """Add → Run folder…: ask for a run folder and add it to the comparison."""
        path = self.ask_run_folder()
        return self.add_foreign(path) if path else False

    # ------------------------------------------------------------------ internals
    def eventFilter(self, watched, event) -> bool:
        if watched is self.tree and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) \
                and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            event.accept()
            if event.type() == QEvent.Type.KeyPress:
                self.remove_selected_foreign()
            return True
        return super().eventFilter(watched, event)

    def _select(self, paths) -> None:
        wanted = {Path(p).resolve() for p in paths}
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            item.setSelected(Path(item.data(0, Qt.ItemDataRole.UserRole)).resolve() in wanted)

    def _fill_add_menu(self) -> None:
        menu = self.add_menu
        menu.clear()
        root = self.root()
        listed = {p.resolve() for p in self.listed_runs()}
        others = [p for p in find_other_runs(self.graph_path, root) if p.resolve() not in listed] if root else []
        if others:
            title = menu.addAction(f"Runs of other graphs in {root}")
            title.setEnabled(False)
            for path in others:
                info = RunInfo.read(path)
                accuracy = f", {100 * info.val_accuracy:.1f} %" if info.val_accuracy is not None else ""
                started = f"{info.started:{STARTED_FORMAT}}" if info.started else path.name
                action = menu.addAction(f"{info.graph}  ·  {started}  ·  {info.status.replace('_', ' ')}{accuracy}")
                action.setToolTip(str(path))
                action.setData(str(path))
                action.triggered.connect(lambda _checked=False, p=path: self.add_foreign(p))
            menu.addSeparator()
        else:
            none = menu.addAction(f"No runs of other graphs in {root}" if root else "No runs folder yet")
            none.setEnabled(False)
        folder = menu.addAction("Run Folder…")
        folder.setObjectName("addRunFolder")
        folder.setToolTip("Choose any run folder (runs/<graph>-<date>-<time>) to compare with")
        folder.triggered.connect(self.add_from_dialog)

    def _inspect_selected(self) -> None:
        chosen = self.selected_runs()
        if len(chosen) == 1:
            self.inspectRequested.emit(chosen[0])

    def context_actions(self) -> list[tuple[str, object]]:
        """What the right-click menu offers for the selection: (text, slot) pairs."""
        chosen = self.selected_runs()
        actions = [("Inspect Run", self._inspect_selected)] if len(chosen) == 1 else []
        picked = {p.resolve() for p in chosen}
        if any(r.foreign and r.path.resolve() in picked for r in self._runs):
            actions.append(("Remove From List", self.remove_selected_foreign))
        return actions

    def _context_menu(self, point: QPoint) -> None:
        actions = self.context_actions()
        if not actions:
            return
        menu = QMenu(self)
        for text, slot in actions:
            menu.addAction(text, slot)
        menu.exec(self.tree.viewport().mapToGlobal(point))

    def _item(self, run: RunInfo) -> QTreeWidgetItem:
        accuracy = f"{100 * run.val_accuracy:.1f} %" if run.val_accuracy is not None else "–"
        loss = f"{run.val_loss:.4g}" if run.val_loss is not None else "–"
        texts = (run.started.strftime(STARTED_FORMAT) if run.started else run.name, run.graph,
                 run.status.replace("_", " "), str(run.epochs) if run.epochs is not None else "–",
                 accuracy, loss, format_wall(run.wall_seconds))
        item = QTreeWidgetItem(list(texts))
        item.setData(0, Qt.ItemDataRole.UserRole, str(run.path))
        tip = run.tooltip()
        for column in range(len(COLUMNS)):
            item.setToolTip(column, tip)
            if column >= NUMBERS:
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        color = STATUS_COLORS.get(run.status)
        if color:
            item.setForeground(STATUS, QBrush(QColor(color)))
        if run.status == RUNNING:
            font = QFont(item.font(STATUS))
            font.setBold(True)
            item.setFont(STATUS, font)
        if run.foreign:
            font = QFont(item.font(GRAPH))
            font.setItalic(True)
            item.setFont(GRAPH, font)
        return item

    def _show_empty(self) -> None:
        empty = not self._runs
        if self.graph_path is None:
            self.empty.setText("No runs of this graph yet: press Train (a graph never saved trains too, "
                               "unless it reads files by relative paths).")
        else:
            root = self.runs_root or self.graph_path.resolve().parent / "runs"
            self.empty.setText(f"No runs of {self.graph_path.name} yet (looked in {root}).\nPress Train to start one.")
        self.tree.setVisible(not empty)
        self.empty.setVisible(empty)
        self.inspect_button.setVisible(not empty)
        self._update_inspect_button()
        self.hint.setText("Select one run to see its curves; Ctrl- or Shift-click more to compare them."
                          if len(self._runs) > 1 else "Add run… compares with runs of other graphs.")

    def _selection_changed(self) -> None:
        self._update_inspect_button()
        self.runsSelected.emit(self.selected_runs())

    def _update_inspect_button(self) -> None:
        self.inspect_button.setEnabled(len(self.selected_runs()) == 1)
