"""A word-wrapped label that is as tall as its text at its width.

A form row spanning both columns gives a wrapped label the height of one line too few when
its text grows after the layout was made (the data set's reason, what ``init`` would load):
this label asks for the height its text needs whenever the text or the width changes.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel


class WrappedLabel(QLabel):
    """A QLabel with word wrap on, whose minimum height follows its text."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.setWordWrap(True)

    def _fit(self) -> None:
        height = self.heightForWidth(self.width())
        if height > 0 and height != self.minimumHeight():
            self.setMinimumHeight(height)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self._fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()
