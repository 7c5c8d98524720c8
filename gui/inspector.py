"""The inspector: what the selection is, and its parameters, editable.

One node selected: its block (name, category, summary), its id (renamed in place), one
typed editor per declared parameter (:mod:`gui.param_editors`), its shapes, cost and
problems. Several nodes: their summed cost. None: the whole graph's totals.

Edits go through ``GraphDocument.set_param`` and ``rename_node`` only, so each is an undo
step. The inspector follows the document's signals: values refresh in place while the
node's block stays the same (so an editor keeps its focus and the text being typed), and
the view is rebuilt only when the selection or the node's block changes.
"""

from __future__ import annotations

import html
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from blocks import Block, format_shape
from gui.document import GraphDocument
from gui.param_editors import (
    LineEdit,
    ParamEditor,
    compact_form,
    make_editor,
    section_heading,
)
from gui.style import ERROR_COLOR, HINT_COLOR, WARNING_COLOR, category_color
from gui.wording import app_message, for_app

ID_TIP = "The node's name in the file and in the compiled model. Enter renames (wires follow), Escape restores."
MAX_IDS_LISTED = 12  # a rubber-band selection of hundreds is summed, not listed
_UNITS = (("G", 10**9), ("M", 10**6), ("K", 10**3))


def short_number(n: int) -> str:
    """61100840 -> "61.1 M": the size at a glance (K, M, G are powers of 1000)."""
    for unit, size in _UNITS:
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)


def count_text(n: int) -> str:
    """61100840 -> "61,100,840 (61.1 M)"; small numbers stay plain."""
    return f"{n:,} ({short_number(n)})" if abs(n) >= 1000 else f"{n:,}"


def _label(text: str = "", *, name: str = "", wrap: bool = True, color: Optional[str] = None) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    if color:
        label.setStyleSheet(f"color: {color};")
    return label


def _problems_html(problems: list) -> str:
    """Messages in red (warnings in orange), each with its hint in grey."""
    parts = []
    for p in map(for_app, problems):
        color = ERROR_COLOR if p.is_error else WARNING_COLOR
        text = f"<div style='color:{color}'>{html.escape(p.message)}</div>"
        if p.hint:
            text += f"<div style='color:{HINT_COLOR}'>hint: {html.escape(p.hint)}</div>"
        parts.append(text)
    return "<div style='margin-bottom:4px'></div>".join(parts)


class _Totals(QWidget):
    """The cost of a set of nodes (all of them: the graph's totals)."""

    def __init__(self, title: str, hint: str = ""):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = _label(title, name="inspectorTitle")
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        layout.addWidget(self.title)
        if hint:
            layout.addWidget(_label(hint, name="inspectorHint", color=HINT_COLOR))
        self.form = compact_form(2)
        self.params = _label(name="inspectorParams")
        self.macs = _label(name="inspectorMacs")
        self.outputs = _label(name="inspectorOutputs")
        self.problems = _label(name="inspectorProblems")
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(section_heading("Cost"))
        self.form.addRow("Parameters", self.params)
        self.form.addRow("MACs", self.macs)
        layout.addLayout(self.form)
        self.outputs_heading = section_heading("Outputs")
        layout.addWidget(self.outputs_heading)
        layout.addWidget(self.outputs)
        layout.addWidget(self.problems)
        layout.addStretch(1)

    def hide_cost(self) -> None:
        for widget in self.findChildren(QWidget):
            if widget is not self.title:
                widget.hide()

    def show_cost(self, params: int, macs: int, outputs: Optional[list[str]] = None, problems: str = "") -> None:
        self.params.setText(count_text(params))
        self.macs.setText(count_text(macs))
        self.outputs_heading.setVisible(bool(outputs))
        self.outputs.setVisible(bool(outputs))
        self.outputs.setText("\n".join(outputs or []))
        self.problems.setVisible(bool(problems))
        self.problems.setText(problems)


class _NodeView(QWidget):
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
        self._build_results(layout)
        layout.addStretch(1)
        self.refresh()

    # --- construction -------------------------------------------------------------
    def _build_header(self, layout: QVBoxLayout) -> None:
        node, block = self.document.node(self.node_id), self.block
        row = QHBoxLayout()
        row.setSpacing(8)
        name = block.name if block is not None else (node.block or node.graph or "?")
        self.title = _label(name, name="inspectorTitle", wrap=False)
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
            summary = _label(first.replace("``", ""), name="inspectorSummary", color=HINT_COLOR)
            summary.setToolTip(block.doc())
            layout.addWidget(summary)
        if node.graph is not None:
            path = getattr(block, "path", None)
            file_label = _label(f"graph file: {node.graph}", name="inspectorGraphFile")
            file_label.setToolTip(str(path) if path is not None else node.graph)
            layout.addWidget(file_label)
            inside = _label("double-click the node to look inside", name="inspectorLookInside", color=HINT_COLOR)
            font = inside.font()
            font.setItalic(True)
            inside.setFont(font)
            layout.addWidget(inside)

    def _build_id(self, layout: QVBoxLayout) -> None:
        layout.addWidget(section_heading("Id"))
        self.id_edit = LineEdit(self.node_id)
        self.id_edit.setObjectName("inspectorId")
        self.id_edit.setToolTip(ID_TIP)
        self.id_error = _label(name="inspectorIdError", color=ERROR_COLOR)
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
        self.shapes = _label(name="inspectorOutputs")
        self.shapes.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.shapes)
        layout.addWidget(section_heading("Cost"))
        form = compact_form(2)
        self.params = _label(name="inspectorParams")
        self.macs = _label(name="inspectorMacs")
        form.addRow("Parameters", self.params)
        form.addRow("MACs", self.macs)
        layout.addLayout(form)
        self.problems = _label(name="inspectorProblems")
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
            # bold: written in the file; plain: the block's default
            font = self.labels[name].font()
            font.setBold(name in node.params)
            self.labels[name].setFont(font)

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
        self.params.setText(count_text(cost.params) if cost is not None else "?")
        self.macs.setText(count_text(cost.macs) if cost is not None else "?")
        self.problems.setVisible(bool(problems))
        self.problems.setText(_problems_html(problems))

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


class Inspector(QWidget):
    """The parameters of the selected node, or the totals of a selection or graph.

    The main window calls :meth:`show_nodes` with the canvas selection."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("inspector")
        self.document: Optional[GraphDocument] = None
        self.ids: list[str] = []
        self._view: Optional[QWidget] = None
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._scroll)
        self._rebuild()

    # --- public -------------------------------------------------------------------
    def set_document(self, document: Optional[GraphDocument]) -> None:
        """Show ``document`` (None: nothing); the selection is cleared."""
        if self.document is not None:
            for signal, slot in self._connections(self.document):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):  # already gone with the document
                    pass
        self.document = document
        if document is not None:
            for signal, slot in self._connections(document):
                signal.connect(slot)
        self.show_nodes([])

    def show_nodes(self, ids: list[str]) -> None:
        """Show the nodes with these ids (the canvas selection)."""
        nodes = self.document.graph.nodes if self.document is not None else {}
        self.ids = [i for i in dict.fromkeys(ids) if i in nodes]
        self._rebuild()

    @property
    def node_id(self) -> Optional[str]:
        """The id of the node shown, when exactly one is."""
        return self._view.node_id if isinstance(self._view, _NodeView) else None

    def editor(self, name: str) -> Optional[ParamEditor]:
        """The editor of parameter ``name`` of the node shown (None if there is none)."""
        return self._view.editors.get(name) if isinstance(self._view, _NodeView) else None

    @property
    def editors(self) -> dict[str, ParamEditor]:
        return dict(self._view.editors) if isinstance(self._view, _NodeView) else {}

    # --- views --------------------------------------------------------------------
    def _rebuild(self) -> None:
        old, self._view = self._scroll.takeWidget(), None
        if old is not None:
            # hiding it takes the focus away: a value being typed there is committed now,
            # to the node it was typed for
            old.hide()
            old.deleteLater()
        if self.document is None:
            view: QWidget = _Totals("No graph open")
        elif len(self.ids) == 1:
            view = _NodeView(self.document, self.ids[0])
        elif self.ids:
            shown = ", ".join(self.ids[:MAX_IDS_LISTED])
            more = len(self.ids) - MAX_IDS_LISTED
            view = _Totals(f"{len(self.ids)} nodes selected", shown + (f" and {more} more" if more > 0 else ""))
        else:
            view = _Totals(self.document.graph.name or self.document.display_name,
                           "Select a node to see its parameters")
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(10, 10, 10, 10)
        body_layout.addWidget(view)
        self._scroll.setWidget(body)
        self._view = view
        self._refresh_totals()

    def _refresh_totals(self) -> None:
        view = self._view
        if not isinstance(view, _Totals):
            return
        if self.document is None:
            view.hide_cost()
            return
        analysis = self.document.analysis
        if self.ids:
            params = sum(analysis.nodes[i].cost.params for i in self.ids if i in analysis.nodes)
            macs = sum(analysis.nodes[i].cost.macs for i in self.ids if i in analysis.nodes)
            view.show_cost(params, macs)
            return
        outputs = [f"{i}: {format_shape(analysis.nodes[i].shape)}" for i in analysis.output_ids]
        errors, warnings = len(analysis.errors), len(analysis.warnings)
        summary = []
        if errors:
            summary.append(f"<span style='color:{ERROR_COLOR}'>{errors} error{'s' * (errors != 1)}</span>")
        if warnings:
            summary.append(f"<span style='color:{WARNING_COLOR}'>{warnings} warning{'s' * (warnings != 1)}</span>")
        view.show_cost(analysis.total.params, analysis.total.macs, outputs,
                       ", ".join(summary) + (" (see Problems)" if summary else ""))

    # --- document signals -----------------------------------------------------------
    def _connections(self, document: GraphDocument) -> list:
        return [(document.analysisChanged, self._on_analysis), (document.nodeChanged, self._on_node_changed),
                (document.nodeRenamed, self._on_node_renamed), (document.nodeRemoved, self._on_node_removed)]

    def _on_analysis(self) -> None:
        if isinstance(self._view, _NodeView):
            self._view.refresh()
        else:
            self._refresh_totals()

    def _on_node_changed(self, node_id: str) -> None:
        view = self._view
        if not isinstance(view, _NodeView) or node_id != view.node_id:
            return
        node = self.document.node(node_id)
        if (node.block, node.graph) != view.block_key:
            self._rebuild()  # another block: other parameters
        else:
            view.refresh_values()

    def _on_node_renamed(self, old: str, new: str) -> None:
        self.ids = [new if i == old else i for i in self.ids]
        if isinstance(self._view, _NodeView) and self._view.node_id == old:
            self._view.follow(new)

    def _on_node_removed(self, node_id: str) -> None:
        if node_id in self.ids:
            self.ids.remove(node_id)
            self._rebuild()
