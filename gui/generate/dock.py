"""The Generate dock of a main window, made the first time it is asked for (most sessions
never generate, and the panel brings torch with it): tabbed with the Inspect dock, with
its entry in the View menu.

``show_generate(window, run)`` is what the runs list's Generate button and
File › Generate From Run… call.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from gui.generate.decoder_check import decoder_problem

if TYPE_CHECKING:
    from gui.generate.panel import GeneratePanel

DOCK_SHARE = 0.6  # of the window's height: the input list and the attention map need room


def generate_panel(window) -> GeneratePanel:
    """The window's Generate panel, in its dock (made now if need be)."""
    dock: Optional[QDockWidget] = getattr(window, "_generate_dock", None)
    if dock is None:
        from gui.generate.panel import GeneratePanel

        dock = QDockWidget("Generate", window)
        dock.setObjectName("generateDock")
        dock.setWidget(GeneratePanel())
        window.addDockWidget(Qt.BottomDockWidgetArea, dock)
        window.tabifyDockWidget(window._inspect_dock, dock)
        window._view_menu.addAction(dock.toggleViewAction())
        window._generate_dock = dock
    return dock.widget()


def decoder_runs(window) -> list[Path]:
    """The training panel's selected runs, else all of this graph's, that can generate."""
    runs = window.training.runs
    chosen = runs.selected_runs() or runs.all_runs()
    return [Path(p) for p in chosen if decoder_problem(p) is None]


def show_generate(window, run: str | Path | None = None) -> GeneratePanel:
    """Show the Generate dock with ``run`` open (default: the selected or newest decoder
    run of the window's graph; none: the panel asks for one with Open Run…)."""
    panel = generate_panel(window)
    panel.start_folder = window.training.runs.root()
    if run is None:
        found = decoder_runs(window)
        run = found[0] if found else None
    dock = window._generate_dock
    dock.show()
    dock.raise_()
    wanted = int(window.height() * DOCK_SHARE)
    if dock.height() < wanted - 40:
        window.resizeDocks([dock], [wanted], Qt.Vertical)
    if run is not None and (panel.run is None or panel.run.path.resolve() != Path(run).resolve()):
        panel.open_run(run)
    return panel
