"""Synthetic shapes for dense prediction and localization: nothing to download, any size.

``shape_masks`` paints a few shapes (square, disc, triangle, ring, diamond, cross) on a
textured background and labels every pixel with the class of the shape that covers it (0:
background): segmentation masks for U-Net, FCN or PSPNet graphs. ``shape_boxes`` paints one
shape per image and gives its class and its box: the targets of a graph that classifies
and localizes. Both are fixed by the seed and follow the graph's input size. Each kind of
shape has its own fill pattern (stripes in its own direction, a checkerboard, plain), which
a few convolutions learn in seconds; with ``textured: false`` its outline alone tells it
apart (its brightness is random either way), which takes a network that sees the whole shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from blocks.params import Bool, Float, Int
from builder.data.arrays import count, format_shape
from builder.data.images import fit_images, image_layout
from builder.data.source import IMAGE_OPTIONS, Context, Samples, Source

SHAPES = ("square", "disc", "triangle", "ring", "diamond", "cross")
BACKGROUND = "background"
SHAPE = "shape"  # the one foreground class of two-class masks: every kind of shape
MIN_SIDE = 16  # a shape must span a few pixels to show its outline


def shape_mask(kind: str, dy: np.ndarray, dx: np.ndarray, r: float) -> np.ndarray:
    """Where shape ``kind`` of radius ``r`` covers offsets (dy, dx) from its centre."""
    ay, ax = np.abs(dy), np.abs(dx)
    if kind == "square":
        return (ay <= r * 0.85) & (ax <= r * 0.85)
    if kind == "disc":
        return dy * dy + dx * dx <= r * r
    if kind == "triangle":  # apex up, base down
        return (dy <= r * 0.8) & (ax <= (dy + r) * 0.55)
    if kind == "ring":
        d2 = dy * dy + dx * dx
        return (d2 <= r * r) & (d2 >= (0.5 * r) ** 2)
    if kind == "diamond":
        return ay + ax <= r
    return ((ax <= r / 3) & (ay <= r)) | ((ay <= r / 3) & (ax <= r))  # cross


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A dark texture: two random gratings plus fine noise, values about 0.05 .. 0.45."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = np.full((height, width), 0.25, np.float32)
    for _ in range(2):
        angle, period = rng.uniform(0, np.pi), rng.uniform(3.0, 12.0)
        wave = np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period + rng.uniform(0, 2 * np.pi))
        texture += 0.08 * wave.astype(np.float32)
    return texture


# each kind's fill pattern, when shapes are textured: stripes in its own direction (square
# horizontal, disc vertical, triangle and ring diagonal), a checkerboard, or plain
PATTERNS = {
    "square": lambda y, x: np.sin(y * 2 * np.pi / 4),
    "disc": lambda y, x: np.sin(x * 2 * np.pi / 4),
    "triangle": lambda y, x: np.sin((x + y) * 2 * np.pi / 5),
    "ring": lambda y, x: np.sin((x - y) * 2 * np.pi / 5),
    "diamond": lambda y, x: np.sign(np.sin(x * np.pi / 2 + 0.5)) * np.sign(np.sin(y * np.pi / 2 + 0.5)),
    "cross": lambda y, x: np.zeros_like(x),
}


def _paint(rng: np.random.Generator, image: np.ndarray, kind: str, cy: float, cx: float, r: float,
           textured: bool) -> np.ndarray:
    """Paint one shape (bright; with its kind's pattern when ``textured``) into ``image``;
    returns where it covers."""
    height, width = image.shape
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    covered = shape_mask(kind, y - cy, x - cx, r)
    fill = rng.uniform(0.6, 0.9)
    if textured:
        image[covered] = fill + 0.25 * PATTERNS[kind](y, x).astype(np.float32)[covered]
    else:
        image[covered] = fill
    return covered


def generate_masks(samples: int, height: int, width: int, classes: int, *, seed: int = 0, objects: int = 3,
                   noise: float = 0.05, textured: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``[N, 1, H, W]`` (about 0..1) and masks ``[N, H, W]`` (class ids, 0 the
    background; a shape painted later covers an earlier one, in the mask too). Class k is
    ``SHAPES[k - 1]``; with two classes, class 1 is any shape."""
    rng = np.random.default_rng([seed, 0x5E6])
    images = np.empty((samples, height, width), np.float32)
    masks = np.zeros((samples, height, width), np.int64)
    side = min(height, width)
    for i in range(samples):
        images[i] = _background(rng, height, width)
        for _ in range(int(rng.integers(1, objects + 1))):
            kind = int(rng.integers(0, len(SHAPES) if classes == 2 else classes - 1))
            r = rng.uniform(side / 9, side / 4.5)
            cy, cx = rng.uniform(r * 0.6, height - r * 0.6), rng.uniform(r * 0.6, width - r * 0.6)
            covered = _paint(rng, images[i], SHAPES[kind], cy, cx, r, textured)
            masks[i][covered] = 1 if classes == 2 else kind + 1
    if noise > 0:
        images += rng.normal(0.0, noise, images.shape).astype(np.float32)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(masks)


def generate_boxes(samples: int, height: int, width: int, classes: int, *, seed: int = 0, noise: float = 0.05,
                   textured: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images ``[N, 1, H, W]``, labels ``[N]`` (0 .. classes - 1) and boxes ``[N, 4]`` as
    ``(x0, y0, x1, y1)`` in [0, 1] (fractions of the width and height): one shape each."""
    rng = np.random.default_rng([seed, 0xB0C5])
    images = np.empty((samples, height, width), np.float32)
    labels = rng.integers(0, classes, samples)
    boxes = np.zeros((samples, 4), np.float32)
    side = min(height, width)
    for i in range(samples):
        images[i] = _background(rng, height, width)
        r = rng.uniform(side / 8, side / 3.5)
        cy, cx = rng.uniform(r, height - r), rng.uniform(r, width - r)
        covered = _paint(rng, images[i], SHAPES[labels[i]], cy, cx, r, textured)
        rows, cols = np.nonzero(covered)
        boxes[i] = (cols.min() / width, rows.min() / height, (cols.max() + 1) / width, (rows.max() + 1) / height)
    if noise > 0:
        images += rng.normal(0.0, noise, images.shape).astype(np.float32)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long(), torch.from_numpy(boxes)


def _mask_output(ctx: Context) -> tuple[int, ...]:
    """(classes, height, width) of the graph's output ``[C, H, W]`` that scores every pixel."""
    shape = tuple(ctx.output_shape)
    if len(shape) != 3 or not 2 <= shape[0] <= len(SHAPES) + 1:
        raise ctx.fail(f"gives masks, one class id per pixel, but the graph's output is {format_shape(shape)}",
                       hint=f"end the graph with per-pixel class scores [C, H, W], C from 2 to {len(SHAPES) + 1} "
                            "(background and the shapes), e.g. a 1x1 conv2d with out_channels: 4")
    return shape


def load_shape_masks(options: dict[str, Any], ctx: Context) -> Samples:
    """``shape_masks``: synthetic segmentation. Each image holds 1 to ``objects`` shapes
    (square, disc, triangle, ring, diamond, cross: as many kinds as the graph's output has
    classes besides the background; all six, as one class "shape", for two classes) on a
    textured background; the target is a mask with one class id per pixel (0: background).
    Each kind has its own fill pattern; ``textured: false`` leaves only the outline.

    The image size follows the graph's input (``[1, H, W]`` or ``[3, H, W]``, at least
    16x16), the classes and the mask size the output's ``[C, H', W']`` (masks are shrunk,
    nearest pixel, when the output is smaller than the input). Options: ``samples``
    (default 1000), ``objects`` (most shapes per image, default 3), ``noise`` (default
    0.05), ``textured`` (default true), ``normalize``, ``limit``, ``val_split``.
    """
    ctx.require_inputs(["images"])
    layout = image_layout(ctx.inputs[0], "shape_masks")
    if not layout.spatial or min(layout.height, layout.width) < MIN_SIDE:
        raise ctx.shape_error(ctx.inputs[0], f"images [1, H, W] or [3, H, W] of at least {MIN_SIDE}x{MIN_SIDE}")
    classes, out_h, out_w = _mask_output(ctx)
    n = min(options["samples"], ctx.limit or options["samples"])
    images, masks = generate_masks(n, layout.height, layout.width, classes, seed=ctx.seed,
                                   objects=options["objects"], noise=options["noise"], textured=options["textured"])
    if (out_h, out_w) != (layout.height, layout.width):
        masks = F.interpolate(masks[:, None].float(), size=(out_h, out_w), mode="nearest")[:, 0].long()
    names = [BACKGROUND, *SHAPES[:classes - 1]] if classes > 2 else [BACKGROUND, SHAPE]
    what = (f"shape_masks ({count(n)} synthetic images {layout.size_text}, up to {options['objects']} shapes each, "
            f"masks {out_h}x{out_w} of {classes} classes: {', '.join(names)})")
    return Samples([fit_images(images, layout)], masks, "classification", what, "shape_masks",
                   class_names=names, images=True)


def load_shape_boxes(options: dict[str, Any], ctx: Context) -> Samples:
    """``shape_boxes``: synthetic classification and localization. Each image holds one
    shape on a textured background; the targets are its class (``class``: square, disc,
    triangle, ring, diamond, cross, as many as the class output scores) and its box
    (``box``: ``(x0, y0, x1, y1)`` as fractions of the image's width and height, so a
    sigmoid output fits it). A graph with an output ``[C]`` and an output ``[4]`` learns
    both; the box is measured by its IoU with the true one.

    The image size follows the graph's input (at least 16x16). Options: ``samples``
    (default 1000), ``noise`` (default 0.05), ``textured`` (default true), ``normalize``,
    ``limit``, ``val_split``.
    """
    ctx.require_inputs(["images"])
    layout = image_layout(ctx.inputs[0], "shape_boxes")
    if not layout.spatial or min(layout.height, layout.width) < MIN_SIDE:
        raise ctx.shape_error(ctx.inputs[0], f"images [1, H, W] or [3, H, W] of at least {MIN_SIDE}x{MIN_SIDE}")
    outputs = ctx.outputs or {"": ctx.output_shape}
    scores = [s[0] for node, s in outputs.items() if len(s) == 1 and node != "box" and s != (4,)]
    scores = scores or [s[0] for node, s in outputs.items() if len(s) == 1 and node != "box"]
    classes = min(scores[0], len(SHAPES)) if scores else len(SHAPES)
    if classes < 2:
        raise ctx.fail("needs an output of class scores [C] (C >= 2) besides the box [4]")
    n = min(options["samples"], ctx.limit or options["samples"])
    images, labels, boxes = generate_boxes(n, layout.height, layout.width, classes, seed=ctx.seed,
                                           noise=options["noise"], textured=options["textured"])
    what = (f"shape_boxes ({count(n)} synthetic images {layout.size_text}, one shape each: its class "
            f"({', '.join(SHAPES[:classes])}) and box)")
    return Samples([fit_images(images, layout)], {"class": labels, "box": boxes}, "multi", what, "shape_boxes",
                   class_names=list(SHAPES[:classes]), images=True, target_kinds={"box": "box"})


_NORMALIZE = {"normalize": IMAGE_OPTIONS["normalize"]}  # no augment: it would move pixels, not masks
_NOISE = Float(0.05, min=0.0, max=1.0, doc="standard deviation of the pixel noise")
_TEXTURED = Bool(True, doc="each kind of shape has its own fill pattern (false: the outline alone tells them apart)")

SOURCES = [
    Source("shape_masks", "synthetic segmentation: shapes on a textured background, a class id per pixel",
           load_shape_masks,
           {**_NORMALIZE, "samples": Int(1000, min=1, doc="how many images to generate"),
            "objects": Int(3, min=1, max=8, doc="most shapes per image"), "noise": _NOISE, "textured": _TEXTURED}),
    Source("shape_boxes", "synthetic localization: one shape per image, its class and its box",
           load_shape_boxes,
           {**_NORMALIZE, "samples": Int(1000, min=1, doc="how many images to generate"), "noise": _NOISE,
            "textured": _TEXTURED}),
]
