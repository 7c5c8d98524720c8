"""How the training figures look, written once: font sizes, the grid, an axis' title and
labels, the note a figure shows instead of data, when a y axis goes logarithmic, and
reading a number out of an event.

The engine's PNG plots (:mod:`builder.training.plots`) and the editor's live and Compare
plots (``gui/training/``) share it, so a figure looks the same in a run folder and in the
app. Plain matplotlib on a given ``Figure`` or ``Axes``: never pyplot, never a change to
matplotlib's global state, never Qt.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from matplotlib.ticker import MaxNLocator

LABEL = 11  # font sizes in points: axis labels,
TITLE = 12  # titles,
SMALL = 9  # tick labels, legends and notes
GRID = {"alpha": 0.3, "linewidth": 0.6}
NOTE_COLOR = "0.4"
LOG_RATIO = 30  # values spanning more than this factor are drawn on a log scale


def finite_number(value: Any) -> Optional[float]:
    """A finite float, or None for missing, null, NaN, infinite and non-numeric values
    (and booleans, which Python counts as numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def spans_decades(values: Sequence[float], ratio: float = LOG_RATIO) -> bool:
    """True when positive ``values`` span more than ``ratio`` (a log scale reads better)."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > ratio


class WholeNumbers(MaxNLocator):
    """Whole-number ticks, also for a run of one epoch or one logged step: a single point
    gets a range of two units around it instead of matplotlib's +-5% (ticks 0.945 ... 1.05)."""

    def __init__(self):
        super().__init__(integer=True)

    def nonsingular(self, v0: float, v1: float) -> tuple[float, float]:
        if abs(v1 - v0) < 1e-9:
            return v0 - 1, v1 + 1
        return super().nonsingular(v0, v1)


def style_axes(ax, title: str, xlabel: str, ylabel: str, note: str = "") -> None:
    """The title (with ``note`` on a second, smaller line), the axis labels, whole-number
    x ticks, small tick labels and a faint grid."""
    ax.set_title(f"{title}\n{note}" if note else title, fontsize=TITLE if not note else LABEL)
    ax.set_xlabel(xlabel, fontsize=LABEL)
    ax.set_ylabel(ylabel, fontsize=LABEL)
    ax.xaxis.set_major_locator(WholeNumbers())
    ax.autoscale_view(scaley=False)  # again, with that locator (set_ylim may have scaled x already)
    ax.tick_params(labelsize=SMALL)
    ax.grid(True, which="major", **GRID)


def figure_note(fig, text: str, fontsize: float = LABEL, color: str = NOTE_COLOR, wrap: bool = False):
    """Write ``text`` in the middle of ``fig`` on an axis without frame or ticks (the
    figure's data is missing: "no loss recorded yet"). Returns the axis."""
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=fontsize, color=color, wrap=wrap,
            transform=ax.transAxes)
    return ax


__all__ = ["GRID", "LABEL", "SMALL", "TITLE", "figure_note", "finite_number", "spans_decades", "style_axes"]
