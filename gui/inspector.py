"""The inspector: what the selection is, and its parameters, editable.

One node selected: its block, id, parameters, whether it is frozen for training, shapes,
cost and problems (:class:`gui.inspector_node.NodeView`). Several nodes: their summed cost.
None: the whole graph's totals (:class:`gui.inspector_totals.TotalsView`). Where the
training section freezes nodes, the totals split the parameters into trainable and frozen.

Edits go through ``GraphDocument.set_param``, ``rename_node`` and (the freeze toggle,
:mod:`gui.inspector_freeze`) ``set_training`` only, so each is an undo step. The inspector follows the document's signals: values refresh in place while the
node's block stays the same (so an editor keeps its focus and the text being typed), and
the view is rebuilt only when the selection or the node's block changes.
"""

from __future__ import annotations

import html
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from blocks import format_shape
from builder import frozen_nodes, parameter_split
from gui.document import GraphDocument
from gui.inspector_node import NodeView
from gui.inspector_totals import TotalsView
from gui.param_editor_base import ParamEditor
from gui.style import ERROR_COLOR, WARNING_COLOR

MAX_IDS_LISTED = 12  # a rubber-band selection of hundreds is summed, not listed


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
        return self._view.node_id if isinstance(self._view, NodeView) else None

    def editor(self, name: str) -> Optional[ParamEditor]:
        """The editor of parameter ``name`` of the node shown (None if there is none)."""
        return self._view.editors.get(name) if isinstance(self._view, NodeView) else None

    @property
    def editors(self) -> dict[str, ParamEditor]:
        return dict(self._view.editors) if isinstance(self._view, NodeView) else {}

    # --- views --------------------------------------------------------------------
    def _rebuild(self) -> None:
        old, self._view = self._scroll.takeWidget(), None
        if old is not None:
            # hiding it takes the focus away: a value being typed there is committed now,
            # to the node it was typed for
            old.hide()
            old.deleteLater()
        if self.document is None:
            view: QWidget = TotalsView("No graph open")
        elif len(self.ids) == 1:
            view = NodeView(self.document, self.ids[0])
        elif self.ids:
            shown = ", ".join(self.ids[:MAX_IDS_LISTED])
            more = len(self.ids) - MAX_IDS_LISTED
            view = TotalsView(f"{len(self.ids)} nodes selected", shown + (f" and {more} more" if more > 0 else ""))
        else:
            view = TotalsView(self.document.graph.name or self.document.display_name,
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
        if not isinstance(view, TotalsView):
            return
        if self.document is None:
            view.hide_cost()
            return
        analysis = self.document.analysis
        split, freeze_problems = self._split()
        view.show_split(split)
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
        text = ", ".join(summary) + (" (see Problems)" if summary else "")
        text += "".join(f"<div style='color:{ERROR_COLOR}'>{html.escape(p.message, quote=False)}</div>"
                        for p in freeze_problems)
        view.show_cost(analysis.total.params, analysis.total.macs, outputs, text)

    def _split(self) -> tuple[Optional[tuple[int, int, list[str]]], list]:
        """(trainable, frozen, frozen nodes) of the selection (none: of the graph, as
        ``modelbuilder check`` counts them) under the training section's ``freeze``, None
        when it freezes none of them; and the problems of that setting."""
        document = self.document
        analysis = document.analysis
        if not self.ids:
            split, problems = parameter_split(analysis)
            if not split.frozen_nodes:
                return None, problems
            return (split.trainable, split.frozen, list(split.frozen_nodes)), problems
        training = document.graph.training if isinstance(document.graph.training, dict) else {}
        frozen = [i for i in frozen_nodes(document.graph, training.get("freeze"))[0] if i in self.ids]
        if not frozen:
            return None, []
        nodes = analysis.nodes
        total = sum(nodes[i].cost.params for i in self.ids if i in nodes)
        still = sum(nodes[i].cost.params for i in frozen if i in nodes)
        return (total - still, still, frozen), []

    # --- document signals -----------------------------------------------------------
    def _connections(self, document: GraphDocument) -> list:
        return [(document.analysisChanged, self._on_analysis), (document.nodeChanged, self._on_node_changed),
                (document.nodeRenamed, self._on_node_renamed), (document.nodeRemoved, self._on_node_removed),
                (document.trainingChanged, self._refresh_totals)]

    def _on_analysis(self) -> None:
        if isinstance(self._view, NodeView):
            self._view.refresh()
        else:
            self._refresh_totals()

    def _on_node_changed(self, node_id: str) -> None:
        view = self._view
        if not isinstance(view, NodeView) or node_id != view.node_id:
            return
        node = self.document.node(node_id)
        if (node.block, node.graph) != view.block_key:
            self._rebuild()  # another block: other parameters
        else:
            view.refresh_values()

    def _on_node_renamed(self, old: str, new: str) -> None:
        self.ids = [new if i == old else i for i in self.ids]
        if isinstance(self._view, NodeView) and self._view.node_id == old:
            self._view.follow(new)

    def _on_node_removed(self, node_id: str) -> None:
        if node_id in self.ids:
            self.ids.remove(node_id)
            self._rebuild()
