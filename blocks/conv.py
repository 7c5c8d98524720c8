"""Convolutions: 1-D, 2-D and transposed 2-D."""

from __future__ import annotations

import math

from blocks.lazy import nn

from blocks.params import Bool, Choice, Int, Ints, ParamError
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, ShapeError, expect_rank, format_shape


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool = False) -> int:
    """Output length of a convolution or pooling window along one axis."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    steps = math.ceil(span / stride) if ceil else span // stride
    out = steps + 1
    if ceil and (out - 1) * stride >= size + padding:
        out -= 1  # PyTorch drops a last window that would start inside the right padding
    return out


def resolve_padding(p: Params, dims: int) -> tuple[int, ...]:
    """Explicit per-axis padding, turning "same"/"valid" into numbers."""
    if p.padding == "valid":
        return (0,) * dims
    if p.padding == "same":
        return tuple(d * (k - 1) // 2 for k, d in zip(p.kernel_size, p.dilation))
    return tuple(p.padding)


def conv_params(dims: int) -> dict:
    return {
        "in_channels": Int(None, optional=True, min=1,
                           doc="expected input channels; null (default) takes them from the input"),
        "out_channels": Int(min=1, doc="number of filters (output channels)"),
        "kernel_size": Ints(length=dims, min=1, doc="window size"),
        "stride": Ints(1, length=dims, min=1, doc="step between windows"),
        "padding": Ints(0, length=dims, min=0, words=("same", "valid"),
                        doc="zeros added on each side; 'same' keeps the size (stride 1 only)"),
        "dilation": Ints(1, length=dims, min=1, doc="spacing between kernel taps"),
        "groups": Int(1, min=1, doc="split channels into independent groups (depthwise = in_channels)"),
        "bias": Bool(True, doc="add a learned bias per output channel"),
        "padding_mode": Choice("zeros", choices=("zeros", "reflect", "replicate", "circular")),
    }


class _ConvND(Block):
    dims: int = 2
    category = "Convolution"
    key_params = ("out_channels", "kernel_size", "stride")

    def check(self, p: Params) -> None:
        if p.padding == "same" and any(s != 1 for s in p.stride):
            raise ParamError("padding 'same' needs stride 1; for stride > 1 use padding = kernel_size // 2")
        if p.out_channels % p.groups:
            raise ParamError(f"out_channels ({p.out_channels}) must be divisible by groups ({p.groups})")

    def infer(self, p: Params, x: Shape) -> Shape:
        axes = "channels, length" if self.dims == 1 else "channels, height, width"
        expect_rank(x, self.dims + 1, axes)
        if p.in_channels is not None and x[0] != p.in_channels:
            raise ShapeError(f"expects {p.in_channels} input channels, found {x[0]}")
        if x[0] % p.groups:
            raise ShapeError(f"input channels ({x[0]}) must be divisible by groups ({p.groups}), found input {format_shape(x)}")
        if p.padding == "same":
            return (p.out_channels, *x[1:])
        pad = resolve_padding(p, self.dims)
        spatial = tuple(
            conv_output_size(n, k, s, q, d)
            for n, k, s, q, d in zip(x[1:], p.kernel_size, p.stride, pad, p.dilation)
        )
        if any(n < 1 for n in spatial):
            raise ShapeError(
                f"input {format_shape(x)} is smaller than the kernel {format_shape(p.kernel_size)}"
                f" (with padding {format_shape(pad)}, dilation {format_shape(p.dilation)})")
        return (p.out_channels, *spatial)

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        per_filter = x[0] // p.groups * math.prod(p.kernel_size)
        params = p.out_channels * per_filter + (p.out_channels if p.bias else 0)
        return Cost(params, math.prod(out) * per_filter)

    def build(self, p: Params, x: Shape) -> nn.Module:
        conv = nn.Conv1d if self.dims == 1 else nn.Conv2d
        padding = p.padding if isinstance(p.padding, str) else tuple(p.padding)
        return conv(x[0], p.out_channels, tuple(p.kernel_size), tuple(p.stride), padding,
                    tuple(p.dilation), p.groups, p.bias, p.padding_mode)


@register
class Conv1d(_ConvND):
    """1-D convolution over ``[channels, length]`` (audio, sensor and token sequences).

    Each of ``out_channels`` filters slides a ``kernel_size`` window over the length axis
    and sums ``in_channels/groups x kernel_size`` products plus a bias.
    Shape: ``[C, L] -> [out_channels, floor((L + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1]``.
    """

    name = "conv1d"
    dims = 1
    params = conv_params(1)
    examples = (
        {"params": {"out_channels": 8, "kernel_size": 3, "padding": "same"}, "inputs": {"x": [4, 20]}},
        {"params": {"out_channels": 6, "kernel_size": 5, "stride": 2, "groups": 2}, "inputs": {"x": [4, 31]}},
    )


@register
class Conv2d(_ConvND):
    """2-D convolution over ``[channels, height, width]``: the building block of CNNs.

    Each of ``out_channels`` filters of size ``in_channels/groups x kh x kw`` slides over the
    image; every output pixel is a weighted sum of the window plus a bias. Parameters:
    ``out_channels * (in_channels/groups) * kh * kw (+ out_channels bias)``.
    Shape per axis: ``out = floor((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``;
    ``padding: same`` keeps height and width (stride 1).
    """

    name = "conv2d"
    dims = 2
    params = conv_params(2)
    examples = (
        {"params": {"out_channels": 6, "kernel_size": 5}, "inputs": {"x": [1, 32, 32]}},
        {"params": {"out_channels": 8, "kernel_size": [3, 5], "stride": 2, "padding": 1, "bias": False},
         "inputs": {"x": [3, 17, 20]}},
        {"params": {"out_channels": 8, "kernel_size": 3, "padding": "same", "dilation": 2, "groups": 4},
         "inputs": {"x": [4, 9, 9]}},
    )


@register
class ConvTranspose2d(Block):
    """Transposed 2-D convolution ("deconvolution"): learned upsampling, as in U-Net decoders.

    It scatters each input pixel through the kernel into a larger output; with
    ``kernel_size = stride = 2`` it exactly doubles height and width.
    Shape per axis: ``out = (in - 1)*stride - 2*padding + dilation*(kernel-1) + output_padding + 1``.
    """

    name = "conv_transpose2d"
    category = "Convolution"
    params = {
        "out_channels": Int(min=1, doc="number of output channels"),
        "kernel_size": Ints(length=2, min=1, doc="window size"),
        "stride": Ints(1, length=2, min=1, doc="upsampling factor"),
        "padding": Ints(0, length=2, min=0, doc="removed from each side of the output"),
        "output_padding": Ints(0, length=2, min=0, doc="extra rows/columns on one side"),
        "dilation": Ints(1, length=2, min=1),
        "groups": Int(1, min=1),
        "bias": Bool(True),
    }
    key_params = ("out_channels", "kernel_size", "stride")
    examples = (
        {"params": {"out_channels": 8, "kernel_size": 2, "stride": 2}, "inputs": {"x": [16, 7, 9]}},
        {"params": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
         "inputs": {"x": [6, 5, 5]}},
    )

    def check(self, p: Params) -> None:
        if any(op >= max(s, d) for op, s, d in zip(p.output_padding, p.stride, p.dilation)):
            raise ParamError("output_padding must be smaller than stride or dilation")
        if p.out_channels % p.groups:
            raise ParamError(f"out_channels ({p.out_channels}) must be divisible by groups ({p.groups})")

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, 3, "channels, height, width")
        if x[0] % p.groups:
            raise ShapeError(f"input channels ({x[0]}) must be divisible by groups ({p.groups})")
        spatial = tuple(
            (n - 1) * s - 2 * q + d * (k - 1) + op + 1
            for n, k, s, q, d, op in zip(x[1:], p.kernel_size, p.stride, p.padding, p.dilation, p.output_padding)
        )
        if any(n < 1 for n in spatial):
            raise ShapeError(f"padding {format_shape(p.padding)} removes the whole output for input {format_shape(x)}")
        return (p.out_channels, *spatial)

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        per_input = p.out_channels // p.groups * math.prod(p.kernel_size)
        params = x[0] * per_input + (p.out_channels if p.bias else 0)
        return Cost(params, math.prod(x) * per_input)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.ConvTranspose2d(x[0], p.out_channels, tuple(p.kernel_size), tuple(p.stride),
                                  tuple(p.padding), tuple(p.output_padding), p.groups, p.bias,
                                  tuple(p.dilation))
