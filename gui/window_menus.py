"""The main window's actions and menus: File, Edit, View (Help is :mod:`gui.help_menu`),
with the platform's standard shortcuts.

Each function takes the window (:class:`gui.main_window.MainWindow`) and connects the
actions to its methods, so the window's code holds what an action does, and this module
only where it sits and which key runs it.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from gui.export_runner import FORMATS as EXPORT_FORMATS
from gui.generate.dock import show_generate


def make_action(window, text: str, slot: Callable, shortcut=None, tip: str = "") -> QAction:
    """An action of ``window`` that calls ``slot()``: ``shortcut`` a standard key or a key text."""
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcuts(QKeySequence.keyBindings(shortcut) if isinstance(shortcut, QKeySequence.StandardKey)
                            else [QKeySequence(shortcut)])
    if tip:
        action.setStatusTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    return action


def make_actions(window) -> dict[str, QAction]:
    """The window's actions by name, added to the window (so their shortcuts work)."""
    K = QKeySequence

    def act(*args, **kwargs) -> QAction:
        return make_action(window, *args, **kwargs)

    actions = {
        "new": act("&New", window.new_file, K.New, "Start an empty graph"),
        "open": act("&Open…", window.open_dialog, K.Open, "Open a graph file"),
        "save": act("&Save", window.save, K.Save, "Save the graph"),
        "save_as": act("Save &As…", window.save_as, K.SaveAs, "Save the graph under a new name"),
        "quit": act("&Quit", window.close, K.Quit),
        "cut": act("Cu&t", window.cut, K.Cut),
        "copy": act("&Copy", window.copy, K.Copy),
        "paste": act("&Paste", window.paste, K.Paste),
        "duplicate": act("D&uplicate", window.duplicate, "Ctrl+D"),
        "delete": act("&Delete", window.delete_selection, K.Delete),
        "select_all": act("Select &All", window.select_all, K.SelectAll),
        "zoom_in": act("Zoom &In", lambda: window.view.zoom_in(), K.ZoomIn),
        "zoom_out": act("Zoom &Out", lambda: window.view.zoom_out(), K.ZoomOut),
        "zoom_reset": act("&Actual Size", lambda: window.view.zoom_reset(), "Ctrl+0"),
        "fit": act("&Fit to View", lambda: window.view.fit_all(), "F"),
        "arrange": act("A&rrange Nodes", window.arrange, "Ctrl+L",
                       "Lay the graph out to fit the window, in the layout direction (undoable)"),
        "layout_down": act("Lay Out &Top to Bottom", lambda: window.arrange("down"),
                           tip="Arrange in columns: data flows down (saved in the file)"),
        "layout_right": act("Lay Out &Left to Right", lambda: window.arrange("right"),
                            tip="Arrange in rows: data flows right (saved in the file)"),
        "import": act("&Import Model…", window.import_model, tip="Turn a PyTorch model (a Python file) or an "
                      "ONNX file into an editable graph, with its weights, verified to compute the same"),
        "inspect": act("&Inspect Run…", window.inspect_run, "Ctrl+I",
                       "Look inside a trained run: misclassified samples, feature maps, explanations"),
        "generate": act("&Generate From Run…", lambda: show_generate(window),
                        tip="Generate sequences with a trained seq2seq, captioner or language model run"),
        "fold": act("&Fold Repeated Structure…", lambda: window.folding.start(),
                    tip="Fold runs of identical copies into composite blocks, as a new file"),
    }
    window._directions = QActionGroup(window)  # one checked: the document's direction
    for key in ("layout_down", "layout_right"):
        actions[key].setCheckable(True)
        window._directions.addAction(actions[key])
    # Backspace deletes too on laptops without a Delete key (macOS convention)
    actions["delete"].setShortcuts(QKeySequence.keyBindings(K.Delete) + [QKeySequence(Qt.Key_Backspace)])
    for action in actions.values():
        action.setShortcutContext(Qt.WindowShortcut)
        window.addAction(action)
    return actions


def make_menus(window) -> None:
    """The File, Edit and View menus; ``window.recent_menu``, ``export_menu``,
    ``edit_menu`` and ``_view_menu`` are kept for what fills them later."""
    actions = window.actions
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([actions["new"], actions["open"]])
    window.recent_menu = file_menu.addMenu("Open &Recent")
    file_menu.addAction(actions["import"])
    file_menu.addSeparator()
    file_menu.addActions([actions["save"], actions["save_as"]])
    window.export_menu = file_menu.addMenu("&Export Trained Model")
    for format, (text, _what) in EXPORT_FORMATS.items():
        action = window.export_menu.addAction(text)
        action.setObjectName(f"export_{format}")
        action.triggered.connect(lambda _checked=False, f=format: window.export_model(f))
    file_menu.addActions([actions["inspect"], actions["generate"]])
    file_menu.addSeparator()
    file_menu.addAction(actions["quit"])
    window.edit_menu = bar.addMenu("&Edit")
    view_menu = bar.addMenu("&View")
    view_menu.addActions([actions[k] for k in ("zoom_in", "zoom_out", "zoom_reset", "fit")])
    view_menu.addSeparator()
    view_menu.addActions([actions[k] for k in ("arrange", "layout_down", "layout_right")])
    view_menu.addSeparator()
    window._view_menu = view_menu  # the overview's entry joins when the canvas exists
    for dock in (window._palette_dock, window._inspector_dock, window._problems_dock, window._training_dock,
                 window._inspect_dock):
        view_menu.addAction(dock.toggleViewAction())
    window._update_recent_menu()


def make_edit_menu(window) -> None:
    """Undo and redo act on the current document's stack through one QUndoGroup, so
    the actions (and their shortcuts) are made once; their text names the edit."""
    undo = window.undo_group.createUndoAction(window, "&Undo")
    undo.setShortcuts(QKeySequence.keyBindings(QKeySequence.Undo))
    redo = window.undo_group.createRedoAction(window, "&Redo")
    redo.setShortcuts(QKeySequence.keyBindings(QKeySequence.Redo))
    for action in (undo, redo):
        action.setShortcutContext(Qt.WindowShortcut)
    window.addActions([undo, redo])
    window.actions["undo"], window.actions["redo"] = undo, redo
    menu = window.edit_menu
    menu.addActions([undo, redo])
    menu.addSeparator()
    menu.addActions([window.actions[k] for k in ("cut", "copy", "paste", "duplicate", "delete")])
    menu.addSeparator()
    menu.addAction(window.actions["select_all"])
    menu.addSeparator()
    menu.addAction(window.actions["fold"])
