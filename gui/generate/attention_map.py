"""The attention beside a generated sequence: for each output step, where the decoder
looked in its input. Drawn with matplotlib on the panel's worker thread
(:mod:`gui.inspect.render` turns a figure into a picture).

Two figures: :class:`AttentionHeatMap`, output steps (rows, the generated tokens) by input
steps (columns, the source tokens or positions), one head or the mean of the heads; and,
for an image whose regions form a square grid, :class:`AttentionOnImage`: the image once
per generated word with the attended regions lit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from matplotlib.figure import Figure

from builder import PLOT_SMALL_SIZE, figure_note

MEAN = -1  # head: the mean of all heads
MAX_TILES = 12  # words drawn over the image
CMAP = "viridis"


def head_weights(weights: np.ndarray, head: int) -> np.ndarray:
    """``[heads, out, in]`` -> ``[out, in]``: one head, or their mean (MEAN)."""
    return weights.mean(axis=0) if head == MEAN or head >= len(weights) else weights[head]


def head_name(weights: np.ndarray, head: int) -> str:
    return f"mean of {len(weights)} heads" if head == MEAN and len(weights) > 1 else \
        f"head {max(head, 0)}"


def grid_side(keys: int) -> Optional[int]:
    """The side of a square grid of ``keys`` regions (16 -> 4), None if not square."""
    side = math.isqrt(keys)
    return side if side * side == keys and side > 1 else None


@dataclass
class AttentionHeatMap:
    """One node's attention for one generated sequence."""

    node: str
    weights: np.ndarray  # [heads, generated steps, input steps]
    tokens: list[str]  # the generated tokens (rows)
    keys: Optional[list[str]] = None  # the input tokens (columns), when the input is tokens
    head: int = MEAN
    positions: str = "input position"  # what the columns are, when they are no tokens

    def figure_size(self) -> tuple[float, float]:
        rows, columns = self.weights.shape[1:]
        return (min(3.0 + 0.32 * columns, 12.0), min(2.0 + 0.3 * rows, 9.0))

    def draw(self, fig: Figure) -> None:
        fig.clear()
        if self.weights.size == 0:
            figure_note(fig, "No steps were generated, so there is no attention to show.")
            return
        map_ = head_weights(self.weights, self.head)
        ax = fig.add_subplot()
        drawn = ax.imshow(map_, cmap=CMAP, vmin=0.0, vmax=max(float(map_.max()), 1e-6),
                          interpolation="nearest", aspect="auto")
        rows, columns = map_.shape
        ax.set_yticks(range(rows), [_shown(t) for t in self.tokens[:rows]], fontsize=PLOT_SMALL_SIZE)
        if self.keys:
            ax.set_xticks(range(columns), [_shown(k) for k in self.keys[:columns]], fontsize=PLOT_SMALL_SIZE,
                          rotation=90 if max(len(k) for k in self.keys) > 2 else 0)
            ax.set_xlabel("input token", fontsize=PLOT_SMALL_SIZE + 1)
        else:
            ax.set_xlabel(self.positions, fontsize=PLOT_SMALL_SIZE + 1)
            ax.tick_params(axis="x", labelsize=PLOT_SMALL_SIZE)
        ax.set_ylabel("generated token", fontsize=PLOT_SMALL_SIZE + 1)
        ax.set_title(f"{self.node}: where each output step looks ({head_name(self.weights, self.head)})",
                     fontsize=PLOT_SMALL_SIZE + 1)
        bar = fig.colorbar(drawn, ax=ax, fraction=0.046, pad=0.03)
        bar.ax.tick_params(labelsize=PLOT_SMALL_SIZE)
        bar.set_label("attention weight (rows sum to 1)", fontsize=PLOT_SMALL_SIZE)
        fig.tight_layout()


@dataclass
class AttentionOnImage:
    """The image once per generated token, the attention over its square grid of regions
    laid over it (brighter: looked at more)."""

    node: str
    weights: np.ndarray  # [heads, generated steps, regions]
    tokens: list[str]
    picture: np.ndarray  # [H, W] or [H, W, 3] in 0..1
    head: int = MEAN

    def figure_size(self) -> tuple[float, float]:
        count = min(len(self.tokens), MAX_TILES)
        columns = min(count, 6)
        return (1.6 * columns + 0.6, 1.9 * math.ceil(count / max(columns, 1)) + 0.6)

    def draw(self, fig: Figure) -> None:
        fig.clear()
        map_ = head_weights(self.weights, self.head)
        side = grid_side(map_.shape[1])
        count = min(len(self.tokens), map_.shape[0], MAX_TILES)
        if side is None or count == 0:
            figure_note(fig, "The attention is not over a square grid of image regions.")
            return
        columns = min(count, 6)
        rows = math.ceil(count / columns)
        height, width = self.picture.shape[:2]
        for step in range(count):
            ax = fig.add_subplot(rows, columns, step + 1)
            ax.imshow(self.picture, cmap="gray" if self.picture.ndim == 2 else None, interpolation="nearest",
                      extent=(0, width, height, 0))
            grid = map_[step].reshape(side, side)
            ax.imshow(grid / max(float(grid.max()), 1e-6), cmap="magma", alpha=0.55, interpolation="bilinear",
                      extent=(0, width, height, 0), vmin=0.0, vmax=1.0)
            ax.set_title(_shown(self.tokens[step]), fontsize=PLOT_SMALL_SIZE + 1)
            ax.set_xticks([])
            ax.set_yticks([])
        more = f" (the first {count})" if len(self.tokens) > count else ""
        fig.suptitle(f"{self.node}: the image regions each word looks at{more} ({head_name(self.weights, self.head)})",
                     fontsize=PLOT_SMALL_SIZE + 1)
        fig.tight_layout()


def _shown(token: str) -> str:
    """A token as a tick label: a space is shown as ␣ so that it can be seen."""
    return "␣" if token == " " else token
