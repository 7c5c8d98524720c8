"""Editors of the training settings whose values the typed block editors cannot show.

``init`` (where the starting weights come from) is a path, or a mapping with renames and
skip lists: YAML text with a button that picks a run folder, a bundle, or a weights file
(``.safetensors``, ``.pth``). Picking one replaces only the path (``from``), so the
mapping's renames still apply, as ``modelbuilder train --init`` does; under the field,
what it would load (:mod:`gui.training.init_preview`). ``loss`` is a word
(auto, cross_entropy ...) or, for a graph with several outputs, a mapping per output: a
combo of the words whose text can also be a mapping. ``freeze`` and ``lr_mult`` (node
lists and factors) are YAML text. Every other setting gets
:func:`gui.param_editors.make_editor`'s editor.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Optional

from PySide6.QtWidgets import QFileDialog, QMenu, QToolButton, QWidget

from blocks import Choice, Param, ParamError
from gui.form_widgets import FieldComboBox
from gui.param_editor_base import ParamEditor, ParsedLineEditor
from gui.training.init_preview import InitPreview
from gui.training.yaml_values import LiteralEditor, YamlLine, option_editor, parse_yaml_value, yaml_text

WEIGHT_FILES = "Weights (*.safetensors *.pth *.pt *.bin *.ckpt);;All files (*)"


def setting_editor(key: str, param: Param, value: Any) -> ParamEditor:
    """The editor of training setting ``key`` (declared as ``param``) showing ``value``."""
    if getattr(param, "kind", None) == "init":
        editor: ParamEditor = InitEditor(key, param)
    elif key == "loss" and isinstance(param, Choice):
        editor = LossEditor(key, param)
    else:
        return option_editor(key, param, value)
    editor.set_value(value)
    editor._decorate()
    return editor


def path_for(path: Path, base: Optional[Path]) -> str:
    """``path`` as the graph file would write it: relative to the graph's folder when it
    lies inside it, else absolute."""
    path = Path(path).resolve()
    if base is not None:
        try:
            return Path(os.path.relpath(path, Path(base).resolve())).as_posix() if \
                path.is_relative_to(Path(base).resolve()) else str(path)
        except ValueError:  # another drive
            return str(path)
    return str(path)


def with_source(value: Any, path: str) -> Any:
    """``init`` with its weights taken from ``path``: a bare path stays a bare path; a
    mapping keeps its renames and skip lists."""
    if isinstance(value, dict):
        return {**value, "from": path}
    return path


class InitEditor(LiteralEditor):
    """``init``: YAML text (a path, or ``{from: PATH, map: ..., skip_mismatched: ...}``) and a
    button to pick a run folder or bundle, or a weights file. ``base_dir()`` gives the graph
    file's folder (relative paths start there); ``ask_folder(start)`` and ``ask_file(start)``
    are the dialogs (tests replace them)."""

    def __init__(self, name: str, param: Param, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        self.line.setPlaceholderText("random weights")
        self.base_dir: Callable[[], Optional[Path]] = lambda: None
        self.ask_folder: Callable[[str], str] = lambda start: QFileDialog.getExistingDirectory(
            self, "Start from the weights of a run folder or a bundle", start)
        self.ask_file: Callable[[str], str] = lambda start: QFileDialog.getOpenFileName(
            self, "Start from a weights file", start, WEIGHT_FILES)[0]
        self.pick = QToolButton()
        self.pick.setObjectName("initPick")
        self.pick.setText("Choose…")
        self.pick.setToolTip("Start from the weights of a run, a bundle, a .safetensors or a .pth file "
                             "(matched by node id; see docs/transfer.md)")
        self.pick.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.pick)
        menu.addAction("Run folder or bundle…", lambda: self.choose(self.ask_folder))
        menu.addAction("Weights file (.safetensors, .pth)…", lambda: self.choose(self.ask_file))
        self.clear_action = menu.addAction("Start from random weights", lambda: self.pick_path(None))
        self.pick.setMenu(menu)
        self.layout_.addWidget(self.pick)
        self.preview = InitPreview()  # what the weights would load (the form shows it under the field)

    def _show(self, value: Any) -> None:
        super()._show(value)
        if not self.line.hasFocus():
            self.line.setCursorPosition(0)  # a long path shows its start
        self.line.setToolTip(yaml_text(value))

    def _start(self) -> str:
        base = self.base_dir()
        current = self.value()
        source = current.get("from") if isinstance(current, dict) else current
        if isinstance(source, str) and source:
            path = Path(source).expanduser()
            path = path if path.is_absolute() or base is None else base / path
            return str(path.parent if path.exists() else base or Path.cwd())
        runs = base / "runs" if base is not None else None
        return str(runs if runs is not None and runs.is_dir() else base or Path.cwd())

    def choose(self, ask: Callable[[str], str]) -> None:
        """Ask for a path with ``ask`` and take it (nothing, if the dialog is cancelled)."""
        chosen = ask(self._start())
        if chosen:
            self.pick_path(Path(chosen))

    def pick_path(self, path: Optional[Path]) -> None:
        """Start from the weights at ``path`` (None: from random weights again)."""
        value = None if path is None else with_source(self.value(), path_for(path, self.base_dir()))
        self._shown = value
        self.line.setText(yaml_text(value))
        self._set_invalid(None)
        self._commit(value)


class LossEditor(YamlLine, ParsedLineEditor):
    """``loss``: a combo of the loss words whose text may also be a mapping per output
    (``{logits: cross_entropy, aux1: {loss: cross_entropy, weight: 0.3}}``)."""

    def __init__(self, name: str, param: Choice, parent: Optional[QWidget] = None):
        super().__init__(name, param, parent)
        self.combo = FieldComboBox()
        self.combo.setEditable(True)
        self.combo.addItems(list(param.choices))
        self.combo.setInsertPolicy(FieldComboBox.InsertPolicy.NoInsert)
        self.editor = self.combo
        self.line = self.combo.lineEdit()
        self.layout_.addWidget(self.combo, 1)
        self.line.textEdited.connect(self._edited)
        self.line.editingFinished.connect(self._finished)
        self.combo.activated.connect(lambda _index: self._finished())

    def _shown_text(self, text: str) -> None:
        self.line.setCursorPosition(0)  # a long mapping shows its start
        self.line.setToolTip(text)

    def _parse(self, text: str) -> Any:
        value = parse_yaml_value(text)
        if value is None:
            raise ParamError("a loss, e.g. auto or cross_entropy, or a mapping per output")
        self.param.check(value)
        return value
