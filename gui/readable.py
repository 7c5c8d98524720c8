"""When is the canvas readable, and which zoom shows a graph readably? Plain Python, no Qt.

One threshold decides it: text is readable when its font's height (ascent + descent) is at
least :data:`MIN_TEXT_PX` screen pixels. The canvas measures its fonts (in scene units),
and everything else follows from that: the smallest zoom that fitting, opening and
arranging may choose, the level of detail nodes are drawn with, and how many columns (or
rows) an automatic layout wraps a tall graph into.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

MIN_TEXT_PX = 8.0  # the one readability threshold: a font's height on screen, in pixels
MAX_FIT_ZOOM = 1.0  # fitting never magnifies: a small graph is shown at 100 %
FIT_MARGIN = 30.0  # scene units kept free around the graph when it is fitted

# What a node box shows at a zoom (see detail_level)
FULL, LARGE_TEXT, BOXES = "full", "large text", "boxes"


def readable_zoom(text_height: float) -> float:
    """The smallest zoom at which text whose font is ``text_height`` scene units high is
    drawn :data:`MIN_TEXT_PX` high or more."""
    return MIN_TEXT_PX / text_height


def is_readable(zoom: float, text_height: float) -> bool:
    """Whether text of ``text_height`` scene units reaches the threshold at ``zoom``
    (with a little slack for floating point: a zoom set to exactly the readable zoom is readable)."""
    return zoom * text_height >= MIN_TEXT_PX - 1e-6


def detail_level(zoom: float, text_height: float, large_text_height: float) -> str:
    """How much a node box shows at ``zoom``: everything while its normal text is
    readable; only its id and output shape in large letters (``large_text_height``)
    while those are readable; else a plain colored box (no room for text)."""
    if is_readable(zoom, text_height):
        return FULL
    if is_readable(zoom, large_text_height):
        return LARGE_TEXT
    return BOXES


@dataclass(frozen=True)
class Screen:
    """Where a graph is shown: a view of ``width`` x ``height`` pixels that may zoom
    between ``min_zoom`` (the readable zoom) and ``max_zoom``."""

    width: float
    height: float
    min_zoom: float
    max_zoom: float = MAX_FIT_ZOOM
    margin: float = FIT_MARGIN

    def zoom_to_fit(self, width: float, height: float) -> float:
        """The zoom that shows a ``width`` x ``height`` scene area (plus the margin) whole,
        capped at ``max_zoom``; not limited below (compare it with ``min_zoom``)."""
        room_w = max(self.width, 1.0) / (width + 2 * self.margin)
        room_h = max(self.height, 1.0) / (height + 2 * self.margin)
        return min(room_w, room_h, self.max_zoom)

    def fits(self, width: float, height: float) -> bool:
        """Whether a ``width`` x ``height`` area fits whole at a readable zoom."""
        return self.zoom_to_fit(width, height) >= self.min_zoom - 1e-9

    def span_at_min_zoom(self) -> tuple[float, float]:
        """The scene area (width, height) the view shows at ``min_zoom``, less the margin."""
        return (self.width / self.min_zoom - 2 * self.margin, self.height / self.min_zoom - 2 * self.margin)


@dataclass(frozen=True)
class ViewChoice:
    """A zoom and the scene point to put at the center of the view."""

    zoom: float
    center_x: float
    center_y: float


def choose_view(screen: Screen, left: float, top: float, width: float, height: float) -> ViewChoice:
    """How to show the graph whose boxes span (``left``, ``top``, ``width``, ``height``):
    whole and centered when it fits at a readable zoom (at most 100 %); else at the
    readable zoom with its top-left corner (where an automatic layout starts the reading
    order: first column, or first row) in the view's top-left corner, so that the rest
    is reached by scrolling in reading order."""
    zoom = screen.zoom_to_fit(width, height)
    if zoom >= screen.min_zoom - 1e-9:
        return ViewChoice(zoom, left + width / 2, top + height / 2)
    zoom = screen.min_zoom
    half_w, half_h = screen.width / zoom / 2, screen.height / zoom / 2
    center_x = left - screen.margin + half_w
    center_y = top - screen.margin + half_h
    # a graph narrower (or shorter) than the view is centered along that axis
    if width + 2 * screen.margin <= screen.width / zoom:
        center_x = left + width / 2
    if height + 2 * screen.margin <= screen.height / zoom:
        center_y = top + height / 2
    return ViewChoice(zoom, center_x, center_y)


@dataclass(frozen=True)
class Mapping:
    """A uniform scale and offset that draw a scene rectangle inside a frame (the
    overview): ``frame = scene * scale + offset``."""

    scale: float
    offset_x: float
    offset_y: float

    def to_frame(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale + self.offset_x, y * self.scale + self.offset_y

    def to_scene(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.offset_x) / self.scale, (y - self.offset_y) / self.scale


def fit_into(left: float, top: float, width: float, height: float, frame_width: float, frame_height: float,
             pad: float = 4.0) -> Optional[Mapping]:
    """The mapping that shows the scene rectangle whole and centered in a frame of
    ``frame_width`` x ``frame_height`` with ``pad`` pixels free around it; None for an
    empty rectangle or a frame too small to draw in."""
    inner_w, inner_h = frame_width - 2 * pad, frame_height - 2 * pad
    if width <= 0 or height <= 0 or inner_w <= 0 or inner_h <= 0:
        return None
    scale = min(inner_w / width, inner_h / height)
    offset_x = pad + (inner_w - width * scale) / 2 - left * scale
    offset_y = pad + (inner_h - height * scale) / 2 - top * scale
    return Mapping(scale, offset_x, offset_y)


def grid_lines(start: float, end: float, spacing: float) -> list[float]:
    """The grid's line positions from ``start`` to ``end``: the multiples of ``spacing``,
    whatever part of the canvas is being drawn (so that strips exposed while panning
    continue the lines already on screen)."""
    first = -(-start // spacing) * spacing if spacing > 0 else start  # ceil to a multiple
    lines = []
    position = first
    while position <= end:
        lines.append(position)
        position += spacing
    return lines
