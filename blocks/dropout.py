"""Regularization: dropout."""

from __future__ import annotations

from blocks.lazy import nn

from blocks.params import Float, ParamError
from blocks.registry import register
from blocks.spec import Block, Params, Shape


@register
class Dropout(Block):
    """Dropout: during training, zero each value with probability ``p`` and scale the rest by ``1/(1-p)``.

    Randomly silencing units stops the network from relying on any single one, which reduces
    overfitting. The ``1/(1-p)`` scaling keeps the expected value unchanged, so in evaluation
    mode (``model.eval()``) dropout does nothing at all. Shape: unchanged; no parameters.
    Typical values: 0.5 between fully connected layers, 0.1 in transformers.
    """

    name = "dropout"
    category = "Regularization"
    params = {"p": Float(0.5, min=0.0, max=1.0, doc="probability of zeroing each element, below 1")}
    key_params = ("p",)
    examples = (
        {"params": {}, "inputs": {"x": [128]}},
        {"params": {"p": 0.1}, "inputs": {"x": [6, 32]}},
    )

    def check(self, p: Params) -> None:
        if p.p >= 1.0:
            raise ParamError(f"dropout p must be below 1 (p = 1 would zero everything), found {p.p}")

    def infer(self, p: Params, x: Shape) -> Shape:
        return tuple(x)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.Dropout(p.p)
