"""The Inspect dock's content, built when first needed.

The panel needs torch and matplotlib and a run to look at; most sessions never open it.
So the window starts with this light holder in the Inspect dock (hidden), and builds the
panel the first time it is asked for: a run to inspect, or the dock shown from the View
menu.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from gui.inspect.panel import InspectPanel


class InspectHolder(QWidget):
    """Holds the Inspect panel once built; ``panel()`` builds it now if need be."""

    def __init__(self, on_built: Callable[[InspectPanel], None], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("inspectHolder")
        self._on_built = on_built
        self._panel: Optional[InspectPanel] = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._waiting = QLabel("Loading the inspection tools…")
        self._waiting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self._waiting)

    @property
    def built(self) -> bool:
        return self._panel is not None

    def panel(self) -> InspectPanel:
        if self._panel is None:
            from gui.inspect.panel import InspectPanel

            self._panel = InspectPanel()
            self._waiting.hide()
            self._layout.addWidget(self._panel)
            self._on_built(self._panel)
        return self._panel

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._panel is None:  # shown from the View menu: build it once this paint is out
            QTimer.singleShot(0, self, self.panel)
