"""The inspector's freeze toggle: whether a node's weights train (docs/transfer.md).

A frozen node gets no gradient and keeps its batch-norm statistics: what transfer learning
does to a network's early layers. The graph's ``training.freeze`` setting says which nodes
are frozen (ids, globs, or ``{up_to: NODE}``), read with the same function the trainer
uses (``builder.frozen_nodes``), so the box is ticked exactly for the nodes a run
freezes. Ticking or clearing it rewrites that setting (``builder.freeze_toggled``: a
written list gets the node appended; otherwise the setting becomes the list of nodes
frozen now) as one undo step of its own, through ``GraphDocument.set_training``.
"""

from __future__ import annotations

import copy
from typing import Any, Optional, Protocol

from PySide6.QtWidgets import QCheckBox, QVBoxLayout, QWidget

from builder import freeze_toggled, frozen_nodes
from gui.document import GraphDocument
from gui.form_widgets import info_label, section_heading
from gui.labels import exact_count
from gui.style import HINT_COLOR


class NodeView(Protocol):
    """What the section needs of :class:`gui.inspector_node.NodeView` (which imports this
    module, so it is not imported here)."""

    document: GraphDocument
    node_id: str

FREEZE_TIP = ("Frozen: the node's weights do not train (no gradient, batch-norm statistics fixed), as for the "
              "early layers of a pretrained network. Sets the training setting 'freeze'; undoable.")


def training_section(document: GraphDocument) -> dict[str, Any]:
    """A copy of the graph's training section ({} when it has none)."""
    training = document.graph.training
    return copy.deepcopy(dict(training)) if isinstance(training, dict) else {}


def is_frozen(document: GraphDocument, node_id: str) -> bool:
    """Whether a run of the graph freezes ``node_id`` (as the trainer reads ``freeze``)."""
    return node_id in frozen_nodes(document.graph, training_section(document).get("freeze"))[0]


def set_frozen(document: GraphDocument, node_id: str, frozen: bool) -> bool:
    """Freeze (or thaw) ``node_id`` as one undo step; False when it already is."""
    if is_frozen(document, node_id) == frozen:
        return False
    section = training_section(document)
    value = freeze_toggled(document.graph, section.get("freeze"), node_id)
    if value is None:
        section.pop("freeze", None)
    else:
        section["freeze"] = value
    # a macro of its own: two toggles in a row are two steps (settings edits of one key merge)
    with document.macro(f"{'Freeze' if frozen else 'Unfreeze'} {node_id}"):
        document.set_training(section if section or document.graph.training is not None else None)
    return True


class FreezeSection(QWidget):
    """The "Training" part of a :class:`NodeView`: the freeze box and what it means here."""

    def __init__(self, view: NodeView):
        super().__init__(view)
        self.setObjectName("inspectorTraining")
        self.view = view
        self.document = view.document
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(section_heading("Training"))
        self.check = QCheckBox("Frozen: its weights do not train")
        self.check.setObjectName("inspectorFreeze")
        self.check.setToolTip(FREEZE_TIP)
        self.check.toggled.connect(self._toggled)
        layout.addWidget(self.check)
        self.note = info_label(name="inspectorFreezeNote", color=HINT_COLOR)
        layout.addWidget(self.note)
        self.document.trainingChanged.connect(self.refresh)
        self.document.analysisChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        node_id = self.view.node_id
        if node_id not in self.document.graph.nodes:
            return
        section = training_section(self.document)
        frozen = is_frozen(self.document, node_id)
        blocked = self.check.blockSignals(True)
        try:
            self.check.setChecked(frozen)
        finally:
            self.check.blockSignals(blocked)
        info = self.document.analysis.nodes.get(node_id)
        params = info.cost.params if info is not None and info.ok else None
        self.setVisible(frozen or params is None or params > 0)  # nothing to freeze in a relu
        self.note.setText(self._note(section, frozen, params))
        self.note.setVisible(bool(self.note.text()))

    def _note(self, section: dict, frozen: bool, params: Optional[int]) -> str:
        lines = []
        freeze = section.get("freeze")
        if frozen:
            count = f"{exact_count(params)} parameters stay as they are" if params else "nothing to train here"
            lines.append(count)
            if not (isinstance(freeze, list) and self.view.node_id in freeze):
                lines.append(f"(frozen by freeze: {_written(freeze)})")
            after = section.get("unfreeze_after")
            if isinstance(after, int) and after > 0:
                lines.append(f"it trains too after epoch {after} (unfreeze_after)")
        factors = section.get("lr_mult")
        if isinstance(factors, dict) and self.view.node_id in factors and not frozen:
            lines.append(f"learning rate × {factors[self.view.node_id]:g} (lr_mult)")
        return "\n".join(lines)

    def _toggled(self, on: bool) -> None:
        if self.view.node_id in self.document.graph.nodes:
            set_frozen(self.document, self.view.node_id, on)


def _written(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def add_freeze_section(view: NodeView, layout: QVBoxLayout) -> Optional[FreezeSection]:
    """The freeze toggle for ``view``'s node (None for the graph's inputs and outputs)."""
    if view.document.node(view.node_id).block in ("input", "output"):
        return None
    section = FreezeSection(view)
    layout.addWidget(section)
    return section
