"""Typed parameter editors, generated from the block declarations.

This is the only place that maps a parameter type (``blocks.Int``, ``Float``, ``Bool``,
``Choice``, ``Ints``, ``Text``) to a widget, so a new block needs nothing here. Every
editor is a :class:`ParamEditor`: it shows a value (``set_value``, silent) and reports a
user's change with ``valueCommitted`` carrying a value that ``param.check`` accepts, or
None for "back to the default" (which is null for a param whose default is null).
Editors never touch the document; the inspector passes commits on to ``set_param``.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator, Optional

from PySide6.QtCore import QEvent, QObject, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from blocks import Bool, Choice, Float, Int, Ints, Param, ParamError, Text
from gui.style import ERROR_COLOR, HINT_COLOR

# QSpinBox holds a C int; one below the bottom is kept free for the "not set" state.
WIDE_MIN = -(2**31) + 2
WIDE_MAX = 2**31 - 1
UNSET_TEXT = "?"  # what a spin box shows for a required value that is not set yet
_NOTHING = object()
_SEPARATORS = re.compile(r"[\s,;]+")


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


def _tooltip(param: Param) -> str:
    return f"{param.doc}\n{param.describe()}" if param.doc else param.describe()


class ParamEditor(QWidget):
    """The editor of one parameter. ``editor`` is its main input widget.

    A red frame marks a value the analysis complained about (``set_problem``) or text that
    is not a valid value (which is then not committed); the line under the field (and the
    tooltip) says why."""

    valueCommitted = Signal(object)

    def __init__(self, name: str, param: Param, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.name = name
        self.param = param
        self.editor: QWidget = self
        self._quiet = False
        self._problem: Optional[str] = None
        self._invalid: Optional[str] = None
        self._shown: Any = _NOTHING  # text editors: the value their text was last set from
        self.setObjectName(f"param_{name}")
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self.show_reset_menu)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.layout_ = QHBoxLayout()  # the input widgets, side by side
        self.layout_.setContentsMargins(2, 2, 2, 2)  # room for the red frame
        self.layout_.setSpacing(4)
        outer.addLayout(self.layout_)
        # why the value is wrong, where the user is looking (a tooltip needs a hover to find)
        self.reason = QLabel()
        self.reason.setObjectName("paramReason")
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet(f"color: {ERROR_COLOR}; padding: 0 2px 2px 4px;")
        self.reason.hide()
        outer.addWidget(self.reason)

    # --- public -------------------------------------------------------------------
    def set_value(self, value: Any) -> None:
        """Show ``value`` (as written in the file, or the default) without emitting."""
        with self.quiet():
            self._show(value)

    def value(self) -> Any:
        """The value the editor shows now (None where nothing valid is shown)."""
        raise NotImplementedError

    def set_problem(self, message: Optional[str]) -> None:
        """Mark the value as the cause of an analysis problem (None: no problem)."""
        self._problem = message
        self._decorate()

    def reset(self) -> None:
        """Commit None: the parameter goes back to its default (null where that is null)."""
        self._commit(None)

    @property
    def problem(self) -> Optional[str]:
        """What is wrong with the value shown: invalid text first, else the analysis' word."""
        return self._invalid or self._problem

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Change the widgets without committing (signals of Qt widgets still fire)."""
        old, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = old

    # --- for subclasses -----------------------------------------------------------
    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def _commit(self, value: Any) -> None:
        if self._quiet:
            return
        if value is not None:
            try:
                self.param.check(value)
            except ParamError as err:  # a widget allowed what the declaration does not
                self._set_invalid(str(err))
                return
        self._set_invalid(None)
        # as the user wrote it (check would turn kernel_size 3 into (3, 3)), lists for YAML
        self.valueCommitted.emit(list(value) if isinstance(value, tuple) else value)

    def _restore(self) -> None:
        """Escape: show the value last shown or committed again, dropping what was typed."""
        shown, self._shown = self._shown, _NOTHING  # so that the text is set even while focused
        if shown is not _NOTHING:
            self.set_value(shown)

    def _set_invalid(self, message: Optional[str]) -> None:
        self._invalid = message
        self._decorate()

    def _decorate(self) -> None:
        base = _tooltip(self.param)
        message = self.problem
        self.setToolTip(f"{message}\n\n{base}" if message else base)
        for child in self.findChildren(QWidget):
            child.setToolTip(self.toolTip())
            if isinstance(child, (QLineEdit, QAbstractSpinBox)) and not child.property("undoRouted"):
                route_undo(child)
        self.reason.setText(message or "")
        self.reason.setVisible(bool(message))
        self.update()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.problem:
            painter = QPainter(self)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor(ERROR_COLOR), 2))
            painter.drawRoundedRect(QRectF(self.layout_.geometry()).adjusted(1, 1, -1, -1), 3, 3)

    def show_reset_menu(self, position) -> None:
        """The context menu at ``position`` (in this widget's coordinates): reset to default."""
        default = self.param.default
        menu = QMenu(self)
        label = "Reset to default" if self.param.required else f"Reset to default ({_text(default)})"
        menu.addAction(label, self.reset)
        menu.exec(self.mapToGlobal(position))


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


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


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


class _Spin(QSpinBox):
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


class _Combo(QComboBox):
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


def _bounds(param: Param) -> tuple[int, int]:
    lo = param.min if getattr(param, "min", None) is not None else WIDE_MIN
    hi = param.max if getattr(param, "max", None) is not None else WIDE_MAX
    return max(int(lo), WIDE_MIN), min(int(hi), WIDE_MAX)


class IntEditor(ParamEditor):
    """Int: a spin box with the declared range."""

    def __init__(self, name: str, param: Int, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        self.editor = self.spin = _Spin(*_bounds(param))
        self.layout_.addWidget(self.spin)
        self.spin.valueChanged.connect(self._changed)

    def value(self) -> Optional[int]:
        return None if self.spin.is_unset() else self.spin.value()

    def _show(self, value: Any) -> None:
        try:
            valid = value is not None and self.param.check(value) is not None
        except ParamError:
            valid = False
        if valid:
            self.spin.set_number(value)
        else:  # not set, or a number the range cannot show (the problems list says why)
            self.spin.set_unset()

    def _changed(self, value: int) -> None:
        if self.spin.is_unset():
            return
        if self.spin.specialValueText():  # the first value after "not set"
            with self.quiet():
                self.spin.set_number(value)
        self._commit(value)


class ParsedLineEditor(ParamEditor):
    """A line edit whose text ``_parse`` turns into a value: marked while the text is
    invalid, committed on Enter or focus-out when valid and changed."""

    def _parse(self, text: str) -> Any:
        raise NotImplementedError

    def _edited(self, text: str) -> None:
        try:
            self._parse(text)
            self._set_invalid(None)
        except ParamError as err:
            self._set_invalid(str(err))

    def _finished(self) -> None:
        try:
            value = self._parse(self.line.text())
        except ParamError as err:
            self._set_invalid(str(err))
            return
        if value != self._shown:
            self._shown = value
            self._commit(value)


class FloatEditor(ParsedLineEditor):
    """Float: a line edit that takes 0.5, 1e-5 or 3 (spin boxes round 1e-5 away); it
    commits on Enter or focus-out, and only text that the declaration accepts."""

    def __init__(self, name: str, param: Float, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        self.editor = self.line = LineEdit()
        self.line.escaped.connect(self._restore)
        self.line.setPlaceholderText("required" if param.required else "")
        self.layout_.addWidget(self.line)
        self.line.textEdited.connect(self._edited)
        self.line.editingFinished.connect(self._finished)

    def value(self) -> Optional[float]:
        try:
            return self._parse(self.line.text())
        except ParamError:
            return None

    def _show(self, value: Any) -> None:
        if value == self._shown and type(value) is type(self._shown) and self.line.hasFocus():
            return  # the user may be typing: leave the text alone
        self._shown = value
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        self.line.setText("" if value is None else repr(float(value)) if number else str(value))
        self._set_invalid(None)

    def _parse(self, text: str) -> float:
        try:
            number = float(text.strip())
        except ValueError:
            raise ParamError(f"{text.strip()!r} is not a number; e.g. 0.5 or 1e-5") from None
        if not math.isfinite(number):
            raise ParamError("expected a finite number")
        return self.param.check(number)



class BoolEditor(ParamEditor):
    """Bool: a check box."""

    def __init__(self, name: str, param: Bool, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        self.editor = self.check = QCheckBox()
        self.layout_.addWidget(self.check)
        self.layout_.addStretch(1)
        self.check.toggled.connect(lambda on: self._commit(bool(on)))

    def value(self) -> bool:
        return self.check.isChecked()

    def _show(self, value: Any) -> None:
        self.check.setChecked(bool(value))


class ChoiceEditor(ParamEditor):
    """Choice: a combo box of the declared words."""

    def __init__(self, name: str, param: Choice, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        self.editor = self.combo = _Combo()
        self.combo.addItems(list(param.choices))
        self.layout_.addWidget(self.combo, 1)
        self.combo.currentIndexChanged.connect(self._changed)

    def value(self) -> Optional[str]:
        return self.combo.currentText() if self.combo.currentIndex() >= 0 else None

    def _show(self, value: Any) -> None:
        self.combo.setCurrentIndex(self.combo.findText(value) if isinstance(value, str) else -1)

    def _changed(self, index: int) -> None:
        if index >= 0:
            self._commit(self.combo.itemText(index))


class IntsEditor(ParamEditor):
    """Ints of a fixed length (kernel_size, padding): one spin box per axis, and where the
    declaration has words (padding "same"/"valid") a combo to pick a word instead.

    Equal axes are committed as one number (``kernel_size: 3``, the way people write it),
    different ones as a list (``kernel_size: [3, 5]``)."""

    NUMBERS = "numbers"

    def __init__(self, name: str, param: Ints, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        assert param.length is not None
        self.spins = [_Spin(*_bounds(param)) for _ in range(param.length)]
        self.editor = self.spins[0]
        self.word: Optional[QComboBox] = None
        if param.words:
            self.word = _Combo()
            self.word.addItems([self.NUMBERS, *param.words])
            self.word.setToolTip("numbers per axis, or a word")
            self.layout_.addWidget(self.word)
            self.word.currentIndexChanged.connect(self._word_changed)
        for spin in self.spins:
            self.layout_.addWidget(spin, 1)
            spin.valueChanged.connect(lambda _v, s=spin: self._spin_changed(s))

    def value(self) -> Any:
        if self.word is not None and self.word.currentIndex() > 0:
            return self.word.currentText()
        if any(s.is_unset() for s in self.spins):
            return None
        numbers = [s.value() for s in self.spins]
        return numbers[0] if len(set(numbers)) == 1 else numbers

    def _show(self, value: Any) -> None:
        is_word = isinstance(value, str)
        if self.word is not None:
            self.word.setCurrentIndex(self.word.findText(value) if is_word else 0)
        for spin in self.spins:
            spin.setEnabled(not is_word)
        if is_word:
            return
        try:
            numbers = self.param.check(value) if value is not None else None
        except ParamError:
            numbers = None
        for i, spin in enumerate(self.spins):
            if numbers is not None:
                spin.set_number(numbers[i])
            else:
                spin.set_unset()

    def _word_changed(self, index: int) -> None:
        for spin in self.spins:
            spin.setEnabled(index <= 0)
        if index > 0:
            self._commit(self.word.itemText(index))
        elif not self._quiet:
            with self.quiet():  # back to numbers: the spins show what will be committed
                for spin in self.spins:
                    if spin.is_unset():
                        spin.set_number(spin.lo if spin.lo > WIDE_MIN else 0)
            self._commit(self.value())

    def _spin_changed(self, changed: _Spin) -> None:
        if self._quiet or changed.is_unset():
            return
        with self.quiet():  # a first number also fills the axes still unset ("one int for all")
            number = changed.value()
            for spin in self.spins:
                if spin.is_unset() or spin is changed:
                    spin.set_number(number)
        self._commit(self.value())


class ShapeEditor(ParsedLineEditor):
    """Ints of any length (a shape): text like ``3, 224, 224``, committed on Enter or
    focus-out when the declaration accepts it; invalid text is marked and kept back."""

    def __init__(self, name: str, param: Ints, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        self.editor = self.line = LineEdit()
        self.line.escaped.connect(self._restore)
        self.line.setPlaceholderText("e.g. 3, 32, 32")
        self.layout_.addWidget(self.line)
        self.line.textEdited.connect(self._edited)
        self.line.editingFinished.connect(self._finished)

    def value(self) -> Optional[list]:
        try:
            return self._parse(self.line.text())
        except ParamError:
            return None

    def _show(self, value: Any) -> None:
        plain = list(value) if isinstance(value, (list, tuple)) else value
        if plain == self._shown and self.line.hasFocus():
            return  # the user may be typing: leave the text alone
        self._shown = plain
        self.line.setText(_text(value) if value is not None else "")
        self._set_invalid(None)

    def _parse(self, text: str) -> list:
        words = [w for w in _SEPARATORS.split(text.strip().strip("[]()")) if w]
        try:
            numbers = [int(w) for w in words]
        except ValueError:
            raise ParamError(f"{text.strip()!r} is not a list of whole numbers; e.g. 3, 32, 32") from None
        return list(self.param.check(numbers))



class TextEditor(ParamEditor):
    """Text: a line edit committed on Enter or focus-out."""

    def __init__(self, name: str, param: Text, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        self.editor = self.line = LineEdit()
        self.line.escaped.connect(self._restore)
        self.layout_.addWidget(self.line)
        self.line.editingFinished.connect(self._finished)

    def value(self) -> str:
        return self.line.text()

    def _show(self, value: Any) -> None:
        if value == self._shown and self.line.hasFocus():
            return
        self._shown = value
        self.line.setText("" if value is None else str(value))

    def _finished(self) -> None:
        if self.line.text() != self._shown:
            self._shown = self.line.text()
            self._commit(self.line.text())


class OptionalEditor(ParamEditor):
    """A param whose default is null ("take it from the input"): a "set" check box in
    front of the typed editor. Unchecked commits None; checked commits the editor's value."""

    def __init__(self, name: str, param: Param, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        self.toggle = QCheckBox("set")
        self.inner = _typed_editor(name, replace(param, optional=False))
        self.inner.layout_.setContentsMargins(0, 0, 0, 0)  # the outer editor draws the frame
        self.editor = self.inner.editor
        self.auto = QLabel("auto")
        self.auto.setEnabled(False)  # greyed: the value is not set
        self.layout_.addWidget(self.toggle)
        self.layout_.addWidget(self.inner, 1)
        self.layout_.addWidget(self.auto, 1)
        self.toggle.toggled.connect(self._toggled)
        self.inner.valueCommitted.connect(self._commit)

    def value(self) -> Any:
        return self.inner.value() if self.toggle.isChecked() else None

    def _show(self, value: Any) -> None:
        self.toggle.setChecked(value is not None)
        self._arrange(value is not None)
        if value is not None:
            self.inner.set_value(value)
        elif self.inner.value() is None:  # something sensible to start from when checked
            self.inner.set_value(_starting_value(self.inner.param))

    def _arrange(self, is_set: bool) -> None:
        self.inner.setVisible(is_set)
        self.auto.setVisible(not is_set)

    def _toggled(self, on: bool) -> None:
        self._arrange(on)
        if on and self.inner.value() is None:
            self.inner.set_value(_starting_value(self.inner.param))
        self._commit(self.inner.value() if on else None)


def _starting_value(param: Param) -> Any:
    """What a newly set optional value starts at: the smallest allowed, or a neutral one."""
    lo = getattr(param, "min", None)
    if isinstance(param, Bool):
        return False
    if isinstance(param, Choice):
        return param.choices[0] if param.choices else None
    if isinstance(param, Ints):
        return [lo if lo is not None else 1] * (param.length or 1)
    if isinstance(param, Float):
        return float(lo) if lo is not None else 0.0
    if isinstance(param, Int):
        return lo if lo is not None else 0
    return ""


def _typed_editor(name: str, param: Param) -> ParamEditor:
    if isinstance(param, Bool):
        return BoolEditor(name, param)
    if isinstance(param, Int):
        return IntEditor(name, param)
    if isinstance(param, Float):
        return FloatEditor(name, param)
    if isinstance(param, Choice):
        return ChoiceEditor(name, param)
    if isinstance(param, Ints):
        return IntsEditor(name, param) if param.length else ShapeEditor(name, param)
    return TextEditor(name, param)  # Text, and any type a plug-in declares: edited as text


def make_editor(name: str, param: Param, value: Any) -> ParamEditor:
    """The editor for parameter ``name`` declared as ``param``, showing ``value`` (as
    written in the file; the default where the file has none)."""
    if param.optional and param.default is None:
        editor: ParamEditor = OptionalEditor(name, param)
    else:
        editor = _typed_editor(name, param)
    editor.set_value(value)
    editor._decorate()
    return editor
