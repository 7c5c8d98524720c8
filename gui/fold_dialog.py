"""Edit › Fold Repeated Structure…: the editor's face of ``modelbuilder fold``.

The runs of identical copies in the open graph (``builder.find_repeats``) are listed in a
dialog, one check box each; the checked runs are folded, each into one repeated node
(``repeat: N`` of a part file, drawn "× N") or, with that box unchecked, into one
composite node per copy, and the folded
graph is proven to compute the same function (``builder.check_fold``: both graphs
compiled, weights carried over, outputs compared) on a background thread, since that
compiles two models and the window must keep painting. Only a proven fold is written:
the part files, then the folded graph as a new file beside the original
(``<name>_folded.yaml``; the user's file is never replaced), which then opens like any
file. Questions go through seams (``ask_save_first`` here, ``show_error`` and
``show_info`` on the window) so that tests answer them without a modal box.
"""

from __future__ import annotations

import copy
import os
from html import escape
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

import builder
from builder import LAYOUT_DIRECTION_KEY, GraphError
from gui.inspect.worker import InspectWorker

if TYPE_CHECKING:
    from builder import Repeat  # the finding and folding names are looked up when used: they import numpy

LANE = "fold"  # a worker thread of its own: a fold never waits behind an Inspect panel's t-SNE
SHOWN_BLOCKS = 3  # blocks and copy starts named in a row of the list; the tooltip has them all
SHOWN_STARTS = 2
ROWS_SHOWN = 8  # runs listed without scrolling (ResNet-50 has four, DenseNet-121 four)
WIDTH = (640, 1000)  # the dialog's width: wide enough for its longest row, within these


def plural(count: int, word: str) -> str:
    """"1 node", "7 nodes"; "copy" becomes "copies"."""
    if count == 1:
        return f"1 {word}"
    return f"{count} {word[:-1]}ies" if word.endswith("y") else f"{count} {word}s"


def block_names(repeat: Repeat) -> list[str]:
    """What a copy's nodes are: block names, a composite by its file's name."""
    return [Path(kind.partition(" ")[2]).name if kind.startswith("graph ") else kind for kind in repeat.blocks]


def repeat_text(repeat: Repeat) -> str:
    """One row: "6 copies × 7 nodes: conv2d, batch_norm2d, relu ... starting at a, b, ..."."""
    blocks = block_names(repeat)
    shown = ", ".join(blocks[:SHOWN_BLOCKS]) + (" ..." if len(blocks) > SHOWN_BLOCKS else "")
    starts = [nodes[0] for nodes in repeat.copies]
    where = ", ".join(starts[:SHOWN_STARTS]) + (", ..." if len(starts) > SHOWN_STARTS else "")
    return f"{plural(repeat.count, 'copy')} × {plural(repeat.size, 'node')}: {shown} starting at {where}"


def nodes_after(node_count: int, repeats: list[Repeat], repeat_nodes: bool) -> int:
    """How many nodes the folded graph has: a run becomes one node, or one per copy."""
    return node_count - sum(r.count * r.size - 1 if repeat_nodes else r.count * (r.size - 1) for r in repeats)


def folded_path(original: str | os.PathLike) -> Path:
    """``<name>_folded.yaml`` beside ``original``, or ``_folded_2`` ... when that exists."""
    source = Path(original)
    number = 1
    while True:
        candidate = source.with_name(f"{source.stem}_folded{'' if number == 1 else f'_{number}'}.yaml")
        if not candidate.exists():
            return candidate
        number += 1


def shown_path(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` when it is inside it (``parts/``), else in full."""
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix() + "/"
    except ValueError:
        return str(path)


class FoldDialog(QDialog):
    """The repeats found, a check box each (all checked), the folder for the part files,
    and what OK will do."""

    def __init__(self, parent, source: Path, node_count: int, repeats: list[Repeat], out: Path):
        super().__init__(parent)
        self.setObjectName("foldDialog")
        self.setWindowTitle("Fold Repeated Structure")
        self.source, self.node_count, self.repeats, self.out = source, node_count, repeats, out
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        header = QLabel(f"<b>{escape(source.name)}</b>: {plural(len(repeats), 'run')} of identical copies "
                        f"(same blocks, parameters and wiring), each copy taking one tensor in and handing one "
                        f"on. Folding all takes {node_count} nodes to {nodes_after(node_count, repeats, True)}: "
                        f"each run becomes one repeated node (× N), and each kind of copy one part file.")
        header.setWordWrap(True)
        layout.addWidget(header)

        self.repeat_list = QListWidget()
        self.repeat_list.setObjectName("foldRepeats")
        for repeat in repeats:
            item = QListWidgetItem(repeat_text(repeat))
            item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsUserCheckable | Qt.ItemIsSelectable)
            item.setCheckState(Qt.Checked)
            item.setToolTip(f"{repeat.describe()}\nblocks: {' '.join(block_names(repeat))}\n"
                            f"copies start at: {', '.join(nodes[0] for nodes in repeat.copies)}")
            self.repeat_list.addItem(item)
        self.repeat_list.setSelectionMode(QListWidget.NoSelection)  # a highlighted row reads as "chosen"
        widest = self.repeat_list.sizeHintForColumn(0) + 2 * self.repeat_list.frameWidth()
        width = min(max(widest + 60, WIDTH[0]), WIDTH[1])
        # as tall as its rows, no taller: an empty white area under four rows looks like rows missing
        height = self.repeat_list.sizeHintForRow(0) * min(len(repeats), ROWS_SHOWN) + \
            2 * self.repeat_list.frameWidth() + 2
        if widest + 60 > WIDTH[1]:
            height += self.repeat_list.horizontalScrollBar().sizeHint().height()
        self.repeat_list.setFixedHeight(height)
        self.repeat_list.itemChanged.connect(self._update)
        layout.addWidget(self.repeat_list)

        row = QHBoxLayout()
        row.addWidget(QLabel("Part files in:"))
        self.parts_edit = QLineEdit(str(source.parent / "parts"))
        self.parts_edit.setObjectName("foldParts")
        self.parts_edit.setToolTip("The folder for the part files (one per kind of copy); a relative folder "
                                   "starts from the graph's folder. It must be inside the project.")
        self.parts_edit.textChanged.connect(self._update)
        row.addWidget(self.parts_edit, 1)
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._choose_folder)
        row.addWidget(choose)
        layout.addLayout(row)

        self.repeat_box = QCheckBox("One repeated node (× N) per run; unchecked: one composite node per copy")
        self.repeat_box.setObjectName("foldRepeatNodes")
        self.repeat_box.setChecked(True)
        self.repeat_box.setToolTip("A repeated node applies the part file N times in a chain (repeat: N); "
                                   "double-click it to see the repetitions")
        self.repeat_box.toggled.connect(self._update)
        layout.addWidget(self.repeat_box)

        self.note = QLabel()
        self.note.setObjectName("foldNote")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Fold")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.resize(width, self.sizeHint().height())
        self._update()
        self.ok_button.setFocus()  # Enter folds; the list shows no focus highlight on its first row

    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.Ok)

    def chosen(self) -> list[Repeat]:
        """The checked repeats, in file order."""
        return [r for i, r in enumerate(self.repeats) if self.repeat_list.item(i).checkState() == Qt.Checked]

    def parts_folder(self) -> Optional[Path]:
        """The folder typed (relative to the graph's folder), or None when it is empty."""
        text = self.parts_edit.text().strip()
        return self.source.parent / Path(text).expanduser() if text else None

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the part files",
                                                  str(self.parts_folder() or self.source.parent))
        if folder:
            self.parts_edit.setText(folder)

    def _update(self, *_args) -> None:
        chosen, folder = self.chosen(), self.parts_folder()
        self.ok_button.setEnabled(bool(chosen) and folder is not None)
        if not chosen:
            self.note.setText("Check at least one run to fold.")
            return
        if folder is None:
            self.note.setText("Name a folder for the part files.")
            return
        after = nodes_after(self.node_count, chosen, self.repeat_box.isChecked())
        self.note.setText(
            f"<b>Fold {plural(sum(r.count for r in chosen), 'copy')}: {self.node_count} → {after} nodes.</b><br>"
            f"Nothing is written until both graphs are compiled and give the same outputs for the same weights and "
            f"random input. Then the part files go to {escape(shown_path(folder, self.source.parent))} and the "
            f"folded graph to the new file {escape(self.out.name)}, which opens here; "
            f"{escape(self.source.name)} stays as it is.")


@dataclass
class Proof:
    """What the worker thread found: the fold and how far its outputs are from the flat
    graph's, or why it could not be made (``problem``)."""

    result: Any = None  # builder.FoldResult
    difference: float = float("inf")
    problem: Optional[str] = None


def fold_and_prove(flat, repeats: list[Repeat], parts: Path, out: Path, repeat_nodes: bool = True) -> Proof:
    """Fold ``repeats`` of ``flat`` and compare the two compiled models (worker thread;
    ``flat`` is the thread's own copy, so edits on the canvas meanwhile cannot race it)."""
    try:
        result = builder.fold_all(flat, repeats, parts, graph_path=out, repeat=repeat_nodes)
        return Proof(result, builder.check_fold(flat, result))
    except GraphError as error:  # e.g. part files outside the project folder
        return Proof(problem="The folded graph does not check:\n" + "\n".join(str(p) for p in error.errors or
                                                                                error.problems))
    except RuntimeError as error:  # the weights do not fit the folded model: a bug, said plainly
        return Proof(problem=f"The flat model's weights do not fit the folded one ({error}).")


@dataclass
class _Job:
    source: Path  # the flat graph's file
    copies: int
    nodes: int  # in the flat graph


class GraphFolder(QObject):
    """The action's logic, owned by the main window: ask, list, fold off the GUI thread,
    write, open. ``finished(ok)`` when a fold ends (written and opened, or not)."""

    finished = Signal(bool)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.dialog: Optional[FoldDialog] = None
        self._job: Optional[_Job] = None
        self.worker = InspectWorker(self)
        self.worker.finished.connect(self._proved)
        self.worker.failed.connect(lambda _key, failure: self._fail(f"{failure.text()}\n\nNothing was written."))

    def is_running(self) -> bool:
        return self._job is not None

    def ask_save_first(self, text: str) -> bool:
        """Whether to save (Save As for a graph without a file) before folding (a seam for tests)."""
        answer = QMessageBox.question(self.window, "Fold Repeated Structure", text,
                                      QMessageBox.Save | QMessageBox.Cancel, QMessageBox.Save)
        return answer == QMessageBox.Save

    def start(self) -> Optional[FoldDialog]:
        """The menu action: the dialog of repeats (shown, not run modally), or a message
        saying why there is none."""
        window, document = self.window, self.window.document
        if self.is_running():
            window.statusBar().showMessage("A fold is already running: its result opens when it is proven", 5000)
            return None
        if document.path is None or document.is_modified:
            why = (f"{document.display_name} has never been saved. The part files are written beside the graph's "
                   f"file and the folded graph opens as a new file beside it, so the graph needs a file first. "
                   f"Save it now?" if document.path is None else
                   f"{document.display_name} has unsaved changes. The fold starts from the graph as saved and "
                   f"opens as a new file beside it. Save the changes first?")
            if not self.ask_save_first(why) or not window.save():
                return None
        analysis = document.analysis
        if not analysis.ok:
            window.show_error("Cannot fold", f"{document.display_name} has {plural(len(analysis.errors), 'error')} "
                              f"(see the Problems panel): fix them first, since a fold is proven by compiling the "
                              f"graph.")
            return None
        try:
            repeats = builder.find_repeats(document.graph, analysis=analysis)
        except GraphError as error:
            window.show_error("Cannot fold", "\n".join(str(p) for p in error.problems))
            return None
        if not repeats:
            window.show_info("Nothing to fold", f"No repeated structure found in {document.display_name}. Looked "
                             f"for runs of at least 2 identical consecutive copies (same blocks, parameters and "
                             f"wiring) of at least 2 nodes each, each copy taking one tensor in and handing one on.")
            return None
        source = Path(document.path)
        self.dialog = FoldDialog(window, source, len(document.graph.nodes), repeats, folded_path(source))
        self.dialog.accepted.connect(self._fold)
        self.dialog.rejected.connect(self._forget_dialog)
        self.dialog.open()  # window-modal, without a nested event loop (tests drive it like a person)
        return self.dialog

    def _forget_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None

    def _fold(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is None:
            return
        repeats, parts, repeat_nodes = dialog.chosen(), dialog.parts_folder(), dialog.repeat_box.isChecked()
        dialog.deleteLater()
        flat = copy.deepcopy(self.window.document.graph)  # the thread's own: the canvas may change meanwhile
        copies = sum(r.count for r in repeats)
        self._job = _Job(dialog.source, copies, len(flat.nodes))
        self.window.statusBar().showMessage(
            f"Folding {plural(copies, 'copy')}: compiling both graphs to prove they compute the same…")
        self.worker.submit("fold", lambda: fold_and_prove(flat, repeats, parts, dialog.out, repeat_nodes), lane=LANE)

    def _fail(self, text: str) -> None:
        self._job = None
        self.window.statusBar().clearMessage()
        self.window.show_error("Fold not written", text)
        self.finished.emit(False)

    def _proved(self, _key: str, proof: Proof) -> None:
        job = self._job
        if job is None:
            return
        if proof.problem is not None:
            self._fail(f"{proof.problem}\n\nNothing was written.")
            return
        from builder import FOLD_TOLERANCE  # (here: importing the folding code at start-up costs 0.2 s)

        if not proof.difference <= FOLD_TOLERANCE:  # (also NaN)
            self._fail(f"The folded graph does not compute the same function as {job.source.name}: with the same "
                       f"weights and random input their outputs differ by up to {proof.difference:.3g} (more than "
                       f"{FOLD_TOLERANCE:g}).\n\nNothing was written.")
            return
        result = proof.result
        if Path(result.graph.path).exists():  # made while the proof ran: take the next free name (same folder)
            result.graph.path = str(folded_path(job.source))
        out = Path(result.graph.path)
        # the flat file's positions would leave a gap where each copy's other nodes were:
        # the smaller graph is laid out afresh for the window (keeping the direction)
        layout = {k: v for k, v in (result.graph.layout or {}).items() if k == LAYOUT_DIRECTION_KEY}
        result.graph.layout = layout or None
        if not self._write(result, out):
            return
        self._job = None
        self.window.statusBar().clearMessage()
        if not self.window.open_file(out):
            self.window.statusBar().showMessage(f"Wrote {out.name} (not opened)", 15000)
            self.finished.emit(True)
            return
        document = self.window.document
        if not document.analysis.ok:  # read back from the files alone, as `modelbuilder fold` does
            self.window.show_error("Folded graph has problems", f"{out.name} was written but does not check when "
                                   "read back; the Problems panel lists why.")
        composites = [c for c in result.composites if c in document.graph.nodes]
        self.window.scene.select_nodes(composites)  # so the user sees what the fold made
        if composites:
            self.window.view.center_on_node(composites[0])
        self.window.statusBar().showMessage(
            f"Folded {plural(job.copies, 'copy')} into "
            f"{plural(len(result.parts), 'part file')}: {job.nodes} → {len(result.graph.nodes)} nodes; "
            f"outputs equal (max difference {proof.difference:.3g})", 30000)
        self.finished.emit(True)

    def _write(self, result, out: Path) -> bool:
        """Write the parts, then the graph; on an error remove what this write made, so
        that a failed fold leaves nothing behind."""
        targets = [Path(p) for p in result.parts] + [out]
        existed = {p for p in targets if p.exists()}
        folders = {p.parent for p in targets if not p.parent.exists()}
        try:
            result.write()
        except OSError as error:
            for path in targets:
                if path not in existed:
                    path.unlink(missing_ok=True)
            for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
                try:
                    folder.rmdir()
                except OSError:
                    pass  # not empty or not ours: left alone
            self._fail(f"Cannot write {error.filename or out}: {error.strerror or error}.\n\nNothing was written.")
            return False
        return True
