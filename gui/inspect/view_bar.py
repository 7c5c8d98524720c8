"""The Inspect panel's bar: the node shown, a button per view (enabled where the view
applies to that node, else disabled with the engine's reason as its tooltip), and the
current view's options: Explain's method and target class, Embedding's projection,
Maximize's unit.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QComboBox, QHBoxLayout, QLabel, QSpinBox, QToolButton, QWidget

from gui.inspect.compute import METHOD_TITLES, METHODS

VIEW_TITLES = {"activations": "Feature maps", "explain": "Explain", "filters": "Filters", "embedding": "Embedding",
               "maximize": "Maximize", "attention": "Attention", "gates": "Gates"}
VIEW_TIPS = {
    "activations": "What the chosen node outputs for the chosen sample: one map per channel",
    "explain": "Which parts of the chosen sample the prediction depends on (saliency, Grad-CAM, occlusion …)",
    "filters": "The learned kernels of a convolution",
    "embedding": "The validation samples' features at the chosen node in 2-D, colored by class",
    "maximize": "The input that excites one unit of the chosen node most (gradient ascent)",
    "attention": "Attention weights per head: which keys each query looks at",
    "gates": "An LSTM's or GRU's gate activity and cell state over the time steps",
}


class ViewBar(QWidget):
    """``viewChosen(name)``, ``nodePicked(node)`` (from the node box) and ``optionsChanged``."""

    viewChosen = Signal(str)
    nodePicked = Signal(str)
    optionsChanged = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.view = "activations"
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.node_box = QComboBox()
        self.node_box.setObjectName("inspectNode")
        self.node_box.setPlaceholderText("click a node")
        self.node_box.setToolTip("The node shown: click one on the canvas, or pick it here")
        self.node_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.node_box.activated.connect(lambda i: self.nodePicked.emit(self.node_box.itemText(i)))
        row.addWidget(QLabel("Node:"))
        row.addWidget(self.node_box)
        row.addSpacing(8)
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QToolButton] = {}
        for name, text in VIEW_TITLES.items():
            button = QToolButton()
            button.setObjectName(f"view_{name}")
            button.setText(text)
            button.setCheckable(True)
            button.setChecked(name == self.view)
            button.setToolTip(VIEW_TIPS[name])
            button.clicked.connect(lambda _checked=False, n=name: self.choose_view(n, signal=True))
            self.group.addButton(button)
            self.buttons[name] = button
            row.addWidget(button)
        row.addSpacing(8)

        self.method_box = QComboBox()
        self.method_box.setObjectName("explainMethod")
        for method in METHODS:
            self.method_box.addItem(METHOD_TITLES.get(method, method), method)
        self.method_box.setToolTip("How the explanation is computed; Grad-CAM uses the chosen node when it has "
                                   "feature maps, else the last one before the classifier")
        self.target_box = QComboBox()
        self.target_box.setObjectName("explainTarget")
        self.target_box.setToolTip("The class whose score is explained")
        self.projection_box = QComboBox()
        self.projection_box.setObjectName("embeddingMethod")
        # PCA first: it takes a fraction of a second, a t-SNE of the validation set tens of seconds on a laptop
        self.projection_box.addItem("PCA", "pca")
        self.projection_box.addItem("t-SNE", "tsne")
        self.projection_box.setToolTip("PCA: a linear projection, at once. t-SNE: keeps neighbours together, "
                                       "takes a while")
        self.unit_box = QSpinBox()
        self.unit_box.setObjectName("maximizeUnit")
        self.unit_box.setToolTip("The channel (or, at a classifier's output, the class) to maximize; "
                                 "\"first units\": several at once, side by side")
        self.unit_box.setMinimum(-1)  # -1: the engine's default, the first units in one batch
        self.unit_box.setSpecialValueText("first units")
        self.unit_box.setValue(-1)
        self.unit_box.setKeyboardTracking(False)  # typing "12" asks once, not for 1 and then 12
        self.options = {"explain": [_labelled("Method:", self.method_box), _labelled("Target:", self.target_box)],
                        "embedding": [self.projection_box], "maximize": [_labelled("Unit:", self.unit_box)]}
        for widgets in self.options.values():
            for widget in widgets:
                row.addWidget(widget)
        row.addStretch(1)
        for box in (self.method_box, self.target_box, self.projection_box):
            box.activated.connect(lambda _i: self.optionsChanged.emit())
        self.unit_box.valueChanged.connect(lambda _v: self.optionsChanged.emit())
        self._show_options()

    # ------------------------------------------------------------------ choices
    def choose_view(self, name: str, signal: bool = False) -> None:
        self.view = name
        self.buttons[name].setChecked(True)
        self._show_options()
        if signal:
            self.viewChosen.emit(name)

    @property
    def method(self) -> str:
        return self.method_box.currentData() or "saliency"

    @property
    def target(self) -> Optional[int]:
        return self.target_box.currentData()

    @property
    def projection(self) -> str:
        return self.projection_box.currentData() or "pca"

    @property
    def unit(self) -> Optional[int]:
        return None if self.unit_box.value() < 0 else self.unit_box.value()

    def set_explain(self, method: str, target: Optional[int] = None) -> None:
        self.method_box.setCurrentIndex(self.method_box.findData(method))
        self.target_box.setCurrentIndex(max(0, self.target_box.findData(target)))

    # ------------------------------------------------------------------ a run, a node
    def set_run(self, nodes: list[str], class_names: list[str]) -> None:
        """The run's nodes in the node box and its classes as Explain's targets."""
        self.node_box.clear()
        self.node_box.addItems(nodes)
        self.node_box.setCurrentIndex(-1)
        self.target_box.clear()
        self.target_box.addItem("predicted class", None)
        for index, name in enumerate(class_names):
            self.target_box.addItem(f"class {name}", index)
        self.target_box.setEnabled(bool(class_names))

    def set_node(self, node: Optional[str], known: bool, reasons: dict[str, Optional[str]], units: int) -> None:
        """Show ``node`` (``known``: the run has it) and enable each view where it applies."""
        self.node_box.setCurrentIndex(self.node_box.findText(node) if node else -1)
        # the graph's input or output is not in the box (they compute nothing) but is no stranger
        self.node_box.setPlaceholderText("click a node" if node is None else node if known else
                                         f"{node} (not in the run)")
        for view, button in self.buttons.items():
            reason = reasons.get(view)
            button.setEnabled(reason is None)
            button.setToolTip(VIEW_TIPS[view] if reason is None else f"Not for {node}: {reason}")
        self.unit_box.setMaximum(max(0, units - 1))

    def _show_options(self) -> None:
        for view, widgets in self.options.items():
            for widget in widgets:
                widget.setVisible(view == self.view)


def _labelled(text: str, widget: QWidget) -> QWidget:
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(QLabel(text))
    row.addWidget(widget)
    return holder
