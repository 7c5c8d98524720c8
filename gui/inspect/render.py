"""Drawing the engine's figures for the Inspect panel, on its worker thread: into an Agg
figure at the panel's size, then into a ``QImage`` the window paints.

The panel is wide and low (a dock under the canvas); drawn at its whole width, a figure's
parts are pulled apart. So a figure gets the panel's height and a width near its own
proportions (the view's ``figure_size``), and is drawn wider again when a title or legend
would be cut. All drawing holds the live plots' ``RENDER_LOCK``: matplotlib is not
thread-safe, and the live plots draw on a thread of their own.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PySide6.QtGui import QImage

from gui.training.plot_renderer import RENDER_LOCK

SCREEN_DPI = 100
MIN_SIZE = (320, 220)  # pixels: smaller figures are drawn at this size and scaled down
SLACK = 1.3  # how much wider (or taller) than its own proportions a figure may be drawn
TALL_SCALE = 0.6  # of its own height, at least, for a figure taller than twice the panel


def fitted(size: tuple[int, int], preferred: Optional[tuple[float, float]]) -> tuple[int, int]:
    """The pixels to draw a figure at in a panel of ``size``: all its height, but no wider than
    a little more than the view's own proportions (``preferred``, inches), so that a wide, low
    panel does not pull the figure's parts apart. A figure that would be squashed to less
    than half its own height gets TALL_SCALE of it, and the panel scrolls."""
    width, height = max(size[0], MIN_SIZE[0]), max(size[1], MIN_SIZE[1])
    if not preferred or preferred[1] <= 0:
        return width, height
    aspect = preferred[0] / preferred[1]
    own_height = preferred[1] * SCREEN_DPI
    if height < own_height / 2:
        height = round(own_height * TALL_SCALE)
    width = min(width, max(round(height * aspect * SLACK), MIN_SIZE[0]))
    height = min(height, max(round(width / aspect * SLACK), MIN_SIZE[1]))
    return width, height


def render(view: Any, size: tuple[int, int], ratio: float) -> tuple[Figure, QImage]:
    """Draw ``view`` into a new Agg figure fitted into ``size`` logical pixels; the figure and
    its picture. A figure whose titles overflow its narrowed width is drawn again wider (up
    to ``size``): a cut title is worse than some white space."""
    preferred = view.figure_size() if hasattr(view, "figure_size") else None
    width, height = fitted(size, preferred)
    with RENDER_LOCK:  # matplotlib is not thread-safe; the live plots draw on another thread
        fig, canvas = _draw(view, width, height, ratio)
        overflow = _overflow(fig, canvas) / ratio
        if overflow > 0 and width < size[0]:
            fig, canvas = _draw(view, min(size[0], round(width + 2 * overflow + 16)), height, ratio)
        pixels = np.asarray(canvas.buffer_rgba())
    rows, columns = pixels.shape[:2]
    image = QImage(pixels.tobytes(), columns, rows, 4 * columns, QImage.Format.Format_RGBA8888).copy()
    image.setDevicePixelRatio(ratio)
    return fig, image


def _draw(view: Any, width: int, height: int, ratio: float) -> tuple[Figure, FigureCanvasAgg]:
    fig = Figure(figsize=(width / SCREEN_DPI, height / SCREEN_DPI), dpi=SCREEN_DPI * ratio)
    canvas = FigureCanvasAgg(fig)
    view.draw(fig)
    canvas.draw()
    return fig, canvas


def _overflow(fig: Figure, canvas: FigureCanvasAgg) -> float:
    """How many device pixels the widest title or legend sticks out of the figure on one side (0: none)."""
    renderer = canvas.get_renderer()
    width = fig.bbox.width
    artists = list(fig.texts) + [ax.title for ax in fig.axes] + list(fig.legends)
    artists += [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    out = 0.0
    for artist in artists:
        if not artist.get_visible() or (hasattr(artist, "get_text") and not artist.get_text()):
            continue
        box = artist.get_window_extent(renderer)
        out = max(out, -box.x0, box.x1 - width)
    return out


def warm_up() -> None:
    """Draw a small figure once, so that the first click does not pay matplotlib's first draw
    (font cache, colormaps)."""
    fig = Figure(figsize=(2, 1), dpi=SCREEN_DPI)
    canvas = FigureCanvasAgg(fig)
    with RENDER_LOCK:
        ax = fig.add_subplot()
        ax.imshow(np.zeros((4, 4)), cmap="viridis")
        ax.set_title("warm up", fontsize=9)
        canvas.draw()
