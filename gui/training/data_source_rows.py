"""The data set rows of the training settings form: a combo of ``builder.DATA_SOURCES``
(those that fit the open graph first: :mod:`gui.training.source_combo`), the chosen
source's one-line summary (and why it cannot fit the graph, where it cannot), and one
editor per option that source declares.

:class:`DataSourceRows` only shows a data spec (``training.data``) and says what the user
picked (``sourceChosen``, ``optionCommitted``); the form turns that into a new training
section with :func:`with_source` and :func:`with_option` and writes it to the document,
so the rows never touch the document.
"""

from __future__ import annotations

import copy
import html
from typing import Any, Callable, Mapping, Optional

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFormLayout, QLabel

from blocks import ParamError
from builder import DATA_SOURCES, SettingsError
from gui.form_widgets import mark_explicit
from gui.param_editor_base import ParamEditor, problem_of
from gui.style import HINT_COLOR, WARNING_COLOR
from gui.training.source_combo import SourceCombo, short_reason
from gui.training.wrapped_label import WrappedLabel
from gui.training.yaml_values import option_editor

DATA_KEY = "data"
COMMON_OPTIONS = ("limit", "samples", "val_split", "normalize", "augment", "seed")  # keep the shapes a source gives


def data_spec(section: Mapping[str, Any]) -> dict[str, Any]:
    """The section's data spec as a new dict (``data: mnist`` is ``{name: mnist}``)."""
    raw = section.get(DATA_KEY)
    if isinstance(raw, str):
        return {"name": raw}
    return copy.deepcopy(dict(raw)) if isinstance(raw, Mapping) else {}


def with_source(section: dict, name: str) -> Optional[dict]:
    """``section`` with data source ``name`` chosen, None when it is chosen already. The
    options kept are those the new source also takes, and those neither declares (limit,
    val_split ...)."""
    old = data_spec(section)
    if old.get("name") == name:
        return None
    old_source = DATA_SOURCES.get(old.get("name")) if isinstance(old.get("name"), str) else None
    new_source = DATA_SOURCES[name]
    kept = {k: v for k, v in old.items() if k != "name" and (
        k in new_source.options or old_source is None or k not in old_source.options)}
    section[DATA_KEY] = {"name": name, **kept}
    return section


def with_option(section: dict, source_name: str, key: str, value: Any) -> dict:
    """``section`` with option ``key`` of data source ``source_name`` set to ``value``
    (None, or empty text for a required option: removed, back to its default)."""
    spec = data_spec(section)
    if value is None or (value == "" and DATA_SOURCES[source_name].options[key].required):
        spec.pop(key, None)
    else:
        spec[key] = value
    section[DATA_KEY] = {"name": source_name, **{k: v for k, v in spec.items() if k != "name"}}
    return section


def _listed(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def label_text(key: str, labels: Mapping[str, str]) -> str:
    """A setting's label in the form: its own words where ``labels`` has them."""
    return labels.get(key, key.replace("_", " "))


class DataSourceRows(QObject):
    """The combo, the summary and the chosen source's option rows, in ``form`` from where
    they are added. ``watch(editor)`` is called for each option editor made (the form
    shows typed text that is not valid at once); ``labels`` are the form's words for keys."""

    sourceChosen = Signal(str)  # a data source picked in the combo
    optionCommitted = Signal(str, object)  # (option, value): None is "back to the default"

    def __init__(self, form: QFormLayout, watch: Callable[[ParamEditor], None], labels: Mapping[str, str],
                 parent: Optional[QObject] = None):
        super().__init__(parent)
        self.form = form
        self.watch = watch
        self.labels = labels
        self.editors: dict[str, ParamEditor] = {}
        self.option_labels: dict[str, QLabel] = {}
        self.source_name: Optional[str] = None  # the source whose option rows are shown
        self._showing = False
        self.combo = SourceCombo()
        self.combo.setObjectName("trainingDataset")
        self.combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.combo.setPlaceholderText("choose a data set")
        self.combo.currentIndexChanged.connect(self._chosen)
        label = QLabel("data set")
        label.setToolTip("data: where the samples come from (docs/data.md)")
        form.addRow(label, self.combo)
        self.summary = WrappedLabel()
        self.summary.setObjectName("trainingDatasetSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setStyleSheet(f"color: {HINT_COLOR}; padding: 0 0 4px 0;")
        form.addRow(self.summary)

    def set_fits(self, fits: Optional[list]) -> None:
        """Order the combo for the open graph (``builder.graph_sources``; None: not known).
        Call :meth:`show` next: the combo shows no source until then."""
        self.combo.set_fits(fits)

    def show(self, spec: Optional[dict]) -> None:
        """Show data spec ``spec``: its source in the combo, that source's option rows with
        the spec's values (defaults elsewhere, bold labels for the values given), and what
        is wrong with each. Emits nothing."""
        name = spec.get("name") if isinstance(spec, dict) else None
        source = DATA_SOURCES.get(name) if isinstance(name, str) else None
        self._showing = True  # showing is not choosing
        try:
            self.combo.setCurrentIndex(self.combo.findData(name) if source is not None else -1)
        finally:
            self._showing = False
        reason = self._reason(spec)
        self.combo.setToolTip(source.summary + (f"\n\n{reason}" if reason else "") if source is not None else "")
        text = html.escape(source.summary, quote=False) if source is not None else ""
        if reason:  # (the whole sentence is the form's message above)
            text += (f"<br><span style='color:{WARNING_COLOR}'>cannot fit this graph: "
                     f"{html.escape(short_reason(name, reason), quote=False)}</span>")
        self.summary.setText(text)
        self.summary.setVisible(source is not None)
        self._build_options(name if source is not None else None)
        if source is None:
            return
        for key, editor in self.editors.items():
            param = source.options[key]
            given = key in spec
            value = spec[key] if given else (None if param.required else param.default)
            editor.set_value(value)
            mark_explicit(self.option_labels[key], given)
            problem = None
            if given:
                try:
                    param.check(value)
                except ParamError as err:
                    problem = str(err)
            elif param.required:
                problem = f"required: {param.doc}" if param.doc else "required"
            editor.set_problem(problem)

    def problems(self, spec: Any) -> list[str]:
        """What is wrong with data spec ``spec`` as shown: no source, an unknown one, or an
        option the source refuses (or is missing)."""
        name = spec.get("name") if isinstance(spec, dict) else None
        fitting = self.combo.fitting()
        if spec is None or name is None:
            these = f" ({_listed(fitting)} {'fit' if len(fitting) > 1 else 'fits'} this graph)" if fitting else ""
            return [str(SettingsError(DATA_KEY, f"no data set: choose one to train on{these}"))]
        if name not in DATA_SOURCES:
            return [str(SettingsError(DATA_KEY, f"unknown data source {name!r}; "
                                                f"choose one of {', '.join(fitting or DATA_SOURCES)}"))]
        problems = [f"data option {key!r}: {problem_of(editor)}" for key, editor in self.editors.items()
                    if problem_of(editor)]
        reason = self._reason(spec)
        if reason and not problems:
            problems.append(str(SettingsError(DATA_KEY, reason + (f"; {_listed(fitting)} "
                                                                   f"{'fit' if len(fitting) > 1 else 'fits'} it"
                                                                   if fitting else ""))))
        return problems

    def _reason(self, spec: Any) -> Optional[str]:
        """Why the source of ``spec`` cannot fit the graph. The combo tried each source with
        its default options; options that change what a source gives (classes, vocab ...)
        may make it fit, so a spec that sets any but those every source takes is not judged."""
        if not isinstance(spec, dict) or not spec.keys() <= {"name", *COMMON_OPTIONS}:
            return None
        return self.combo.reason(spec.get("name"))

    def _build_options(self, name: Optional[str]) -> None:
        """The rows of the data source's own options, after the combo and the summary."""
        if name == self.source_name:
            return
        for key in list(self.editors):
            editor = self.editors.pop(key)
            self.option_labels.pop(key)
            self.form.removeRow(editor)  # deletes the editor and its label
        self.source_name = name
        source = DATA_SOURCES.get(name) if isinstance(name, str) else None
        if source is None:
            return
        row = self.form.getWidgetPosition(self.summary)[0] + 1
        for key, param in source.options.items():
            editor = option_editor(key, param, None if param.required else param.default)
            if param.required and hasattr(editor, "line"):
                editor.line.setPlaceholderText("required")
            editor.setObjectName(f"option_{key}")
            editor.valueCommitted.connect(lambda value, k=key: self.optionCommitted.emit(k, value))
            self.watch(editor)
            label = QLabel(label_text(key, self.labels))
            label.setToolTip(f"data option {key}: {param.doc}" if param.doc else key)
            label.setBuddy(editor.editor)
            label.setIndent(12)
            self.form.insertRow(row, label, editor)
            row += 1
            self.editors[key], self.option_labels[key] = editor, label

    def _chosen(self, index: int) -> None:
        if index >= 0 and not self._showing:
            self.sourceChosen.emit(self.combo.itemData(index))
