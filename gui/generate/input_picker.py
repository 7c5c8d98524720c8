"""What the Generate panel generates from: text typed (a seq2seq source, a language
model's prompt), a validation sample picked from a list (an image for a captioner, shown
as a thumbnail, with the data's own answer), or a file (an image or ``.npy``).

Picking a sample fills the text box with its source or prompt; typing replaces the pick.
:meth:`InputPicker.input` is what builder's generator takes: the text, ``val:INDEX`` or
the file's path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.form_widgets import LineEdit, info_label
from gui.generate.jobs import IMAGE, OTHER, PROMPT, TOKENS, Choice, OpenRun
from gui.inspect.samples_strip import THUMBNAIL, picture_pixmap
from gui.style import HINT_COLOR

INDEX = Qt.ItemDataRole.UserRole
FILE_FILTER = "Images and arrays (*.png *.jpg *.jpeg *.bmp *.npy);;All files (*)"


class InputPicker(QWidget):
    """Text, a validation sample or a file; ``inputChanged`` after each change and
    ``submitted`` on Enter in the text box or a double-click on a sample."""

    inputChanged = Signal()
    submitted = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("generateInput")
        self.run: Optional[OpenRun] = None
        self.file: Optional[Path] = None
        self.wants = info_label(name="generateWants", color=HINT_COLOR)
        self.text = LineEdit()
        self.text.setObjectName("generateText")
        self.text.textEdited.connect(self._typed)
        self.text.returnPressed.connect(self.submitted)
        self.file_button = QPushButton("Open File…")
        self.file_button.setObjectName("generateFile")
        self.file_button.setToolTip("Generate from an image or a .npy array, prepared as the training data were")
        self.file_button.clicked.connect(self._choose_file)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 1)
        row.addWidget(self.file_button)
        self.file_label = info_label(name="generateFileName")
        self.file_label.hide()
        self.samples_label = info_label("Or pick a validation sample:", color=HINT_COLOR)
        self.samples = QListWidget()
        self.samples.setObjectName("generateSamples")
        self.samples.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.samples.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.samples.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.samples.setUniformItemSizes(True)
        self.samples.currentItemChanged.connect(lambda item, _old: self._picked(item))
        self.samples.itemDoubleClicked.connect(lambda _item: self.submitted.emit())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.wants)
        layout.addLayout(row)
        layout.addWidget(self.file_label)
        layout.addWidget(self.samples_label)
        layout.addWidget(self.samples, 1)

    # ------------------------------------------------------------------ public
    def set_run(self, run: Optional[OpenRun]) -> None:
        """Offer what ``run`` takes (None: nothing)."""
        self.run, self.file = run, None
        self.file_label.hide()
        self.text.clear()
        self.samples.clear()
        kind = run.kind if run is not None else None
        self.wants.setText(run.wants if run is not None else "")
        self.text.setVisible(kind in (TOKENS, PROMPT))
        self.text.setPlaceholderText("the old man" if kind == PROMPT else "e.g. 3 1 4 1 5")
        self.file_button.setVisible(kind in (IMAGE, OTHER))
        choices = run.choices if run is not None else []
        for choice in choices:
            self.samples.addItem(self._item(choice))
        self.samples_label.setText("Or pick a validation sample:" if choices else (run.note if run else ""))
        self.samples.setVisible(bool(choices))
        if choices:
            self.samples.setCurrentRow(0)

    def input(self) -> Optional[str]:
        """What to generate from: the file, the sample picked (``val:INDEX``), or the text."""
        if self.file is not None:
            return str(self.file)
        item = self.samples.currentItem()
        if item is not None and item.isSelected():
            return f"val:{item.data(INDEX)}"
        text = self.text.text().strip()
        return text or None

    def choice(self) -> Optional[Choice]:
        """The validation sample picked, if one is."""
        spec = self.input()
        if self.run is None or spec is None or not spec.startswith("val:"):
            return None
        return next((c for c in self.run.choices if c.spec == spec), None)

    def pick(self, index: int) -> None:
        """Pick the validation sample at list position ``index`` (as a click does)."""
        self.samples.setCurrentRow(index)

    def ask_file(self) -> Optional[str]:
        """The file to generate from, from a file dialog (tests answer it themselves)."""
        start = str(self.run.path) if self.run is not None else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self, "Generate from a file", start, FILE_FILTER)
        return path or None

    # ------------------------------------------------------------------ internals
    def _item(self, choice: Choice) -> QListWidgetItem:
        answer = f"  →  {choice.reference}" if choice.reference else ""
        label = f"val #{choice.index}" if choice.picture is not None else f"#{choice.index}  {choice.text}"
        item = QListWidgetItem(label + (answer if choice.picture is None else f"\n{choice.reference or ''}"))
        item.setData(INDEX, choice.index)
        item.setToolTip(f"val #{choice.index}: {choice.text}" + (f"\nthe data's answer: {choice.reference}"
                                                                   if choice.reference else ""))
        if choice.picture is not None:
            pixmap = picture_pixmap(choice.picture)
            icon = QIcon(pixmap)
            icon.addPixmap(pixmap, QIcon.Mode.Selected)
            item.setIcon(icon)
        return item

    def _typed(self, _text: str) -> None:
        self.file = None
        self.file_label.hide()
        self.samples.blockSignals(True)
        self.samples.clearSelection()
        self.samples.setCurrentRow(-1)
        self.samples.blockSignals(False)
        self.inputChanged.emit()

    def _picked(self, item: Optional[QListWidgetItem]) -> None:
        if item is None:
            return
        self.file = None
        self.file_label.hide()
        choice = self.choice()
        if choice is not None and self.run.kind in (TOKENS, PROMPT):
            self.text.setText(choice.text)
        self.inputChanged.emit()

    def _choose_file(self) -> None:
        path = self.ask_file()
        if not path:
            return
        self.file = Path(path)
        self.samples.blockSignals(True)
        self.samples.clearSelection()
        self.samples.setCurrentRow(-1)
        self.samples.blockSignals(False)
        self.file_label.setText(f"from the file {self.file.name}")
        self.file_label.show()
        self.inputChanged.emit()
