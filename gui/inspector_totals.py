"""The inspector's view of several nodes, or of none: the cost of a set of nodes, or the
whole graph's totals, outputs and problem count (:class:`gui.inspector.Inspector` fills it);
where the training section freezes nodes, how many of those parameters train and how many
stay frozen.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gui.form_widgets import compact_form, info_label, section_heading
from gui.labels import exact_count
from gui.style import HINT_COLOR


class TotalsView(QWidget):
    """The cost of a set of nodes (all of them: the graph's totals)."""

    def __init__(self, title: str, hint: str = ""):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = info_label(title, name="inspectorTitle")
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        layout.addWidget(self.title)
        if hint:
            layout.addWidget(info_label(hint, name="inspectorHint", color=HINT_COLOR))
        self.form = compact_form(2)
        self.params = info_label(name="inspectorParams")
        self.macs = info_label(name="inspectorMacs")
        self.outputs = info_label(name="inspectorOutputs")
        self.problems = info_label(name="inspectorProblems")
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(section_heading("Cost"))
        self.form.addRow("Parameters", self.params)
        self.trainable = info_label(name="inspectorTrainable")
        self.frozen = info_label(name="inspectorFrozen")
        self.form.addRow("Trainable", self.trainable)
        self.form.addRow("Frozen", self.frozen)
        self.form.addRow("MACs", self.macs)
        layout.addLayout(self.form)
        self.show_split(None)
        self.outputs_heading = section_heading("Outputs")
        layout.addWidget(self.outputs_heading)
        layout.addWidget(self.outputs)
        layout.addWidget(self.problems)
        layout.addStretch(1)

    def hide_cost(self) -> None:
        for widget in self.findChildren(QWidget):
            if widget is not self.title:
                widget.hide()

    def show_split(self, split: Optional[tuple[int, int, list[str]]]) -> None:
        """Trainable and frozen parameters and the frozen nodes (None: nothing is frozen,
        the rows are hidden)."""
        for row in (1, 2):
            self.form.setRowVisible(row, split is not None)
        if split is None:
            return
        trainable, frozen, nodes = split
        self.trainable.setText(exact_count(trainable))
        self.frozen.setText(exact_count(frozen))
        shown = ", ".join(nodes[:8]) + (f" and {len(nodes) - 8} more" if len(nodes) > 8 else "")
        self.frozen.setToolTip(f"frozen (training setting 'freeze'): {shown}" if nodes else "")

    def show_cost(self, params: int, macs: int, outputs: Optional[list[str]] = None, problems: str = "") -> None:
        self.params.setText(exact_count(params))
        self.macs.setText(exact_count(macs))
        self.outputs_heading.setVisible(bool(outputs))
        self.outputs.setVisible(bool(outputs))
        self.outputs.setText("\n".join(outputs or []))
        self.problems.setVisible(bool(problems))
        self.problems.setText(problems)

