"""File › Import Model…: an existing PyTorch model (a Python file and the function or class
in it that builds the ``nn.Module``) or an ONNX file, as an editable graph (docs/import.md).

The dialog asks for the source and where to save, then calls builder's ``import_model`` on
a thread of its own, so the window keeps painting while the model is traced, mapped and
verified. It shows the outcome in place: the largest output difference between the graph
and the model, or every operation that could not be mapped (with its module path), and
nothing is written then. After a successful import ``imported`` carries the graph file,
which the window opens.

A Python file is run to build the model: the dialog says so, and nothing runs before the
user presses Import. The functions and classes it offers are read from the file's syntax
tree, without running it.
"""

from __future__ import annotations

import ast
import html
from pathlib import Path
from typing import Any, Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from gui.form_widgets import LineEdit, compact_form, info_label
from gui.inspect.worker import Failure, InspectWorker
from gui.style import ERROR_COLOR, HINT_COLOR

LANE = "import"  # a worker thread of its own: an import may take many seconds
PYTHON, ONNX = "python", "onnx"
PYTHON_FILTER = "Python files (*.py);;All files (*)"
ONNX_FILTER = "ONNX files (*.onnx);;All files (*)"
RUNS_CODE = ("The file is run to build the model (it is your code; nothing runs before you press Import).")


def callables_in(path: str | Path) -> list[str]:
    """The top-level functions and classes of a Python file, read without running it; a
    function called ``build`` first. [] for a file that cannot be read or parsed."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return []
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
             and not n.name.startswith("_")]
    return sorted(names, key=lambda n: (n != "build", names.index(n)))


def parse_shapes(text: str) -> list[tuple[int, ...]]:
    """``3,32,32; 10`` -> one shape per forward argument; ValueError with what to write."""
    shapes = []
    for part in (p for p in text.replace("x", ",").split(";") if p.strip()):
        try:
            shape = tuple(int(size) for size in part.split(",") if size.strip())
        except ValueError:
            raise ValueError(f"{part.strip()!r}: expected sizes separated by commas, e.g. 3,32,32") from None
        if not shape or any(size < 1 for size in shape):
            raise ValueError(f"{part.strip()!r}: expected positive sizes, e.g. 3,32,32 (per sample, no batch axis)")
        shapes.append(shape)
    return shapes


def run_import(source: str, out: Path, shapes: list, fold: bool) -> Any:
    """The job the worker runs: the ImportResult, or a Failure to show (never a traceback
    for what the user can act on). Torch is imported here, on the worker thread, so the
    dialog opens at once."""
    from builder import GraphError, ImportFailure, import_model

    try:
        return import_model(source, out, input_shapes=shapes or None, fold=fold)
    except ImportFailure as err:
        message = err.args[0] if err.args else str(err)
        return Failure(message, err.hint)
    except GraphError as err:
        return Failure(str(err))
    except OSError as err:
        return Failure(f"cannot write {err.filename or out}: {err.strerror or err}")


def result_html(result: Any) -> str:
    """What an import did: nodes, the verification, notes and the files written."""
    nodes = len(result.graph.nodes)
    shape = f"{result.flat_nodes} nodes" + (f", folded to {nodes} ({result.folded} copies)" if result.folded else "")
    lines = [f"<b>Imported: {shape}.</b>",
             f"Same function: max |difference| <b>{result.difference:.3g}</b> on a random input "
             f"(tolerance {result.tolerance:.3g}).",
             *(f"<span style='color:{HINT_COLOR}'>note: {html.escape(n)}</span>" for n in result.notes),
             *(f"wrote {html.escape(str(p))}" for p in result.written)]
    return "<br>".join(lines)


def failure_html(failure: Failure) -> str:
    """The reason an import stopped; each operation without a block on a line of its own."""
    first, *items = failure.message.split("\n")
    text = f"<b style='color:{ERROR_COLOR}'>{html.escape(first)}</b>"
    if items:
        text += "<ul style='margin-top:2px'>" + "".join(
            f"<li>{html.escape(i.strip().removeprefix('- '))}</li>" for i in items if i.strip()) + "</ul>"
    if failure.hint:
        text += f"<div style='color:{HINT_COLOR}'>hint: {html.escape(failure.hint)}</div>"
    said = "nothing was written" in failure.message.lower()
    return text + ("" if said else "<div>Nothing was written.</div>")


class ImportDialog(QDialog):
    """Source, callable, input shapes, fold, where to save; Import runs it off the window's
    thread. ``imported(graph_path)`` after a successful import."""

    imported = Signal(str)

    def __init__(self, parent: Optional[QWidget] = None, start_folder: Optional[Path] = None):
        super().__init__(parent)
        self.setObjectName("importDialog")
        self.setWindowTitle("Import Model")
        self.start_folder = start_folder or Path.cwd()
        self.result: Any = None
        self.worker = InspectWorker(self)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(lambda _key, failure: self._show_failure(failure))
        self.worker.busyChanged.connect(self._busy)

        self.python = QRadioButton("Python file")
        self.onnx = QRadioButton("ONNX file")
        self.python.setChecked(True)
        kinds = QButtonGroup(self)
        kinds.addButton(self.python)
        kinds.addButton(self.onnx)
        self.python.toggled.connect(self._kind_changed)
        kind_row = QHBoxLayout()
        kind_row.addWidget(self.python)
        kind_row.addWidget(self.onnx)
        kind_row.addStretch(1)

        self.source = LineEdit()
        self.source.setObjectName("importSource")
        self.source.textChanged.connect(self._source_changed)
        self.callable = QComboBox()
        self.callable.setObjectName("importCallable")
        self.callable.setEditable(True)
        self.callable.setToolTip("The function or class in the file that returns the nn.Module "
                                 "(called without arguments)")
        self.shapes = LineEdit()
        self.shapes.setObjectName("importShapes")
        self.shapes.setPlaceholderText("e.g. 1,28,28  (several inputs: 3,32,32; 10)")
        self.shapes.setToolTip("The size of each forward argument, per sample (no batch axis). Needed for a "
                               "Python file; an ONNX file has its own (leave empty)")
        self.fold = QCheckBox("Fold repeated structure into composite parts")
        self.fold.setToolTip("Runs of identical layers become part files used by one node each "
                             "(the folded graph is proven to compute the same)")
        self.out = LineEdit()
        self.out.setObjectName("importOut")
        self.out.setToolTip("The graph file to write; the weights go beside it as a .safetensors file")

        form = compact_form(6)
        form.addRow("Source", kind_row)
        form.addRow("File", self._with_button(self.source, "Browse…", self._browse_source))
        form.addRow("Builds the model", self.callable)
        form.addRow("Input shape", self.shapes)
        form.addRow("", self.fold)
        form.addRow("Save graph as", self._with_button(self.out, "Browse…", self._browse_out))
        self._form = form
        self.note = info_label(RUNS_CODE, name="importNote", color=HINT_COLOR)
        self.outcome = info_label(name="importOutcome")
        self.outcome.setTextFormat(Qt.TextFormat.RichText)
        self.outcome.setMinimumWidth(460)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(10)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.ActionRole)
        self.import_button.setObjectName("importButton")
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.busy)
        layout.addWidget(self.outcome, 1)
        layout.addWidget(self.buttons)
        self.resize(620, 360)
        self._kind_changed()

    # ------------------------------------------------------------------ questions (tests answer them)
    def ask_source_path(self) -> Optional[str]:
        title, filter = ("Import a Python file", PYTHON_FILTER) if self.kind == PYTHON else \
            ("Import an ONNX file", ONNX_FILTER)
        path, _ = QFileDialog.getOpenFileName(self, title, str(self.start_folder), filter)
        return path or None

    def ask_out_path(self) -> Optional[str]:
        suggested = self.out.text() or str(self.start_folder / "imported.yaml")
        path, _ = QFileDialog.getSaveFileName(self, "Save the imported graph as", suggested,
                                              "Graph files (*.yaml *.yml)")
        if path and not Path(path).suffix:
            path += ".yaml"
        return path or None

    def ask_replace(self, paths: list[Path]) -> bool:
        names = "\n".join(str(p) for p in paths)
        answer = QMessageBox.question(self, "Import Model", f"Replace these files?\n{names}",
                                      QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    # ------------------------------------------------------------------ public
    @property
    def kind(self) -> str:
        return PYTHON if self.python.isChecked() else ONNX

    def set_source(self, path: str | Path, kind: Optional[str] = None) -> None:
        """Choose the source file (as Browse… does); the kind follows its suffix unless given."""
        kind = kind or (ONNX if str(path).lower().endswith(".onnx") else PYTHON)
        (self.onnx if kind == ONNX else self.python).setChecked(True)
        self.source.setText(str(path))

    def source_text(self) -> str:
        """The source as ``import_model`` takes it: ``file.py:callable`` or ``model.onnx``."""
        path = self.source.text().strip()
        if self.kind == PYTHON:
            return f"{path}:{self.callable.currentText().strip()}"
        return path

    def problem(self) -> Optional[str]:
        """Why Import cannot start yet (None: it can)."""
        path = self.source.text().strip()
        if not path:
            return "Choose the file to import."
        if not Path(path).is_file():
            return f"{path}: no such file."
        if self.kind == PYTHON and not self.callable.currentText().strip():
            return "Name the function or class in the file that builds the model."
        try:
            shapes = parse_shapes(self.shapes.text())
        except ValueError as err:
            return f"Input shape {err}"
        if self.kind == PYTHON and not shapes:
            return "Give the input shape, per sample (e.g. 1,28,28): the model is traced on an input of that size."
        out = self.out.text().strip()
        if not out:
            return "Choose where to save the graph."
        if Path(out).suffix.lower() not in (".yaml", ".yml"):
            return f"{out}: the graph is written as a .yaml file."
        return None

    def start(self) -> bool:
        """Import (Import button): check the form, ask before replacing files, then run
        the import on the worker thread."""
        if self.worker.is_busy():
            return False
        problem = self.problem()
        if problem:
            self.outcome.setText(f"<span style='color:{ERROR_COLOR}'>{html.escape(problem)}</span>")
            return False
        out = Path(self.out.text().strip())
        existing = [p for p in (out, out.with_suffix(".safetensors")) if p.exists()]
        if existing and not self.ask_replace(existing):
            return False
        source, shapes, fold = self.source_text(), parse_shapes(self.shapes.text()), self.fold.isChecked()
        self.result = None
        self.outcome.setText(f"Importing {html.escape(source)}: tracing, mapping and verifying …")
        self.worker.submit("import", lambda: run_import(source, out, shapes, fold), lane=LANE)
        return True

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _with_button(field: QWidget, text: str, slot: Callable[[], None]) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(field, 1)
        button = QPushButton(text)
        button.clicked.connect(slot)
        row.addWidget(button)
        return row

    def _kind_changed(self, *_args) -> None:
        python = self.kind == PYTHON
        self._form.setRowVisible(2, python)
        self.note.setVisible(python)
        self.shapes.setPlaceholderText("e.g. 1,28,28  (several inputs: 3,32,32; 10)" if python
                                       else "the file's own sizes (or give them: 3,224,224)")

    def _source_changed(self, text: str) -> None:
        path = Path(text.strip())
        if self.kind == PYTHON:
            current = self.callable.currentText()
            names = callables_in(path) if path.suffix == ".py" else []
            self.callable.clear()
            self.callable.addItems(names)
            if current in names:
                self.callable.setCurrentText(current)
        if text.strip() and not self.out.text().strip():
            self.out.setText(str(path.with_suffix(".yaml")))

    def _browse_source(self) -> None:
        path = self.ask_source_path()
        if path:
            self.set_source(path, self.kind)

    def _browse_out(self) -> None:
        path = self.ask_out_path()
        if path:
            self.out.setText(path)

    def _busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.import_button.setEnabled(not busy)

    def _finished(self, _key: str, result: Any) -> None:
        if isinstance(result, Failure):
            self._show_failure(result)
            return
        self.result = result
        self.outcome.setText(result_html(result) + "<br><b>The graph opens in the editor.</b>")
        self.imported.emit(str(result.graph_path))

    def _show_failure(self, failure: Failure) -> None:
        self.outcome.setText(failure_html(failure))
