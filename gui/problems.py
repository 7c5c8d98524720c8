"""The problems list: every error and warning of the document's analysis.

One row per ``builder.Problem`` (severity icon, node, message, location; the hint in the
tooltip), errors first. Activating a row that names a node emits ``nodeActivated`` with its
id, so that the main window can select and centre that node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.document import GraphDocument
from gui.wording import for_app

NODE_ROLE = Qt.ItemDataRole.UserRole  # on the node column: the node id (None: the whole graph)
SEVERITY_ROLE = Qt.ItemDataRole.UserRole  # on the severity column: "error" or "warning"
COLUMNS = ("", "Node", "Message", "Location")  # severity is the icon (and its tooltip)
SEVERITY, NODE, MESSAGE, LOCATION = range(4)
NARROW = 480  # pixels: below this the location column gives its room to the message


def _short_location(problem) -> str:
    """``lenet5.yaml:12:5``: the file name is enough in a list of one document's problems."""
    if problem.file is None:
        return f"line {problem.line}" if problem.line is not None else ""
    text = Path(problem.file).name
    if problem.line is not None:
        text += f":{problem.line}"
        if problem.column is not None:
            text += f":{problem.column}"
    return text


class ProblemsPanel(QWidget):
    """The analysis' problems of one document, refreshed after every edit."""

    nodeActivated = Signal(str)
    countChanged = Signal(int)  # errors + warnings, for the dock title "Problems (3)"

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("problems")
        self.document: Optional[GraphDocument] = None
        self._count = 0
        self.tree = QTreeWidget()
        self.tree.setObjectName("problemsTree")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAllColumnsShowFocus(True)  # rows are the unit here, not cells
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setWordWrap(False)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(SEVERITY, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NODE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(MESSAGE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(LOCATION, QHeaderView.ResizeMode.ResizeToContents)
        self.empty = QLabel("No problems: every shape and parameter checks out.")
        self.empty.setObjectName("problemsEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: #718096; padding: 12px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty)
        layout.addWidget(self.tree)
        # a click is enough to jump to the node; activation (Enter, double-click) too
        self.tree.itemClicked.connect(self._on_item)
        self.tree.itemActivated.connect(self._on_item)
        self.refresh()

    def set_document(self, document: Optional[GraphDocument]) -> None:
        """List the problems of ``document`` (None: none), following its analysis."""
        if self.document is not None:
            try:
                self.document.analysisChanged.disconnect(self.refresh)
            except (RuntimeError, TypeError):  # already gone with the document
                pass
        self.document = document
        if document is not None:
            document.analysisChanged.connect(self.refresh)
        self.refresh()

    def count(self) -> int:
        """Errors plus warnings listed now."""
        return self._count

    def refresh(self) -> None:
        """Rebuild the list from the document's current analysis."""
        problems = list(self.document.analysis.problems) if self.document is not None else []
        problems.sort(key=lambda p: not p.is_error)  # errors first, otherwise analysis order
        style = self.style()
        icons = {True: style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical),
                 False: style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)}
        self.tree.clear()
        items = []
        for problem in map(for_app, problems):
            item = QTreeWidgetItem(["", problem.node or "", problem.message, _short_location(problem)])
            item.setIcon(SEVERITY, icons[problem.is_error])
            item.setToolTip(SEVERITY, problem.severity)
            item.setData(SEVERITY, SEVERITY_ROLE, problem.severity)
            item.setData(NODE, NODE_ROLE, problem.node or "")  # "" not None: see tests/gui/test_qt_binding.py
            tip = problem.message + (f"\nhint: {problem.hint}" if problem.hint else "")
            for column in (NODE, MESSAGE):
                item.setToolTip(column, f"{tip}\n{problem.location()}")
            item.setToolTip(LOCATION, problem.location())
            items.append(item)
        self.tree.addTopLevelItems(items)
        self.tree.setVisible(bool(items))
        self.empty.setVisible(not items and self.document is not None)
        if len(items) != self._count:
            self._count = len(items)
            self.countChanged.emit(self._count)

    def resizeEvent(self, event) -> None:
        # in a narrow dock the message matters more than where it is (still in the tooltip)
        super().resizeEvent(event)
        self.tree.setColumnHidden(LOCATION, self.width() < NARROW)

    def _on_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        node = item.data(NODE, NODE_ROLE)
        if node:
            self.nodeActivated.emit(node)
