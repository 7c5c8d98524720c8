"""Max pooling that remembers where each maximum was, and max-unpooling, which puts the
values back there (SegNet's decoder, Zeiler and Fergus' deconvnet)."""

from __future__ import annotations

from blocks.lazy import lazy_class, nn

from blocks.params import Ints, ParamError, Port
from blocks.pooling import MaxPool2d
from blocks.registry import register
from blocks.spec import Block, Params, Shape, ShapeError, expect_rank, format_shape

MaxUnpool = lazy_class("blocks.modules.cnn", "MaxUnpool")


@register
class MaxPool2dWithIndices(MaxPool2d):
    """2-D max pooling that also outputs where each maximum came from, for ``max_unpool2d``.

    The ``out`` port is exactly ``max_pool2d``'s output. The second port, ``indices``
    (integers, the same shape), holds for each output value the position of the input
    value it took, counted in the flattened ``H x W`` plane of its channel (``row * W + col``),
    as PyTorch's ``return_indices=True`` does. Refer to it as ``pool1.indices`` in a later
    node's inputs (``pool1`` alone is the pooled map); a ``max_unpool2d`` takes it to put
    values back where they were (SegNet). Parameters as ``max_pool2d``. Shape per axis:
    ``floor((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``. No parameters.
    """

    name = "max_pool2d_with_indices"
    outputs = (Port("out", "the pooled feature map, as max_pool2d"),
               Port("indices", "where each maximum came from: an index into its channel's H*W plane", dtype="int64"))
    examples = (
        {"params": {"kernel_size": 2}, "inputs": {"x": [4, 8, 8]}},
        {"params": {"kernel_size": 3, "stride": 2, "padding": 1}, "inputs": {"x": [2, 9, 7]}},
    )

    def infer(self, p: Params, x: Shape) -> dict[str, Shape]:
        shape = super().infer(p, x)
        return {"out": shape, "indices": shape}

    def build(self, p: Params, x: Shape) -> nn.Module:
        kernel, stride, padding, dilation = self._args(p)
        return nn.MaxPool2d(kernel, stride, padding, dilation, return_indices=True, ceil_mode=p.ceil_mode)


@register
class MaxUnpool2d(Block):
    """Max-unpooling: put each value back where ``max_pool2d_with_indices`` found its maximum, zeros elsewhere.

    The partial inverse of max pooling: ``x`` (pooled values, or decoder features of the
    same shape) is spread onto a larger map, each value at the position its ``indices``
    name, every other position 0. SegNet's decoder upsamples this way, reusing the encoder's
    pooling indices so that edges land where they were. Give the pooling's ``kernel_size``,
    ``stride`` and ``padding``. Shape per axis: ``(in - 1)*stride - 2*padding + kernel_size``,
    or ``output_size`` (e.g. the pooling's input size when it was odd: anything from that
    value up to ``stride - 1`` more). ``indices`` must have the shape of ``x``. No parameters.
    """

    name = "max_unpool2d"
    category = "Pooling"
    params = {
        "kernel_size": Ints(length=2, min=1, doc="window size of the max pooling being undone"),
        "stride": Ints(None, length=2, min=1, optional=True, doc="its stride; null = kernel_size"),
        "padding": Ints(0, length=2, min=0, doc="its padding"),
        "output_size": Ints(None, length=2, min=1, optional=True,
                            doc="output height and width (e.g. the pooling's input size); null = from the formula"),
    }
    inputs = (Port("x", "values to place, [C, H, W]"),
              Port("indices", "where each value goes: the 'indices' output of max_pool2d_with_indices",
                   dtype="int64"))
    key_params = ("kernel_size", "stride")
    examples = (
        {"params": {"kernel_size": 2}, "inputs": {"x": [3, 4, 4], "indices": [3, 4, 4]}},
        {"params": {"kernel_size": 3, "stride": 2, "padding": 1, "output_size": [9, 8]},
         "inputs": {"x": [2, 5, 4], "indices": [2, 5, 4]}},
    )

    def check(self, p: Params) -> None:
        for k, q in zip(p.kernel_size, p.padding):
            if q > k // 2:
                raise ParamError(f"padding {format_shape(p.padding)} must be at most half the kernel size"
                                 f" {format_shape(p.kernel_size)} (rounded down), as for the pooling")

    def infer(self, p: Params, x: Shape, indices: Shape) -> Shape:
        expect_rank(x, 3, "channels, height, width")
        if tuple(indices) != tuple(x):
            raise ShapeError(f"indices {format_shape(indices)} must have the shape of x {format_shape(x)}:"
                             " take both from the same max_pool2d_with_indices")
        stride = p.kernel_size if p.stride is None else p.stride
        smallest = [(n - 1) * s - 2 * q + k for n, s, q, k in zip(x[1:], stride, p.padding, p.kernel_size)]
        if any(n < 1 for n in smallest):
            raise ShapeError(f"input {format_shape(x)} unpools to nothing with kernel {format_shape(p.kernel_size)},"
                             f" stride {format_shape(stride)} and padding {format_shape(p.padding)}")
        if p.output_size is None:
            return (x[0], *smallest)
        for size, low, s in zip(p.output_size, smallest, stride):
            if not low <= size < low + s:
                raise ShapeError(f"output_size {format_shape(p.output_size)} does not fit input {format_shape(x)}:"
                                 f" each size must be from {format_shape(smallest)} up to stride - 1 more")
        return (x[0], *p.output_size)

    def build(self, p: Params, x: Shape, indices: Shape) -> nn.Module:
        return MaxUnpool(list(self.infer(p, x, indices)[1:]))
