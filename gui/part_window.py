"""Editing a graph file that another graph uses as a composite block.

**Edit This File** in the read-only inside of a composite node (:mod:`gui.inside_view`)
asks the editor window it came from for ``open_part_editor(path)``; the main window
answers with :func:`open_part_window`, handing it a factory for a new editor window, so
this module needs neither the main window's module nor its class. The part window is a
full editor (palette, inspector, undo, Save) beside the window of the graph that uses the
file, with a recovery slot of its own. When it saves (its ``fileSaved`` signal), every open
graph that uses composite files checks again (:func:`recheck_open_graphs`), and the
windows showing the file's inside redraw.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

from gui.document import GraphDocument
from gui.inside_view import InsideWindow
from gui.recovery import RecoveryStore

CASCADE = QPoint(40, 40)  # where the new window sits relative to the one it was opened from
PART_WINDOW = "partWindow"  # the object name of an editor window opened on a part file
_slots = itertools.count(1)


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


def is_part_window(window: QWidget) -> bool:
    """True for an editor window that :func:`open_part_window` opened."""
    return window.objectName() == PART_WINDOW


def open_part_window(opener: QMainWindow, path: Path,
                     new_window: Callable[[RecoveryStore], QMainWindow]) -> Optional[QMainWindow]:
    """Open the graph file ``path`` in an editor window of its own, made by
    ``new_window(recovery)`` (an editor window with ``fileSaved``, ``open_file`` and
    ``document``), beside ``opener``; saving it there makes the open graphs that use
    composite files check again. A second request brings the same window back. None
    (and no window) when the file cannot be opened."""
    for window in opener.inside_windows:
        if is_part_window(window) and window.isVisible() and window.document.path \
                and Path(window.document.path).resolve() == path:
            window.raise_()
            window.activateWindow()
            return window
    window = new_window(SlotRecoveryStore(opener.recovery.folder, next(_slots)))
    window.setObjectName(PART_WINDOW)
    window.resize(opener.size())
    window.move(opener.pos() + CASCADE)
    window.fileSaved.connect(lambda _file: recheck_open_graphs(exclude=window))
    window.show()
    if not window.open_file(path, ask=False):
        window.close()
        return None
    opener.inside_windows.append(window)
    window.raise_()
    window.activateWindow()  # the user asked for it: typing (Ctrl+S ...) goes there
    return window


def recheck(document: GraphDocument) -> None:
    """Analyze ``document`` again because a graph file it uses may have changed on disk:
    its composite nodes' ports may differ (their wires are drawn again), and shapes,
    counts and problems are announced as after an edit (``analysisChanged``)."""
    # GraphDocument re-analyzes only after its own edits; a changed file is not one
    document._dirty = True
    for node_id, node in list(document.graph.nodes.items()):
        if node.graph:
            document.nodeChanged.emit(node_id)
    document._refresh()


def recheck_open_graphs(exclude: Optional[QWidget] = None) -> list[GraphDocument]:
    """Re-check the graph of every open editor window that uses graph files (they may use
    the file just saved, directly or through another). Returns the documents checked."""
    checked = []
    for widget in QApplication.topLevelWidgets():
        document = getattr(widget, "document", None)
        if widget is exclude or not widget.isVisible() or not isinstance(document, GraphDocument) \
                or isinstance(widget, InsideWindow):
            continue
        if any(node.graph for node in document.graph.nodes.values()):
            recheck(document)
            checked.append(document)
    return checked
