"""Open TensorBoard on a graph's runs folder from the app: one TensorBoard process per
folder (started with the app's own Python, on a free port), its address read from what it
prints, then opened in the browser. The process ends with the app.

Every run writes its event files into its own folder, so ``--logdir`` on the runs folder
shows each run of the graph as one entry, side by side.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QCoreApplication, QObject, QProcess, QUrl, Signal
from PySide6.QtGui import QDesktopServices

ADDRESS = re.compile(r"(https?://[^\s]+:\d+/?)")  # "TensorBoard 2.21.0 at http://localhost:6006/ (Press CTRL+C ..."
MISSING = ("TensorBoard is not installed", 'install it with: pip install "modelbuilder[tensorboard]"')


def tensorboard_arguments(folder: Path) -> list[str]:
    """The command that serves ``folder`` (its runs) on a free port, on this machine only."""
    return ["-m", "tensorboard.main", "--logdir", str(folder), "--port", "0", "--host", "localhost"]


def address_in(text: str) -> Optional[str]:
    """The address TensorBoard printed, if this text holds it."""
    found = ADDRESS.search(text)
    return found.group(1) if found else None


class TensorBoardLauncher(QObject):
    """Starts (or reuses) TensorBoard for a runs folder and opens it; ``failed(message,
    hint)`` when it cannot. ``open_url`` is replaceable (tests)."""

    opened = Signal(str)  # the address
    failed = Signal(str, str)

    def __init__(self, parent: Optional[QObject] = None,
                 open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl):
        super().__init__(parent)
        self.open_url = open_url
        self.processes: dict[Path, QProcess] = {}
        self.addresses: dict[Path, str] = {}
        self._output: dict[Path, str] = {}
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop_all)  # no TensorBoard outlives the app

    arguments = staticmethod(tensorboard_arguments)  # (replaceable: tests serve a stand-in)

    @staticmethod
    def available() -> bool:
        return importlib.util.find_spec("tensorboard") is not None

    def open(self, folder: Path) -> None:
        """Show ``folder``'s runs in TensorBoard (starting it the first time)."""
        folder = Path(folder).resolve()
        if not self.available():
            self.failed.emit(*MISSING)
            return
        if folder in self.addresses and self._running(folder):
            self._show(folder)
            return
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(lambda: self._read(folder, process))
        process.finished.connect(lambda *_: self._ended(folder, process))
        self.processes[folder] = process
        self._output[folder] = ""
        process.start(sys.executable, self.arguments(folder))

    def _running(self, folder: Path) -> bool:
        process = self.processes.get(folder)
        return process is not None and process.state() != QProcess.ProcessState.NotRunning

    def _read(self, folder: Path, process: QProcess) -> None:
        self._output[folder] += bytes(process.readAllStandardOutput()).decode("utf-8", "replace")
        if folder not in self.addresses:
            address = address_in(self._output[folder])
            if address:
                self.addresses[folder] = address
                self._show(folder)

    def _show(self, folder: Path) -> None:
        address = self.addresses[folder]
        self.open_url(QUrl(address))
        self.opened.emit(address)

    def _ended(self, folder: Path, process: QProcess) -> None:
        if self.processes.get(folder) is process:
            del self.processes[folder]
        if self.addresses.pop(folder, None) is None:  # it never served: say why
            last = [line for line in self._output.get(folder, "").splitlines() if line.strip()][-3:]
            self.failed.emit("TensorBoard stopped before it served the runs", " ".join(last)[:300])

    def stop_all(self) -> None:
        """End every TensorBoard this app started (the app is closing)."""
        for process in list(self.processes.values()):
            process.kill()
            process.waitForFinished(2000)
        self.processes.clear()
        self.addresses.clear()
