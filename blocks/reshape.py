"""Reshaping: flatten, permute and transpose, reshape, squeeze and unsqueeze.

Axes count per sample everywhere (0 = the first axis after the batch axis, negative ones
from the end); the modules get axes of the batched tensor (:func:`batch_dim`).
"""

from __future__ import annotations

import math

from blocks.lazy import lazy_class, nn

from blocks.params import Int, Ints, ParamError
from blocks.registry import register
from blocks.spec import Block, Params, Shape, ShapeError, format_shape

Permute = lazy_class("blocks.modules.tensor", "Permute")
Transpose = lazy_class("blocks.modules.tensor", "Transpose")
Reshape = lazy_class("blocks.modules.tensor", "Reshape")
Squeeze = lazy_class("blocks.modules.tensor", "Squeeze")
Unsqueeze = lazy_class("blocks.modules.tensor", "Unsqueeze")


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


@register
class PermuteBlock(Block):
    """Permute: reorder the per-sample axes, ``out`` axis ``i`` is input axis ``dims[i]``.

    ``dims`` lists every per-sample axis once (the batch axis always stays first):
    ``dims: [1, 2, 0]`` turns a feature map ``[C, H, W]`` into ``[H, W, C]`` (channels last),
    and ``dims: [1, 0]`` turns a sequence ``[T, E]`` into ``[E, T]``, which is what ``conv1d``
    expects after an ``embedding`` (channels = features, length = time). Negative axes count
    from the end. Like ``torch.permute``. For two axes, ``transpose`` says it shorter.
    Shape: ``out[i] = in[dims[i]]``. No parameters.
    """

    name = "permute"
    category = "Reshape"
    params = {"dims": Ints(length=None, doc="new order of the per-sample axes, each listed once: [1, 0] swaps two")}
    key_params = ("dims",)
    examples = (
        {"params": {"dims": [1, 2, 0]}, "inputs": {"x": [3, 4, 5]}},
        {"params": {"dims": [-1, 0]}, "inputs": {"x": [6, 2]}},
    )

    def _order(self, p: Params, x: Shape) -> list[int]:
        if len(p.dims) != len(x):
            raise ShapeError(f"dims {format_shape(p.dims)} lists {len(p.dims)} axes, but the input"
                             f" {format_shape(x)} has {len(x)} per sample; list each of them once")
        order = [check_dim(d, x, "permute axis") for d in p.dims]
        if sorted(order) != list(range(len(x))):
            raise ShapeError(f"dims {format_shape(p.dims)} must list every per-sample axis of"
                             f" {format_shape(x)} exactly once (0 to {len(x) - 1})")
        return order

    def infer(self, p: Params, x: Shape) -> Shape:
        return tuple(x[d] for d in self._order(p, x))

    def build(self, p: Params, x: Shape) -> nn.Module:
        return Permute([0] + [d + 1 for d in self._order(p, x)])


@register
class TransposeBlock(Block):
    """Transpose: swap two per-sample axes, ``dim0`` and ``dim1`` (the first two by default).

    ``[T, E] -> [E, T]`` with the defaults: an ``embedding`` gives one vector per time step,
    ``[T, E]``, but ``conv1d`` reads ``[channels, length]``; a transpose in between makes it
    convolve over time with the ``E`` features as channels (``modelbuilder check`` warns when
    it is missing). Also ``[C, L] -> [L, C]`` to feed a conv's output to an ``lstm``. Negative
    axes count from the end. Like ``torch.transpose``. Shape: the two sizes change places.
    No parameters.
    """

    name = "transpose"
    category = "Reshape"
    params = {
        "dim0": Int(0, doc="first per-sample axis to swap (0 = first after the batch axis)"),
        "dim1": Int(1, doc="second per-sample axis to swap (-1 = last)"),
    }
    key_params = ("dim0", "dim1")
    examples = (
        {"params": {}, "inputs": {"x": [7, 16]}},
        {"params": {"dim0": -1, "dim1": 0}, "inputs": {"x": [2, 3, 4]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        a, b = check_dim(p.dim0, x, "transpose dim0"), check_dim(p.dim1, x, "transpose dim1")
        out = list(x)
        out[a], out[b] = x[b], x[a]
        return tuple(out)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return Transpose(batch_dim(p.dim0), batch_dim(p.dim1))


@register
class ReshapeBlock(Block):
    """Reshape: give each sample a new ``shape`` holding the same number of values.

    ``shape`` is per sample (the batch axis is kept) and may contain one ``-1``, which takes
    whatever size makes the count of values match: ``shape: [-1, 16]`` turns ``[64]`` into
    ``[4, 16]``, and ``shape: [4, -1]`` turns ``[4, 8, 8]`` into ``[4, 64]``. Values keep
    their order (row-major, like ``torch.reshape``): use ``permute`` to reorder axes.
    Shape: ``shape`` with the ``-1`` worked out. No parameters.
    """

    name = "reshape"
    category = "Reshape"
    params = {"shape": Ints(length=None, min=-1, doc="new per-sample shape; one entry may be -1 (inferred)")}
    key_params = ("shape",)
    examples = (
        {"params": {"shape": [-1, 16]}, "inputs": {"x": [64]}},
        {"params": {"shape": [4, 8, 2]}, "inputs": {"x": [8, 8]}},
    )

    def check(self, p: Params) -> None:
        if 0 in p.shape:
            raise ParamError(f"shape {format_shape(p.shape)} has a size 0; sizes are at least 1, or -1 once")
        if list(p.shape).count(-1) > 1:
            raise ParamError(f"shape {format_shape(p.shape)} has more than one -1; only one size can be inferred")

    def infer(self, p: Params, x: Shape) -> Shape:
        total, known = math.prod(x), math.prod(d for d in p.shape if d != -1)
        if -1 in p.shape:
            if total % known:
                raise ShapeError(f"cannot reshape {format_shape(x)} ({total} values) to {format_shape(p.shape)}:"
                                 f" {total} is not a multiple of {known}")
            return tuple(total // known if d == -1 else d for d in p.shape)
        if known != total:
            raise ShapeError(f"cannot reshape {format_shape(x)} ({total} values) to {format_shape(p.shape)}"
                             f" ({known} values); the counts must match (one size may be -1)")
        return tuple(p.shape)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return Reshape(list(p.shape))


@register
class SqueezeBlock(Block):
    """Squeeze: remove the per-sample axis ``dim``, which must have size 1.

    ``dim: 0`` turns ``[1, E]`` into ``[E]``; ``dim: -1`` turns ``[C, 1]`` into ``[C]``. Unlike
    ``torch.squeeze``, an axis whose size is not 1 is an error rather than silently kept.
    Shape: the axis is dropped. No parameters.
    """

    name = "squeeze"
    category = "Reshape"
    params = {"dim": Int(doc="per-sample axis of size 1 to remove (negative: from the end)")}
    key_params = ("dim",)
    examples = (
        {"params": {"dim": 0}, "inputs": {"x": [1, 12]}},
        {"params": {"dim": -1}, "inputs": {"x": [5, 3, 1]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        axis = check_dim(p.dim, x, "squeeze dim")
        if x[axis] != 1:
            raise ShapeError(f"squeeze dim {p.dim} expects size 1 there, found {x[axis]} in {format_shape(x)}")
        return (*x[:axis], *x[axis + 1:])

    def build(self, p: Params, x: Shape) -> nn.Module:
        return Squeeze(batch_dim(p.dim))


@register
class UnsqueezeBlock(Block):
    """Unsqueeze: insert a new per-sample axis of size 1 at position ``dim``.

    ``dim: 0`` turns a vector ``[E]`` into a one-step sequence ``[1, E]``, e.g. an image
    feature that is to be concatenated in front of a captioner's word embeddings ``[T, E]``
    (``concat`` with ``dim: 0`` then gives ``[T+1, E]``). ``dim: -1`` appends the axis at the
    end: ``[C] -> [C, 1]``. Like ``torch.unsqueeze``. Shape: one more axis, of size 1.
    No parameters.
    """

    name = "unsqueeze"
    category = "Reshape"
    params = {"dim": Int(doc="position of the new axis among the output's per-sample axes (-1 = last)")}
    key_params = ("dim",)
    examples = (
        {"params": {"dim": 0}, "inputs": {"x": [8]}},
        {"params": {"dim": -1}, "inputs": {"x": [4, 6]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        axis = check_dim(p.dim, (*x, 1), "unsqueeze dim")
        return (*x[:axis], 1, *x[axis:])

    def build(self, p: Params, x: Shape) -> nn.Module:
        return Unsqueeze(batch_dim(p.dim))
