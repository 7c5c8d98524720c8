"""The training settings form, generated from the same schema the CLI uses.

Every setting of ``builder.TRAINING_SETTINGS`` (but ``out``: the panel picks the run
folder) gets the typed editor the inspector uses for block parameters
(:func:`gui.param_editors.make_editor`), grouped as Data / Schedule / Stability / Run; the
data set is a combo of ``builder.DATA_SOURCES`` followed by that source's own options.

The form shows ``resolve_settings(graph.training)``: what the file says, the defaults
elsewhere (settings the file sets have bold labels). An edit writes the graph's training
section through ``GraphDocument.set_training`` (one undo step) keeping what the file had
(unknown keys too) plus the changed key only, never the defaults; "Reset to default" in an
editor's context menu removes the key. Values the schema rejects are not committed; their
message (the ``SettingsError`` text) is shown in the form.
"""

from __future__ import annotations

import copy
import html
import json
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from blocks import Bool, Choice, Float, Int, Ints, Param, ParamError, Text
from builder import DATA_SOURCES, TRAINING_SETTINGS, SettingsError, resolve_settings
from gui.document import GraphDocument
from gui.param_editors import (
    LineEdit,
    ParamEditor,
    ParsedLineEditor,
    compact_form,
    make_editor,
    section_heading,
)
from gui.style import ERROR_COLOR, HINT_COLOR

DATA_KEY = "data"
# settings shown under each heading, in this order; "data" (the data-set combo and the
# source's options) leads the Data group. A setting the schema adds later lands in "Other".
GROUPS: dict[str, tuple[str, ...]] = {
    "Data": ("val_split",),
    "Schedule": ("epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay",
                 "schedule", "step_size", "gamma"),
    "Stability": ("clip_norm", "clip_value", "early_stopping", "loss"),
    "Run": ("device", "amp", "channels_last", "compile", "seed", "diagnostics_every", "log_every", "workers"),
}
HIDDEN = ("out",)  # the panel chooses the run folder
LABELS = {"lr": "learning rate", "val_split": "validation split", "diagnostics_every": "gradient stats every",
          "batch_size": "batch size", "weight_decay": "weight decay", "step_size": "step size",
          "clip_norm": "clip grad norm", "clip_value": "clip grad value", "early_stopping": "early stopping",
          "log_every": "log every", "amp": "mixed precision"}
# what a clipping threshold starts at when its "set" box is ticked (0 would zero every gradient)
STARTING_VALUES = {"clip_norm": 1.0, "clip_value": 1.0}
# settings that only matter with another one's value: greyed out otherwise
USED_WITH: dict[str, tuple[str, tuple[str, ...]]] = {
    "momentum": ("optimizer", ("sgd",)),
    "nesterov": ("optimizer", ("sgd",)),
    "step_size": ("schedule", ("step",)),
    "gamma": ("schedule", ("step", "plateau")),
}
_SUPPORTED = (Bool, Int, Float, Choice, Ints, Text)  # the param types make_editor has widgets for


def _label_text(key: str) -> str:
    return LABELS.get(key, key.replace("_", " "))


# --- values the typed editors cannot show: YAML flow text ------------------------------------

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


class LiteralEditor(ParsedLineEditor):
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
        self._set_invalid(None)

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


def resolve_leniently(section: Optional[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    """``resolve_settings`` of the section with the settings it rejects left at their
    defaults, and those settings' messages (key -> SettingsError text)."""
    remaining = dict(section or {})
    errors: dict[str, str] = {}
    while True:
        try:
            return resolve_settings(remaining), errors
        except SettingsError as err:
            errors[err.key] = str(err)
            if err.key not in remaining:  # cannot happen with the schema as it is; be safe
                return resolve_settings({}), errors
            del remaining[err.key]


def _problem_of(editor: ParamEditor) -> Optional[str]:
    """What the editor marks as wrong, also inside an optional ("set") editor."""
    inner = getattr(editor, "inner", None)
    return editor.problem or (inner.problem if isinstance(inner, ParamEditor) else None)


class TrainingSettingsForm(QWidget):
    """The graph's training settings. ``set_document`` shows a document's section;
    ``values()`` gives the resolved settings; ``problems()`` what is wrong with them."""

    problemsChanged = Signal(list)  # the messages shown (empty: the settings are fine)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("trainingSettings")
        self.document: Optional[GraphDocument] = None
        self._detached: Optional[dict] = None  # the section edited while no document is set
        self._values, self._errors = resolve_leniently(None)
        self._problems: list[str] = []
        self._refreshing = False
        self.editors: dict[str, ParamEditor] = {}
        self.labels: dict[str, QLabel] = {}
        self.option_editors: dict[str, ParamEditor] = {}
        self.option_labels: dict[str, QLabel] = {}
        self._options_source: Optional[str] = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.setSpacing(0)
        self.message = QLabel()
        self.message.setObjectName("trainingSettingsMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet(f"color: {ERROR_COLOR}; padding: 4px 0;")
        self.message.hide()
        layout.addWidget(self.message)

        groups = {title: list(keys) for title, keys in GROUPS.items()}
        placed = {k for keys in GROUPS.values() for k in keys}
        other = [k for k in TRAINING_SETTINGS if k not in placed and k not in HIDDEN]
        if other:
            groups["Other"] = other
        # one form for all groups (headings span both columns) so that the fields line up
        self.form = compact_form(4)
        for title, keys in groups.items():
            self.form.addRow(section_heading(title, "10px 0 2px 0"))
            if title == "Data":
                self._add_dataset_rows(self.form)
            for key in keys:
                if key in TRAINING_SETTINGS:
                    self._add_setting_row(self.form, key)
        layout.addLayout(self.form)
        layout.addStretch(1)
        self.refresh()

    # ------------------------------------------------------------------ building
    def _add_dataset_rows(self, form: QFormLayout) -> None:
        self.dataset = QComboBox()
        self.dataset.setObjectName("trainingDataset")
        self.dataset.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.dataset.setPlaceholderText("choose a data set")
        for name, source in DATA_SOURCES.items():
            self.dataset.addItem(name, name)
            self.dataset.setItemData(self.dataset.count() - 1, source.summary, Qt.ItemDataRole.ToolTipRole)
        self.dataset.currentIndexChanged.connect(self._dataset_chosen)
        label = QLabel("data set")
        label.setToolTip("data: where the samples come from (docs/data.md)")
        form.addRow(label, self.dataset)
        self.summary = QLabel()
        self.summary.setObjectName("trainingDatasetSummary")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet(f"color: {HINT_COLOR}; padding: 0 0 4px 0;")
        form.addRow(self.summary)

    def _add_setting_row(self, form: QFormLayout, key: str) -> None:
        param = TRAINING_SETTINGS[key]
        editor = make_editor(key, param, self._values.get(key, param.default))
        if key in STARTING_VALUES and hasattr(editor, "inner"):
            editor.inner.set_value(STARTING_VALUES[key])
            editor.auto.setText("off")  # not set: no clipping
        editor.valueCommitted.connect(lambda value, k=key: self._setting_committed(k, value))
        self._watch_text(editor)
        label = QLabel(_label_text(key))
        label.setToolTip(f"{key}: {param.doc}" if param.doc else key)
        label.setBuddy(editor.editor)
        self.editors[key], self.labels[key] = editor, label
        form.addRow(label, editor)

    def _watch_text(self, editor: ParamEditor) -> None:
        """Typed text that is not a valid value shows its message at once (the editor
        marks itself; the form says why)."""
        for line in editor.findChildren(QLineEdit):
            line.textEdited.connect(self._show_problems)
            line.editingFinished.connect(self._show_problems)

    def _build_options(self, name: Optional[str]) -> None:
        """The rows of the data source's own options, after the data-set rows."""
        if name == self._options_source:
            return
        form = self.form
        for key in list(self.option_editors):
            editor, label = self.option_editors.pop(key), self.option_labels.pop(key)
            form.removeRow(editor)  # deletes the editor and its label
        self._options_source = name
        source = DATA_SOURCES.get(name) if isinstance(name, str) else None
        if source is None:
            return
        row = self.form.getWidgetPosition(self.summary)[0] + 1  # after the combo and the summary
        for key, param in source.options.items():
            editor = option_editor(key, param, None if param.required else param.default)
            if param.required and hasattr(editor, "line"):
                editor.line.setPlaceholderText("required")
            editor.setObjectName(f"option_{key}")
            editor.valueCommitted.connect(lambda value, k=key: self._option_committed(k, value))
            self._watch_text(editor)
            label = QLabel(_label_text(key))
            label.setToolTip(f"data option {key}: {param.doc}" if param.doc else key)
            label.setBuddy(editor.editor)
            label.setIndent(12)
            form.insertRow(row, label, editor)
            row += 1
            self.option_editors[key], self.option_labels[key] = editor, label

    # ------------------------------------------------------------------ public
    def set_document(self, document: Optional[GraphDocument]) -> None:
        """Show (and edit) ``document``'s training section."""
        if self.document is not None:
            try:
                self.document.trainingChanged.disconnect(self.refresh)
            except (RuntimeError, TypeError):
                pass
        self.document = document
        self._detached = None
        if document is not None:
            document.trainingChanged.connect(self.refresh)
        self.refresh()

    def section(self) -> Optional[dict]:
        """The training section as the graph holds it (a copy), None when there is none."""
        if self.document is not None:
            return copy.deepcopy(self.document.graph.training)
        return copy.deepcopy(self._detached)

    def values(self) -> dict[str, Any]:
        """The resolved settings the form shows: the section's, defaults elsewhere (a
        setting the schema rejects is at its default; ``problems`` says which)."""
        return copy.deepcopy(self._values)

    def problems(self) -> list[str]:
        """What is wrong: settings the schema rejects, a missing or unknown data set or
        required data option, text typed into an editor that is not a valid value."""
        return list(self._problems)

    def refresh(self) -> None:
        """Show the section again (after an undo, or a change made elsewhere)."""
        section = self.section() or {}
        self._values, self._errors = resolve_leniently(section)
        with self._quiet():
            for key, editor in self.editors.items():
                # a value the schema rejects is shown as written, marked with the reason
                editor.set_value(section[key] if key in self._errors else self._values[key])
                editor.set_problem(self._errors.get(key))
                self._set_explicit(self.labels[key], key in section)
            self._show_dataset(self._values.get(DATA_KEY))
            for key, (name, values) in USED_WITH.items():
                if key in self.editors:
                    used = self._values.get(name) in values
                    self.editors[key].setEnabled(used)
                    self.labels[key].setEnabled(used)
        self._show_problems()

    # ------------------------------------------------------------------ showing
    @contextmanager
    def _quiet(self) -> Iterator[None]:
        old, self._refreshing = self._refreshing, True
        try:
            yield
        finally:
            self._refreshing = old

    @staticmethod
    def _set_explicit(label: QLabel, explicit: bool) -> None:
        font = label.font()
        font.setBold(explicit)
        label.setFont(font)

    def _show_dataset(self, spec: Optional[dict]) -> None:
        name = spec.get("name") if isinstance(spec, dict) else None
        source = DATA_SOURCES.get(name) if isinstance(name, str) else None
        self.dataset.setCurrentIndex(self.dataset.findData(name) if source is not None else -1)
        self.dataset.setToolTip(source.summary if source is not None else "")
        self.summary.setText(source.summary if source is not None else "")
        self.summary.setVisible(source is not None)
        self._build_options(name if source is not None else None)
        if source is None:
            return
        for key, editor in self.option_editors.items():
            param = source.options[key]
            given = key in spec
            value = spec[key] if given else (None if param.required else param.default)
            editor.set_value(value)
            self._set_explicit(self.option_labels[key], given)
            problem = None
            if given:
                try:
                    param.check(value)
                except ParamError as err:
                    problem = str(err)
            elif param.required:
                problem = f"required: {param.doc}" if param.doc else "required"
            editor.set_problem(problem)

    def _data_problems(self) -> list[str]:
        spec = self._values.get(DATA_KEY)
        name = spec.get("name") if isinstance(spec, dict) else None
        if DATA_KEY in self._errors:
            return []
        if spec is None or name is None:
            return [str(SettingsError(DATA_KEY, "no data set: choose one to train on"))]
        if name not in DATA_SOURCES:
            return [str(SettingsError(DATA_KEY, f"unknown data source {name!r}; "
                                                f"choose one of {', '.join(DATA_SOURCES)}"))]
        return [f"data option {key!r}: {_problem_of(editor)}" for key, editor in self.option_editors.items()
                if _problem_of(editor)]

    def _show_problems(self, *_args) -> None:
        problems = list(self._errors.values())
        problems += self._data_problems()
        for key, editor in self.editors.items():
            typed = _problem_of(editor)
            if typed and typed != self._errors.get(key):
                problems.append(str(SettingsError(key, typed)))
        if problems != self._problems:
            self._problems = problems
            self.message.setText("<br>".join(html.escape(p) for p in problems))
            self.message.setVisible(bool(problems))
            self.problemsChanged.emit(list(problems))

    # ------------------------------------------------------------------ editing
    def _write(self, section: dict) -> None:
        if self.document is not None:
            self.document.set_training(section)  # trainingChanged refreshes the form
        else:
            self._detached = section
            self.refresh()

    def _setting_committed(self, key: str, value: Any) -> None:
        if self._refreshing:
            return
        section = self.section() or {}
        if value is None:
            section.pop(key, None)
        else:
            section[key] = value
        self._write(section)

    def _data_spec(self, section: Mapping[str, Any]) -> dict[str, Any]:
        raw = section.get(DATA_KEY)
        if isinstance(raw, str):
            return {"name": raw}
        return copy.deepcopy(dict(raw)) if isinstance(raw, Mapping) else {}

    def _option_committed(self, key: str, value: Any) -> None:
        if self._refreshing or self._options_source is None:
            return
        section = self.section() or {}
        spec = self._data_spec(section)
        if value is None or (value == "" and DATA_SOURCES[self._options_source].options[key].required):
            spec.pop(key, None)
        else:
            spec[key] = value
        section[DATA_KEY] = {"name": self._options_source, **{k: v for k, v in spec.items() if k != "name"}}
        self._write(section)

    def _dataset_chosen(self, index: int) -> None:
        if self._refreshing or index < 0:
            return
        name = self.dataset.itemData(index)
        section = self.section() or {}
        old = self._data_spec(section)
        if old.get("name") == name:
            return
        old_source = DATA_SOURCES.get(old.get("name")) if isinstance(old.get("name"), str) else None
        new_source = DATA_SOURCES[name]
        # keep what the new source also takes, and what neither declares (limit, val_split ...)
        kept = {k: v for k, v in old.items() if k != "name" and (
            k in new_source.options or old_source is None or k not in old_source.options)}
        section[DATA_KEY] = {"name": name, **kept}
        self._write(section)
