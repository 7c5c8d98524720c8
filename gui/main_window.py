"""The editor's main window: canvas in the middle, palette left, inspector right, problems
below; menus with the platform's standard shortcuts; files, recent files, autosave.

The window is put together from parts with one job each: its actions and menus
(:mod:`gui.window_menus`), its files, recent files and crash recovery
(:mod:`gui.window_files`), and its training, inspect and export docks
(:mod:`gui.window_runs`). This module holds the window itself: the docks, the document
shown, the status bar, the edits of the selection and the composite blocks' insides.

Questions to the user (unsaved changes, file names, recovery) go through the ``ask_*``
methods, so tests can answer them without a modal dialog.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QUndoGroup
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow

from builder import GraphError
from gui.canvas import GraphScene, GraphView
from gui.canvas.minimap import Minimap
from gui.clipboard import copy_nodes, duplicate, has_nodes, paste_nodes
from gui.document import GraphDocument
from gui.export_runner import ExportRunner
from gui.fold_dialog import GraphFolder
from gui.help_menu import install_help_menu
from gui.inside_view import open_block_inside, open_node_inside
from gui.inspect.holder import InspectHolder
from gui.inspector import Inspector
from gui.labels import human_count, short_shape
from gui.palette import BlockPalette
from gui.part_window import open_part_window
from gui.problems import ProblemsPanel
from gui.recovery import AUTOSAVE_SECONDS, RecoveryStore
from gui.training.deferred import TrainingHolder
from gui.window_files import APP_NAME, FileCommands, default_recovery_folder, graph_problem_text
from gui.window_menus import make_actions, make_edit_menu, make_menus
from gui.window_runs import RunCommands
from gui.wording import count_text

PASTE_OFFSET = 30  # successive pastes step down and right so they do not hide each other


class MainWindow(FileCommands, RunCommands, QMainWindow):
    """One editor window, one document at a time. ``fileSaved(path)`` after every save.

    ``recovery``: where autosave copies go (default: a store in ``recovery_folder``, else
    the platform's folder); a window opened on a part file gets a slot of its own."""

    fileSaved = Signal(str)

    def __init__(self, settings: Optional[QSettings] = None, recovery_folder: Optional[Path] = None,
                 autosave_seconds: float = AUTOSAVE_SECONDS, recovery: Optional[RecoveryStore] = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings or QSettings("ModelBuilder", "modelbuilder")
        self.recovery = recovery or RecoveryStore(recovery_folder or default_recovery_folder())
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
        self.actions = make_actions(self)
        make_menus(self)
        make_edit_menu(self)
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

    # ------------------------------------------------------------------ the window
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._docks_sized:  # (sizes given before the first show are not kept)
            self._docks_sized = True
            self.resizeDocks([self._palette_dock, self._inspector_dock], [230, 340], Qt.Horizontal)
            self.resizeDocks([self._problems_dock], [120], Qt.Vertical)
            self.resizeDocks([self._palette_dock, self._overview_dock], [600, 200], Qt.Vertical)
        self._training_holder.warm_up()

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

    def open_part_editor(self, path: Path) -> Optional[QMainWindow]:
        """Open the graph file ``path`` (a composite this window's graph uses) in an editor
        window of its own, beside this one (Edit This File in an inside view)."""
        return open_part_window(self, Path(path), lambda recovery: MainWindow(
            settings=self.settings, recovery_folder=recovery.folder, recovery=recovery))
