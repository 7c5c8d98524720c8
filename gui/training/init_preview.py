"""What the training setting ``init`` would load, shown under its field in the form.

``builder.init_plan`` reads the weights (a run folder, a bundle, a safetensors or a
``.pth`` file, never unpickling code) and matches them to the graph's nodes on the meta
device, as ``modelbuilder check --init`` does. Reading a file and importing torch take
a moment, so it runs on a background thread (:class:`gui.inspect.worker.InspectWorker`,
lane "init"); a newer request makes an older one stale. The label says how many tensors
load into how many nodes, and in red why the plan cannot load (a shape that does not fit,
a file that is not there), with the hint.
"""

from __future__ import annotations

import copy
import html
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from builder import TRAINING_SETTINGS, init_plan
from gui.inspect.worker import Failure, InspectWorker
from gui.style import ERROR_COLOR, HINT_COLOR, WARNING_COLOR
from gui.training.wrapped_label import WrappedLabel

LANE = "init"
NOTES_SHOWN = 3


def plan_lines(graph: Any, value: Any, base_dir: Optional[Path]) -> tuple[str, list[str], list[str]]:
    """(summary, errors, notes) of loading ``value`` (an init setting) into ``graph``;
    runs on the worker thread. Errors of the plan come back as lines, not exceptions."""
    plan = init_plan(graph, TRAINING_SETTINGS["init"].check(value), base_dir)  # (the full mapping)
    written, found = _source(value), str(plan.source.path)

    def short(text: str) -> str:  # the path as the field shows it, not made absolute
        return text.replace(found, written)

    errors = [short(f"{message} (hint: {hint})" if hint else message) for message, hint in plan.errors()]
    return short(plan.summary()).removeprefix("init from "), errors, [short(n) for n in plan.notes()]


class InitPreview(WrappedLabel):
    """The line under the ``init`` field. ``show_plan(graph, value, base_dir)`` asks again
    (nothing is asked while the value and the graph's analysis are the ones last asked for)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("initPreview")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setStyleSheet(f"color: {HINT_COLOR}; padding: 0 0 4px 12px;")
        self.worker = InspectWorker(self)
        self.worker.finished.connect(self._shown)
        self.worker.failed.connect(self._failed)
        self._asked: Any = None
        self.hide()

    def show_plan(self, graph: Any, value: Any, base_dir: Optional[Path], key: Any = None) -> None:
        """Preview loading ``value`` into ``graph`` (None: no init, nothing shown). ``key``
        names the graph's state (its analysis): the same value and key are not asked again."""
        asked = (repr(value), str(base_dir), key)
        if asked == self._asked:
            return
        self._asked = asked
        if not value:
            self.worker.cancel()
            self.hide()
            return
        self.setText(f"<i>reading {html.escape(_source(value))} …</i>")
        self.show()
        snapshot = copy.deepcopy(graph)  # the document may change while the thread reads it
        self.worker.submit("plan", lambda: plan_lines(snapshot, value, base_dir), lane=LANE)

    def _shown(self, _key: str, result: tuple[str, list[str], list[str]]) -> None:
        summary, errors, notes = result
        parts = [html.escape(summary)]
        parts += [f"<span style='color:{ERROR_COLOR}'>{html.escape(e)}</span>" for e in errors]
        more = len(notes) - NOTES_SHOWN
        parts += [f"<span style='color:{WARNING_COLOR}'>{html.escape(n)}</span>" for n in notes[:NOTES_SHOWN]]
        if more > 0:
            parts.append(f"… and {more} more (modelbuilder check --init lists them)")
        self.setText("<br>".join(parts))
        self.show()

    def _failed(self, _key: str, failure: Failure) -> None:
        self.setText(f"<span style='color:{ERROR_COLOR}'>{html.escape(failure.text())}</span>")
        self.show()

    def text_plain(self) -> str:
        """The text without markup (tests)."""
        from PySide6.QtGui import QTextDocument

        document = QTextDocument()
        document.setHtml(self.text())
        return document.toPlainText()


def _source(value: Any) -> str:
    return str(value.get("from")) if isinstance(value, dict) else str(value)
