"""How the Generate panel decodes: greedy, sampling (temperature, seed) or beam search
(width), and the longest sequence to generate. Each method shows only its own settings.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox, QWidget

from gui.form_widgets import compact_form
from gui.generate.jobs import BEAM, GREEDY, SAMPLE, Decoding

METHODS = {GREEDY: "Greedy", SAMPLE: "Sample", BEAM: "Beam search"}
TIPS = {GREEDY: "Take the most likely token at every step (deterministic)",
        SAMPLE: "Draw each token from the model's distribution, sharpened or flattened by the temperature; "
                "the same seed gives the same sequence",
        BEAM: "Keep the K most likely sequences at every step and return the best (K = 1 is greedy)"}
AUTO_LENGTH = "fill the window"  # max length 0: as many steps as the decoder input has
LONGEST = 2000  # what the spin box offers; a language model may go on sliding its window


class DecodingForm(QWidget):
    """The decoding settings; ``changed`` after any edit."""

    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("decodingForm")
        self.method = QComboBox()
        self.method.setObjectName("generateMethod")
        for key, text in METHODS.items():
            self.method.addItem(text, key)
            self.method.setItemData(self.method.count() - 1, TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.temperature = QDoubleSpinBox()
        self.temperature.setObjectName("generateTemperature")
        self.temperature.setRange(0.05, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setValue(1.0)
        self.temperature.setToolTip("Below 1 sharpens the distribution (safer, more repetitive), above 1 "
                                    "flattens it (more varied, more mistakes)")
        self.seed = QSpinBox()
        self.seed.setObjectName("generateSeed")
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed draws the same sequence")
        self.beam = QSpinBox()
        self.beam.setObjectName("generateBeam")
        self.beam.setRange(1, 64)
        self.beam.setValue(4)
        self.beam.setToolTip("How many partial sequences beam search keeps (1 gives greedy's answer)")
        self.max_length = QSpinBox()
        self.max_length.setObjectName("generateMaxLength")
        self.max_length.setRange(0, LONGEST)
        self.max_length.setSpecialValueText(AUTO_LENGTH)
        self.max_length.setToolTip("The most tokens to generate; generation also stops at <end>")
        form = compact_form(4)
        form.addRow("Decoding", self.method)
        form.addRow("Temperature", self.temperature)
        form.addRow("Seed", self.seed)
        form.addRow("Beam width", self.beam)
        form.addRow("Max length", self.max_length)
        self.setLayout(form)
        self._form = form
        self.method.currentIndexChanged.connect(self._method_changed)
        for spin in (self.temperature, self.seed, self.beam, self.max_length):
            spin.valueChanged.connect(lambda _v: self.changed.emit())
        self._method_changed()

    def set_steps(self, steps: int, language_model: bool) -> None:
        """The decoder's window: the most a conditional decoder can generate."""
        self.max_length.setMaximum(LONGEST if language_model else steps)

    def set_method(self, method: str) -> None:
        self.method.setCurrentIndex(self.method.findData(method))

    def decoding(self) -> Decoding:
        length = self.max_length.value()
        return Decoding(self.method.currentData(), self.temperature.value(), self.seed.value(), self.beam.value(),
                        length or None)

    def _method_changed(self, *_args) -> None:
        method = self.method.currentData()
        self.method.setToolTip(TIPS[method])
        self._form.setRowVisible(1, method == SAMPLE)
        self._form.setRowVisible(2, method == SAMPLE)
        self._form.setRowVisible(3, method == BEAM)
        self.changed.emit()
