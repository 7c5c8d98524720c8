"""The frame the Inspect and Generate panels share: a row of controls on top, then a
splitter with the inputs on the left and the figure on the right (the figure takes the
room), and a single-shot timer that redraws the figure once a resize has settled."""

from __future__ import annotations

from typing import Callable

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QLayout, QSplitter, QVBoxLayout, QWidget


class RunFolderPicker:
    """Open Run… of a panel: a folder dialog starting at ``start_folder`` (the graph's runs
    folder), then the panel's own ``open_run``. ``DIALOG_TITLE`` names the panel's purpose."""

    DIALOG_TITLE = "Open a run"
    start_folder: Optional[Path] = None

    def ask_run_folder(self) -> Optional[str]:
        """The run folder to open, from a folder dialog (tests answer it themselves)."""
        start = self.start_folder or Path.cwd()
        path = QFileDialog.getExistingDirectory(self, self.DIALOG_TITLE, str(start))
        return path or None

    def open_dialog(self) -> None:
        path = self.ask_run_folder()
        if path:
            self.open_run(path)


def frame_panel(panel: QWidget, top: QLayout, left: QWidget, right: QWidget, left_width: int,
                redraw_ms: int, redraw: Callable[[], None]) -> tuple[QSplitter, QTimer]:
    """Lay ``panel`` out as described above; returns its splitter and redraw timer."""
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.addWidget(left)
    splitter.addWidget(right)
    splitter.setStretchFactor(1, 1)
    splitter.setChildrenCollapsible(False)
    splitter.setSizes([left_width, 900])
    layout = QVBoxLayout(panel)
    layout.setContentsMargins(6, 6, 6, 6)
    layout.setSpacing(4)
    layout.addLayout(top)
    layout.addWidget(splitter, 1)
    timer = QTimer(panel)
    timer.setSingleShot(True)
    timer.setInterval(redraw_ms)
    timer.timeout.connect(redraw)
    panel.setMinimumSize(300, 200)
    return splitter, timer
