"""Letters of an invented alphabet, for transfer learning: nothing to download, any size.

Each of the ``ALPHABET`` letters is four strokes joining neighbouring points of a 3x3 grid
(a fixed alphabet: letter 12 is the same shape in every run), connected and spanning the
grid, so that no letter is a shifted copy of another. Every image draws one letter the way a
hand would: somewhere in the image, at its own size, slightly rotated, each grid point
jittered, with its own stroke width and brightness, on a striped background with pixel
noise and, in half of the images, one stray stroke that belongs to no letter.

What it is for (docs/transfer.md): letters 0-9 with hundreds of images each teach a CNN
features that tell letters apart whatever the position, size, slant and noise; a new set
of letters (10-19) is then learnt from a few images each on top of those features, where a
CNN trained from scratch on the same few images cannot tell what matters from what varies. That is
the setting of few-shot benchmarks such as Omniglot (Lake et al., 2015), small enough to
train in seconds.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from typing import Any

import numpy as np
import torch

from blocks.params import Float, Int, Ints
from builder.data.arrays import count
from builder.data.images import fit_images, image_layout
from builder.data.source import IMAGE_OPTIONS, Context, Samples, Source

ALPHABET = 100  # letters; ids 0 .. 99
STROKES = 4
MIN_SIDE = 16  # a letter must span a few pixels to show its strokes
GRID = [(row, col) for row in range(3) for col in range(3)]
# strokes: horizontal, vertical and diagonal steps between neighbouring grid points
SEGMENTS = [(a, b) for a, b in itertools.combinations(range(9), 2)
            if max(abs(GRID[a][0] - GRID[b][0]), abs(GRID[a][1] - GRID[b][1])) == 1]


def _connected(strokes: tuple[tuple[int, int], ...]) -> bool:
    points = {p for stroke in strokes for p in stroke}
    reached, frontier = set(), [strokes[0][0]]
    while frontier:
        point = frontier.pop()
        if point not in reached:
            reached.add(point)
            frontier += [b if a == point else a for a, b in strokes if point in (a, b)]
    return reached == points


def _spans_grid(strokes: tuple[tuple[int, int], ...]) -> bool:
    rows = {GRID[p][0] for stroke in strokes for p in stroke}
    cols = {GRID[p][1] for stroke in strokes for p in stroke}
    return {0, 2} <= rows and {0, 2} <= cols


@functools.lru_cache(maxsize=1)
def alphabet() -> tuple[tuple[tuple[int, int], ...], ...]:
    """Every letter's strokes, as pairs of grid point indices (0 .. 8, row by row).

    Of all connected sets of four strokes that span the grid, the first ``ALPHABET`` in the
    order of their SHA-256: a mixed choice that no library version or seed can change, so a
    run trained on some letters meets the same other letters in any later run.
    """
    letters = [strokes for strokes in itertools.combinations(SEGMENTS, STROKES)
               if _spans_grid(strokes) and _connected(strokes)]
    letters.sort(key=lambda strokes: hashlib.sha256(repr(strokes).encode()).digest())
    return tuple(letters[:ALPHABET])


def _stroke_ink(segments: np.ndarray, widths: np.ndarray, height: int, width: int) -> np.ndarray:
    """Anti-aliased ink ``[N, H, W]`` in [0, 1] of line segments ``[N, K, 2, 2]`` ((y, x) ends;
    NaN rows draw nothing), ``widths`` ``[N]`` in pixels."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    y0, x0 = segments[:, :, 0, 0, None, None], segments[:, :, 0, 1, None, None]
    dy = segments[:, :, 1, 0, None, None] - y0
    dx = segments[:, :, 1, 1, None, None] - x0
    t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / np.maximum(dy * dy + dx * dx, 1e-6), 0.0, 1.0)
    distance = np.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx))  # to the nearest point of each segment
    ink = np.clip(widths[:, None, None, None] / 2 + 0.5 - distance, 0.0, 1.0)
    return np.nan_to_num(ink, nan=0.0).max(axis=1)


def render_letters(letters: list[int], per_class: int, height: int, width: int, rng: np.random.Generator,
                   noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` images ``[N, height, width]`` (about 0..1) of each letter id in ``letters``,
    shuffled, and their labels (the position of the letter in ``letters``)."""
    shapes = alphabet()
    labels = np.repeat(np.arange(len(letters)), per_class)
    rng.shuffle(labels)
    n, size = len(labels), min(height, width)
    half = rng.uniform(0.45, 0.75, n) * size / 2  # half the letter's side, in pixels
    angle = rng.uniform(-0.3, 0.3, n)
    centre = rng.uniform(half[:, None], np.array([height, width]) - half[:, None], (n, 2))
    points = np.asarray(GRID, np.float32)[None] - 1.0 + rng.normal(0.0, 0.12, (n, 9, 2))  # jittered grid
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    y = centre[:, :1] + half[:, None] * (cos * points[..., 0] - sin * points[..., 1])
    x = centre[:, 1:] + half[:, None] * (sin * points[..., 0] + cos * points[..., 1])
    ends = np.asarray([shapes[letters[label]] for label in labels])  # [N, STROKES, 2] grid point ids
    rows = np.arange(n)[:, None, None]
    segments = np.full((n, STROKES + 1, 2, 2), np.nan, np.float32)
    segments[:, :STROKES, :, 0], segments[:, :STROKES, :, 1] = y[rows, ends], x[rows, ends]
    stray = rng.random(n) < 0.5  # one stroke of no letter
    start = rng.uniform(0, 1, (n, 2)) * (height, width)
    heading, length = rng.uniform(0, np.pi, n), rng.uniform(0.6, 1.2, n) * half
    stop = start + length[:, None] * np.stack([np.sin(heading), np.cos(heading)], axis=1)
    segments[stray, STROKES] = np.stack([start, stop], axis=1)[stray]
    ink = _stroke_ink(segments, rng.uniform(0.04, 0.08, n) * size, height, width)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    stripes = rng.uniform(0, np.pi, (n, 1, 1))
    period, phase = rng.uniform(3, 10, (n, 1, 1)), rng.uniform(0, 2 * np.pi, (n, 1, 1))
    background = 0.3 + 0.1 * np.sin((xx * np.cos(stripes) + yy * np.sin(stripes)) * 2 * np.pi / period + phase)
    images = background * (1 - ink) + rng.uniform(0.7, 1.0, (n, 1, 1)) * ink
    if noise > 0:
        images += rng.normal(0.0, noise, images.shape)
    return images.astype(np.float32), labels


def load_letters(options: dict[str, Any], ctx: Context) -> Samples:
    """``letters``: one invented letter per image (see the module's docstring), labelled by
    its position in ``classes``. ``per_class`` training images of each letter, and a
    validation set of its own (``val_per_class`` images each, drawn apart from the training
    images), so that a run on 3 images per letter is still measured on hundreds.

    The image size follows the graph's input (``[1, H, W]`` or ``[3, H, W]``, at least
    16x16). Options: ``classes`` (letter ids, default the first C, C the graph output's
    size), ``per_class`` (default 100), ``val_per_class`` (default 50; 0: ``val_split``
    holds out a share of the training images instead), ``noise`` (default 0.1),
    ``normalize``, ``augment``, ``limit`` (caps the training and the validation images).
    """
    ctx.require_inputs(["images"])
    layout = image_layout(ctx.inputs[0], "letters")
    if not layout.spatial or min(layout.height, layout.width) < MIN_SIDE:
        raise ctx.shape_error(ctx.inputs[0], f"images [1, H, W] or [3, H, W] of at least {MIN_SIDE}x{MIN_SIDE}")
    letters = list(options["classes"] or range(min(ctx.output_size or 10, ALPHABET)))
    if len(set(letters)) != len(letters):
        raise ctx.fail(f"classes: {letters} names a letter twice", hint="list each letter once")

    def images(per_class: int, stream: int) -> tuple[torch.Tensor, torch.Tensor]:
        if ctx.limit:  # fewer images, still every letter once before any twice
            per_class = min(per_class, -(-ctx.limit // len(letters)))
        rng = np.random.default_rng([ctx.seed, 0x1E77, stream])
        drawn, labels = render_letters(letters, per_class, layout.height, layout.width, rng, options["noise"])
        pixels = torch.from_numpy(drawn[:, None])
        return fit_images(pixels, layout), torch.from_numpy(labels).long()

    names = [f"letter {i}" for i in letters]
    x, y = images(options["per_class"], 0)
    val = None
    if options["val_per_class"]:
        val_x, val_y = images(options["val_per_class"], 1)
        val = Samples([val_x], val_y, "classification", "letters (validation)", "letters", class_names=names,
                      images=True)
    shown = f"{letters[0]}-{letters[-1]}" if letters == list(range(letters[0], letters[-1] + 1)) else str(letters)
    what = f"letters ({count(len(y))} images {layout.size_text} of {len(letters)} invented letters ({shown})"
    what += f", validation: {count(len(val))} more)" if val is not None else ")"
    return Samples([x], y, "classification", what, "letters", class_names=names, images=True, val=val)


SOURCES = [
    Source("letters", "synthetic: letters of an invented alphabet, drawn by hand at any place and size "
                      "(few-shot transfer learning)", load_letters,
           {**IMAGE_OPTIONS,
            "classes": Ints(None, optional=True, min=0, max=ALPHABET - 1,
                            doc=f"letter ids 0-{ALPHABET - 1}, labelled 0, 1, ... in this order "
                                "(default: the first C, C the output size)"),
            "per_class": Int(100, min=1, doc="training images of each letter"),
            "val_per_class": Int(50, min=0, doc="validation images of each letter, drawn apart "
                                                "(0: val_split holds out training images instead)"),
            "noise": Float(0.1, min=0.0, max=1.0, doc="standard deviation of the pixel noise")}),
]
