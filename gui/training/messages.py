"""The training panel's messages: one line per thing a run said or the panel has to say,
newest last, errors in red and warnings in orange."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from gui import style

KIND_COLORS = {"error": style.ERROR_COLOR, "warning": style.WARNING_COLOR}  # "info" in the text color


class MessageList(QListWidget):
    """Lines of text with a kind ("info", "warning", "error"), scrolled to the newest."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("trainingMessages")
        self.setMaximumHeight(72)

    def add(self, text: str, kind: str) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.UserRole, kind)
        if kind in KIND_COLORS:
            item.setForeground(QColor(KIND_COLORS[kind]))
        item.setToolTip(text)
        self.addItem(item)
        self.scrollToBottom()

    def show_all(self, messages: list[tuple[str, str]]) -> None:
        """Show these (text, kind) lines instead."""
        self.clear()
        for text, kind in messages:
            self.add(text, kind)

    def texts(self, kind: Optional[str] = None) -> list[str]:
        """The lines shown, oldest first (only those of ``kind`` if given)."""
        return [self.item(i).text() for i in range(self.count())
                if kind is None or self.item(i).data(Qt.UserRole) == kind]
