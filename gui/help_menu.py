"""The Help menu: every keyboard shortcut and mouse gesture in one list, and the docs.

The shortcut list is read from the window's own actions, so it cannot fall behind a
changed key; the mouse gestures, which are no actions, are listed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QDialog, QHeaderView, QMainWindow, QMessageBox, QTableWidget, QTableWidgetItem, \
    QVBoxLayout

DOCS = Path(__file__).resolve().parent.parent / "docs"  # in a source checkout; pip installs leave it out
# (page, menu text): the pages a user of the app needs, in the order they need them
PAGES = (("editor.md", "&Editor Guide"), ("training.md", "&Training"), ("data.md", "&Data Sets"),
         ("export.md", "E&xport and Predict"), ("blocks.md", "&Block Reference"), ("format.md", "Graph &File Format"))
GESTURES = (
    ("Double-click a block in the palette", "add it in the middle of the view"),
    ("Drag a block from the palette", "add it where it is dropped"),
    ("Double-click empty canvas", "search all blocks and add one there"),
    ("Drag from a port to a port", "connect two nodes (the reason shows if it cannot be done)"),
    ("Drop a wire on empty canvas", "add a block that fits, already connected"),
    ("Double-click a composite node", "look inside it"),
    ("Mouse wheel", "zoom under the cursor"),
    ("Middle button drag, or Space + drag", "pan"),
    ("Drag on empty canvas", "select with a rubber band (Ctrl-click adds or removes)"),
    ("Escape in a field", "put back the value the model holds"),
)


def shortcut_rows(actions: list[QAction]) -> list[tuple[str, str]]:
    """(what, keys) for every action that has a shortcut, in the order given."""
    rows = []
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
        if keys:
            rows.append((action.text().replace("&", ""), ", ".join(keys)))
    return rows


class ShortcutsDialog(QDialog):
    """Keyboard shortcuts, then mouse gestures, in one table."""

    def __init__(self, actions: list[QAction], parent=None):
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard Shortcuts and Gestures")
        rows = shortcut_rows(actions) + [(gesture, what) for gesture, what in GESTURES]
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Keys or gesture"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (what, keys) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(what))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        self.resize(640, 560)


def install_help_menu(window: QMainWindow, opener: Optional[Callable[[QUrl], bool]] = None) -> None:
    """Add Help > Keyboard Shortcuts, the docs pages and About to ``window``'s menu bar.
    ``opener`` opens a page (QDesktopServices.openUrl: the system's viewer)."""
    open_url = opener or QDesktopServices.openUrl
    menu = window.menuBar().addMenu("&Help")
    menu.setObjectName("helpMenu")
    shortcuts = menu.addAction("&Keyboard Shortcuts")
    shortcuts.setObjectName("help_shortcuts")
    shortcuts.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))

    def show_shortcuts() -> None:
        actions = [a for a in window.findChildren(QAction) if a.shortcuts() and a is not shortcuts]
        dialog = ShortcutsDialog(list(dict.fromkeys(actions)), window)
        window.shortcuts_dialog = dialog  # tests and a second press find it
        dialog.show()

    shortcuts.triggered.connect(show_shortcuts)
    menu.addSeparator()
    for page, text in PAGES:
        action = menu.addAction(text)
        action.setObjectName(f"help_{page.removesuffix('.md')}")
        action.triggered.connect(lambda _checked=False, p=page: _open_page(window, p, open_url))
    menu.addSeparator()
    about = menu.addAction("&About Model Builder")
    about.triggered.connect(lambda: QMessageBox.about(
        window, "About Model Builder",
        "Model Builder: declarative, graph-based neural networks, compiled to PyTorch.\n"
        f"Documentation: {DOCS if DOCS.is_dir() else 'the docs/ folder of the source repository'}"))


def _open_page(window: QMainWindow, page: str, open_url: Callable[[QUrl], bool]) -> None:
    path = DOCS / page
    if path.is_file() and open_url(QUrl.fromLocalFile(str(path))):
        return
    window.statusBar().showMessage(f"The documentation ({page}) is in the docs/ folder of the source "
                                   "repository; this installation has no copy", 10000)
