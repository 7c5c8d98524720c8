"""Past runs of the open graph, read from their run folders (docs/training.md), and runs
of other graphs added to compare with them.

A run folder belongs to a graph when its ``settings.json`` names that graph file as
``graph_source``. The list shows each run's summary (``summary.json``): start time,
status, epochs, final validation accuracy and loss, wall time; a run without a summary
(still going, or killed) shows what its ``metrics.jsonl`` has so far. Select runs to
compare them. **Add run…** lists the newest runs of other graphs in the same runs
folder, and opens any run folder, so that e.g. ``lstm_memory`` can be compared with
``rnn_memory``; such runs are marked with their graph's name. Reading the folders is
:mod:`gui.training.run_folders`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

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

from gui.generate.run_button import GenerateButton
from gui.style import ERROR_COLOR, HINT_COLOR, SELECTION_COLOR, WARNING_COLOR
from gui.training.run_folders import (
    RUNNING,
    UNFINISHED,
    RunInfo,
    find_other_runs,
    find_runs,
    format_wall,
    is_run_folder,
)
from gui.training.tensorboard_launcher import TensorBoardLauncher

COLUMNS = ("Started", "Graph", "Status", "Epochs", "Val acc", "Val IoU", "Val loss", "Time")
STARTED, GRAPH, STATUS, IOU = 0, 1, 2, 5  # column numbers
NUMBERS = 3  # this column and those after it are right-aligned numbers
STARTED_FORMAT = "%Y-%m-%d %H:%M:%S"
STATUS_COLORS = {"failed": ERROR_COLOR, "stopped": WARNING_COLOR, UNFINISHED: WARNING_COLOR,
                 "early_stopped": None, "completed": None, RUNNING: SELECTION_COLOR}


class RunsList(QWidget):
    """The runs of one graph, newest first, and runs of other graphs added to compare;
    select several to compare them. ``runsSelected`` carries the selected run folders
    (Paths) in list order; ``message`` a sentence for the panel's messages."""

    runsSelected = Signal(list)
    inspectRequested = Signal(Path)  # look inside this run (the window's Inspect panel)
    generateRequested = Signal(Path)  # generate with this decoder run (the window's Generate panel)
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
        self.generate_button = GenerateButton()  # enabled for a decoder run only (gui/generate/run_button.py)
        self.generate_button.clicked.connect(self._generate_selected)
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
        buttons.addWidget(self.generate_button, 0, Qt.AlignmentFlag.AlignTop)
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
        self.tree.setColumnHidden(IOU, all(r.val_iou is None for r in runs))  # segmentation and box runs only
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

    def _generate_selected(self) -> None:
        chosen = self.selected_runs()
        if len(chosen) == 1 and self.generate_button.reason is None:
            self.generateRequested.emit(chosen[0])

    def context_actions(self) -> list[tuple[str, object]]:
        """What the right-click menu offers for the selection: (text, slot) pairs."""
        chosen = self.selected_runs()
        actions = [("Inspect Run", self._inspect_selected)] if len(chosen) == 1 else []
        if len(chosen) == 1 and self.generate_button.reason is None:
            actions.append(("Generate…", self._generate_selected))
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
        iou = f"{run.val_iou:.3f}" if run.val_iou is not None else "–"
        texts = (run.started.strftime(STARTED_FORMAT) if run.started else run.name, run.graph,
                 run.status.replace("_", " "), str(run.epochs) if run.epochs is not None else "–",
                 accuracy, iou, loss, format_wall(run.wall_seconds))
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
        self.generate_button.setVisible(not empty)
        self._update_inspect_button()
        self.hint.setText("Select one run to see its curves; Ctrl- or Shift-click more to compare them."
                          if len(self._runs) > 1 else "Add run… compares with runs of other graphs.")

    def _selection_changed(self) -> None:
        self._update_inspect_button()
        self.runsSelected.emit(self.selected_runs())

    def _update_inspect_button(self) -> None:
        self.inspect_button.setEnabled(len(self.selected_runs()) == 1)
        self.generate_button.follow(self.selected_runs())
