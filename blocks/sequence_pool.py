"""Pooling over time: one vector per sequence, for sequence classifiers."""

from __future__ import annotations

from blocks.lazy import lazy_class, nn

from blocks.params import Choice
from blocks.registry import register
from blocks.spec import Block, Params, Shape, expect_rank

SequencePoolModule = lazy_class("blocks.modules.sequence", "SequencePool")


@register
class SequencePool(Block):
    """Sequence pooling: summarize a sequence ``[T, E]`` into one vector ``[E]`` over time.

    A classifier needs one vector per sequence, but a transformer (or an RNN with
    ``output: sequence``) gives one vector per position. This block reduces the time axis,
    feature by feature: ``mean`` averages the positions (every token votes equally, the
    usual choice after transformer layers), ``max`` keeps the strongest value of each
    feature over time (detects "did this pattern occur anywhere").

    Not the same as ``global_avg_pool``, which reads ``[C, ...]`` with channels first and
    would average a ``[T, E]`` sequence over its features. Shape: ``[T, E] -> [E]``.
    No parameters and no multiply-accumulates.
    """

    name = "sequence_pool"
    category = "Pooling"
    params = {"mode": Choice("mean", choices=("mean", "max"), doc="average over time, or maximum over time")}
    key_params = ("mode",)
    examples = (
        {"params": {}, "inputs": {"x": [12, 16]}},
        {"params": {"mode": "max"}, "inputs": {"x": [5, 3]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, 2, "time, features")
        return (x[1],)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return SequencePoolModule(p.mode)
