"""The Help menu: shortcuts read from the window's actions, gestures, and the docs."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from gui.help_menu import DOCS, PAGES
from gui.main_window import MainWindow


def test_help_lists_every_shortcut_and_opens_the_docs(qtbot, tmp_path):
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                        recovery_folder=tmp_path / "recovery")
    window.ask_unsaved = lambda: QMessageBox.Discard
    opened = []
    window.open_url = lambda url: opened.append(url.toLocalFile()) or True
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus[-1] == "Help"
    help_menu = window.menuBar().actions()[-1].menu()
    qtbot.keyClick(window, Qt.Key.Key_F1)  # Help > Keyboard Shortcuts
    dialog = window.shortcuts_dialog
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    assert rows["Undo"].startswith("Ctrl+Z") and rows["Arrange Nodes"] == "Ctrl+L"
    assert rows["Fit to View"] == "F"
    assert any("Double-click empty canvas" in k for k in rows)
    editor_guide = next(a for a in help_menu.actions() if a.objectName() == "help_editor")
    editor_guide.trigger()
    assert opened == [str(DOCS / "editor.md")] and (DOCS / "editor.md").is_file()
    assert all((DOCS / page).is_file() for page, _ in PAGES)  # every page the menu names exists
