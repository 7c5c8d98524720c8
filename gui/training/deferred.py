"""The Training dock, built after the window's first paint.

The training panel needs torch (data-set declarations, the trainer's settings) and
matplotlib (live plots): about 1.5 s of imports on a laptop, none of which drawing and
checking a graph needs. So the window starts with this holder in the Training dock and is
painted at once; right after, a background thread imports those libraries, and the panel
is built (quickly, the imports done) on the window's thread. Anything that asks for the
panel earlier (a test, a menu action) gets it built on the spot.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from gui.training.panel import TrainingPanel

# imported off the window's thread after the first paint; the panel's own imports then cost little
HEAVY_MODULES = ("torch", "matplotlib.figure", "matplotlib.backends.backend_agg", "builder.data.pipeline")
WARM_UP_DELAY_MS = 50  # after show: let the first paint go out before the imports compete with it


class _Imported(QObject):
    done = Signal()


class TrainingHolder(QWidget):
    """Holds the training panel once built; ``panel()`` builds it now if need be."""

    def __init__(self, on_built: Callable[[TrainingPanel], None], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("trainingHolder")
        self._on_built = on_built
        self._panel: Optional[TrainingPanel] = None
        self._imported = _Imported(self)
        self._imported.done.connect(self.panel)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._waiting = QLabel("Loading the training tools…")
        self._layout.addWidget(self._waiting)

    @property
    def built(self) -> bool:
        return self._panel is not None

    def panel(self) -> TrainingPanel:
        if self._panel is None:
            from gui.training.panel import TrainingPanel

            self._panel = TrainingPanel()
            self._waiting.hide()
            self._layout.addWidget(self._panel)
            self._on_built(self._panel)
        return self._panel

    def warm_up(self) -> None:
        """Import the heavy libraries in the background soon, then build the panel."""
        QTimer.singleShot(WARM_UP_DELAY_MS, self, self._start_imports)

    def _start_imports(self) -> None:
        if self._panel is not None:
            return
        done = self._imported.done

        def work() -> None:
            for name in HEAVY_MODULES:
                try:
                    importlib.import_module(name)
                except Exception:  # noqa: BLE001 - the panel's own import reports it properly
                    break
            try:
                done.emit()  # queued to the window's thread
            except RuntimeError:
                pass  # the window closed meanwhile

        # not a daemon: exiting while torch is half imported aborts the process, so an exit
        # waits for the import to finish (at most the second or so it takes)
        threading.Thread(target=work, name="import-training-tools").start()
