"""The training settings form, generated from the same schema the CLI uses.

Every setting of ``builder.TRAINING_SETTINGS`` (but ``out``: the panel picks the run
folder) gets the typed editor the inspector uses for block parameters
(:func:`gui.param_editors.make_editor`; ``init``, ``loss`` and values without a widget
get those of :mod:`gui.training.setting_editors`), grouped as Data / Schedule / Stability /
Transfer / Run; the data set is a combo of ``builder.DATA_SOURCES``, those that fit the
graph first (asked again when its inputs or outputs change), followed by that source's
own options (:mod:`gui.training.data_source_rows`; options without a widget are YAML
text, :mod:`gui.training.yaml_values`).

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
import traceback
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from builder import TRAINING_SETTINGS, SettingsError, graph_sources, resolve_settings
from gui.document import GraphDocument
from gui.form_widgets import compact_form, mark_explicit, section_heading
from gui.param_editor_base import ParamEditor, problem_of
from gui.style import ERROR_COLOR
from gui.training.data_source_rows import DATA_KEY, DataSourceRows, label_text, with_option, with_source
from gui.training.setting_editors import InitEditor, setting_editor
from gui.training.source_combo import io_key

# settings shown under each heading, in this order; "data" (the data-set combo and the
# source's options) leads the Data group. A setting the schema adds later lands in "Other".
GROUPS: dict[str, tuple[str, ...]] = {
    "Data": ("val_split",),
    "Schedule": ("epochs", "max_steps", "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay",
                 "schedule", "step_size", "gamma"),
    "Stability": ("clip_norm", "clip_value", "early_stopping", "loss"),
    "Transfer": ("init", "freeze", "lr_mult", "unfreeze_after", "unfreeze_lr"),
    "Run": ("device", "amp", "channels_last", "compile", "seed", "estimate", "diagnostics_every", "log_every",
            "workers"),
}
HIDDEN = ("out",)  # the panel chooses the run folder
LABELS = {"lr": "learning rate", "val_split": "validation split", "diagnostics_every": "gradient stats every",
          "batch_size": "batch size", "weight_decay": "weight decay", "step_size": "step size",
          "clip_norm": "clip grad norm", "clip_value": "clip grad value", "early_stopping": "early stopping",
          "log_every": "log every", "amp": "mixed precision", "max_steps": "max steps",
          "init": "start from", "freeze": "frozen nodes", "lr_mult": "lr per node", "unfreeze_after": "unfreeze after",
          "unfreeze_lr": "unfrozen lr factor", "estimate": "estimate first"}
# what a clipping threshold starts at when its "set" box is ticked (0 would zero every gradient)
STARTING_VALUES = {"clip_norm": 1.0, "clip_value": 1.0}
OFF_WHEN_UNSET = ("clip_norm", "clip_value", "max_steps")  # optional settings that are off, not automatic, unset
# structured settings the schema expands into a long form: shown as the file writes them
AS_WRITTEN = ("init", "freeze", "lr_mult", "loss")
# settings that only matter with another one's value: greyed out otherwise
USED_WITH: dict[str, tuple[str, tuple[Any, ...]]] = {
    "momentum": ("optimizer", ("sgd",)),
    "nesterov": ("optimizer", ("sgd",)),
    "step_size": ("schedule", ("step",)),
    "gamma": ("schedule", ("step", "plateau")),
}


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


def _ranked(analysis: Any) -> Optional[list]:
    """``builder.graph_sources``; None (every source, in order) if a source's loader broke:
    the form must not, and the traceback goes to the terminal for a bug report."""
    try:
        return graph_sources(analysis)
    except Exception:  # noqa: BLE001 - a plug-in source's bug, not the user's
        traceback.print_exc()
        return None


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
        self._fits_key: Optional[tuple] = None  # the graph's inputs and outputs the combo's order is for
        self.editors: dict[str, ParamEditor] = {}
        self.labels: dict[str, QLabel] = {}

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
        self.data_rows = DataSourceRows(form, self._watch_text, LABELS, parent=self)
        self.data_rows.sourceChosen.connect(self._dataset_chosen)
        self.data_rows.optionCommitted.connect(self._option_committed)

    @property
    def dataset(self) -> QComboBox:
        """The data-set combo."""
        return self.data_rows.combo

    @property
    def summary(self) -> QLabel:
        """The chosen data set's one-line summary under the combo."""
        return self.data_rows.summary

    @property
    def option_editors(self) -> dict[str, ParamEditor]:
        """The editors of the chosen data source's options, by option name."""
        return self.data_rows.editors

    def _add_setting_row(self, form: QFormLayout, key: str) -> None:
        param = TRAINING_SETTINGS[key]
        editor = setting_editor(key, param, self._values.get(key, param.default))
        if isinstance(editor, InitEditor):
            editor.base_dir = lambda: self.document.graph_file_dir() if self.document is not None else None
        if key in STARTING_VALUES and hasattr(editor, "inner"):
            editor.inner.set_value(STARTING_VALUES[key])
        if key in OFF_WHEN_UNSET and hasattr(editor, "auto"):
            editor.auto.setText("off")  # not set: no clipping, every epoch
        editor.valueCommitted.connect(lambda value, k=key: self._setting_committed(k, value))
        self._watch_text(editor)
        label = QLabel(label_text(key, LABELS))
        label.setToolTip(f"{key}: {param.doc}" if param.doc else key)
        label.setBuddy(editor.editor)
        self.editors[key], self.labels[key] = editor, label
        form.addRow(label, editor)
        if isinstance(editor, InitEditor):
            form.addRow(editor.preview)

    def _watch_text(self, editor: ParamEditor) -> None:
        """Typed text that is not a valid value shows its message at once (the editor
        marks itself; the form says why)."""
        for line in editor.findChildren(QLineEdit):
            line.textEdited.connect(self._show_problems)
            line.editingFinished.connect(self._show_problems)

    # ------------------------------------------------------------------ public
    def set_document(self, document: Optional[GraphDocument]) -> None:
        """Show (and edit) ``document``'s training section."""
        if self.document is not None:
            for signal, slot in ((self.document.trainingChanged, self.refresh),
                                 (self.document.analysisChanged, self._graph_changed)):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.document = document
        self._detached = None
        if document is not None:
            document.trainingChanged.connect(self.refresh)
            document.analysisChanged.connect(self._graph_changed)
        self._graph_changed()

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

    def _graph_changed(self) -> None:
        """The graph was edited: order the data sets by what fits it now (asked again only
        when its inputs or outputs changed), then show the section."""
        analysis = self.document.analysis if self.document is not None else None
        key = io_key(analysis)
        if key != self._fits_key:
            self._fits_key = key
            self.data_rows.set_fits(_ranked(analysis) if key is not None else None)
        self.refresh()

    def refresh(self) -> None:
        """Show the section again (after an undo, or a change made elsewhere)."""
        section = self.section() or {}
        self._values, self._errors = resolve_leniently(section)
        with self._quiet():
            for key, editor in self.editors.items():
                # a value the schema rejects is shown as written, marked with the reason
                written = key in self._errors or (key in AS_WRITTEN and key in section)
                editor.set_value(section[key] if written else self._values[key])
                editor.set_problem(self._errors.get(key))
                mark_explicit(self.labels[key], key in section)
            self.data_rows.show(self._values.get(DATA_KEY))
            init = self.editors.get("init")
            if isinstance(init, InitEditor) and self.document is not None and "init" not in self._errors:
                document = self.document
                init.preview.show_plan(document.graph, section.get("init"), document.graph_file_dir(),
                                       key=id(document.analysis))
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

    def _data_problems(self) -> list[str]:
        if DATA_KEY in self._errors:
            return []  # the schema's own message says it
        return self.data_rows.problems(self._values.get(DATA_KEY))

    def _show_problems(self, *_args) -> None:
        problems = list(self._errors.values())
        problems += self._data_problems()
        for key, editor in self.editors.items():
            typed = problem_of(editor)
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

    def _option_committed(self, key: str, value: Any) -> None:
        source = self.data_rows.source_name
        if self._refreshing or source is None:
            return
        self._write(with_option(self.section() or {}, source, key, value))

    def _dataset_chosen(self, name: str) -> None:
        if self._refreshing:
            return
        section = with_source(self.section() or {}, name)
        if section is not None:
            self._write(section)
