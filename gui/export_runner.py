"""Exports started from the app run ``modelbuilder export`` in a child process, so that a
large model's export (and its check against the compiled model) never freezes the window;
the result comes back as the command's own words."""

from __future__ import annotations

import sys
from typing import Optional

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

FORMATS = {  # menu text, format name, what the output is
    "bundle": ("Bundle (graph, weights, meta)…", "a folder"),
    "python": ("PyTorch code…", "a .py file"),
    "torchscript": ("TorchScript…", "a .pt file"),
    "onnx": ("ONNX…", "an .onnx file"),
}
SUFFIXES = {"bundle": "_bundle", "python": ".py", "torchscript": ".torchscript.pt", "onnx": ".onnx"}


class ExportRunner(QObject):
    """One export at a time; ``finished(ok, text)`` with what was written or why not."""

    finished = Signal(bool, str)

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.process: Optional[QProcess] = None

    def is_running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.NotRunning

    def start(self, source: str, format: str, out: str) -> None:
        """Export run folder or bundle ``source`` as ``format`` to ``out``."""
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")
        environment.insert("QT_QPA_PLATFORM", "offscreen")
        process.setProcessEnvironment(environment)
        process.finished.connect(self._done)
        self.process = process
        process.start(sys.executable, ["-m", "builder", "export", source, "--format", format, "--out", out])

    def wait(self, milliseconds: int = 120_000) -> bool:
        """Block until the export ends (for scripts and tests; the app never waits)."""
        return self.process is not None and self.process.waitForFinished(milliseconds)

    def _done(self, code: int, _status) -> None:
        out = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace").strip()
        err = bytes(self.process.readAllStandardError()).decode("utf-8", "replace").strip()
        lines = [line for line in err.splitlines() if "propagateSizeHints" not in line]
        if code == 0:
            self.finished.emit(True, out)
        else:
            said = [line for line in lines if line.startswith(("error", "    hint"))]
            self.finished.emit(False, "\n".join(said or lines[-5:]) or f"exit status {code}")
