"""Indexing: take one position (select) or a range of positions (slice) along an axis."""

from __future__ import annotations

from blocks.lazy import lazy_class, nn

from blocks.params import Int
from blocks.registry import register
from blocks.reshape import batch_dim, check_dim
from blocks.spec import Block, Params, Shape, ShapeError, format_shape

Select = lazy_class("blocks.modules.tensor", "Select")
Slice = lazy_class("blocks.modules.tensor", "Slice")


@register
class SelectBlock(Block):
    """Select: keep the single position ``index`` along the per-sample axis ``dim``, which disappears.

    The defaults take position 0 of the first axis: on a ViT's token sequence ``[T+1, E]``
    that is the class token, ``[E]``, which the classifier head reads. ``index: -1`` takes the
    last position (a sequence's last step, ``[T, H] -> [H]``). Like ``torch.select``,
    ``x[:, index]`` for ``dim: 0``. Shape: the ``dim`` axis is removed. No parameters.
    """

    name = "select"
    category = "Reshape"
    params = {
        "dim": Int(0, doc="per-sample axis to index (0 = first after the batch axis, -1 = last)"),
        "index": Int(0, doc="position to keep along that axis (negative: from the end)"),
    }
    key_params = ("dim", "index")
    examples = (
        {"params": {}, "inputs": {"x": [5, 8]}},
        {"params": {"dim": -1, "index": -1}, "inputs": {"x": [3, 4, 6]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        axis = check_dim(p.dim, x, "select dim")
        if not -x[axis] <= p.index < x[axis]:
            raise ShapeError(f"select index {p.index} is outside axis {p.dim} of {format_shape(x)},"
                             f" which has positions 0 to {x[axis] - 1} (or -{x[axis]} to -1)")
        return (*x[:axis], *x[axis + 1:])

    def build(self, p: Params, x: Shape) -> nn.Module:
        return Select(batch_dim(p.dim), p.index)


@register
class SliceBlock(Block):
    """Slice: keep positions ``start:stop:step`` along the per-sample axis ``dim``, as Python does.

    ``start: 1`` on ``[T+1, E]`` drops a leading class token (``[T, E]``); ``start: 0,
    stop: 3`` on ``[C, H, W]`` keeps the first three channels; ``step: 2`` keeps every
    second position. ``start`` and ``stop`` may be negative (from the end), ``stop: null``
    means "to the end", and out-of-range values are clipped as in Python's ``x[a:b:c]``.
    Shape: the ``dim`` axis becomes ``len(range(start, stop, step))`` long; an empty
    result is an error. No parameters.
    """

    name = "slice"
    category = "Reshape"
    params = {
        "dim": Int(0, doc="per-sample axis to slice (0 = first after the batch axis, -1 = last)"),
        "start": Int(0, doc="first position kept (negative: from the end)"),
        "stop": Int(None, optional=True, doc="position where the slice ends, not included; null = the end"),
        "step": Int(1, min=1, doc="keep every step-th position"),
    }
    key_params = ("dim", "start", "stop")
    examples = (
        {"params": {"start": 1}, "inputs": {"x": [6, 4]}},
        {"params": {"dim": -1, "start": -5, "stop": -1, "step": 2}, "inputs": {"x": [2, 3, 9]}},
    )

    def _bounds(self, p: Params, x: Shape) -> tuple[int, range]:
        axis = check_dim(p.dim, x, "slice dim")
        kept = range(*slice(p.start, p.stop, p.step).indices(x[axis]))
        if not kept:
            raise ShapeError(f"slice {p.start}:{'' if p.stop is None else p.stop}:{p.step} of axis {p.dim} of"
                             f" {format_shape(x)} keeps nothing; that axis has {x[axis]} positions")
        return axis, kept

    def infer(self, p: Params, x: Shape) -> Shape:
        axis, kept = self._bounds(p, x)
        return (*x[:axis], len(kept), *x[axis + 1:])

    def build(self, p: Params, x: Shape) -> nn.Module:
        # the bounds are resolved for the known input size: the module holds plain positions
        axis, kept = self._bounds(p, x)
        return Slice(axis + 1, kept.start, kept.stop, kept.step)
