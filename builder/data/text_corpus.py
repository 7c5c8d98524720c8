"""``text``: character-level language modelling on a small corpus: sentences generated
from a little grammar written for this project ("the old man watches a small boat near the
river."), or a UTF-8 text file of your own.

A sample is a window of T + 1 characters: the input is its first T, the target its last T
(each step predicts the next character), so the graph maps ``[T]`` token ids to ``[T, V]``
scores. The validation windows come from text the training windows never see.
"""

from __future__ import annotations

from typing import Any

import torch

from blocks.params import Int, Text
from builder.data.arrays import count
from builder.data.source import Context, Samples, Source

SUBJECTS = ("the cat", "the dog", "a bird", "the old man", "my sister", "the farmer", "a little girl", "the king")
VERBS = ("sees", "likes", "finds", "chases", "paints", "carries", "watches", "wants")
OBJECTS = ("the red ball", "a big fish", "the green hat", "an apple", "the moon", "a small boat", "the garden",
           "some bread")
ENDINGS = ("", "", " in the morning", " at night", " near the river", " every day")
ALPHABET = " .abcdefghijklmnopqrstuvwxyz"  # the generated corpus's vocabulary, in id order
WORDS = sorted({w for phrase in SUBJECTS + VERBS + OBJECTS + ENDINGS for w in phrase.split()})
FILE_LIMIT = 20_000_000  # characters read from a text file


def sentences(count_: int, g: torch.Generator) -> str:
    """``count_`` sentences from the grammar, separated by spaces."""
    picks = [torch.randint(0, len(part), (count_,), generator=g).tolist()
             for part in (SUBJECTS, VERBS, OBJECTS, ENDINGS)]
    return " ".join(f"{SUBJECTS[s]} {VERBS[v]} {OBJECTS[o]}{ENDINGS[e]}." for s, v, o, e in zip(*picks))


def windows(ids: torch.Tensor, n: int, length: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random windows of ``length + 1`` ids: (inputs [n, length], next ids [n, length])."""
    starts = torch.randint(0, len(ids) - length, (n,), generator=g)
    taken = ids[starts[:, None] + torch.arange(length + 1)[None, :]]
    return taken[:, :-1].contiguous(), taken[:, 1:].contiguous()


def _corpus(options: dict[str, Any], ctx: Context, n: int, length: int) -> tuple[str, str, list[str], str]:
    """(training text, validation text, vocabulary, where)."""
    if options["path"] is None:
        # about 40 characters a sentence: enough text that windows rarely repeat
        wanted = max(2000, n * length // 40)
        train = sentences(wanted, ctx.generator(0))
        val = sentences(max(500, wanted // 4), ctx.generator(1))
        return train, val, list(ALPHABET), "text"
    path = ctx.path(options["path"])
    try:
        with path.open(encoding="utf-8") as handle:
            text = handle.read(FILE_LIMIT)
    except (OSError, UnicodeDecodeError) as err:
        raise ctx.fail(f"cannot read {path} as UTF-8 text ({err})") from None
    text = " ".join(text.split())  # line breaks and runs of spaces as one space
    if len(text) < 10 * (length + 1):
        raise ctx.fail(f"{path} holds {len(text):,} characters; windows of {length + 1} need at least "
                       f"{10 * (length + 1):,}", hint="give a longer text or a shorter input")
    cut = int(len(text) * 0.9)
    return text[:cut], text[cut:], sorted(set(text)), str(path)


def load_text(options: dict[str, Any], ctx: Context) -> Samples:
    """``text``: character-level language modelling (graphs/char_lstm.yaml). By default the
    text is generated from a small grammar ("the old man watches a small boat near the
    river.") over a 28-character vocabulary (space, full stop, a-z); with ``path``, a UTF-8
    text file (line breaks become spaces; the vocabulary is its characters). Samples are
    random windows: the input ``[T]`` (int64 character ids) and the target ``[T]``, the same
    window one character later, so the output is ``[T, V]``. Validation windows come from
    separate text (the last 10% of a file).

    Options: ``path`` (a text file; default: the generated corpus), ``samples`` (training
    windows, default 4000), ``limit``, ``val_split`` (validation windows as a share of
    ``samples``, default 0.2).
    """
    ctx.require_inputs(["text"])
    spec = ctx.inputs[0]
    if spec.dtype != "int64" or len(spec.shape) != 1 or spec.shape[0] < 2:
        raise ctx.shape_error(spec, "character ids [T] (int64), T >= 2")
    length = spec.shape[0]
    n = min(options["samples"], ctx.limit or options["samples"])
    train_text, val_text, vocabulary, where = _corpus(options, ctx, n, length)
    if ctx.output_size is not None and ctx.output_size < len(vocabulary):
        raise ctx.fail(f"the text has {len(vocabulary)} distinct characters but the graph's output scores "
                       f"{ctx.output_size}", hint=f"give the last layer (and the embedding) {len(vocabulary)} entries")
    index = {ch: i for i, ch in enumerate(vocabulary)}
    encode = lambda text: torch.tensor([index[ch] for ch in text], dtype=torch.long)  # noqa: E731
    share = options["val_split"] if options["val_split"] is not None else 0.2
    g = ctx.generator(2)
    x, y = windows(encode(train_text), n, length, g)
    val = None
    if share > 0:
        n_val = max(1, round(n * share))
        val_ids = encode(val_text)
        if len(val_ids) <= length:
            raise ctx.fail(f"the validation text holds {len(val_ids)} characters, too few for windows of "
                           f"{length + 1}", hint="give a longer text, a shorter input, or val_split: 0")
        vx, vy = windows(val_ids, n_val, length, g)
        val = Samples([vx], vy, "classification", "", where, class_names=list(vocabulary))
    what = (f"text ({count(n)} windows of {length} characters from "
            f"{'generated sentences' if options['path'] is None else where}, {len(vocabulary)} characters)")
    return Samples([x], y, "classification", what, where, class_names=list(vocabulary), val=val)


SOURCES = [
    Source("text", "character-level language modelling: generated sentences or your text file (next character "
           "at every step)", load_text,
           {"path": Text(None, optional=True, doc="a UTF-8 text file (default: sentences from a small grammar)"),
            "samples": Int(4000, min=1, doc="training windows")}),
]
