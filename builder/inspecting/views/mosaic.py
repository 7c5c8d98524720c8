"""Many small images as one: tiles laid out in a grid with one-pixel gaps, drawn with a
single ``imshow``. One image instead of hundreds of subplots keeps drawing fast enough
for a click in the app (and shares one colour scale, so tiles can be compared)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

GAP = 1


def mosaic(tiles: Sequence[np.ndarray], columns: int, fill: float = np.nan) -> np.ndarray:
    """Tiles of the same shape ``[h, w]`` (or ``[h, w, 3]``) in rows of ``columns``; the gaps
    and the unused cells hold ``fill`` (NaN: drawn in the colour map's "bad" colour)."""
    first = np.asarray(tiles[0])
    h, w = first.shape[:2]
    rows = -(-len(tiles) // columns)
    shape = (rows * (h + GAP) - GAP, columns * (w + GAP) - GAP) + first.shape[2:]
    out = np.full(shape, fill, dtype=np.float32)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        out[r * (h + GAP):r * (h + GAP) + h, c * (w + GAP):c * (w + GAP) + w] = tile
    return out


def tile_centres(count: int, size: int) -> list[float]:
    """Axis positions of the centres of ``count`` tiles of ``size`` pixels (for tick labels)."""
    return [i * (size + GAP) + (size - 1) / 2 for i in range(count)]


def symmetric_limit(values: np.ndarray) -> float:
    """The largest magnitude, for a colour scale centred on zero (never 0 itself)."""
    finite = np.abs(values[np.isfinite(values)])
    limit = float(finite.max()) if finite.size else 0.0
    return limit if limit > 0 else 1.0


def show(fig: Figure, ax: Axes, image: np.ndarray, *, cmap: str, vmin: float, vmax: float,
         label: str, colorbar: bool = True, aspect: str = "equal"):
    """``imshow`` without smoothing, gaps in light grey, and a labelled colour bar."""
    import matplotlib

    colours = matplotlib.colormaps[cmap].with_extremes(bad="#dddddd")
    drawn = ax.imshow(np.ma.masked_invalid(image), cmap=colours, vmin=vmin, vmax=vmax,
                      interpolation="nearest", aspect=aspect)
    if colorbar:
        bar = fig.colorbar(drawn, ax=ax, fraction=0.046, pad=0.03)
        bar.set_label(label)
    return drawn


def no_frame(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
