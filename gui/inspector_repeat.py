"""The inspector's section for a repeated node (``repeat: N``, ``vary``; docs/format.md,
"Repeated nodes"): its count, editable, and what each repetition gets.

The count is a spin box like any whole-number parameter; a change is one undo step
(arrow clicks in a row merge into one, as parameter edits do) that sets the node's
``repeat`` and resizes its ``vary`` lists to the new count (a list grows by repeating its
last value and shrinks from the end; expressions of ``i`` need no change), so the graph
stays valid. Undo restores the node exactly as it was. A count written as an expression of
exposed parameters is shown, not edited: it belongs to whoever uses the file.

Below it, a table of the repetitions as the analysis worked them out: the values that
vary, the output shape and the parameter count of each.
"""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Any, Optional, Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from blocks import Int
from builder import MAX_REPEAT, repetitions
from gui.commands import SetParamCommand
from gui.document import GraphDocument
from gui.edits import node_state
from gui.form_widgets import compact_form, info_label, section_heading
from gui.labels import short_number, short_shape
from gui.param_editors import make_editor
from gui.style import HINT_COLOR

ROWS_SHOWN = 12  # repetitions listed; DenseNet's 24 would push the rest of the inspector away
COUNT = Int(2, min=1, max=MAX_REPEAT, doc="how many times the block is applied in a chain: each repetition "
                                          "takes the previous one's output (undoable)")
REPEAT_KEY = "<repeat>"  # the merge key of count edits; no parameter has this name


class NodeView(Protocol):
    """What the section needs of :class:`gui.inspector_node.NodeView` (which imports this
    module, so it is not imported here): the document, the node shown and its widget."""

    document: GraphDocument
    node_id: str

    def findChild(self, kind: Any, name: str) -> Any: ...


def resized(vary: Optional[dict[str, Any]], count: int) -> Optional[dict[str, Any]]:
    """``vary`` with every list made ``count`` long (the last value repeated, or cut from
    the end); expressions and other values as they are."""
    if vary is None:
        return None
    out = {}
    for key, value in vary.items():
        if isinstance(value, list) and value:
            value = value[:count] + [value[-1]] * (count - len(value))
        out[key] = value
    return out


def set_repeat_count(document: GraphDocument, node_id: str, count: int) -> bool:
    """Set a repeated node's count as one undo step (lists in ``vary`` follow); False when
    nothing changes."""
    node = document.graph.nodes[node_id]
    if isinstance(node.repeat, int) and not isinstance(node.repeat, bool) and node.repeat == count:
        return False
    before = node_state(document.graph, node_id)
    after = replace(before, node=replace(before.node, repeat=count, vary=resized(before.node.vary, count)))
    document.undo_stack.push(SetParamCommand(document, f"Repeat {node_id} {count} times", {node_id: before},
                                             {node_id: after}, (node_id, REPEAT_KEY)))
    return True


def written(value: Any) -> str:
    """A ``vary`` entry as the file has it: a list ``[96, 144]`` or an expression ``"2 if i == 0 else 1"``."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


class RepeatSection(QWidget):
    """Count and repetitions of the repeated node a :class:`NodeView` shows."""

    def __init__(self, view: NodeView):
        super().__init__(view)
        self.setObjectName("inspectorRepeat")
        self.view = view
        self.document = view.document
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(section_heading("Repeat"))
        form = compact_form(2)
        self.count = make_editor("repeat", COUNT, self._node().repeat)
        self.count.setObjectName("inspectorRepeatCount")
        self.count.valueCommitted.connect(self._commit)
        self.expression = info_label(name="inspectorRepeatExpression")
        label = QLabel("count")
        label.setToolTip(self.count.toolTip())
        form.addRow(label, self.count)
        form.addRow("count", self.expression)
        self._form = form
        layout.addLayout(form)
        self.vary = info_label(name="inspectorVary")
        self.vary.setTextFormat(Qt.TextFormat.RichText)
        self.vary.setToolTip("Written in the file under vary: a list has one value per repetition; an "
                             "expression is worked out for each repetition i (0 for the first)")
        layout.addWidget(self.vary)
        self.table = info_label(name="inspectorRepetitions")
        self.table.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.table)
        self.document.analysisChanged.connect(self.refresh)
        self.document.nodeChanged.connect(self._node_changed)
        self.refresh()

    def _node(self):
        return self.document.graph.nodes[self.view.node_id]

    # --- updates ------------------------------------------------------------------
    def _node_changed(self, node_id: str) -> None:
        if node_id == self.view.node_id:
            self._show_count()

    def _show_count(self) -> None:
        repeat = self._node().repeat
        number = isinstance(repeat, int) and not isinstance(repeat, bool)
        self._form.setRowVisible(0, number or repeat is None)
        self._form.setRowVisible(1, not (number or repeat is None))
        if number or repeat is None:
            self.count.set_value(repeat if number else 1)
        else:
            block = self.document.block_of(self.view.node_id)
            worked = getattr(block, "count", None)
            self.expression.setText(f'"{repeat}"' + (f" = {worked}" if worked is not None else ""))
            self.expression.setToolTip("An expression of the file's exposed parameters: each use of the file "
                                       "sets it. Edit it in the file.")

    def refresh(self) -> None:
        if self.view.node_id not in self.document.graph.nodes:
            return
        self._show_count()
        problems = [p.message for p in self.document.analysis.problems_for(self.view.node_id) if p.param == "repeat"]
        self.count.set_problem("\n".join(problems) if problems else None)
        vary = self._node().vary or {}
        rows = "".join(f"<tr><td style='color:{HINT_COLOR}; padding-right:8px'>{html.escape(k)}</td>"
                       f"<td>{html.escape(written(v))}</td></tr>" for k, v in vary.items())
        self.vary.setText(f"<div style='color:{HINT_COLOR}'>varies per repetition:</div><table>{rows}</table>"
                          if rows else "")
        self.vary.setVisible(bool(rows))
        self.table.setText(self._table_html())
        self._update_summary()

    def _table_html(self) -> str:
        analysis = self.document.analysis
        node_id = self.view.node_id
        rows = repetitions(analysis, node_id)
        if not rows:
            return f"<span style='color:{HINT_COLOR}'>The repetitions are listed once the node checks.</span>"
        block = analysis.nodes[node_id].block
        keys = sorted({k for values in block.varied for k in values})
        head = "".join(f"<th align='left' style='padding-right:8px'>{html.escape(h)}</th>"
                       for h in ["i", *keys, "output", "params"])
        body = []
        for index, (_name, _text, step) in enumerate(rows[:ROWS_SHOWN]):
            varied = block.varied[index]
            out = next(iter(step.outputs.values()), None)
            cells = [str(index), *(str(varied.get(k, "")) for k in keys), short_shape(out),
                     short_number(step.cost.params)]
            body.append("<tr>" + "".join(f"<td style='padding-right:8px; white-space:nowrap'>{html.escape(c)}</td>"
                                         for c in cells) + "</tr>")
        more = len(rows) - ROWS_SHOWN
        tail = f"<div style='color:{HINT_COLOR}'>… and {more} more</div>" if more > 0 else ""
        return f"<table cellspacing='0'><tr style='color:{HINT_COLOR}'>{head}</tr>{''.join(body)}</table>{tail}"

    def _update_summary(self) -> None:
        """The header's first line names the count ("linear applied 3 times in a chain."):
        the view is not rebuilt when only the count changes, so it is kept true here."""
        summary = self.view.findChild(QLabel, "inspectorSummary")
        block = self.document.block_of(self.view.node_id)
        if summary is not None and block is not None:
            summary.setText(next(iter(block.doc().strip().splitlines()), "").replace("``", ""))

    # --- edits --------------------------------------------------------------------
    def _commit(self, value: Optional[int]) -> None:
        if value is not None and self.view.node_id in self.document.graph.nodes:
            set_repeat_count(self.document, self.view.node_id, int(value))


def add_repeat_section(view: NodeView, layout: QVBoxLayout) -> Optional[RepeatSection]:
    """The section for ``view``'s node when it is repeated (None for any other node)."""
    if not view.document.node(view.node_id).repeated:
        return None
    section = RepeatSection(view)
    layout.addWidget(section)
    return section
