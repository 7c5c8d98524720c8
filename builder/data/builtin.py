"""Built-in data sets: nothing to download, ready in a second.

``digits`` is scikit-learn's bundled copy of the UCI handwritten digits; the others are
synthetic tasks generated from the seed, each chosen to show one thing about architectures
(long memory, sequence-to-sequence attention, bag-of-words classification).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from blocks.params import Int, Ints
from builder.data import captions, shapes, stroke_letters, text_corpus
from builder.data.arrays import count
from builder.data.errors import DataError
from builder.data.images import fit_images, image_layout
from builder.data.source import IMAGE_OPTIONS, Context, Samples, Source


def digits_arrays(ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
    """The digits' pixels ``[1797, 64]`` (0..16) and labels, from the CSV file scikit-learn ships.

    Read directly, as ``sklearn.datasets.load_digits`` does, because importing scikit-learn
    takes a second or more; load_digits is the fallback should the file ever move.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ctx.fail("scikit-learn is not installed",
                       hint="pip install scikit-learn (it ships the digits; nothing is downloaded)")
    bundled = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    if bundled.exists():
        table = np.loadtxt(bundled, delimiter=",", dtype=np.float32)
        pixels, labels = table[:, :-1], table[:, -1]
    else:
        from sklearn.datasets import load_digits as sklearn_digits

        pixels, labels = sklearn_digits(return_X_y=True)
    return torch.from_numpy(np.asarray(pixels, dtype=np.float32)), torch.from_numpy(np.asarray(labels)).long()


def load_digits(options: dict[str, Any], ctx: Context) -> Samples:
    """``digits``: 1,797 handwritten digits, 8x8 pixels with values 0..16, 10 classes.

    Images are scaled to [0, 1], resized (bilinear) to the graph input's height and width
    (``[1, 32, 32]`` for LeNet-5), repeated to 3 channels for an RGB input or flattened for a
    ``[64]`` input, and standardized with the training split's mean and std.
    Options: ``normalize`` (default true), ``augment`` ({flip, crop}), ``limit``, ``val_split``,
    ``classes`` (keep only these digits, labelled 0, 1, ... in the order given: [5, 6, 7, 8, 9]
    is a 5-class task whose class names are the digits; the transfer demo uses it).
    """
    ctx.require_inputs(["images"])
    try:
        layout = image_layout(ctx.inputs[0], "digits")
    except DataError:  # say which shapes would do: digits fit any image input
        raise ctx.shape_error(ctx.inputs[0], "images: [1, H, W] or [3, H, W], [H, W] or a flat [S*S], float32 "
                                             "(its 8x8 digits are resized to them)") from None
    pixels, labels = digits_arrays(ctx)
    images = pixels.float().div(16.0).reshape(-1, 1, 8, 8)  # in [0, 1]
    digits = list(options.get("classes") or range(10))
    if len(set(digits)) != len(digits):
        raise ctx.fail(f"classes: {digits} names a digit twice", hint="list each digit once")
    if len(digits) < 10:
        relabel = torch.full((10,), -1, dtype=torch.long)
        relabel[torch.tensor(digits)] = torch.arange(len(digits))
        keep = relabel[labels] >= 0
        images, labels = images[keep], relabel[labels[keep]]
    if ctx.limit:
        images, labels = images[:ctx.limit], labels[:ctx.limit]
    what = f"digits (scikit-learn, {count(len(labels))} images 8x8"
    if len(digits) < 10:
        what += f" of the digits {', '.join(map(str, digits))}"
    if (layout.height, layout.width) != (8, 8):
        what += f" resized to {layout.size_text}"
    if layout.channels == 3:
        what += ", repeated to 3 channels"
    return Samples([fit_images(images, layout)], labels, "classification", what + ")", "digits",
                   class_names=[str(d) for d in digits], images=True, scale=16.0)


def _sequence_input(ctx: Context, options: dict[str, Any]) -> tuple[int, int | None]:
    """(length T, one-hot width or None) of a token-sequence input: int64 ``[T]`` or float ``[T, V]``."""
    spec = ctx.inputs[0]
    if spec.dtype == "int64" and len(spec.shape) == 1:
        length, width = spec.shape[0], None
    elif spec.dtype == "float32" and len(spec.shape) == 2:
        length, width = spec.shape
    else:
        raise ctx.shape_error(spec, "token ids [T] (dtype int64) or one-hot vectors [T, vocab] (float32)")
    if options.get("length") is not None and options["length"] != length:
        raise ctx.fail(f"length: {options['length']} but the graph's input {spec.node!r} has {length} steps",
                       hint="leave length out (it follows the graph) or change the input's shape")
    return length, width


def load_first_token(options: dict[str, Any], ctx: Context) -> Samples:
    """``first_token``: "remember the first token". A sequence of T random symbols; the label is
    the first one. The answer sits T steps back, so it needs long memory: a vanilla RNN's
    gradient vanishes over that distance (it stays at chance at T = 40), an LSTM or GRU learns it.

    The input is token ids ``[T]`` (int64, into an embedding) or one-hot vectors ``[T, V]``
    (float32); T comes from the graph. Options: ``vocab`` (symbols; default
    min(8, the output size, V)), ``samples`` (default 4000), ``length`` (must agree with the
    graph), ``limit``, ``val_split``.
    """
    ctx.require_inputs(["tokens"])
    length, width = _sequence_input(ctx, options)
    vocab = options["vocab"] or min(8, ctx.output_size or 8, width or 8)
    if width is not None and vocab > width:
        raise ctx.fail(f"vocab: {vocab} symbols do not fit one-hot vectors of width {width}",
                       hint=f"use vocab <= {width} or widen the input to [{length}, {vocab}]")
    n = min(options["samples"], ctx.limit or options["samples"])
    tokens = torch.randint(0, vocab, (n, length), generator=ctx.generator())
    labels = tokens[:, 0].clone()
    x = tokens if width is None else F.one_hot(tokens, width).float()
    what = f"first_token ({count(n)} sequences of {length} symbols from {vocab}; label = the first symbol)"
    return Samples([x], labels, "classification", what, "first_token",
                   class_names=[str(i) for i in range(vocab)])


def load_adding(options: dict[str, Any], ctx: Context) -> Samples:
    """``adding``: the adding problem (Hochreiter & Schmidhuber 1997). Each step holds a value
    drawn from U(0, 1) and a marker; exactly two steps are marked, one in each half of the
    sequence, and the target is the sum of the two marked values (regression, output ``[1]``).
    Predicting the mean (1.0) gives MSE ~0.167; a model that solves it goes far below.

    The input is ``[T, 2]`` (float32); T comes from the graph. Options: ``samples`` (default
    10000: an LSTM needs about 1,000 steps before it breaks away from the mean), ``length``
    (must agree with the graph), ``limit``, ``val_split``.
    """
    ctx.require_inputs(["sequence"])
    spec = ctx.inputs[0]
    if spec.dtype != "float32" or len(spec.shape) != 2 or spec.shape[1] != 2 or spec.shape[0] < 2:
        raise ctx.shape_error(spec, "[T, 2] float32 (value, marker) with T >= 2")
    length, _ = _sequence_input(ctx, options)
    n = min(options["samples"], ctx.limit or options["samples"])
    g = ctx.generator()
    values = torch.rand(n, length, generator=g)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=g)
    second = torch.randint(half, length, (n,), generator=g)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = (values[rows, first] + values[rows, second]).unsqueeze(1)
    what = f"adding ({count(n)} sequences of {length} steps; target = the sum of the 2 marked values)"
    return Samples([torch.stack([values, markers], dim=2)], targets, "regression", what, "adding")


def load_sentiment(options: dict[str, Any], ctx: Context) -> Samples:
    """``sentiment``: synthetic text classification. A "review" is token ids ``[T]`` (int64):
    0 is padding (on the left, so the last step is a word), ids 1..W are positive words,
    W+1..2W negative words, the rest neutral filler. Each review holds an odd number (1, 3 or 5)
    of sentiment words, so ties cannot happen; label 1 ("positive") when positive words
    outnumber negative ones, else 0 ("negative").

    Options: ``vocab`` (default 100, which fits every gallery text model's embedding),
    ``words`` (W per polarity, default 5), ``samples`` (default 4000), ``length`` (must agree
    with the graph), ``limit``, ``val_split``.
    """
    ctx.require_inputs(["tokens"])
    spec = ctx.inputs[0]
    if spec.dtype != "int64" or len(spec.shape) != 1:
        raise ctx.shape_error(spec, "token ids [T] with dtype int64")
    length, _ = _sequence_input(ctx, options)
    vocab, words = options["vocab"], options["words"]
    if vocab < 2 * words + 2:
        raise ctx.fail(f"vocab: {vocab} leaves no room for neutral words besides padding and 2 x {words} "
                       "sentiment words", hint=f"use vocab >= {2 * words + 2}")
    if length < 5:
        raise ctx.shape_error(spec, "sequences of at least 5 tokens")
    n = min(options["samples"], ctx.limit or options["samples"])
    g = ctx.generator()
    sizes = torch.randint(max(5, length // 2), length + 1, (n,), generator=g)  # words in each review
    counts = torch.randint(0, 3, (n,), generator=g) * 2 + 1  # sentiment words: 1, 3 or 5
    steps = torch.arange(length)
    padding = steps[None, :] < (length - sizes)[:, None]
    tokens = torch.randint(2 * words + 1, vocab, (n, length), generator=g)
    tokens[padding] = 0
    # 5 distinct word positions per review (random keys, padding last); the first `count` are used
    keys = torch.rand(n, length, generator=g).masked_fill(padding, 2.0)
    positions = keys.argsort(dim=1)[:, :5]
    positive = torch.rand(n, 5, generator=g) < 0.5
    ids = torch.where(positive, torch.randint(1, words + 1, (n, 5), generator=g),
                      torch.randint(words + 1, 2 * words + 1, (n, 5), generator=g))
    used = torch.arange(5)[None, :] < counts[:, None]
    rows = torch.arange(n)[:, None].expand(n, 5)
    tokens[rows[used], positions[used]] = ids[used]
    labels = ((positive & used).sum(1) * 2 > counts).long()
    what = (f"sentiment ({count(n)} synthetic reviews of up to {length} tokens, vocab {vocab}; "
            f"positive if words 1-{words} outnumber words {words + 1}-{2 * words})")
    return Samples([tokens], labels, "classification", what, "sentiment", class_names=["negative", "positive"])


def load_reverse(options: dict[str, Any], ctx: Context) -> Samples:
    """``reverse``: a sequence-to-sequence toy task for encoder-decoder graphs (such as
    graphs/seq2seq_attention.yaml). Two int64 inputs in graph order: the source ``[T]`` and the
    decoder input ``[T]`` (teacher forcing: id 0, the start token, then the target shifted right);
    the target ``[T]`` is the source reversed, one class id per step, so the graph's output
    is ``[T, vocab]``. Source symbols are 1..vocab-1; 0 is reserved for the start token.

    Options: ``vocab`` (default: the output's last dimension), ``samples`` (default 4000),
    ``length`` (must agree with the graph), ``limit``, ``val_split``.
    """
    ctx.require_inputs(["source", "decoder input"])
    for spec in ctx.inputs:
        if spec.dtype != "int64" or len(spec.shape) != 1:
            raise ctx.shape_error(spec, "token ids [T] with dtype int64 for both inputs")
    length = ctx.inputs[0].shape[0]
    if ctx.inputs[1].shape[0] != length:
        raise ctx.fail(f"the source has {length} steps but the decoder input {ctx.inputs[1].node!r} has "
                       f"{ctx.inputs[1].shape[0]}; reversing needs both the same length")
    _sequence_input(ctx, options)
    vocab = options["vocab"] or ctx.output_size or 16
    if vocab < 2:
        raise ctx.fail(f"vocab: {vocab} leaves no symbols besides the start token 0", hint="use vocab >= 2")
    n = min(options["samples"], ctx.limit or options["samples"])
    source = torch.randint(1, vocab, (n, length), generator=ctx.generator())
    target = source.flip(1)
    decoder_in = torch.cat([torch.zeros(n, 1, dtype=torch.long), target[:, :-1]], dim=1)
    what = f"reverse ({count(n)} sequences of {length} symbols from 1-{vocab - 1}; 0 starts the decoder)"
    return Samples([source, decoder_in], target, "classification", what, "reverse",
                   class_names=["<start>"] + [str(i) for i in range(1, vocab)])


_SAMPLES = Int(4000, min=1, doc="how many sequences to generate")
_LENGTH = Int(None, optional=True, min=1, doc="sequence length (default: the graph input's)")

SOURCES = [
    Source("digits", "scikit-learn's 1,797 handwritten digits (8x8, 10 classes), resized to the input",
           load_digits, dict(IMAGE_OPTIONS, classes=Ints(None, optional=True, min=0, max=9, doc=(
               "keep only these digits, labelled 0, 1, ... in this order (e.g. [5, 6, 7, 8, 9])")))),
    Source("first_token", "synthetic: classify a sequence by its first symbol (needs long memory)",
           load_first_token,
           {"vocab": Int(None, optional=True, min=2, doc="symbols (default min(8, output size))"),
            "samples": _SAMPLES, "length": _LENGTH}),
    Source("adding", "synthetic: the adding problem (sum of the two marked values; regression)",
           load_adding, {"samples": Int(10000, min=1, doc="how many sequences to generate"), "length": _LENGTH}),
    Source("sentiment", "synthetic: two-class bag-of-words 'reviews' as token ids",
           load_sentiment,
           {"vocab": Int(100, min=4, doc="vocabulary size including padding 0"),
            "words": Int(5, min=1, doc="sentiment words per polarity"),
            "samples": _SAMPLES, "length": _LENGTH}),
    Source("reverse", "synthetic seq2seq: output the source sequence reversed (two inputs, per-step labels)",
           load_reverse,
           {"vocab": Int(None, optional=True, min=2, doc="symbols including the start token 0 "
                                                           "(default: the output size)"),
            "samples": _SAMPLES, "length": _LENGTH}),
]
SOURCES += captions.SOURCES + text_corpus.SOURCES  # decoder tasks (docs/sequences.md), in their own modules
SOURCES += shapes.SOURCES  # dense prediction and localization (docs/data.md)
SOURCES += stroke_letters.SOURCES  # invented letters for few-shot transfer learning (docs/transfer.md)
