"""Positions and learned tokens: tell an order-blind attention model where each element
sits (positional encoding, position embedding) and give it a token of its own (class token)."""

from __future__ import annotations

import math

from blocks.lazy import lazy_class, nn

from blocks.params import Choice, Float, Int
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, ShapeError, expect_rank

LearnedPositionalEncoding = lazy_class("blocks.modules.sequence", "LearnedPositionalEncoding")
SinusoidalPositionalEncoding = lazy_class("blocks.modules.sequence", "SinusoidalPositionalEncoding")
ClassToken = lazy_class("blocks.modules.sequence", "ClassToken")
PositionEmbedding = lazy_class("blocks.modules.sequence", "PositionEmbedding")


@register
class PositionalEncoding(Block):
    """Positional encoding: add a position-dependent vector to each element of a sequence.

    Self-attention treats its input as a *set*: shuffling the tokens shuffles the output
    the same way, so "dog bites man" and "man bites dog" would look alike. Adding a
    different vector ``PE[t]`` to the element at each position ``t`` gives the model the
    order back: ``out[t] = x[t] + PE[t]``.

    * ``sinusoidal`` (the original Transformer): fixed waves of geometrically spaced
      wavelengths, ``PE[t, 2i] = sin(t / 10000^(2i/E))`` and
      ``PE[t, 2i+1] = cos(t / 10000^(2i/E))``. No parameters; the offset between two
      positions is a linear function of their encodings, which makes relative positions
      easy to use. The table is computed for the input's length when the model is built.
    * ``learned`` (BERT, GPT-2): one trained vector per position, ``max_len x E``
      parameters; sequences may be at most ``max_len`` long.

    Put it right after the ``embedding`` and before the first attention or transformer
    layer. Shape: ``[T, E] -> [T, E]``. No multiply-accumulates (one addition per element).
    A Vision Transformer's learned positions (one per patch plus the class token, exactly
    as long as the sequence) are the ``position_embedding`` block.
    """

    name = "positional_encoding"
    category = "Attention"
    params = {
        "kind": Choice("sinusoidal", choices=("sinusoidal", "learned"),
                       doc="fixed sine/cosine waves, or one trained vector per position"),
        "max_len": Int(512, min=1, doc="longest sequence for 'learned' (its table has max_len rows)"),
        "dropout": Float(0.0, min=0.0, max=1.0, doc="dropout after the addition (the Transformer used 0.1)"),
    }
    key_params = ("kind",)
    examples = (
        {"params": {}, "inputs": {"x": [20, 16]}},
        {"params": {"kind": "learned", "max_len": 32, "dropout": 0.1}, "inputs": {"x": [20, 8]}},
        {"params": {}, "inputs": {"x": [7, 5]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, 2, "time, embedding")
        if p.kind == "learned" and x[0] > p.max_len:
            raise ShapeError(f"sequence length {x[0]} exceeds max_len ({p.max_len}) of the learned positions;"
                             f" raise max_len to at least {x[0]}")
        return tuple(x)

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        return Cost(p.max_len * x[1] if p.kind == "learned" else 0, 0)

    def build(self, p: Params, x: Shape) -> nn.Module:
        if p.kind == "learned":
            return LearnedPositionalEncoding(p.max_len, x[1], p.dropout)
        return SinusoidalPositionalEncoding(x[0], x[1], p.dropout)


@register
class ClassTokenBlock(Block):
    """Class token: prepend a learned vector to a sequence, ``[T, E] -> [T+1, E]`` (ViT, BERT's [CLS]).

    A Vision Transformer cuts an image into patches, one vector each, and puts one extra
    trained vector in front of them: ``out = [cls; x_1; ...; x_T]``. It belongs to no patch,
    so after the transformer layers it holds what attention gathered from the whole image,
    and the classifier reads only that position (``select`` with index 0). ``count: 2``
    prepends two (DeiT's class and distillation tokens). Initialized like timm's ViT:
    normal with std 1e-6, in effect zero (the original code uses zeros). Shape:
    ``[T, E] -> [T + count, E]``. Parameters: ``count * E``. No multiply-accumulates.
    """

    name = "class_token"
    category = "Attention"
    params = {"count": Int(1, min=1, doc="how many learned tokens to put in front (1 = one class token)")}
    key_params = ("count",)
    examples = (
        {"params": {}, "inputs": {"x": [9, 12]}},
        {"params": {"count": 2}, "inputs": {"x": [4, 6]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, 2, "time, embedding")
        return (x[0] + p.count, x[1])

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        return Cost(p.count * x[1], 0)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return ClassToken(x[1], p.count)


@register
class PositionEmbeddingBlock(Block):
    """Position embedding: add one learned tensor of the input's shape, a trained value per position.

    ``out = x + P`` with ``P`` trained, as large as one sample: for a Vision Transformer's
    ``[T+1, E]`` tokens (patches plus class token) one vector per position, which is how ViT
    tells patches apart (timm's ``pos_embed``, ``(T+1) * E`` parameters). Any shape works
    (``[C, H, W]``: a learned bias map). Unlike ``positional_encoding``'s ``learned`` kind
    it needs no ``max_len``: the table is exactly the input's size. Initialized like timm:
    truncated normal with std 0.02. Shape: unchanged. Parameters: the number of values per
    sample. No multiply-accumulates (one addition per value).
    """

    name = "position_embedding"
    category = "Attention"
    examples = (
        {"params": {}, "inputs": {"x": [10, 8]}},
        {"params": {}, "inputs": {"x": [3, 4, 5]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        if not x:
            raise ShapeError("expects at least 1 dimension per sample (positions, features), found []")
        return tuple(x)

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        return Cost(math.prod(x), 0)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return PositionEmbedding(list(x))
