"""The editor's main window: canvas in the middle, palette left, inspector right, problems
below; menus with the platform's standard shortcuts; files, recent files, autosave.

Questions to the user (unsaved changes, file names, recovery) go through the ``ask_*``
methods, so tests can answer them without a modal dialog.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QGuiApplication,
    QKeySequence,
    QUndoGroup,
)
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox

from builder import GraphError
from gui.canvas import GraphScene, GraphView
from gui.canvas.minimap import Minimap
from gui.clipboard import copy_nodes, duplicate, has_nodes, paste_nodes
from gui.document import GraphDocument
from gui.export_runner import FORMATS as EXPORT_FORMATS
from gui.export_runner import SUFFIXES as EXPORT_SUFFIXES
from gui.export_runner import ExportRunner
from gui.fold_dialog import GraphFolder
from gui.help_menu import install_help_menu
from gui.inside_view import open_block_inside, open_node_inside
from gui.inspect.holder import InspectHolder
from gui.inspector import Inspector
from gui.labels import human_count, short_shape
from gui.palette import BlockPalette
from gui.problems import ProblemsPanel
from gui.recovery import AUTOSAVE_SECONDS, Recovery, RecoveryStore
from gui.training.deferred import TrainingHolder
from gui.wording import count_text

APP_NAME = "Model Builder"
MAX_RECENT = 10
FILE_FILTER = "Graph files (*.yaml *.yml);;All files (*)"
PASTE_OFFSET = 30  # successive pastes step down and right so they do not hide each other


def default_recovery_folder() -> Path:
    """``$MODELBUILDER_RECOVERY_DIR``, else the platform's app data folder."""
    override = os.environ.get("MODELBUILDER_RECOVERY_DIR")
    if override:
        return Path(override)
    base = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or str(Path.home() / ".modelbuilder")
    return Path(base) / "recovery"


def graph_problem_text(error: GraphError) -> str:
    """A GraphError as lines a dialog can show (file:line: node: message)."""
    return "\n".join(str(p) for p in error.problems) or str(error)


class MainWindow(QMainWindow):
    """One editor window, one document at a time."""

    def __init__(self, settings: Optional[QSettings] = None, recovery_folder: Optional[Path] = None,
                 autosave_seconds: float = AUTOSAVE_SECONDS):
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings or QSettings("ModelBuilder", "modelbuilder")
        self.recovery = RecoveryStore(recovery_folder or default_recovery_folder())
        self.document: Optional[GraphDocument] = None
        self.scene: Optional[GraphScene] = None
        self.view: Optional[GraphView] = None
        self.inside_windows: list[QMainWindow] = []
        self._paste_count = 0

        self.palette = BlockPalette()
        self.inspector = Inspector()
        self.problems = ProblemsPanel()
        self._training_holder = TrainingHolder(self._connect_training)  # the panel comes after the first paint
        self.exporter = ExportRunner(self)
        self.folding = GraphFolder(self)  # Edit › Fold Repeated Structure… (gui/fold_dialog.py)
        self._palette_dock = self._dock("Blocks", self.palette, Qt.LeftDockWidgetArea)
        self._inspector_dock = self._dock("Inspector", self.inspector, Qt.RightDockWidgetArea)
        self._problems_dock = self._dock("Problems", self.problems, Qt.BottomDockWidgetArea)
        self._training_dock = self._dock("Training", self._training_holder, Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(self._problems_dock, self._training_dock)
        self._inspect_holder = InspectHolder(self._connect_inspect)  # built when a run is first inspected
        self._inspect_dock = self._dock("Inspect run", self._inspect_holder, Qt.BottomDockWidgetArea)
        self._inspect_dock.setObjectName("inspectDock")
        self.tabifyDockWidget(self._training_dock, self._inspect_dock)
        self._inspect_dock.hide()  # until a run is inspected (or the View menu shows it)
        self._problems_dock.raise_()
        self.exporter.finished.connect(self._export_done)
        self.palette.blockActivated.connect(lambda name: self.view.add_block_at_center(name))
        self.palette.insideRequested.connect(lambda name: open_block_inside(self, name))
        self.problems.nodeActivated.connect(self.select_and_show)
        self.problems.countChanged.connect(lambda n: self._problems_dock.setWindowTitle(
            f"Problems ({n})" if n else "Problems"))

        self._status_labels = {key: QLabel() for key in ("params", "macs", "output", "problems")}
        for label in self._status_labels.values():
            label.setContentsMargins(8, 0, 8, 0)
            self.statusBar().addPermanentWidget(label)

        self._autosave = QTimer(self)
        self._autosave.setInterval(int(autosave_seconds * 1000))
        self._autosave.timeout.connect(self.autosave)
        self._autosave.start()

        self.undo_group = QUndoGroup(self)
        self._make_actions()
        self._make_menus()
        self._make_edit_menu()
        install_help_menu(self, lambda url: self.open_url(url))
        self.set_document(GraphDocument())
        self.resize(1500, 950)
        self._docks_sized = False

    # ------------------------------------------------------------------ building
    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}Dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot: Callable, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(QKeySequence.keyBindings(shortcut) if isinstance(shortcut, QKeySequence.StandardKey)
                                else [QKeySequence(shortcut)])
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _make_actions(self) -> None:
        K = QKeySequence
        self.actions = {
            "new": self._action("&New", self.new_file, K.New, "Start an empty graph"),
            "open": self._action("&Open…", self.open_dialog, K.Open, "Open a graph file"),
            "save": self._action("&Save", self.save, K.Save, "Save the graph"),
            "save_as": self._action("Save &As…", self.save_as, K.SaveAs, "Save the graph under a new name"),
            "quit": self._action("&Quit", self.close, K.Quit),
            "cut": self._action("Cu&t", self.cut, K.Cut),
            "copy": self._action("&Copy", self.copy, K.Copy),
            "paste": self._action("&Paste", self.paste, K.Paste),
            "duplicate": self._action("D&uplicate", self.duplicate, "Ctrl+D"),
            "delete": self._action("&Delete", self.delete_selection, K.Delete),
            "select_all": self._action("Select &All", self.select_all, K.SelectAll),
            "zoom_in": self._action("Zoom &In", lambda: self.view.zoom_in(), K.ZoomIn),
            "zoom_out": self._action("Zoom &Out", lambda: self.view.zoom_out(), K.ZoomOut),
            "zoom_reset": self._action("&Actual Size", lambda: self.view.zoom_reset(), "Ctrl+0"),
            "fit": self._action("&Fit to View", lambda: self.view.fit_all(), "F"),
            "arrange": self._action("A&rrange Nodes", self.arrange, "Ctrl+L",
                                    "Lay the graph out to fit the window, in the layout direction (undoable)"),
            "layout_down": self._action("Lay Out &Top to Bottom", lambda: self.arrange("down"),
                                        tip="Arrange in columns: data flows down (saved in the file)"),
            "layout_right": self._action("Lay Out &Left to Right", lambda: self.arrange("right"),
                                         tip="Arrange in rows: data flows right (saved in the file)"),
            "inspect": self._action("&Inspect Run…", self.inspect_run, "Ctrl+I",
                                    "Look inside a trained run: misclassified samples, feature maps, explanations"),
            "fold": self._action("&Fold Repeated Structure…", lambda: self.folding.start(),
                                 tip="Fold runs of identical copies into composite blocks, as a new file"),
        }
        self._directions = QActionGroup(self)  # one checked: the document's direction
        for key in ("layout_down", "layout_right"):
            self.actions[key].setCheckable(True)
            self._directions.addAction(self.actions[key])
        # Backspace deletes too on laptops without a Delete key (macOS convention)
        self.actions["delete"].setShortcuts(QKeySequence.keyBindings(K.Delete) + [QKeySequence(Qt.Key_Backspace)])
        for action in self.actions.values():
            action.setShortcutContext(Qt.WindowShortcut)
            self.addAction(action)

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.actions["new"], self.actions["open"]])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        file_menu.addActions([self.actions["save"], self.actions["save_as"]])
        self.export_menu = file_menu.addMenu("&Export Trained Model")
        for format, (text, _what) in EXPORT_FORMATS.items():
            action = self.export_menu.addAction(text)
            action.setObjectName(f"export_{format}")
            action.triggered.connect(lambda _checked=False, f=format: self.export_model(f))
        file_menu.addAction(self.actions["inspect"])
        file_menu.addSeparator()
        file_menu.addAction(self.actions["quit"])
        self.edit_menu = bar.addMenu("&Edit")
        view_menu = bar.addMenu("&View")
        view_menu.addActions([self.actions[k] for k in ("zoom_in", "zoom_out", "zoom_reset", "fit")])
        view_menu.addSeparator()
        view_menu.addActions([self.actions[k] for k in ("arrange", "layout_down", "layout_right")])
        view_menu.addSeparator()
        self._view_menu = view_menu  # the overview's entry joins when the canvas exists
        for dock in (self._palette_dock, self._inspector_dock, self._problems_dock, self._training_dock,
                     self._inspect_dock):
            view_menu.addAction(dock.toggleViewAction())
        self._update_recent_menu()

    def _make_edit_menu(self) -> None:
        """Undo and redo act on the current document's stack through one QUndoGroup, so
        the actions (and their shortcuts) are made once; their text names the edit."""
        undo = self.undo_group.createUndoAction(self, "&Undo")
        undo.setShortcuts(QKeySequence.keyBindings(QKeySequence.Undo))
        redo = self.undo_group.createRedoAction(self, "&Redo")
        redo.setShortcuts(QKeySequence.keyBindings(QKeySequence.Redo))
        for action in (undo, redo):
            action.setShortcutContext(Qt.WindowShortcut)
        self.addActions([undo, redo])
        self.actions["undo"], self.actions["redo"] = undo, redo
        menu = self.edit_menu
        menu.addActions([undo, redo])
        menu.addSeparator()
        menu.addActions([self.actions[k] for k in ("cut", "copy", "paste", "duplicate", "delete")])
        menu.addSeparator()
        menu.addAction(self.actions["select_all"])
        menu.addSeparator()
        menu.addAction(self.actions["fold"])

    # ------------------------------------------------------------------ the document
    def set_document(self, document: GraphDocument) -> None:
        """Show ``document`` (the previous one is dropped: ask first, see maybe_save)."""
        old = self.document  # kept alive until its scene is off the view
        self.document = document
        # a file without positions is laid out for the window it opens in
        arrange = self.view.layout_function(document.layout_direction) if self.view is not None else None
        self.scene = GraphScene(document, parent=document, arrange=arrange)
        if self.view is None:
            self.view = GraphView(self.scene)
            self.setCentralWidget(self.view)
            self._overview_dock = self._dock("Overview", Minimap(self.view), Qt.LeftDockWidgetArea)
            self._view_menu.insertAction(self._inspector_dock.toggleViewAction(),
                                         self._overview_dock.toggleViewAction())
        else:  # one view for the window's life: replacing the central widget squeezes it between the docks
            self.view.set_graph_scene(self.scene)
        if old is not None:
            self.undo_group.removeStack(old.undo_stack)
        self.undo_group.addStack(document.undo_stack)
        self.undo_group.setActiveStack(document.undo_stack)
        self.inspector.set_document(document)
        self.problems.set_document(document)
        if self._training_holder.built:
            self.training.set_document(document)
        document.pathChanged.connect(lambda _path: self._training_holder.built and self.training.set_document(document))
        self.scene.nodeSelectionChanged.connect(self.inspector.show_nodes)
        self.scene.nodeSelectionChanged.connect(self._update_edit_actions)
        self.scene.nodeSelectionChanged.connect(self._inspect_selection)
        self.scene.nodeDoubleClicked.connect(self.open_inside)
        self.scene.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        document.analysisChanged.connect(self._update_status)
        document.modifiedChanged.connect(self.setWindowModified)
        document.pathChanged.connect(lambda _path: self._update_title())
        document.layoutDirectionChanged.connect(self._update_direction)
        self._update_direction(document.layout_direction)
        self._update_title()
        self.setWindowModified(document.is_modified)
        self._update_status()
        self._update_edit_actions()
        self.inspector.show_nodes([])
        self._paste_count = 0
        self.view.fit_all()

    def _update_direction(self, direction: str) -> None:
        self.actions["layout_right" if direction == "right" else "layout_down"].setChecked(True)

    def _update_title(self) -> None:
        # "[*]" is where Qt shows the modified marker
        self.setWindowTitle(f"{self.document.display_name}[*] — {APP_NAME}")

    def _update_status(self) -> None:
        analysis = self.document.analysis
        total = analysis.total
        self._status_labels["params"].setText(f"Parameters: {total.params:,}")
        self._status_labels["macs"].setText(f"MACs: {human_count(total.macs)}")
        shapes = []
        for node_id in analysis.output_ids:  # an output node shows what flows into it
            info = analysis.nodes.get(node_id)
            given = list(info.input_shapes.values()) if info is not None else []
            shapes.append(short_shape(given[0] if given else None))
        self._status_labels["output"].setText("Output: " + (", ".join(shapes) if shapes else "none"))
        errors = sum(p.is_error for p in analysis.problems)
        warnings = len(analysis.problems) - errors
        label = self._status_labels["problems"]
        label.setText(f"Problems: {count_text(errors, warnings)}" if errors or warnings else "No problems")
        label.setStyleSheet("color: #c53030; font-weight: bold" if errors else "")

    def _update_edit_actions(self, *_args) -> None:
        chosen = bool(self.scene.selected_ids())
        for key in ("cut", "copy", "duplicate"):
            self.actions[key].setEnabled(chosen)

    # ------------------------------------------------------------------ files
    def ask_unsaved(self) -> QMessageBox.StandardButton:
        """Save, Discard or Cancel for the current unsaved changes."""
        return QMessageBox.question(
            self, APP_NAME, f"{self.document.display_name} has unsaved changes. Save them?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)

    def ask_open_path(self) -> Optional[str]:
        path, _ = QFileDialog.getOpenFileName(self, "Open graph", self._folder(), FILE_FILTER)
        return path or None

    def ask_save_path(self) -> Optional[str]:
        suggested = str(Path(self._folder()) / (self.document.display_name if self.document.path else "graph.yaml"))
        path, _ = QFileDialog.getSaveFileName(self, "Save graph as", suggested, FILE_FILTER)
        if path and not Path(path).suffix:
            path += ".yaml"
        return path or None

    def ask_recover(self, recovery: Recovery) -> bool:
        answer = QMessageBox.question(
            self, APP_NAME, f"Model Builder did not close properly. Recover the unsaved work on\n"
            f"{recovery.describe()}?", QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
        return answer == QMessageBox.Yes

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.critical(self, title, text)

    def open_url(self, url) -> bool:
        """Open a page in the system's viewer (a seam for tests, like show_error)."""
        return QDesktopServices.openUrl(url)

    def _folder(self) -> str:
        if self.document is not None and self.document.path:
            return str(Path(self.document.path).parent)
        recent = self.recent_files()
        return str(Path(recent[0]).parent) if recent else str(Path.cwd())

    def maybe_save(self) -> bool:
        """True when the current work may be dropped: unmodified, saved, or discarded."""
        if self.document is None or not self.document.is_modified:
            return True
        answer = self.ask_unsaved()
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def new_file(self) -> None:
        if self.maybe_save():
            self._forget_recovery()
            self.set_document(GraphDocument())

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path = self.ask_open_path()
        if path:
            self.open_file(path, ask=False)

    def open_file(self, path: str | Path, ask: bool = True) -> bool:
        """Open a graph file (asking about unsaved work first unless ``ask`` is False);
        a file that cannot be read is reported and the current document stays."""
        if ask and not self.maybe_save():
            return False
        try:
            document = GraphDocument.open(path)
        except GraphError as error:
            self.show_error("Cannot open graph", graph_problem_text(error))
            if not Path(path).exists():
                self.remove_recent(str(Path(path).resolve()))
            return False
        self._forget_recovery()
        self.set_document(document)
        self.add_recent(str(Path(path).resolve()))
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self) -> bool:
        path = self.ask_save_path()
        return self._write(path) if path else False

    def _write(self, path: str) -> bool:
        try:
            target = self.document.save(path)
        except (OSError, ValueError) as error:
            self.show_error("Cannot save graph", f"{path}: {error}")
            return False
        self._forget_recovery()
        self.add_recent(str(Path(target).resolve()))
        self.statusBar().showMessage(f"Saved {target}", 5000)
        return True

    # ------------------------------------------------------------------ recent files
    def recent_files(self) -> list[str]:
        value = self.settings.value("recentFiles", [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-item list
            value = [value]
        return [v for v in (value or []) if isinstance(v, str)]

    def add_recent(self, path: str) -> None:
        files = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recentFiles", files[:MAX_RECENT])
        self._update_recent_menu()

    def remove_recent(self, path: str) -> None:
        self.settings.setValue("recentFiles", [p for p in self.recent_files() if p != path])
        self._update_recent_menu()

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for number, path in enumerate(files, 1):
            action = self.recent_menu.addAction(f"&{number % 10} {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_file(p))
        self.recent_menu.setEnabled(bool(files))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Menu", self._clear_recent)

    def _clear_recent(self) -> None:
        self.settings.setValue("recentFiles", [])
        self._update_recent_menu()

    # ------------------------------------------------------------------ autosave
    def autosave(self) -> None:
        """Write a recovery copy while there are unsaved changes (the timer calls this)."""
        if self.document is not None and self.document.is_modified and self.document.graph.nodes:
            try:
                self.recovery.write(self.document.graph)
            except OSError as error:
                self.statusBar().showMessage(f"Autosave failed: {error}", 10000)

    def _forget_recovery(self) -> None:
        self.recovery.remove()

    def offer_recovery(self) -> bool:
        """After a crash: offer the newest copy left behind; older ones are discarded once
        answered. Returns True when a copy was opened."""
        for recovery in self.recovery.left_behind():
            if not self.ask_recover(recovery):
                recovery.discard()
                continue
            try:
                graph = recovery.load()
            except (GraphError, OSError) as error:
                text = graph_problem_text(error) if isinstance(error, GraphError) else str(error)
                self.show_error("Cannot recover", text)
                recovery.discard()
                continue
            document = GraphDocument(graph)
            self.set_document(document)
            document.mark_recovered()
            self.recovery.write(graph)  # it is this process's unsaved work now
            recovery.discard()
            for other in self.recovery.left_behind():
                other.discard()
            return True
        return False

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._docks_sized:  # (sizes given before the first show are not kept)
            self._docks_sized = True
            self.resizeDocks([self._palette_dock, self._inspector_dock], [230, 340], Qt.Horizontal)
            self.resizeDocks([self._problems_dock], [120], Qt.Vertical)
            self.resizeDocks([self._palette_dock, self._overview_dock], [600, 200], Qt.Vertical)
        self._training_holder.warm_up()

    @property
    def training(self):
        """The training panel (built now if the window has not built it yet)."""
        return self._training_holder.panel()

    def _connect_training(self, panel) -> None:
        panel.save_document = self.save
        panel.showProblems.connect(self._problems_dock.raise_)
        panel.nodeMarks.connect(lambda marks: self.scene.set_marks(marks))
        panel.runner.started.connect(lambda _run: self.show_training())
        panel.runs.inspectRequested.connect(self.inspect_run)
        if self.document is not None:
            panel.set_document(self.document)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._training_holder.built and self.training.runner.is_running():
            self.training.runner.stop()  # it checkpoints; the run can be resumed later
            self.training.runner.wait_for_finished(20_000)
        if self.maybe_save():
            self._forget_recovery()
            for window in self.inside_windows:
                window.close()
            event.accept()
        else:
            event.ignore()

    # ------------------------------------------------------------------ training and export
    def show_training(self) -> None:
        self._training_dock.show()
        self._training_dock.raise_()
        wanted = int(self.height() * 0.55)  # the plots need the room more than the canvas does now
        if self._training_dock.height() < wanted - 40:
            self.resizeDocks([self._training_dock], [wanted], Qt.Vertical)

    # ------------------------------------------------------------------ inspecting a run
    @property
    def inspect(self):
        """The Inspect panel (built now if it has not been yet)."""
        return self._inspect_holder.panel()

    def _connect_inspect(self, panel) -> None:
        panel.nodeChosen.connect(lambda node: node in self.scene.node_items and self.scene.select_nodes([node]))
        if self.scene is not None:
            panel.set_canvas_selection(self.scene.selected_ids())

    def _inspect_selection(self, ids: list) -> None:
        """A node clicked on the canvas is the node the Inspect panel shows (once it exists)."""
        if self._inspect_holder.built:
            self.inspect.set_canvas_selection(ids)

    def inspect_run(self, run=None) -> bool:
        """Open ``run`` (default: the run selected in the training panel, else this graph's
        newest, else one chosen in a folder dialog) in the Inspect panel, and show it."""
        runs = self.training.runs
        panel = self.inspect
        panel.start_folder = runs.root()
        if run is None:
            chosen = runs.selected_runs() or runs.all_runs()[:1]
            run = chosen[0] if chosen else panel.ask_run_folder()
            if not run:
                return False
        self.show_inspect()
        panel.open_run(run)
        return True

    def show_inspect(self) -> None:
        self._inspect_dock.show()
        self._inspect_dock.raise_()
        wanted = int(self.height() * 0.6)  # the strip and a figure under it need the room
        if self._inspect_dock.height() < wanted - 40:
            self.resizeDocks([self._inspect_dock], [wanted], Qt.Vertical)

    def ask_export_path(self, format: str, suggested: str) -> Optional[str]:
        what = EXPORT_FORMATS[format][1]
        path, _ = QFileDialog.getSaveFileName(self, f"Export as {what}", suggested)
        return path or None

    def show_info(self, title: str, text: str) -> None:
        QMessageBox.information(self, title, text)

    def export_model(self, format: str) -> bool:
        """Export the run selected in the training panel (else the newest run of this
        graph) as ``format``; the result is reported when the export ends."""
        if self.exporter.is_running():
            self.statusBar().showMessage("An export is already running", 5000)
            return False
        runs = self.training.runs.selected_runs() or self.training.runs.all_runs()[:1]
        if not runs:
            self.show_error("Nothing to export", "This graph has no trained run yet: train it first "
                            "(Training panel, Train), then export the run.")
            return False
        run = Path(runs[0])
        name = self.document.graph.name or "model"
        suggested = str(run.parent.parent / f"{name}{EXPORT_SUFFIXES[format]}")
        out = self.ask_export_path(format, suggested)
        if not out:
            return False
        self.statusBar().showMessage(f"Exporting {run.name} as {format}…")
        self.exporter.start(str(run), format, out)
        return True

    def _export_done(self, ok: bool, text: str) -> None:
        self.statusBar().clearMessage()
        if ok:
            self.show_info("Export finished", text)
        else:
            self.show_error("Export failed", text)

    # ------------------------------------------------------------------ editing
    def selected(self) -> list[str]:
        return self.scene.selected_ids()

    def select_all(self) -> None:
        self.scene.select_nodes(list(self.document.graph.nodes))

    def select_and_show(self, node_id: str) -> None:
        """Select one node and bring it into view (a click in the problems list)."""
        if node_id in self.scene.node_items:
            self.scene.select_nodes([node_id])
            self.view.center_on_node(node_id)

    def copy(self) -> None:
        ids = self.selected()
        if ids:
            QGuiApplication.clipboard().setText(copy_nodes(self.document, ids))
            self._paste_count = 0

    def cut(self) -> None:
        ids = self.selected()
        if ids:
            self.copy()
            with self.document.macro(f"Cut {ids[0]}" if len(ids) == 1 else f"Cut {len(ids)} nodes"):
                self.document.remove_nodes(ids)

    def paste(self) -> None:
        text = QGuiApplication.clipboard().text()
        if not text or not has_nodes(text):
            self.statusBar().showMessage("Nothing to paste: the clipboard holds no graph nodes", 5000)
            return
        self._paste_count += 1
        corner = self.view.mapToScene(self.view.viewport().rect().center())
        step = PASTE_OFFSET * self._paste_count
        try:
            ids = paste_nodes(self.document, text, (round(corner.x()) + step, round(corner.y()) + step))
        except GraphError as error:
            self.show_error("Cannot paste", graph_problem_text(error))
            return
        self.scene.select_nodes(ids)

    def duplicate(self) -> None:
        ids = duplicate(self.document, self.selected())
        if ids:
            self.scene.select_nodes(ids)

    def delete_selection(self) -> None:
        """Delete the selected nodes and wires as one undo step."""
        ids = self.selected()
        wires = [w for w in self.scene.selected_wires() if w.source not in ids and w.target not in ids]
        if not ids and not wires:
            return
        with self.document.macro("Delete selection"):
            for wire in wires:
                self.document.disconnect(wire.target, wire.target_port, wire.key[2], once=True)
            self.document.remove_nodes(ids)

    def arrange(self, direction: Optional[str] = None) -> None:
        """Lay the graph out for the window (one undo step), in ``direction`` if given."""
        self.view.arrange(direction)

    # ------------------------------------------------------------------ composite blocks
    def open_inside(self, node_id: str) -> Optional[QMainWindow]:
        """Show the inside of a composite node (a graph file or a built-in composite such
        as residual) read-only, as this node uses it (gui/inside_view.py)."""
        return open_node_inside(self, node_id)
