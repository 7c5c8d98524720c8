"""Fully connected layers and embeddings."""

from __future__ import annotations

import math

from blocks.lazy import nn

from blocks.params import Bool, Int, ParamError, Port
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, ShapeError, format_shape


@register
class Linear(Block):
    """Fully connected layer: ``y = x W^T + b`` on the last axis, like ``nn.Linear``.

    Every output feature is a weighted sum of all ``in_features`` inputs plus a bias.
    Only the last axis changes, so ``[F] -> [out_features]`` for a vector and
    ``[T, F] -> [T, out_features]`` applies the same layer to every token of a sequence.
    Parameters: ``F*out_features (+ out_features bias)``; MACs: ``positions * F * out_features``.
    Images must be flattened first (``flatten`` or ``global_avg_pool``).
    """

    name = "linear"
    category = "Linear"
    params = {
        "in_features": Int(None, optional=True, min=1,
                           doc="expected size of the input's last axis; null (default) takes it from the input"),
        "out_features": Int(min=1, doc="size of each output vector"),
        "bias": Bool(True, doc="add a learned bias per output feature"),
    }
    key_params = ("out_features",)
    examples = (
        {"params": {"out_features": 10, "in_features": 84}, "inputs": {"x": [84]}},
        {"params": {"out_features": 12, "bias": False}, "inputs": {"x": [5, 16]}},
        {"params": {"out_features": 3}, "inputs": {"x": [2, 4, 6]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        if len(x) < 1:
            raise ShapeError(f"expects at least 1 dimension per sample (features last), found {format_shape(x)}")
        if p.in_features is not None and x[-1] != p.in_features:
            raise ShapeError(f"expects {p.in_features} input features but receives {x[-1]}")
        return (*x[:-1], p.out_features)

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        weights = x[-1] * p.out_features
        return Cost(weights + (p.out_features if p.bias else 0), math.prod(x[:-1]) * weights)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.Linear(x[-1], p.out_features, bias=p.bias)


@register
class Embedding(Block):
    """Embedding table: maps each integer token id to a learned vector of ``embedding_dim``.

    Row ``i`` of a ``num_embeddings x embedding_dim`` table is the vector for token ``i``; a
    lookup, not a multiplication, so it has no MACs. Input ids must be ``int64`` in
    ``[0, num_embeddings)``. Shape: ``[T] -> [T, embedding_dim]`` (any shape gets a new last
    axis). ``padding_idx`` marks a padding token whose vector starts at zero and is never
    updated. Parameters: ``num_embeddings * embedding_dim``.
    """

    name = "embedding"
    category = "Embedding"
    params = {
        "num_embeddings": Int(min=1, doc="vocabulary size: ids run from 0 to num_embeddings - 1"),
        "embedding_dim": Int(min=1, doc="length of each vector"),
        "padding_idx": Int(None, optional=True, doc="id of the padding token (zero vector, not trained); null = none"),
    }
    inputs = (Port("x", "token ids", dtype="int64"),)
    key_params = ("num_embeddings", "embedding_dim")
    examples = (
        {"params": {"num_embeddings": 100, "embedding_dim": 16}, "inputs": {"x": [12]}},
        {"params": {"num_embeddings": 3, "embedding_dim": 8, "padding_idx": 0}, "inputs": {"x": [4, 5]}},
    )

    def check(self, p: Params) -> None:
        if p.padding_idx is not None and not -p.num_embeddings <= p.padding_idx < p.num_embeddings:
            raise ParamError(f"padding_idx must be an id in [0, {p.num_embeddings - 1}]"
                             f" (num_embeddings = {p.num_embeddings}), found {p.padding_idx}")

    def infer(self, p: Params, x: Shape) -> Shape:
        return (*x, p.embedding_dim)

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        return Cost(p.num_embeddings * p.embedding_dim, 0)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.Embedding(p.num_embeddings, p.embedding_dim, padding_idx=p.padding_idx)
