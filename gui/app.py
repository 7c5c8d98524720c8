"""Starting the desktop app, and ``--screenshot``: open a graph, lay it out, render the
main window to a PNG and exit (for the docs and for checks on machines without a display)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from gui.main_window import APP_NAME, MainWindow

SCREENSHOT_SIZE = (1600, 1000)


def _application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("ModelBuilder")
    return app


def take_screenshot(graph: str, out: str, select: Optional[str] = None) -> int:
    """Render the main window with ``graph`` open to the PNG ``out``; 0 on success."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display: render off screen
    app = _application()
    with tempfile.TemporaryDirectory() as scratch:
        # a screenshot leaves no trace in the user's recent files or recovery folder
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.IniFormat)
        window = MainWindow(settings=settings, recovery_folder=Path(scratch) / "recovery")
        errors: list[str] = []
        window.show_error = lambda title, text: errors.append(f"{title}:\n{text}")
        if not window.open_file(graph, ask=False):
            print("error: " + "\n".join(errors), file=sys.stderr)
            return 1
        window.resize(*SCREENSHOT_SIZE)
        window.show()
        app.processEvents()
        window.view.show_readable(0.85)
        if select:
            if select not in window.document.graph.nodes:
                print(f"error: {graph} has no node {select!r}", file=sys.stderr)
                return 1
            window.select_and_show(select)
        app.processEvents()
        image = window.grab()
        window.document.undo_stack.setClean()  # nothing to ask about on close
        window.close()
        if not image.save(out):
            print(f"error: cannot write {out}", file=sys.stderr)
            return 1
    print(f"wrote {out}")
    return 0


def run_app(graph: Optional[str] = None) -> int:
    """Open the editor (with ``graph``, or offering to recover work after a crash)."""
    app = _application()
    window = MainWindow()
    window.show()
    if graph:
        window.open_file(graph, ask=False)
    else:
        window.offer_recovery()
    return app.exec()
