"""Starting the desktop app, and ``--screenshot``: the same start (window shown at its
size, then the graph opened, laid out and fitted for that window), then a picture of the
window once it has been painted, and exit. One code path, so a screenshot shows exactly
what opening the file shows; without a display it renders off screen."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from gui.main_window import APP_NAME, MainWindow

SCREENSHOT_SIZE = (1600, 1000)
EXPOSE_TIMEOUT_S = 5.0  # how long a screenshot waits for a real display to show the window


def _application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("ModelBuilder")
    return app


def open_window(graph: Optional[str] = None, size: Optional[tuple[int, int]] = None,
                window: Optional[MainWindow] = None) -> tuple[MainWindow, bool]:
    """The editor as ``modelbuilder gui`` starts it: the window shown first (so that the
    canvas has its size), then ``graph`` opened: laid out for the window if the file has
    no positions, and fitted readably. Returns the window and whether the file opened."""
    window = window or MainWindow()
    if size is not None:
        window.resize(*size)
    window.show()
    opened = window.open_file(graph, ask=False) if graph else False
    return window, opened


def run_app(graph: Optional[str] = None) -> int:
    """Open the editor (with ``graph``, or offering to recover work after a crash)."""
    app = _application()
    window, _opened = open_window(graph)
    if not graph:
        window.offer_recovery()
    return app.exec()


def take_screenshot(graph: str, out: str, select: Optional[str] = None) -> int:
    """Start as :func:`run_app` does with ``graph``, at 1600x1000, and save the painted
    window to the PNG ``out``; 0 on success."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display: render off screen
    app = _application()
    with tempfile.TemporaryDirectory() as scratch:
        # a screenshot leaves no trace in the user's recent files or recovery folder
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.IniFormat)
        window = MainWindow(settings=settings, recovery_folder=Path(scratch) / "recovery")
        errors: list[str] = []
        window.show_error = lambda title, text: errors.append(f"{title}:\n{text}")
        window, opened = open_window(graph, SCREENSHOT_SIZE, window)
        if not opened:
            print("error: " + "\n".join(errors), file=sys.stderr)
            window.close()
            return 1
        if select:
            if select not in window.document.graph.nodes:
                print(f"error: {graph} has no node {select!r}", file=sys.stderr)
                window.close()
                return 1
            window.select_and_show(select)
        _wait_until_shown(app, window)
        image = window.grab()
        view = window.view
        summary = (f"{image.width()}x{image.height()}, platform {QGuiApplication.platformName()}, "
                   f"zoom {view.zoom():.2f}, text {view.text_pixels():.1f} px high")
        window.document.undo_stack.setClean()  # nothing to ask about on close
        saved = image.save(out)
        if saved:
            print(f"wrote {out} ({summary})", flush=True)
        window.close()
        if not saved:
            print(f"error: cannot write {out}", file=sys.stderr)
            return 1
    return 0


def _wait_until_shown(app: QApplication, window: MainWindow) -> None:
    """Let the event loop run until a real display shows the window (off screen it is at
    once), so that the picture is of the window as the user first sees it."""
    deadline = time.monotonic() + EXPOSE_TIMEOUT_S
    handle = window.windowHandle()
    while handle is not None and not handle.isExposed() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()
