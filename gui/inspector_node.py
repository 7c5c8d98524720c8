"""The inspector's view of one node: its block (name, category, summary), its id (renamed
in place), one typed editor per declared parameter (:mod:`gui.param_editors`), its shapes,
cost and problems.

Edits go through ``GraphDocument.set_param`` and ``rename_node`` only, so each is an undo
step. :class:`gui.inspector.Inspector` makes one :class:`NodeView` per node shown and tells
it when the document changed; the view's parts are built by the ``_build_*`` steps, in the
order they appear.
"""

from __future__ import annotations

import html
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from blocks import Block, format_shape
from gui.document import GraphDocument
from gui.form_widgets import LineEdit, compact_form, info_label, mark_explicit, section_heading
from gui.inspector_freeze import add_freeze_section
from gui.inspector_repeat import add_repeat_section
from gui.labels import exact_count
from gui.param_editor_base import ParamEditor
from gui.param_editors import make_editor
from gui.style import ERROR_COLOR, HINT_COLOR, WARNING_COLOR, category_color
from gui.wording import app_message, for_app

ID_TIP = "The node's name in the file and in the compiled model. Enter renames (wires follow), Escape restores."


def problems_html(problems: list) -> str:
    """Messages in red (warnings in orange), each with its hint in grey."""
    parts = []
    for p in map(for_app, problems):
        color = ERROR_COLOR if p.is_error else WARNING_COLOR
        text = f"<div style='color:{color}'>{html.escape(p.message)}</div>"
        if p.hint:
            text += f"<div style='color:{HINT_COLOR}'>hint: {html.escape(p.hint)}</div>"
        parts.append(text)
    return "<div style='margin-bottom:4px'></div>".join(parts)


class NodeView(QWidget):
    """One node: header, id, parameter editors, shapes, cost and problems."""

    def __init__(self, document: GraphDocument, node_id: str):
        super().__init__()
        self.document = document
        self.node_id = node_id
        node = document.node(node_id)
        self.block_key = (node.block, node.graph)
        self.block: Optional[Block] = document.block_of(node_id)
        self.editors: dict[str, ParamEditor] = {}
        self.labels: dict[str, QLabel] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self._build_header(layout)
        self._build_id(layout)
        if self.block is not None:
            self._build_params(layout)
        self.repeat_section = add_repeat_section(self, layout)  # count and repetitions of a repeated node
        self.freeze_section = add_freeze_section(self, layout)  # whether its weights train (training.freeze)
        self._build_results(layout)
        layout.addStretch(1)
        self.refresh()

    # --- construction -------------------------------------------------------------
    def _build_header(self, layout: QVBoxLayout) -> None:
        node, block = self.document.node(self.node_id), self.block
        row = QHBoxLayout()
        row.setSpacing(8)
        name = block.name if block is not None else (node.block or node.graph or "?")
        self.title = info_label(name, name="inspectorTitle", wrap=False)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.title.setFont(font)
        row.addWidget(self.title)
        category = block.category if block is not None else "unknown block"
        self.category = QLabel(category)
        self.category.setObjectName("inspectorCategory")
        background = category_color(block.category).name() if block is not None else ERROR_COLOR
        self.category.setStyleSheet(f"background: {background}; color: white; border-radius: 3px; padding: 1px 6px;")
        row.addWidget(self.category, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addStretch(1)
        layout.addLayout(row)
        if block is not None:
            self.title.setToolTip(block.doc())
            # the doc's first line, not summary(): a classmethod, it misses a graph file's
            # own description; and ``[C, H, W]`` (reStructuredText) reads as [C, H, W] here
            first = next(iter(block.doc().strip().splitlines()), "")
            summary = info_label(first.replace("``", ""), name="inspectorSummary", color=HINT_COLOR)
            summary.setToolTip(block.doc())
            layout.addWidget(summary)
        if node.graph is not None:
            path = getattr(block, "path", None)
            file_label = info_label(f"graph file: {node.graph}", name="inspectorGraphFile")
            file_label.setToolTip(str(path) if path is not None else node.graph)
            layout.addWidget(file_label)
            inside = info_label("double-click the node to look inside", name="inspectorLookInside", color=HINT_COLOR)
            font = inside.font()
            font.setItalic(True)
            inside.setFont(font)
            layout.addWidget(inside)

    def _build_id(self, layout: QVBoxLayout) -> None:
        layout.addWidget(section_heading("Id"))
        self.id_edit = LineEdit(self.node_id)
        self.id_edit.setObjectName("inspectorId")
        self.id_edit.setToolTip(ID_TIP)
        self.id_error = info_label(name="inspectorIdError", color=ERROR_COLOR)
        self.id_error.hide()
        self.id_edit.textEdited.connect(self._id_edited)
        self.id_edit.editingFinished.connect(self._id_finished)
        self.id_edit.escaped.connect(self._id_restore)
        layout.addWidget(self.id_edit)
        layout.addWidget(self.id_error)

    def _build_params(self, layout: QVBoxLayout) -> None:
        params = self.block.params
        if not params:
            return
        layout.addWidget(section_heading("Parameters"))
        form = compact_form(2)
        node = self.document.node(self.node_id)
        for name, param in params.items():
            editor = make_editor(name, param, self._value(node.params, name))
            editor.valueCommitted.connect(lambda value, name=name: self._commit(name, value))
            label = QLabel(name)
            label.setToolTip(editor.toolTip())
            label.setBuddy(editor.editor)
            # right-click on the name, as on the editor: back to the default
            label.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            label.customContextMenuRequested.connect(
                lambda position, e=editor, lb=label: e.show_reset_menu(e.mapFromGlobal(lb.mapToGlobal(position))))
            form.addRow(label, editor)
            self.editors[name] = editor
            self.labels[name] = label
        layout.addLayout(form)

    def _build_results(self, layout: QVBoxLayout) -> None:
        layout.addWidget(section_heading("Shapes"))
        self.shapes = info_label(name="inspectorOutputs")
        self.shapes.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.shapes)
        layout.addWidget(section_heading("Cost"))
        form = compact_form(2)
        self.params = info_label(name="inspectorParams")
        self.macs = info_label(name="inspectorMacs")
        form.addRow("Parameters", self.params)
        form.addRow("MACs", self.macs)
        layout.addLayout(form)
        self.problems = info_label(name="inspectorProblems")
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.problems)

    # --- updates ------------------------------------------------------------------
    def _value(self, params: dict, name: str) -> Any:
        return params[name] if name in params else self.block.params[name].default

    def refresh_values(self) -> None:
        """Show the node's current parameter values (editors keep focus and typed text)."""
        node = self.document.node(self.node_id)
        for name, editor in self.editors.items():
            editor.set_value(self._value(node.params, name))
            mark_explicit(self.labels[name], name in node.params)

    def refresh(self) -> None:
        """Values, problem marks, shapes, cost and problems from the current analysis."""
        self.refresh_values()
        analysis = self.document.analysis
        info = analysis.nodes.get(self.node_id)
        problems = analysis.problems_for(self.node_id)
        for name, editor in self.editors.items():
            mine = [app_message(p) for p in problems if p.param == name]
            editor.set_problem("\n".join(mine) if mine else None)
        self.shapes.setText(self._shapes_text(info))
        cost = info.cost if info is not None and info.ok else None  # unknown, not zero
        self.params.setText(exact_count(cost.params) if cost is not None else "?")
        self.macs.setText(exact_count(cost.macs) if cost is not None else "?")
        self.problems.setVisible(bool(problems))
        self.problems.setText(problems_html(problems))

    def _shapes_text(self, info) -> str:
        """A small table: each input port's shape(s), then each output port's."""
        if info is None:
            return "?"
        rows = []
        ins = self.block.inputs if self.block is not None else ()
        for port, shape in info.input_shapes.items():
            for s in shape if isinstance(shape, list) else [shape]:
                rows.append(("in", port if len(ins) > 1 else "", format_shape(s)))
        ports = [p.name for p in self.block.outputs] if self.block is not None else list(info.outputs)
        for port in ports:
            rows.append(("out", port if len(ports) > 1 else "", format_shape(info.outputs.get(port))))
        if not rows:
            return "?"
        cells = "".join(f"<tr><td style='color:{HINT_COLOR}; padding-right:8px'>{way}</td>"
                        f"<td style='color:{HINT_COLOR}; padding-right:8px'>{html.escape(port)}</td>"
                        f"<td>{html.escape(shape)}</td></tr>" for way, port, shape in rows)
        return f"<table cellspacing='0'>{cells}</table>"

    def follow(self, new_id: str) -> None:
        """The node was renamed (here or by undo): show and edit the new id."""
        self.node_id = new_id
        self._id_restore()

    # --- edits --------------------------------------------------------------------
    def _commit(self, name: str, value: Any) -> None:
        if self.node_id in self.document.graph.nodes:
            self.document.set_param(self.node_id, name, value)

    def _id_edited(self, text: str) -> None:
        verdict = self.document.can_rename(self.node_id, text.strip())
        self._show_id_error(None if verdict else verdict.reason)

    def _id_finished(self) -> None:
        text = self.id_edit.text().strip()
        if text == self.node_id or self.node_id not in self.document.graph.nodes:
            self._show_id_error(None)
            return
        verdict = self.document.rename_node(self.node_id, text)
        self._show_id_error(None if verdict else verdict.reason)

    def _id_restore(self) -> None:
        self.id_edit.setText(self.node_id)
        self._show_id_error(None)

    def _show_id_error(self, reason: Optional[str]) -> None:
        self.id_error.setText(reason or "")
        self.id_error.setVisible(bool(reason))
        self.id_edit.setProperty("invalid", bool(reason))
        self.id_edit.setStyleSheet(f"QLineEdit {{ border: 2px solid {ERROR_COLOR}; border-radius: 3px; }}"
                                   if reason else "")
        self.id_edit.setToolTip(reason or ID_TIP)

