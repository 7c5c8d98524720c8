"""Merging branches: element-wise add and multiply, concatenation.

A variadic input port reaches the module as one list of tensors (``forward(self, xs)``),
which TorchScript, torch.fx, torch.compile and ONNX export all handle; ``*xs`` would not
script.
"""

from __future__ import annotations

from blocks.lazy import lazy_class, nn
from blocks.params import Bool, Int, Port
from blocks.registry import register
from blocks.reshape import batch_dim
from blocks.spec import Block, Params, Shape, ShapeError, format_shape

ConcatModule = lazy_class("blocks.modules.merge", "ConcatModule")


# --- block declarations ---------------------------------------------------------------

def _check_count(xs: list[Shape]) -> None:
    if len(xs) < 2:
        raise ShapeError(f"expects at least 2 inputs, found {len(xs)}")


class _Elementwise(Block):
    category = "Merge"
    inputs = (Port("x", "two or more tensors of the same shape", variadic=True),)
    module = staticmethod(lazy_class("blocks.modules.merge", "AddModule"))  # built on first use

    def infer(self, p: Params, x: list[Shape]) -> Shape:
        _check_count(x)
        first = tuple(x[0])
        for i, shape in enumerate(x[1:], start=2):
            if tuple(shape) != first:
                raise ShapeError(
                    f"{self.name} expects all inputs to have the same shape (no broadcasting):"
                    f" input 1 is {format_shape(first)}, input {i} is {format_shape(shape)}")
        return first

    def build(self, p: Params, x: list[Shape]) -> nn.Module:
        return self.module()


@register
class Add(_Elementwise):
    """Element-wise sum of two or more tensors of exactly the same shape.

    ``out = x1 + x2 + ...``: the merge of residual (skip) connections, ``y = F(x) + x``.
    All inputs must have identical shapes; nothing is broadcast, so a mismatch (say
    ``[64, 56, 56]`` plus ``[128, 28, 28]``) is reported instead of silently expanded - use a
    1x1 conv with stride to match a skip connection. Shape: unchanged. No parameters.
    """

    name = "add"
    module = staticmethod(lazy_class("blocks.modules.merge", "AddModule"))
    examples = (
        {"params": {}, "inputs": {"x": [[4, 6, 6], [4, 6, 6]]}},
        {"params": {}, "inputs": {"x": [[10], [10], [10]]}},
    )


@register
class Multiply(_Elementwise):
    """Element-wise product of two or more tensors of the same shape (or, on request, broadcast).

    ``out = x1 * x2 * ...``: used for gating, e.g. multiplying features by sigmoid weights
    (GLU, attention masks). By default all inputs must have identical shapes and nothing is
    broadcast. ``broadcast: true`` allows axes of size 1 to stretch, with the same number of
    axes on every input: ``[C, H, W] * [C, 1, 1]`` multiplies each channel by its own weight,
    the "scale" step of squeeze-and-excitation. Shape: unchanged (with ``broadcast``, the
    larger size on each axis). No parameters (and no MACs counted: it is not a matrix
    product).
    """

    name = "multiply"
    module = staticmethod(lazy_class("blocks.modules.merge", "MultiplyModule"))
    params = {"broadcast": Bool(False, doc="let axes of size 1 stretch (same number of axes): [C, H, W] * [C, 1, 1]")}
    examples = (
        {"params": {}, "inputs": {"x": [[3, 5], [3, 5]]}},
        {"params": {"broadcast": True}, "inputs": {"x": [[8, 5, 6], [8, 1, 1]]}},
    )

    def infer(self, p: Params, x: list[Shape]) -> Shape:
        if not p.broadcast:
            try:
                return super().infer(p, x)
            except ShapeError as err:
                raise ShapeError(f"{err}; set broadcast: true to stretch axes of size 1") from None
        _check_count(x)
        out = list(x[0])
        for i, shape in enumerate(x[1:], start=2):
            shape = tuple(shape)
            if len(shape) != len(out):
                raise ShapeError(
                    f"multiply with broadcast expects inputs with the same number of dimensions: input 1 is"
                    f" {format_shape(x[0])}, input {i} is {format_shape(shape)}")
            for d, size in enumerate(shape):
                if size != out[d] and 1 not in (size, out[d]):
                    raise ShapeError(
                        f"multiply cannot broadcast dim {d}: sizes must be equal or one of them 1, but input {i}"
                        f" is {format_shape(shape)} against {format_shape(out)} so far")
                out[d] = max(size, out[d])
        return tuple(out)


@register
class Concat(Block):
    """Concatenate two or more tensors along one axis (``dim``), e.g. channels of feature maps.

    Inception and DenseNet stack the outputs of parallel branches along the channel axis:
    ``[64, 28, 28]`` and ``[32, 28, 28]`` with ``dim: 0`` give ``[96, 28, 28]``. ``dim`` counts
    per-sample axes (0 = first axis after the batch, -1 = last); all other axes must match.
    Shape: the ``dim`` sizes add up, the rest is unchanged. No parameters.
    """

    name = "concat"
    category = "Merge"
    params = {"dim": Int(0, doc="per-sample axis to join along (0 = channels of an image, -1 = last)")}
    inputs = (Port("x", "two or more tensors that agree on every other axis", variadic=True),)
    key_params = ("dim",)
    examples = (
        {"params": {}, "inputs": {"x": [[4, 5, 5], [2, 5, 5], [3, 5, 5]]}},
        {"params": {"dim": -1}, "inputs": {"x": [[7, 3], [7, 5]]}},
    )

    def infer(self, p: Params, x: list[Shape]) -> Shape:
        _check_count(x)
        first = tuple(x[0])
        if not -len(first) <= p.dim < len(first):
            raise ShapeError(f"concat along dim {p.dim} expects at least"
                             f" {p.dim + 1 if p.dim >= 0 else -p.dim} dimensions per sample,"
                             f" found {format_shape(first)}")
        axis = p.dim % len(first)
        total = 0
        for i, shape in enumerate(x, start=1):
            shape = tuple(shape)
            if len(shape) != len(first):
                raise ShapeError(f"concat expects inputs with the same number of dimensions: input 1 is"
                                 f" {format_shape(first)}, input {i} is {format_shape(shape)}")
            for d, (a, b) in enumerate(zip(first, shape)):
                if d != axis and a != b:
                    raise ShapeError(
                        f"concat along dim {p.dim} expects every other dim to match, but dim {d} differs:"
                        f" input 1 is {format_shape(first)}, input {i} is {format_shape(shape)}")
            total += shape[axis]
        return (*first[:axis], total, *first[axis + 1:])

    def build(self, p: Params, x: list[Shape]) -> nn.Module:
        return ConcatModule(batch_dim(p.dim))
