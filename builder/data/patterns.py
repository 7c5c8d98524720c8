"""``patterns``: "find the pattern", synthetic images with a known answer to *where*.

Each image holds one small class glyph (a plus, a ring, an X or a T, 6x6 pixels) at a
random position, among distractor strokes and blobs that are no class glyph (bars, single
diagonals, corners, solid squares), on a slightly noisy background; a fifth of the images
hold no glyph at all (class "none"). The class is decided by the glyph alone, so an
attribution method that works must point at the glyph's box: the ground truth that tests
of saliency, Grad-CAM and occlusion check against (docs/explain.md). Distractors share
strokes with the glyphs (a T's bar, a plus's stem), so a model has to find the whole
shape, not one of its parts. The "none" class is there so that every glyph class needs
evidence of its own: with four glyph classes only, a network learns three detectors and
names the fourth class when none of them fires, and that class's maps point nowhere.

The glyph boxes are not part of the training data; :func:`generate_patterns` with the
same count, size, seed and options rebuilds the very same images together with their boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from blocks.params import Float, Int
from builder.data.arrays import count
from builder.data.images import image_layout
from builder.data.source import IMAGE_OPTIONS, Context, Samples, Source

GLYPH = 6  # glyph side in pixels
MIN_SIDE = 12  # a glyph and a distractor must fit side by side


def _glyph(rows: list[str]) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in rows], dtype=np.float32)


GLYPHS = {
    "plus": _glyph(["..##..", "..##..", "######", "######", "..##..", "..##.."]),
    "ring": _glyph(["######", "#....#", "#....#", "#....#", "#....#", "######"]),
    "X": _glyph(["#....#", ".#..#.", "..##..", "..##..", ".#..#.", "#....#"]),
    "T": _glyph(["######", "######", "..##..", "..##..", "..##..", "..##.."]),
}
NONE = "none"  # the class of an image with no glyph
CLASS_NAMES = [*GLYPHS, NONE]


def _distractor(rng: np.random.Generator) -> np.ndarray:
    """A stroke or blob that is no class glyph: a bar, a single diagonal, a corner, a square.
    Drawn apart from every other shape (see _place), it can never complete a glyph."""
    kind = rng.integers(5)
    length = int(rng.integers(3, GLYPH + 1))
    if kind == 0:  # horizontal bar, 2 px thick (a T's top, a plus's arm)
        return np.ones((2, length), np.float32)
    if kind == 1:  # vertical bar (a T's or a plus's stem)
        return np.ones((length, 2), np.float32)
    if kind == 2:  # one diagonal (half an X), either direction
        line = np.eye(length, dtype=np.float32)
        return line if rng.integers(2) else line[:, ::-1].copy()
    if kind == 3:  # a corner (a quarter of a ring), in one of four orientations
        corner = np.zeros((length, length), np.float32)
        corner[0, :] = 1
        corner[:, 0] = 1
        return np.rot90(corner, int(rng.integers(4))).copy()
    side = int(rng.integers(2, 4))  # a solid square
    return np.ones((side, side), np.float32)


def _place(rng: np.random.Generator, shape: tuple[int, int], height: int, width: int,
           taken: list[tuple[int, int, int, int]], tries: int = 30) -> tuple[int, int] | None:
    """A top-left corner where a ``shape`` box keeps one free pixel to every ``taken`` box."""
    h, w = shape
    for _ in range(tries):
        top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        if all(top + h + 1 <= t or b + 1 <= top or left + w + 1 <= l or r + 1 <= left
               for t, l, b, r in taken):
            return top, left
    return None


@dataclass
class PatternSet:
    """Generated images ``[N, 1, H, W]`` in [0, 1] (plus noise), labels ``[N]`` and the
    glyph boxes ``[N, 4]`` as (top, left, bottom, right), bottom and right exclusive;
    (-1, -1, -1, -1) for an image of class "none"."""

    images: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor


def generate_patterns(samples: int, height: int, width: int, *, seed: int = 0, distractors: int = 4,
                      noise: float = 0.1) -> PatternSet:
    """The ``patterns`` data for ``seed``: exactly what the source loads (before the split
    and normalization), plus where each decisive glyph is."""
    rng = np.random.default_rng([seed, 0x9A77])
    images = np.zeros((samples, height, width), np.float32)
    labels = rng.integers(0, len(CLASS_NAMES), samples)
    boxes = np.full((samples, 4), -1, np.int64)
    glyphs = list(GLYPHS.values())
    for i in range(samples):
        taken: list[tuple[int, int, int, int]] = []
        if labels[i] < len(glyphs):
            top, left = int(rng.integers(0, height - GLYPH + 1)), int(rng.integers(0, width - GLYPH + 1))
            taken.append((top, left, top + GLYPH, left + GLYPH))
            images[i, top:top + GLYPH, left:left + GLYPH] = glyphs[labels[i]] * rng.uniform(0.7, 1.0)
            boxes[i] = taken[0]
        for _ in range(distractors):
            shape = _distractor(rng)
            spot = _place(rng, shape.shape, height, width, taken)
            if spot is None:  # crowded: fewer distractors in this image
                continue
            t, l = spot
            images[i, t:t + shape.shape[0], l:l + shape.shape[1]] = shape * rng.uniform(0.7, 1.0)
            taken.append((t, l, t + shape.shape[0], l + shape.shape[1]))
    images += rng.normal(0.0, noise, images.shape).astype(np.float32) if noise > 0 else 0.0
    return PatternSet(torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long(),
                      torch.from_numpy(boxes))


def load_patterns(options: dict[str, Any], ctx: Context) -> Samples:
    """``patterns``: synthetic "find the pattern" images. One 6x6 glyph (plus, ring, X, T)
    decides the class; it sits at a random position among distractor strokes and blobs
    (bars, diagonals, corners, squares) that are no glyph, with Gaussian noise. A fifth of
    the images hold no glyph: class "none" (5 classes in all).

    The image size follows the graph's input (``[1, H, W]`` or ``[3, H, W]``, at least 12x12;
    grey repeated to RGB). Options: ``samples`` (default 2000), ``distractors`` per image
    (default 4, fewer where they do not fit), ``noise`` (its standard deviation, default 0.1),
    ``normalize``, ``augment``, ``limit``, ``val_split``. ``generate_patterns`` rebuilds the
    same images with the glyph boxes, the ground truth for attribution maps.
    """
    ctx.require_inputs(["images"])
    layout = image_layout(ctx.inputs[0], "patterns")
    if not layout.spatial or layout.height < MIN_SIDE or layout.width < MIN_SIDE:
        raise ctx.shape_error(ctx.inputs[0], f"images [1, H, W] or [3, H, W] of at least {MIN_SIDE}x{MIN_SIDE}")
    n = min(options["samples"], ctx.limit or options["samples"])
    data = generate_patterns(n, layout.height, layout.width, seed=ctx.seed,
                             distractors=options["distractors"], noise=options["noise"])
    images = data.images.expand(-1, layout.channels, -1, -1).contiguous()
    what = (f"patterns ({count(n)} synthetic images {layout.size_text}: a {GLYPH}x{GLYPH} glyph "
            f"({', '.join(GLYPHS)}) or none, among {options['distractors']} distractors)")
    return Samples([images], data.labels, "classification", what, "patterns",
                   class_names=list(CLASS_NAMES), images=True)


SOURCES = [
    Source("patterns", "synthetic: find the 6x6 glyph among distractors (ground truth for attribution maps)",
           load_patterns,
           {**IMAGE_OPTIONS,
            "samples": Int(2000, min=1, doc="how many images to generate"),
            "distractors": Int(4, min=0, max=12, doc="distractor strokes and blobs per image"),
            "noise": Float(0.1, min=0.0, max=1.0, doc="standard deviation of the background noise")}),
]
