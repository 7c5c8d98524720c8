"""The Inspect panel: look inside a trained run.

A strip of the run's validation samples (misclassified first, with true and predicted
labels); click a sample, then a node on the canvas (or the node first): the node's feature
maps for that sample. Buttons switch to the other views: Explain (a method picker and a
target class), Filters, Embedding (t-SNE or PCA), Maximize, Attention and Gates, each
enabled for the chosen node when it applies there (else disabled, the reason in its
tooltip and in the panel).

The panel works on the run's own graph (``Subject``): the canvas may show a graph edited
since, and a node clicked there that the run does not have gets a sentence saying so.
Every computation runs on the worker thread (:mod:`gui.inspect.worker`); the window
paints the pictures it draws and stays responsive.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from builder import InspectError, applicable_views
from gui.inspect import compute
from gui.inspect.compute import NEEDS_NODE, NEEDS_SAMPLE, SLOW_VIEWS, Drawn, Request, RunData
from gui.inspect.figure_view import ERROR, FigureView
from gui.inspect.panel_frame import RunFolderPicker, frame_panel
from gui.inspect.samples_strip import SamplesStrip
from gui.inspect.view_bar import VIEW_TITLES, ViewBar
from gui.inspect.worker import MAIN, SLOW, Failure, InspectWorker
from gui.style import HINT_COLOR

RESIZE_REDRAW_MS = 250  # a figure is drawn again at the new size once resizing pauses
NOTES_SHOWN = 3  # summary lines under a figure (all of them in the tooltip)
STRIP_WIDTH = 200  # the samples column's width before the run's labels are known
NO_RUN = ("No run open.\nTrain the graph (Training panel, Train), then select the run in Training › Runs and "
          "press Inspect, or use Open Run… here to choose a run folder.")


class InspectPanel(RunFolderPicker, QWidget):
    """``nodeChosen`` asks the window to select a node picked in the panel on the canvas;
    ``figureShown`` carries each :class:`Drawn` once on screen; ``runOpened`` a RunData."""

    DIALOG_TITLE = "Inspect a run"

    nodeChosen = Signal(str)
    figureShown = Signal(object)
    runOpened = Signal(object)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("inspectPanel")
        self.run: Optional[RunData] = None
        self.sample: Optional[int] = None
        self.node: Optional[str] = None
        self.applies: dict[str, Optional[str]] = {}  # view -> why it does not apply to the node
        self.drawn: Optional[Drawn] = None  # the figure on screen
        self.start_folder: Optional[Path] = None  # where Open Run… starts (the graph's runs folder)
        self.worker = InspectWorker(self)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.busyChanged.connect(self._on_busy)

        self.run_label = QLabel("No run open")
        self.run_label.setObjectName("inspectRun")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton("Open Run…")
        self.open_button.setToolTip("Choose a run folder (runs/<graph>-<date>-<time>) to look inside")
        self.open_button.clicked.connect(self.open_dialog)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumSize(90, 12)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.status = QLabel()
        self.status.setObjectName("inspectStatus")
        self.status.setStyleSheet(f"color: {HINT_COLOR};")
        top = QHBoxLayout()
        top.addWidget(self.run_label, 1)
        top.addWidget(self.busy)
        top.addWidget(self.status)
        top.addWidget(self.open_button)

        self.strip_label = QLabel()
        self.strip_label.setStyleSheet(f"color: {HINT_COLOR};")
        self.strip_label.setWordWrap(True)
        self.strip = SamplesStrip()
        self.strip.sampleChosen.connect(self.choose_sample)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.strip_label)
        column.addWidget(self.strip, 1)

        self.bar = ViewBar()
        self.bar.viewChosen.connect(lambda _name: self._refresh())
        self.bar.optionsChanged.connect(self._refresh)
        self.bar.nodePicked.connect(self._node_picked)
        self.view_buttons = self.bar.buttons
        self.title = QLabel()
        self.title.setObjectName("inspectTitle")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.figure_view = FigureView()
        self.figure_view.resized.connect(self._schedule_redraw)
        self.notes = QLabel()
        self.notes.setObjectName("inspectNotes")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet(f"color: {HINT_COLOR};")
        self.notes.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        right = QWidget()
        main = QVBoxLayout(right)
        main.setContentsMargins(0, 0, 0, 0)
        main.addWidget(self.bar)
        main.addWidget(self.title)
        main.addWidget(self.figure_view, 1)
        main.addWidget(self.notes)

        self.splitter, self._redraw = frame_panel(self, top, left, right, STRIP_WIDTH, RESIZE_REDRAW_MS,
                                                  self._redraw_at_size)
        self._show_no_run()

    # ------------------------------------------------------------------ public
    @property
    def view(self) -> str:
        return self.bar.view

    def open_run(self, path: str | Path) -> None:
        """Load the run folder at ``path`` on the worker thread; the strip follows."""
        self.worker.cancel()
        self.run, self.sample, self.drawn, self.applies = None, None, None, {}
        self.strip.set_rows([])
        self.strip.hide()
        self.strip_label.hide()
        self.run_label.setText(f"Opening {Path(path).name} …")
        self.figure_view.show_message(f"Opening the run {path} …")
        self.title.clear()
        self.notes.clear()
        self.worker.submit("open", lambda: compute.load_run(path))

    def set_canvas_selection(self, ids: list) -> None:
        """The canvas selection changed: one node selected is the node to look at (an empty
        selection keeps the last one, so a click beside the boxes loses nothing)."""
        if len(ids) == 1 and ids[0] != self.node:
            self.choose_node(str(ids[0]))

    def choose_sample(self, position: Optional[int]) -> None:
        self.sample = position
        self.strip.choose(position)
        self._refresh()

    def choose_node(self, node: Optional[str]) -> None:
        self.node = node
        self._show_node()
        self._refresh()

    def show_view(self, name: str) -> None:
        """Switch to a view (as its button does)."""
        self.bar.choose_view(name)
        self._refresh()

    def set_explain(self, method: str, target: Optional[int] = None) -> None:
        """Pick Explain's method and target class (as the combo boxes do)."""
        self.bar.set_explain(method, target)
        self._refresh()

    def message_text(self) -> str:
        """The sentence shown in place of a figure ("" while a figure is shown)."""
        return self.figure_view.message_text()

    def is_busy(self) -> bool:
        return self.worker.is_busy()

    # ------------------------------------------------------------------ what to show
    def _request(self) -> Request | str:
        """The figure to compute now, or the sentence to show instead (what to click next)."""
        run, view = self.run, self.view
        if run is None:
            return NO_RUN
        needs_sample, needs_node = view in NEEDS_SAMPLE, view in NEEDS_NODE
        what = VIEW_TITLES[view].lower()
        if needs_node and self.node is not None:
            problem = self._node_problem(view)
            if problem:
                return problem
        if needs_sample and not run.rows:
            return f"{VIEW_TITLES[view]} needs a sample, and {run.note or 'this run has no validation samples'}."
        if needs_sample and self.sample is None and needs_node and self.node is None:
            return (f"1. Click a sample on the left.\n2. Click a layer on the canvas (for example "
                    f"{self._example_node()}): the panel then shows its {what} for that sample.")
        if needs_sample and self.sample is None:
            what = f"the {what} of {self.node}" if needs_node else "its explanation"
            return f"Now click a sample on the left: the panel then shows {what} for it."
        if needs_node and self.node is None:
            shown = f" for {run.rows[self.sample].caption}" if needs_sample else ""
            return (f"Now click a layer on the canvas (for example {self._example_node()}): the panel then shows "
                    f"its {what}{shown}.")
        bar = self.bar
        gradcam = view == "explain" and bar.method == "gradcam"
        return Request(view, self.sample if needs_sample else None, self.node if needs_node or gradcam else None,
                       method=bar.method, target=bar.target, projection=bar.projection, unit=bar.unit)

    def _node_problem(self, view: str) -> Optional[str]:
        """Why ``view`` cannot show the chosen node: not in the run's graph, or not applicable."""
        if self.node not in self.run.subject.analysis.nodes:
            return self._unknown_node()
        reason = self.applies.get(view)
        return f"{VIEW_TITLES[view]} does not apply here: {reason}." if reason else None

    def _unknown_node(self) -> str:
        run = self.run
        try:
            run.subject.check_node(self.node)
            said = ""
        except InspectError as error:
            said = str(error).split("\n")[0] + ". "
        return (f"{said}The canvas shows the graph as it is now; this run trained it as it was then "
                f"({run.path.name}). Pick one of the run's nodes in the Node box, or train the graph again.")

    def _example_node(self) -> str:
        subject = self.run.subject
        spatial = [n for n in self.run.nodes if len(subject.output_shape(n)) == 3]
        return (spatial or self.run.nodes or ["a layer"])[0]

    def _refresh(self) -> None:
        """Show what the current choices ask for: compute a figure, or say what is missing."""
        request = self._request()
        if isinstance(request, str):
            self.worker.cancel("figure")
            self.drawn = None
            self.title.clear()
            self.notes.clear()
            self.figure_view.show_message(request)
            return
        if self.drawn is not None and self.drawn.request == request and not self.worker.is_busy("figure"):
            return  # on screen already
        self._submit(request)

    def _submit(self, request: Request) -> None:
        run = self.run
        size = self.figure_view.figure_size()
        ratio = self.figure_view.devicePixelRatioF()
        slow = request.view in SLOW_VIEWS
        self.worker.submit("figure", lambda: compute.figure(run, request, (size.width(), size.height()), ratio),
                           SLOW if slow else MAIN)
        self.status.setText(f"computing {compute.title(run, request)}{' (this takes a while)' if slow else ''} …")
        if self.drawn is None:
            self.figure_view.show_message(f"Computing {compute.title(run, request)} …")

    def _schedule_redraw(self) -> None:
        if self.drawn is not None:
            self._redraw.start()

    def _redraw_at_size(self) -> None:
        """Draw the figure on screen again at the widget's new size (the view is cached)."""
        drawn = self.drawn
        if drawn is None or self.worker.is_busy("figure"):
            return
        size = self.figure_view.figure_size()
        ratio = self.figure_view.devicePixelRatioF()
        if (drawn.size, drawn.ratio) != ((size.width(), size.height()), ratio):
            self._submit(drawn.request)

    # ------------------------------------------------------------------ results
    def _on_finished(self, key: str, result) -> None:
        if key == "open":
            self._opened(result)
        elif key == "figure":
            self._show_figure(result)

    def _on_failed(self, key: str, failure: Failure) -> None:
        if key == "open":
            self.run_label.setText("Cannot open the run")
            self.figure_view.show_message(failure.text(), ERROR)
        elif key == "figure":
            self.drawn = None
            self.notes.clear()
            self.title.setText(f"{VIEW_TITLES[self.view]}: could not be computed")
            self.figure_view.show_message(failure.text(), ERROR)

    def _on_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        if not busy:
            self.status.clear()

    def _opened(self, run: RunData) -> None:
        self.run = run
        text = f"<b>{html.escape(run.path.name)}</b> · graph {html.escape(run.graph_name)}"
        if run.total and run.subject.is_classifier:
            accuracy = 100 * (1 - run.wrong_count / run.total)
            text += (f" · {run.wrong_count} of {run.total} validation samples misclassified "
                     f"({accuracy:.1f}% right)")
        self.run_label.setText(text)
        self.run_label.setToolTip(str(run.path))
        self.strip.set_rows(run.rows)
        self.strip.setVisible(bool(run.rows))
        self.strip_label.setText(self._strip_text(run))
        self.strip_label.show()
        if run.rows:
            sizes = self.splitter.sizes()
            width = min(self.strip.preferred_width(), max(sum(sizes) // 3, STRIP_WIDTH))
            self.splitter.setSizes([width, sum(sizes) - width])
        self.bar.set_run(run.nodes, run.class_names)
        self._show_node()
        self.runOpened.emit(run)
        self._refresh()

    @staticmethod
    def _strip_text(run: RunData) -> str:
        if not run.rows:
            return f"No validation samples to show: {run.note}" if run.note else "No validation samples to show."
        if run.subject.is_classifier and any(r.wrong for r in run.rows):
            return "Misclassified validation samples (red), most confidently wrong first; then correct ones (green)."
        if run.subject.is_classifier:
            return "Validation samples: the model gets all of them right."
        return "The first validation samples."

    def _show_node(self) -> None:
        """The node box and the view buttons for the chosen node: each view enabled where it
        applies, else disabled with the engine's reason as its tooltip."""
        run, node = self.run, self.node
        self.applies = {}
        if run is None:
            return
        known = node is not None and node in run.subject.analysis.nodes
        if node is not None:
            try:
                self.applies = dict(applicable_views(run.subject, node))  # reads the graph only: instant
            except InspectError as error:
                self.applies = {view: str(error).split("\n")[0] for view in NEEDS_NODE}
        self.bar.set_node(node, known, self.applies, compute.units(run, node) if known else 1)

    def _node_picked(self, node: str) -> None:
        if node and node != self.node:
            self.choose_node(node)
            self.nodeChosen.emit(node)

    def _show_figure(self, drawn: Drawn) -> None:
        self.drawn = drawn
        self.title.setText(drawn.title)
        # the view's summary, in words; a long one (a line per class) is cut, whole in the tooltip
        shown = drawn.notes[:NOTES_SHOWN]
        more = len(drawn.notes) - len(shown)
        self.notes.setText("  ·  ".join(line.strip() for line in shown) + (f"  ·  … ({more} more)" if more else ""))
        self.notes.setToolTip("\n".join(line.strip() for line in drawn.notes))
        self.figure_view.show_image(drawn.image)
        self.figureShown.emit(drawn)

    def _show_no_run(self) -> None:
        self.strip.hide()
        self.strip_label.hide()
        self.figure_view.show_message(NO_RUN)
