"""The runs list's Generate button: enabled for one selected run whose graph is a decoder
(seq2seq, captioner, language model); for any other selection it is disabled, and its
tooltip says why (the decoding contract's reason for a run that is no decoder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import QToolButton, QWidget

from gui.generate.decoder_check import decoder_problem

TIP = ("Generate sequences with the selected decoder run (seq2seq, captioner, language model): "
       "type or pick an input, see the output and its attention (Generate panel)")


class GenerateButton(QToolButton):
    """Enabled for exactly one run that can generate; ``reason`` says why not otherwise."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("generateRunButton")
        self.setText("Generate")
        self.reason: Optional[str] = "select one run"
        self.setToolTip(TIP)

    def follow(self, selected: list[Path]) -> None:
        """Enable for this selection, or disable with the reason in the tooltip."""
        if len(selected) != 1:
            self.reason = "select one run to generate with"
        else:
            problem = decoder_problem(selected[0])
            self.reason = f"Generate needs a decoder graph: {problem}" if problem else None
        self.setEnabled(self.reason is None)
        self.setToolTip(TIP if self.reason is None else f"{TIP}.\n\nNot available: {self.reason}")
