"""Colors, sizes and fonts the editor's widgets share, so that a block category looks the
same in the palette, on the canvas and in the inspector."""

from __future__ import annotations

from PySide6.QtGui import QColor

# The drag-and-drop payload of a palette entry: the block name as UTF-8.
BLOCK_MIME_TYPE = "application/x-modelbuilder-block"

# One hue per category, chosen to stay apart from each other and from the red of errors.
CATEGORY_COLORS: dict[str, str] = {
    "Input/Output": "#4a5568",
    "Convolution": "#2b6cb0",
    "Pooling": "#2c7a7b",
    "Normalization": "#6b46c1",
    "Activation": "#d69e2e",
    "Regularization": "#718096",
    "Reshape": "#805ad5",
    "Linear": "#2f855a",
    "Embedding": "#38a169",
    "Merge": "#dd6b20",
    "Composite": "#3182ce",
    "Recurrent": "#b83280",
    "Attention": "#c05621",
    "Resampling": "#319795",
}
FALLBACK_COLOR = "#a0aec0"
ERROR_COLOR = "#e53e3e"
WARNING_COLOR = "#dd6b20"
SELECTION_COLOR = "#3182ce"
WIRE_COLOR = "#4a5568"
WIRE_LABEL_COLOR = "#2d3748"
CANVAS_COLOR = "#f7fafc"
HINT_COLOR = "#718096"  # secondary text: hints, headings, summaries
GRID_COLOR = "#e2e8f0"


def category_color(category: str | None) -> QColor:
    """The color of a block category (grey for one we have no color for, e.g. a plug-in's)."""
    return QColor(CATEGORY_COLORS.get(category or "", FALLBACK_COLOR))
