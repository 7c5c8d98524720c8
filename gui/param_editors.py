"""Typed parameter editors, generated from the block declarations.

This is the only place that maps a parameter type (``blocks.Int``, ``Float``, ``Bool``,
``Choice``, ``Ints``, ``Text``) to a widget, so a new block needs nothing here. Every
editor is a :class:`ParamEditor`: it shows a value (``set_value``, silent) and reports a
user's change with ``valueCommitted`` carrying a value that ``param.check`` accepts, or
None for "back to the default" (which is null for a param whose default is null).
Editors never touch the document; the inspector passes commits on to ``set_param``.

The base class is in :mod:`gui.param_editor_base`, the widgets the editors are made of in
:mod:`gui.form_widgets`.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any, Optional

from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QWidget

from blocks import Bool, Choice, Float, Int, Ints, Param, ParamError, Text
from gui.form_widgets import WIDE_MAX, WIDE_MIN, FieldComboBox, FieldSpinBox, LineEdit
from gui.param_editor_base import ParamEditor, ParsedLineEditor, value_text

_SEPARATORS = re.compile(r"[\s,;]+")


def _bounds(param: Param) -> tuple[int, int]:
    lo = param.min if getattr(param, "min", None) is not None else WIDE_MIN
    hi = param.max if getattr(param, "max", None) is not None else WIDE_MAX
    return max(int(lo), WIDE_MIN), min(int(hi), WIDE_MAX)


class IntEditor(ParamEditor):
    """Int: a spin box with the declared range."""

    def __init__(self, name: str, param: Int, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        self.editor = self.spin = FieldSpinBox(*_bounds(param))
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
        self.editor = self.combo = FieldComboBox()
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
        self.spins = [FieldSpinBox(*_bounds(param)) for _ in range(param.length)]
        self.editor = self.spins[0]
        self.word: Optional[QComboBox] = None
        if param.words:
            self.word = FieldComboBox()
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

    def _spin_changed(self, changed: FieldSpinBox) -> None:
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
        self.line.setText(value_text(value) if value is not None else "")
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
