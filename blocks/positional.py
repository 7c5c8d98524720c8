"""Positional encoding: tell an order-blind attention model where each element sits."""

from __future__ import annotations

from blocks.lazy import lazy_class, nn

from blocks.params import Choice, Float, Int
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, ShapeError, expect_rank

LearnedPositionalEncoding = lazy_class("blocks.modules.sequence", "LearnedPositionalEncoding")
SinusoidalPositionalEncoding = lazy_class("blocks.modules.sequence", "SinusoidalPositionalEncoding")


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
