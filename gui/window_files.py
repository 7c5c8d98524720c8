"""The main window's files: New, Open, Save, Save As, the recent files, autosave and the
offer to recover work after a crash.

Questions to the user (unsaved changes, file names, recovery) and error reports go
through the ``ask_*`` and ``show_*`` methods, so tests can answer them without a modal
dialog. :class:`FileCommands` is a part of :class:`gui.main_window.MainWindow`; it uses
the window's ``document``, ``settings``, ``recovery``, ``recent_menu`` and
``set_document``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QStandardPaths
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox

from builder import GraphError
from gui.document import GraphDocument
from gui.recovery import Recovery

if TYPE_CHECKING:
    from gui.import_dialog import ImportDialog

APP_NAME = "Model Builder"
MAX_RECENT = 10
FILE_FILTER = "Graph files (*.yaml *.yml);;All files (*)"


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


class FileCommands:
    """Opening and saving the window's document, recent files and crash recovery."""

    # ------------------------------------------------------------------ questions
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

    # ------------------------------------------------------------------ files
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
        self.fileSaved.emit(str(self.document.path))
        return True

    # ------------------------------------------------------------------ importing a model
    def import_model(self) -> ImportDialog:
        """File › Import Model…: the dialog (gui/import_dialog.py) imports off the window's
        thread; the graph it writes opens here (asking about unsaved work first)."""
        from gui.import_dialog import ImportDialog  # torch and the importer only when asked for

        dialog = getattr(self, "_import_dialog", None)
        if dialog is None:
            dialog = self._import_dialog = ImportDialog(self, Path(self._folder()))
            dialog.imported.connect(self._open_imported)
        dialog.show()
        dialog.raise_()
        return dialog

    def _open_imported(self, path: str) -> None:
        if self.open_file(path):
            self.statusBar().showMessage(f"Imported {path}; its weights are in the graph's training init", 10000)

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
