"""The main window's runs: the Training and Inspect docks and File › Export Trained Model.

Both panels are built on first use (their holders build them after the first paint or
when asked), so the window opens fast. :class:`RunCommands` is a part of
:class:`gui.main_window.MainWindow`; it uses the window's docks (``_training_dock``,
``_inspect_dock``, ``_problems_dock``), their holders, ``exporter``, ``scene`` and
``document``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from gui.export_runner import FORMATS as EXPORT_FORMATS
from gui.export_runner import SUFFIXES as EXPORT_SUFFIXES
from gui.generate.dock import show_generate


class RunCommands:
    """Training, inspecting and exporting the runs of the window's graph."""

    # ------------------------------------------------------------------ training
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
        panel.runs.generateRequested.connect(lambda run: show_generate(self, run))  # gui/generate/dock.py
        if self.document is not None:
            panel.set_document(self.document)

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

    # ------------------------------------------------------------------ exporting
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
