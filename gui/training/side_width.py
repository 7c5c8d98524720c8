"""The width of the training panel's side (the Settings and Runs tabs beside the plots).

The Runs tab widens the side to show every column of the runs table (up to
``MAX_SIDE_SHARE`` of the panel); going back to the Settings tab gives the width back.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QSplitter, QTabWidget

from gui.training.runs_list import RunsList

MAX_SIDE_SHARE = 0.55  # the runs table may take this much of the panel's width to show all its columns


class SideWidth(QObject):
    """Widens ``splitter``'s first pane (``tabs``) while ``runs`` is the tab shown."""

    def __init__(self, splitter: QSplitter, tabs: QTabWidget, runs: RunsList):
        super().__init__(splitter)
        self.splitter, self.tabs, self.runs = splitter, tabs, runs
        self._before_runs: Optional[int] = None  # the side's width before the Runs tab widened it
        # (with ``self`` as context, a timer that fires after the panel is gone does nothing)
        runs.listChanged.connect(lambda: QTimer.singleShot(0, self, self.fit_runs))
        tabs.currentChanged.connect(self._tab_changed)

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.runs:
            QTimer.singleShot(0, self, self.fit_runs)
        elif self._before_runs is not None:
            total = sum(self.splitter.sizes())
            self.splitter.setSizes([self._before_runs, total - self._before_runs])
            self._before_runs = None

    def fit_runs(self) -> None:
        """Make the side wide enough for every column of the runs table, if it is shown."""
        sizes = self.splitter.sizes()
        total = sum(sizes)
        if self.tabs.currentWidget() is not self.runs or total <= 0:
            return
        need = self.runs.preferred_width() + self.tabs.width() - self.runs.width()
        wanted = min(need, int(total * MAX_SIDE_SHARE))
        if sizes[0] < wanted:
            if self._before_runs is None:
                self._before_runs = sizes[0]
            self.splitter.setSizes([wanted, total - wanted])
