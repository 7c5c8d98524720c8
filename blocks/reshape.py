"""Reshaping: flatten."""

from __future__ import annotations

import math

from blocks.lazy import nn

from blocks.params import Int
from blocks.registry import register
from blocks.spec import Block, Params, Shape, ShapeError, format_shape


def batch_dim(dim: int) -> int:
    """A per-sample axis index as an index into the batched tensor (negative ones stay)."""
    return dim + 1 if dim >= 0 else dim


def check_dim(dim: int, x: Shape, what: str) -> int:
    """``dim`` as a non-negative per-sample axis of ``x``; ShapeError when out of range."""
    if not -len(x) <= dim < len(x):
        need = dim + 1 if dim >= 0 else -dim
        raise ShapeError(f"{what} {dim} expects at least {need} dimensions per sample, found {format_shape(x)}")
    return dim % len(x)


@register
class Flatten(Block):
    """Flatten: merge the per-sample axes ``start_dim`` .. ``end_dim`` into one.

    With the defaults every per-sample axis is merged, turning a feature map ``[C, H, W]``
    into the vector ``[C*H*W]`` that a ``linear`` layer expects; the batch axis is never
    touched. Axes count per sample (0 = the first one after the batch axis) and negative
    values count from the end: ``start_dim: 1`` on ``[C, H, W]`` gives ``[C, H*W]``.
    Shape: ``[..., a, ..., b, ...] -> [..., a*...*b, ...]``. No parameters.
    """

    name = "flatten"
    category = "Reshape"
    params = {
        "start_dim": Int(0, doc="first per-sample axis to merge (0 = first axis after the batch)"),
        "end_dim": Int(-1, doc="last per-sample axis to merge (-1 = last)"),
    }
    key_params = ("start_dim",)
    examples = (
        {"params": {}, "inputs": {"x": [16, 5, 5]}},
        {"params": {"start_dim": 1}, "inputs": {"x": [8, 4, 6]}},
        {"params": {"start_dim": -3, "end_dim": 2}, "inputs": {"x": [2, 3, 4, 5]}},
    )

    def _range(self, p: Params, x: Shape) -> tuple[int, int]:
        start = check_dim(p.start_dim, x, "flatten start_dim")
        end = check_dim(p.end_dim, x, "flatten end_dim")
        if start > end:
            raise ShapeError(f"start_dim {p.start_dim} comes after end_dim {p.end_dim}"
                             f" for input {format_shape(x)}; expected start_dim <= end_dim")
        return start, end

    def infer(self, p: Params, x: Shape) -> Shape:
        start, end = self._range(p, x)
        return (*x[:start], math.prod(x[start:end + 1]), *x[end + 1:])

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.Flatten(batch_dim(p.start_dim), batch_dim(p.end_dim))
