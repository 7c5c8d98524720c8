"""``captions``: synthetic image captioning. Each image holds two coloured shapes, side by
side or one above the other, and its caption names them: "red circle left of blue square",
"green triangle above yellow circle". The caption is decided by the image alone (the left
or upper shape is always named first), so a captioner can reach exact matches.

The sample layout is the decoder layout of docs/sequences.md: the image, the teacher-forced
decoder input ``<start> w1 .. wn <end> <pad> ..`` and the target ``w1 .. wn <end> <pad> ..``
(the decoder input shifted left by one), one class id per step.
"""

from __future__ import annotations

from typing import Any

import torch

from blocks.params import Int
from builder.data.arrays import count
from builder.data.source import IMAGE_OPTIONS, Context, Samples, Source

COLOURS = {"red": (0.9, 0.1, 0.1), "green": (0.1, 0.8, 0.2), "blue": (0.15, 0.3, 0.95), "yellow": (0.95, 0.85, 0.1)}
SHAPES = ("circle", "square", "triangle")
RELATIONS = ("left of", "above")  # horizontal and vertical layouts
SPECIALS = ("<pad>", "<start>", "<end>")
VOCABULARY = [*SPECIALS, *COLOURS, *SHAPES, "left", "of", "above"]
LONGEST = 6 + 1  # "red circle left of blue square" and <end>
PAD, START, END = 0, 1, 2


def _masks(kind: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, radius: float, size: int) -> torch.Tensor:
    """``[N, size, size]`` booleans: shape ``kind`` (index into SHAPES) centred at (cx, cy)."""
    grid = torch.arange(size, dtype=torch.float32) + 0.5
    x = grid[None, None, :] - cx[:, None, None]
    y = grid[None, :, None] - cy[:, None, None]
    circle = x.square() + y.square() <= radius ** 2
    side = radius * 0.85  # a square of the circle's area looks the same size
    square = (x.abs() <= side) & (y.abs() <= side)
    # upward triangle: apex at the top, base at the bottom, as wide as it is tall
    triangle = (y >= -radius) & (y <= radius) & (x.abs() <= (y + radius) / 2)
    which = kind[:, None, None]
    return torch.where(which == 0, circle, torch.where(which == 1, square, triangle))


def draw(first: tuple[torch.Tensor, torch.Tensor], second: tuple[torch.Tensor, torch.Tensor],
         vertical: torch.Tensor, size: int, g: torch.Generator) -> torch.Tensor:
    """``[N, 3, size, size]`` images in [0, 1]: shape/colour pairs ``first`` (left or top) and
    ``second``, placed with a random jitter, on a dark noisy background."""
    n = len(vertical)
    radius = size / 7
    centre = size / 2
    near, far = size * 0.27, size * 0.73  # the two slots along the layout's axis
    jitter = (torch.rand(4, n, generator=g) - 0.5) * (size * 0.14)
    across = centre + (torch.rand(n, generator=g) - 0.5) * (size * 0.4)  # the other axis
    along_1, along_2 = near + jitter[0], far + jitter[1]
    cross_1, cross_2 = across + jitter[2], across + jitter[3]
    cx1 = torch.where(vertical, cross_1, along_1)
    cy1 = torch.where(vertical, along_1, cross_1)
    cx2 = torch.where(vertical, cross_2, along_2)
    cy2 = torch.where(vertical, along_2, cross_2)
    images = torch.rand(n, 3, size, size, generator=g) * 0.15
    palette = torch.tensor(list(COLOURS.values()))  # [colours, 3]
    for (shape, colour), cx, cy in ((first, cx1, cy1), (second, cx2, cy2)):
        mask = _masks(shape, cx, cy, radius, size)[:, None]  # [N, 1, H, W]
        images = torch.where(mask, palette[colour][:, :, None, None].expand_as(images), images)
    return images


def caption_words(shape_1: int, colour_1: int, shape_2: int, colour_2: int, vertical: bool) -> list[str]:
    names = list(COLOURS)
    return [names[colour_1], SHAPES[shape_1], *RELATIONS[int(vertical)].split(), names[colour_2], SHAPES[shape_2]]


def load_captions(options: dict[str, Any], ctx: Context) -> Samples:
    """``captions``: synthetic image captioning for CNN -> LSTM captioners (such as
    graphs/captioner.yaml). Each image ``[3, S, S]`` holds two coloured shapes (red, green,
    blue, yellow; circle, square, triangle) side by side or one above the other; the caption
    names the left (or upper) one first: "red circle left of blue square", "green triangle
    above yellow circle". Two inputs in graph order: the image and the decoder input ``[L]``
    (int64: ``<start>``, then the caption, ``<end>`` and ``<pad>``s: teacher forcing); the
    target ``[L]`` is the caption followed by ``<end>`` and ``<pad>``s, so the graph's output
    is ``[L, 13]`` (the 13 words of the vocabulary, specials included). L >= 7.

    Options: ``samples`` (default 3000), ``normalize`` (default true: each channel standardized
    with the training split's mean and std), ``limit``, ``val_split``.
    """
    ctx.require_inputs(["image", "decoder input"])
    image, words = ctx.inputs
    if image.dtype != "float32" or len(image.shape) != 3 or image.shape[0] != 3 or image.shape[1] != image.shape[2]:
        raise ctx.shape_error(image, "a square RGB image [3, S, S] (float32)")
    if image.shape[1] < 16:
        raise ctx.shape_error(image, "images of at least 16x16 pixels, for the shapes to be told apart")
    if words.dtype != "int64" or len(words.shape) != 1:
        raise ctx.shape_error(words, "token ids [L] (int64) for the decoder input")
    length = words.shape[0]
    if length < LONGEST:
        raise ctx.shape_error(words, f"at least {LONGEST} steps (the longest caption has 6 words and <end>)")
    if ctx.output_size is not None and ctx.output_size < len(VOCABULARY):
        raise ctx.fail(f"the vocabulary has {len(VOCABULARY)} words but the graph's output scores "
                       f"{ctx.output_size}", hint=f"give the last layer {len(VOCABULARY)} outputs")
    n = min(options["samples"], ctx.limit or options["samples"])
    g = ctx.generator()
    shapes = torch.randint(0, len(SHAPES), (n, 2), generator=g)
    colours = torch.randint(0, len(COLOURS), (n, 2), generator=g)
    vertical = torch.rand(n, generator=g) < 0.5
    images = draw((shapes[:, 0], colours[:, 0]), (shapes[:, 1], colours[:, 1]), vertical, image.shape[1], g)
    index = {word: i for i, word in enumerate(VOCABULARY)}
    target = torch.full((n, length), PAD, dtype=torch.long)
    for row in range(n):
        ids = [index[w] for w in caption_words(int(shapes[row, 0]), int(colours[row, 0]), int(shapes[row, 1]),
                                               int(colours[row, 1]), bool(vertical[row]))] + [END]
        target[row, :len(ids)] = torch.tensor(ids)
    decoder_in = torch.cat([torch.full((n, 1), START, dtype=torch.long), target[:, :-1]], dim=1)
    what = f"captions ({count(n)} images {image.shape[1]}x{image.shape[2]} of two shapes, captions of 5-6 words)"
    return Samples([images, decoder_in], target, "classification", what, "captions",
                   class_names=list(VOCABULARY), images=True)


SOURCES = [
    Source("captions", "synthetic captioning: two coloured shapes and a caption such as 'red circle left of blue "
           "square' (image + decoder input, per-step labels)", load_captions,
           {"samples": Int(3000, min=1, doc="how many images to generate"),
            "normalize": IMAGE_OPTIONS["normalize"]}),
]
