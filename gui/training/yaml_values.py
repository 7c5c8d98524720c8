"""Values the typed parameter editors have no widget for (a list of names, a mapping,
``auto``/true/false), edited as YAML flow text: how a value is written, how text is read
back, and the editor that does both. The training settings form uses it for the options
of a data source (:mod:`gui.training.data_source_rows`).
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from PySide6.QtWidgets import QWidget
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from blocks import Bool, Choice, Float, Int, Ints, Param, ParamError, Text
from gui.form_widgets import LineEdit
from gui.param_editor_base import ParamEditor, ParsedLineEditor
from gui.param_editors import make_editor

_SUPPORTED = (Bool, Int, Float, Choice, Ints, Text)  # the param types make_editor has widgets for


def yaml_text(value: Any) -> str:
    """A value as YAML flow text: ``{flip: true, crop: 4}``, ``[x, y]``, ``auto`` ('' for null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{yaml_text(str(k))}: {yaml_text(v) or 'null'}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_text(v) or "null" for v in value) + "]"
    text = str(value)
    try:
        plain = parse_yaml_value(text) == text and not any(c in text for c in ",[]{}#:")
    except ParamError:
        plain = False
    return text if plain else json.dumps(text)


def parse_yaml_value(text: str) -> Any:
    """Text as one YAML value with the safe loader (no tags, no objects); '' is null."""
    if not text.strip():
        return None
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as err:
        problem = getattr(err, "problem", None) or "not a YAML value"
        raise ParamError(f"{text.strip()!r}: {problem}; e.g. {{flip: true, crop: 4}}, [x, y] or auto") from None


class YamlLine:
    """What the editors whose text is a YAML value share: reading the line (None while it
    does not parse) and showing a value, unless the user is typing that same value."""

    def value(self) -> Any:
        try:
            return self._parse(self.line.text())
        except ParamError:
            return None

    def _show(self, value: Any) -> None:
        if value == self._shown and self.line.hasFocus():
            return
        self._shown = value
        self.line.setText(yaml_text(value))
        self._shown_text(yaml_text(value))
        self._set_invalid(None)

    def _shown_text(self, text: str) -> None:
        """After ``text`` is shown (a hook: e.g. scroll a long mapping to its start)."""


class LiteralEditor(YamlLine, ParsedLineEditor):
    """A value of a type that has no widget (a list of names, a mapping, ``auto``/true/false):
    a line edit whose text is read as YAML, committed on Enter or focus-out when the
    declaration accepts it. Empty text commits None (the default)."""

    def __init__(self, name: str, param: Param, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        self.editor = self.line = LineEdit()
        self.line.escaped.connect(self._restore)
        self.line.setPlaceholderText("required" if param.required else yaml_text(param.default) or "not set")
        self.layout_.addWidget(self.line)
        self.line.textEdited.connect(self._edited)
        self.line.editingFinished.connect(self._finished)

    def _parse(self, text: str) -> Any:
        value = parse_yaml_value(text)
        if value is not None or not self.param.optional:
            if value is None and self.param.required:
                raise ParamError("required")
            if value is not None:
                self.param.check(value)
        return value


def option_editor(name: str, param: Param, value: Any) -> ParamEditor:
    """The editor of a data-source option: the typed editor where there is one, else text
    read as YAML."""
    if isinstance(param, _SUPPORTED):
        return make_editor(name, param, value)
    editor = LiteralEditor(name, param)
    editor.set_value(value)
    editor._decorate()
    return editor
