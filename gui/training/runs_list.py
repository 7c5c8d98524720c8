"""Past runs of the open graph, read from their run folders (docs/training.md).

A run folder belongs to a graph when its ``settings.json`` names that graph file as
``graph_source``. The list shows each run's summary (``summary.json``): status, epochs,
final validation accuracy and loss, wall time; a run without a summary (still going, or
killed) shows what its ``metrics.jsonl`` has so far. Select runs to compare them.
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

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from builder import read_events
from gui.style import ERROR_COLOR, HINT_COLOR, SELECTION_COLOR, WARNING_COLOR

COLUMNS = ("Run", "Started", "Status", "Epochs", "Val acc", "Val loss", "Time")
_STAMP = re.compile(r"(\d{8})-(\d{6})")  # runs/<graph>-YYYYMMDD-HHMMSS
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

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def read(cls, path: Path, running: bool = False) -> RunInfo:
        """A run folder's summary (or, while it has none, its events so far)."""
        summary = _read_json(path / "summary.json")
        started = _start_time(path)
        if summary is not None:
            final = summary.get("final") if isinstance(summary.get("final"), dict) else {}
            epochs = summary.get("epochs")
            return cls(path, started, str(summary.get("status") or "?"),
                       epochs if isinstance(epochs, int) else None, _number(final.get("val_accuracy")),
                       _number(final.get("val_loss")), _number(summary.get("wall_seconds")), summary)
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
                   wall, {})

    def tooltip(self) -> str:
        lines = [str(self.path)]
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
    """The runs of one graph, newest first; select several to compare them.
    ``runsSelected`` carries the selected run folders (Paths) in list order."""

    runsSelected = Signal(list)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("runsList")
        self.graph_path: Optional[Path] = None
        self.runs_root: Optional[Path] = None
        self._added: list[Path] = []  # runs started here: listed even before they have files
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
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        for column in range(3, len(COLUMNS)):
            self.tree.headerItem().setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.tree.itemSelectionChanged.connect(self._selection_changed)

        self.empty = QLabel()
        self.empty.setObjectName("runsEmpty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(f"color: {HINT_COLOR}; padding: 12px;")
        self.hint = QLabel("Select one run to see its curves; Ctrl- or Shift-click more to compare them.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"color: {HINT_COLOR}; padding: 2px 4px 4px 4px;")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.hint)
        self._show_empty()

    # ------------------------------------------------------------------ public
    def set_graph(self, path: str | Path | None, runs_root: str | Path | None = None) -> None:
        """List the runs of the graph file ``path`` found in ``runs_root`` (default: the
        ``runs`` folder beside the graph); None: a graph never saved has no runs."""
        self.graph_path = Path(path) if path else None
        self.runs_root = Path(runs_root) if runs_root is not None else None
        self._added = []
        self.refresh()

    def refresh(self) -> None:
        """Read the run folders again (a run finished, a folder appeared); the selection is kept."""
        selected = self.selected_runs()
        paths = find_runs(self.graph_path, self.runs_root) if self.graph_path is not None else []
        known = {p.resolve() for p in paths}
        paths += [p for p in self._added if p.resolve() not in known]
        added = {p.resolve() for p in self._added}
        runs = [RunInfo.read(p, running=p.resolve() in added) for p in paths]
        runs.sort(key=lambda r: (r.started.timestamp() if r.started else 0.0, r.name), reverse=True)
        self._runs = runs
        self.tree.blockSignals(True)
        try:
            self.tree.clear()
            for run in runs:
                self.tree.addTopLevelItem(self._item(run))
            keep = {p.resolve() for p in selected}
            for i in range(self.tree.topLevelItemCount()):
                item = self.tree.topLevelItem(i)
                item.setSelected(Path(item.data(0, Qt.ItemDataRole.UserRole)).resolve() in keep)
        finally:
            self.tree.blockSignals(False)
        self._show_empty()
        if [p.resolve() for p in self.selected_runs()] != [p.resolve() for p in selected]:
            self._selection_changed()

    def add_run(self, path: str | Path) -> None:
        """Show a run that just started (it may have no summary, or no files, yet)."""
        path = Path(path)
        if all(p.resolve() != path.resolve() for p in self._added):
            self._added.append(path)
        self.refresh()

    def runs(self) -> list[RunInfo]:
        """What the list shows, newest first."""
        return list(self._runs)

    def all_runs(self) -> list[Path]:
        """Every listed run folder, newest first."""
        return [r.path for r in self._runs]

    def selected_runs(self) -> list[Path]:
        """The selected run folders, in list order (newest first)."""
        items = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        return [Path(item.data(0, Qt.ItemDataRole.UserRole)) for item in items if item.isSelected()]

    def select_runs(self, paths: list[str | Path]) -> None:
        """Select these runs (others are deselected); ``runsSelected`` follows."""
        wanted = {Path(p).resolve() for p in paths}
        self.tree.blockSignals(True)
        try:
            for i in range(self.tree.topLevelItemCount()):
                item = self.tree.topLevelItem(i)
                item.setSelected(Path(item.data(0, Qt.ItemDataRole.UserRole)).resolve() in wanted)
        finally:
            self.tree.blockSignals(False)
        self._selection_changed()

    # ------------------------------------------------------------------ internals
    def _item(self, run: RunInfo) -> QTreeWidgetItem:
        accuracy = f"{100 * run.val_accuracy:.1f} %" if run.val_accuracy is not None else "–"
        loss = f"{run.val_loss:.4g}" if run.val_loss is not None else "–"
        texts = (run.name, run.started.strftime("%Y-%m-%d %H:%M") if run.started else "–",
                 run.status.replace("_", " "), str(run.epochs) if run.epochs is not None else "–",
                 accuracy, loss, format_wall(run.wall_seconds))
        item = QTreeWidgetItem(list(texts))
        item.setData(0, Qt.ItemDataRole.UserRole, str(run.path))
        tip = run.tooltip()
        for column in range(len(COLUMNS)):
            item.setToolTip(column, tip)
            if column >= 3:
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        color = STATUS_COLORS.get(run.status)
        if color:
            item.setForeground(2, QBrush(QColor(color)))
        if run.status == RUNNING:
            font = QFont(item.font(2))
            font.setBold(True)
            item.setFont(2, font)
        return item

    def _show_empty(self) -> None:
        empty = not self._runs
        if self.graph_path is None:
            self.empty.setText("Save the graph to train it: its runs are listed here.")
        else:
            root = self.runs_root or self.graph_path.resolve().parent / "runs"
            self.empty.setText(f"No runs of {self.graph_path.name} yet (looked in {root}).\nPress Train to start one.")
        self.tree.setVisible(not empty)
        self.empty.setVisible(empty)
        self.hint.setVisible(len(self._runs) > 1)

    def _selection_changed(self) -> None:
        self.runsSelected.emit(self.selected_runs())
