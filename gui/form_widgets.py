"""The small input widgets and layouts that the inspector's and the training settings'
forms share: the compact form layout and its section headings, a line edit whose Escape
restores, a spin box and a combo box that ignore the wheel unless focused, and the routing
of Ctrl+Z in a field to the window's Undo.
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from gui.style import HINT_COLOR

# QSpinBox holds a C int; one below the bottom is kept free for the "not set" state.
WIDE_MIN = -(2**31) + 2
WIDE_MAX = 2**31 - 1
UNSET_TEXT = "?"  # what a spin box shows for a required value that is not set yet


def compact_form(vertical_spacing: int = 2) -> QFormLayout:
    """The form layout of the inspector and the training settings: labels left, fields
    growing, no wrapping, tight margins."""
    form = QFormLayout()
    form.setContentsMargins(0, 0, 0, 0)
    form.setHorizontalSpacing(10)
    form.setVerticalSpacing(vertical_spacing)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return form


def section_heading(text: str, padding: str = "8px 0 0 0") -> QLabel:
    """A small bold grey capitalized heading between groups of a form."""
    label = QLabel(text.upper())
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    font.setBold(True)
    label.setFont(font)
    label.setStyleSheet(f"color: {HINT_COLOR}; padding: {padding};")
    return label


def info_label(text: str = "", *, name: str = "", wrap: bool = True, color: Optional[str] = None) -> QLabel:
    """A selectable label that shows a value or a note in a form (``name``: its object name)."""
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    if color:
        label.setStyleSheet(f"color: {color};")
    return label


def mark_explicit(label: QLabel, explicit: bool) -> None:
    """Bold: the value is written in the file; plain: a default shows."""
    font = label.font()
    font.setBold(explicit)
    label.setFont(font)


class _UndoRouter(QObject):
    """Ctrl+Z in a field that holds no unfinished typing is the window's Undo (the last edit
    of the document), not the field's own text history: a line edit or spin box claims the
    Undo and Redo shortcuts for itself, so with the cursor in the inspector they did nothing
    a user could see. While the user is typing (the text differs from what was last shown
    or committed), Ctrl+Z still undoes the typing first."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.ShortcutOverride:
            return False
        if not (event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo)):
            return False
        line = watched.lineEdit() if isinstance(watched, QAbstractSpinBox) else watched
        if isinstance(line, QLineEdit) and line.isModified():
            return False  # unfinished typing: the field undoes it
        event.ignore()  # not claimed: the shortcut goes to the window's Undo/Redo
        return True


UNDO_ROUTER = _UndoRouter()


def route_undo(field: QWidget) -> None:
    """Let Ctrl+Z/Ctrl+Shift+Z in ``field`` reach the window's Undo/Redo (see _UndoRouter)."""
    field.installEventFilter(UNDO_ROUTER)
    field.setProperty("undoRouted", True)
    line = field.lineEdit() if isinstance(field, QAbstractSpinBox) else field
    if isinstance(line, QLineEdit):
        # typing that was committed (Enter, focus out) is the document's to undo now
        line.editingFinished.connect(lambda: line.setModified(False))


class LineEdit(QLineEdit):
    """A line edit whose Escape gives back what the model holds (``escaped``) and whose
    Ctrl+Z, once its typing is committed, is the window's Undo."""

    escaped = Signal()

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        route_undo(self)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class FieldSpinBox(QSpinBox):
    """A spin box that commits only on Enter, focus-out or arrow steps, ignores the wheel
    unless focused (scrolling the inspector must not change values) and can show a
    required value as not set."""

    def __init__(self, lo: int, hi: int, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.lo = lo
        self.setKeyboardTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setRange(lo, hi)
        self.setAccelerated(True)
        # may shrink below its size hint (Qt's default policy would not) in a narrow dock
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        # Qt sizes a spin box for its widest number (2147483647); five digits are plenty
        # and keep three axes side by side in a narrow inspector
        hint = super().sizeHint()
        return QSize(min(hint.width(), self.fontMetrics().horizontalAdvance("00000") + 34), hint.height())

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.fontMetrics().horizontalAdvance("000") + 30), hint.height())

    def set_unset(self) -> None:
        self.setMinimum(self.lo - 1)
        self.setSpecialValueText(UNSET_TEXT)
        self.setValue(self.lo - 1)

    def is_unset(self) -> bool:
        return bool(self.specialValueText()) and self.value() == self.minimum()

    def set_number(self, value: int) -> None:
        self.setSpecialValueText("")
        self.setMinimum(self.lo)
        self.setValue(value)

    def wheelEvent(self, event) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class FieldComboBox(QComboBox):
    """A combo box that takes the focus on a click and ignores the wheel unless focused."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(4)

    def wheelEvent(self, event) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()
