"""The Generate panel: a decoder run writes a sequence from an input.

Left, the input (:class:`gui.generate.input_picker.InputPicker`) and the decoding
(:class:`gui.generate.decoding_form.DecodingForm`) with the Generate button; right, the
generated sequence decoded with the run's vocabulary (with the data's own answer when a
validation sample was picked) and, for a graph with attention, the attention map beside
it. Opening the run, generating and drawing run on the panel's worker thread
(:mod:`gui.inspect.worker`, a lane of its own), so the window keeps painting.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gui.form_widgets import info_label, section_heading
from gui.generate import jobs
from gui.generate.attention_map import MEAN, AttentionHeatMap, AttentionOnImage, grid_side
from gui.generate.decoding_form import DecodingForm
from gui.generate.input_picker import InputPicker
from gui.inspect.figure_view import ERROR, FigureView
from gui.inspect.panel_frame import RunFolderPicker, frame_panel
from gui.inspect.worker import Failure, InspectWorker
from gui.style import ERROR_COLOR, HINT_COLOR

LANE = "generate"  # a worker thread of its own: a long sample never holds up the Inspect panel
REDRAW_MS = 250
HEAT_MAP, ON_IMAGE = "heat map", "on the image"
RIGHT_COLOR = "#2f855a"
NO_RUN = ("No decoder run open.\nTrain a seq2seq, captioner or language-model graph, select its run in "
          "Training › Runs and press Generate, or use Open Run… here.")


class GeneratePanel(RunFolderPicker, QWidget):
    """``generated`` carries each Generation once shown; ``runOpened`` the OpenRun."""

    DIALOG_TITLE = "Generate with a run"

    generated = Signal(object)
    runOpened = Signal(object)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("generatePanel")
        self.run: Optional[jobs.OpenRun] = None
        self.result: Any = None  # the Generation shown
        self._decoding = jobs.Decoding()  # how it was generated
        self.start_folder: Optional[Path] = None
        self.worker = InspectWorker(self)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(lambda key, failure: self._finished(key, failure))
        self.worker.busyChanged.connect(lambda busy: self.busy.setVisible(busy))

        self.run_label = QLabel("No run open")
        self.run_label.setObjectName("generateRun")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumSize(90, 12)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.open_button = QPushButton("Open Run…")
        self.open_button.setToolTip("Choose a decoder run folder (runs/<graph>-<date>-<time>) to generate with")
        self.open_button.clicked.connect(self.open_dialog)
        top = QHBoxLayout()
        top.addWidget(self.run_label, 1)
        top.addWidget(self.busy)
        top.addWidget(self.open_button)

        self.picker = InputPicker()
        self.picker.submitted.connect(self.generate)
        self.form = DecodingForm()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(section_heading("Input", "0"))
        column.addWidget(self.picker, 1)
        column.addWidget(section_heading("Decoding"))
        column.addWidget(self.form)
        column.addWidget(self.generate_button)

        self.output = info_label(name="generateOutput")
        self.output.setTextFormat(Qt.TextFormat.RichText)
        font = self.output.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        self.output.setFont(font)
        self.output.setSizePolicy(_wrapping())
        self.details = info_label(name="generateDetails")
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setSizePolicy(_wrapping())
        self.node = QComboBox()
        self.node.setObjectName("generateAttentionNode")
        self.node.setToolTip("The attention node to show")
        self.head = QComboBox()
        self.head.setObjectName("generateHead")
        self.show_as = QComboBox()
        self.show_as.setObjectName("generateShowAs")
        self.show_as.addItems([HEAT_MAP, ON_IMAGE])
        self.show_as.setToolTip("A heat map of output steps by input steps, or each word's attention laid over "
                                "the image")
        for combo in (self.node, self.head, self.show_as):
            combo.currentIndexChanged.connect(lambda _i: self._draw())
        self.attention_bar = QWidget()
        bar = QHBoxLayout(self.attention_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Attention"))
        bar.addWidget(self.node)
        bar.addWidget(self.head)
        bar.addWidget(self.show_as)
        bar.addStretch(1)
        self.figure_view = FigureView()
        self.figure_view.setObjectName("generateFigure")
        self.figure_view.resized.connect(self._schedule_redraw)
        right = QWidget()
        main = QVBoxLayout(right)
        main.setContentsMargins(0, 0, 0, 0)
        main.addWidget(section_heading("Output", "0"))
        main.addWidget(self.output)
        main.addWidget(self.details)
        main.addWidget(self.attention_bar)
        main.addWidget(self.figure_view, 1)
        main.addStretch(0)

        self.splitter, self._redraw = frame_panel(self, top, left, right, 320, REDRAW_MS, self._draw)
        self._show_run(None)

    # ------------------------------------------------------------------ public
    def open_run(self, path: str | Path) -> None:
        """Open the run folder at ``path`` for generation, on the worker thread."""
        self.worker.cancel()
        self._show_run(None)
        self.run_label.setText(f"Opening {Path(path).name} …")
        self.figure_view.show_message(f"Opening the run {path} …")
        self.worker.submit("open", lambda: jobs.open_run(path), lane=LANE)

    def generate(self) -> bool:
        """Generate from the input with the decoding chosen (Generate button, Enter)."""
        run = self.run
        if run is None:
            return False
        spec = self.picker.input()
        if spec is None:
            self._show_problem(f"Nothing to generate from. {run.wants}.")
            return False
        decoding = self._decoding = self.form.decoding()
        self.output.setText(f"<span style='color:{HINT_COLOR}'>Generating ({decoding.method}) …</span>")
        self.details.clear()
        self.worker.submit("generate", lambda: jobs.generate(run, spec, decoding), lane=LANE)
        return True

    # ------------------------------------------------------------------ results
    def _finished(self, key: str, result: Any) -> None:
        if key == "open":
            self._opened(result)
        elif key == "generate":
            self._generated(result)
        elif key == "figure":
            if isinstance(result, Failure):
                self.figure_view.show_message(result.text(), ERROR)
            else:
                self.figure_view.show_image(result[1])

    def _opened(self, result: Any) -> None:
        if isinstance(result, Failure):
            self._show_run(None)
            self.run_label.setText("No run open")
            self.figure_view.show_message(f"This run cannot generate.\n{result.text()}", ERROR)
            return
        self._show_run(result)
        self.runOpened.emit(result)

    def _show_run(self, run: Optional[jobs.OpenRun]) -> None:
        self.run, self.result = run, None
        self.picker.set_run(run)
        self.generate_button.setEnabled(run is not None)
        self.output.clear()
        self.details.clear()
        self.attention_bar.hide()
        self.figure_view.show()
        if run is None:
            self.figure_view.show_message(NO_RUN)
            return
        self.form.set_steps(run.steps, run.kind == jobs.PROMPT)
        vocabulary = run.generator.vocabulary
        self.run_label.setText(f"<b>{html.escape(run.name)}</b> · {html.escape(run.path.name)} · "
                               f"{html.escape(vocabulary.describe())}")
        self.run_label.setToolTip(str(run.path))
        self.node.blockSignals(True)
        self.node.clear()
        self.node.addItems(list(run.attention))
        self.node.blockSignals(False)
        self.node.setVisible(len(run.attention) > 1)
        self.figure_view.show_message("Pick an input and press Generate." + (
            "\nThe attention map will show beside the output." if run.attention else ""))

    def _generated(self, result: Any) -> None:
        if isinstance(result, Failure):
            self._show_problem(result.text())
            return
        self.result = result
        vocabulary = self.run.generator.vocabulary
        joiner = "" if vocabulary.characters else " "
        prompt = f"<span style='color:{HINT_COLOR}'>{html.escape(result.prompt)}{joiner}</span>" \
            if result.prompt else ""
        text = html.escape(result.text) or f"<span style='color:{HINT_COLOR}'>(nothing before &lt;end&gt;)</span>"
        self.output.setText(f"<span style='font-family:monospace'>{prompt}<b>{text}</b></span>")
        self.details.setText(self._details_html(result, vocabulary))
        self._show_attention(result)
        self.generated.emit(result)

    def _details_html(self, result: Any, vocabulary: Any) -> str:
        ended = "ended at &lt;end&gt;" if result.tokens and result.tokens[-1] == "<end>" else "reached the length limit"
        lines = [f"{len(result.ids)} tokens, {ended} ({_method_text(self._decoding)}); "
                 f"log probability {result.log_probability:.3f}"]
        if result.reference is not None:
            made = [t for t in result.tokens if t != "<end>"]
            wanted = vocabulary.split(result.reference)
            right = sum(a == b for a, b in zip(made, wanted))
            exact = result.text == result.reference
            color = RIGHT_COLOR if exact else ERROR_COLOR
            verdict = "exact match" if exact else f"{right} of {len(wanted)} tokens right"
            lines.append(f"the data's answer: <b>{html.escape(result.reference)}</b> · "
                         f"<span style='color:{color}'>{verdict}</span>")
        lines.append(f"from {html.escape(result.source)}")
        return "<br>".join(f"<span style='color:{HINT_COLOR}'>{line}</span>" if i == len(lines) - 1 else line
                           for i, line in enumerate(lines))

    def _show_problem(self, text: str) -> None:
        self.output.setText(f"<span style='color:{ERROR_COLOR}'>{html.escape(text, quote=False)}</span>")
        self.details.clear()

    # ------------------------------------------------------------------ attention
    def _show_attention(self, result: Any) -> None:
        weights = result.attention
        self.attention_bar.setVisible(bool(weights))
        self.figure_view.setVisible(bool(weights))  # no attention node: the output has the room
        if not weights:
            return
        heads = next(iter(weights.values())).shape[0]
        self.head.blockSignals(True)
        current = self.head.currentData()
        self.head.clear()
        if heads > 1:
            self.head.addItem(f"mean of {heads} heads", MEAN)
        for h in range(heads):
            self.head.addItem(f"head {h}", h)
        index = self.head.findData(current)
        self.head.setCurrentIndex(max(index, 0))
        self.head.blockSignals(False)
        self.head.setVisible(heads > 1)
        self.show_as.setVisible(self._picture() is not None)
        self._draw()

    def _picture(self):
        """The picked image sample's picture, when the attention is over a square grid of its regions."""
        choice = self.picker.choice()
        if self.result is None or choice is None or choice.picture is None or not self.result.attention:
            return None
        keys = next(iter(self.result.attention.values())).shape[-1]
        return choice.picture if grid_side(keys) else None

    def attention_view(self) -> Any:
        """The figure the attention controls ask for (None: no attention to show)."""
        result = self.result
        if result is None or not result.attention:
            return None
        node = self.node.currentText() or next(iter(result.attention))
        weights = result.attention.get(node, next(iter(result.attention.values())))
        head = self.head.currentData() if self.head.count() else MEAN
        picture = self._picture()
        if picture is not None and self.show_as.currentText() == ON_IMAGE:
            return AttentionOnImage(node, weights, result.tokens, picture, head)
        regions = self.run is not None and self.run.kind == jobs.IMAGE
        return AttentionHeatMap(node, weights, result.tokens, result.keys, head,
                                "image region (row by row)" if regions else "input position")

    def _draw(self) -> None:
        view = self.attention_view()
        if view is None:
            return
        from gui.inspect.render import render  # matplotlib, once there is something to draw

        size = self.figure_view.figure_size()
        ratio = self.figure_view.devicePixelRatioF()
        self.worker.submit("figure", lambda: render(view, (size.width(), size.height()), ratio), lane=LANE)

    def _schedule_redraw(self) -> None:
        if self.figure_view.showing_image():
            self._redraw.start()


def _method_text(decoding: jobs.Decoding) -> str:
    if decoding.method == jobs.SAMPLE:
        return f"sampled at temperature {decoding.temperature:g}, seed {decoding.seed}"
    if decoding.method == jobs.BEAM:
        return f"beam search, width {decoding.beam}"
    return "greedy"


def _wrapping() -> QSizePolicy:
    """A label that wraps at the panel's width, however long the sequence (it never widens
    the dock), and is as tall as its wrapped lines."""
    policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    policy.setHeightForWidth(True)
    return policy
