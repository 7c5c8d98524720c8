"""The base of every typed parameter editor (:mod:`gui.param_editors`): a value shown
without emitting, a user's change committed once the declaration accepts it, the red frame
and the line under the field that say what is wrong, and "Reset to default".
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Optional

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QAbstractSpinBox, QHBoxLayout, QLabel, QLineEdit, QMenu, QVBoxLayout, QWidget

from blocks import Param, ParamError
from gui.form_widgets import route_undo
from gui.style import ERROR_COLOR

_NOTHING = object()


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
        label = "Reset to default" if self.param.required else f"Reset to default ({value_text(default)})"
        menu.addAction(label, self.reset)
        menu.exec(self.mapToGlobal(position))


def problem_of(editor: ParamEditor) -> Optional[str]:
    """What ``editor`` marks as wrong, also inside an optional ("set") editor."""
    inner = getattr(editor, "inner", None)
    return editor.problem or (inner.problem if isinstance(inner, ParamEditor) else None)


def value_text(value: Any) -> str:
    """A value as an editor writes it: ``null``, ``3, 3`` for a list, else ``str``."""
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


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

