"""An editor window for a graph file that another graph uses as a composite block.

Opened by **Edit This File** in the read-only inside of a composite node: a full editor
(palette, inspector, undo, Save) on the part file, beside the window of the graph that
uses it. When it saves, it says so (``fileSaved``) and the graphs that use the file check
again (:func:`gui.inside_view.recheck_open_graphs`).
"""

from __future__ import annotations

import itertools
import os
from typing import Optional

from PySide6.QtCore import QPoint, Signal

from gui.main_window import MainWindow
from gui.recovery import RecoveryStore

CASCADE = QPoint(40, 40)  # where the new window sits relative to the one it was opened from


class SlotRecoveryStore(RecoveryStore):
    """The recovery folder of the main window, with a slot of its own: this process's
    windows do not overwrite each other's recovery copies, and a copy left by a crash is
    offered at the next start like the main window's."""

    def __init__(self, folder: str | os.PathLike, slot: int):
        super().__init__(folder)
        self.slot = slot

    def write(self, graph, slot: Optional[int] = None):
        return super().write(graph, self.slot if slot is None else slot)

    def remove(self, slot: Optional[int] = None) -> None:
        super().remove(self.slot if slot is None else slot)


class PartWindow(MainWindow):
    """A main window editing one part file; ``fileSaved(path)`` after every save."""

    fileSaved = Signal(str)
    _slots = itertools.count(1)

    def __init__(self, opener: MainWindow):
        super().__init__(settings=opener.settings, recovery_folder=opener.recovery.folder)
        self.setObjectName("partWindow")
        self.recovery = SlotRecoveryStore(opener.recovery.folder, next(PartWindow._slots))
        self.resize(opener.size())
        self.move(opener.pos() + CASCADE)

    def _write(self, path: str) -> bool:
        saved = super()._write(path)
        if saved:
            self.fileSaved.emit(str(self.document.path))
        return saved
