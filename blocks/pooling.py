"""Pooling: max and average windows (1-D, 2-D), adaptive and global average pooling."""

from __future__ import annotations

from blocks.lazy import lazy_class, nn
from blocks.conv import conv_output_size
from blocks.params import Bool, Int, Ints, ParamError
from blocks.registry import register
from blocks.spec import Block, Params, Shape, ShapeError, expect_rank, format_shape

GlobalAvgPoolModule = lazy_class("blocks.modules.cnn", "GlobalAvgPoolModule")


def pool_params(dims: int, dilation: bool) -> dict:
    params = {
        "kernel_size": Ints(length=dims, min=1, doc="window size"),
        "stride": Ints(None, length=dims, min=1, optional=True,
                       doc="step between windows; null = kernel_size (windows do not overlap)"),
        "padding": Ints(0, length=dims, min=0, doc="implicit padding on each side, at most kernel_size // 2"),
    }
    if dilation:
        params["dilation"] = Ints(1, length=dims, min=1, doc="spacing between window taps")
    params["ceil_mode"] = Bool(False, doc="round the output size up: keep a last partial window")
    return params


class _PoolND(Block):
    """Shared rules of max and average pooling windows."""

    category = "Pooling"
    dims = 2
    key_params = ("kernel_size", "stride")

    @property
    def axes(self) -> str:
        return "channels, length" if self.dims == 1 else "channels, height, width"

    def check(self, p: Params) -> None:
        for k, q in zip(p.kernel_size, p.padding):
            if q > k // 2:
                raise ParamError(f"padding {format_shape(p.padding)} must be at most half the kernel size"
                                 f" {format_shape(p.kernel_size)} (rounded down)")

    def stride(self, p: Params) -> tuple[int, ...]:
        return tuple(p.kernel_size if p.stride is None else p.stride)

    def dilation(self, p: Params) -> tuple[int, ...]:
        return tuple(p.get("dilation") or (1,) * self.dims)

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, self.dims + 1, self.axes)
        spatial = tuple(
            conv_output_size(n, k, s, q, d, p.ceil_mode)
            for n, k, s, q, d in zip(x[1:], p.kernel_size, self.stride(p), p.padding, self.dilation(p))
        )
        if any(n < 1 for n in spatial):
            raise ShapeError(f"input {format_shape(x)} is smaller than the pooling window"
                             f" {format_shape(p.kernel_size)} (with padding {format_shape(p.padding)})")
        return (x[0], *spatial)

    def _args(self, p: Params) -> tuple:
        """Window arguments: plain ints for 1-D (nicer module repr), tuples for 2-D."""
        if self.dims == 1:
            return p.kernel_size[0], self.stride(p)[0], p.padding[0], self.dilation(p)[0]
        return tuple(p.kernel_size), self.stride(p), tuple(p.padding), self.dilation(p)


class _MaxPool(_PoolND):
    def build(self, p: Params, x: Shape) -> nn.Module:
        kernel, stride, padding, dilation = self._args(p)
        module = nn.MaxPool1d if self.dims == 1 else nn.MaxPool2d
        return module(kernel, stride, padding, dilation, ceil_mode=p.ceil_mode)


class _AvgPool(_PoolND):
    def build(self, p: Params, x: Shape) -> nn.Module:
        kernel, stride, padding, _ = self._args(p)
        module = nn.AvgPool1d if self.dims == 1 else nn.AvgPool2d
        return module(kernel, stride, padding, ceil_mode=p.ceil_mode, count_include_pad=p.count_include_pad)


_COUNT_PAD = Bool(True, doc="count padded zeros in the average (false: divide by real elements only)")


@register
class MaxPool1d(_MaxPool):
    """1-D max pooling over ``[C, L]``: the largest value of each window, per channel.

    Downsamples sequences while keeping the strongest response of each feature.
    ``stride`` defaults to ``kernel_size`` (non-overlapping windows). Shape:
    ``[C, L] -> [C, floor((L + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1]``,
    rounded up instead with ``ceil_mode`` (a last window starting in the padding is dropped).
    No parameters.
    """

    name = "max_pool1d"
    dims = 1
    params = pool_params(1, dilation=True)
    examples = (
        {"params": {"kernel_size": 2}, "inputs": {"x": [4, 21]}},
        {"params": {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, "inputs": {"x": [3, 10]}},
        {"params": {"kernel_size": 3, "dilation": 2, "stride": 1}, "inputs": {"x": [2, 12]}},
    )


@register
class MaxPool2d(_MaxPool):
    """2-D max pooling over ``[C, H, W]``: the largest value of each window, per channel.

    Halves (``kernel_size: 2``) or otherwise shrinks feature maps while keeping the strongest
    activations, which makes features slightly translation invariant. ``stride`` defaults to
    ``kernel_size``. Shape per axis: ``floor((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``,
    rounded up with ``ceil_mode`` (e.g. 112 -> 56 with kernel 3, stride 2, padding 1, as in ResNet's stem).
    No parameters. ``max_pool2d_with_indices`` also outputs where each maximum came from,
    for ``max_unpool2d``.
    """

    name = "max_pool2d"
    dims = 2
    params = pool_params(2, dilation=True)
    examples = (
        {"params": {"kernel_size": 2}, "inputs": {"x": [8, 28, 28]}},
        {"params": {"kernel_size": 3, "stride": 2, "padding": 1}, "inputs": {"x": [4, 112, 112]}},
        {"params": {"kernel_size": 3, "stride": 2, "ceil_mode": True, "dilation": [1, 2]},
         "inputs": {"x": [2, 14, 15]}},
    )


@register
class AvgPool1d(_AvgPool):
    """1-D average pooling over ``[C, L]``: the mean of each window, per channel.

    Smooths and downsamples sequences. ``stride`` defaults to ``kernel_size``. Shape:
    ``[C, L] -> [C, floor((L + 2*padding - kernel_size) / stride) + 1]`` (rounded up with
    ``ceil_mode``). ``count_include_pad: false`` averages only over real elements at the
    borders. No parameters.
    """

    name = "avg_pool1d"
    dims = 1
    params = {**pool_params(1, dilation=False), "count_include_pad": _COUNT_PAD}
    examples = (
        {"params": {"kernel_size": 4}, "inputs": {"x": [3, 16]}},
        {"params": {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
         "inputs": {"x": [2, 9]}},
    )


@register
class AvgPool2d(_AvgPool):
    """2-D average pooling over ``[C, H, W]``: the mean of each window, per channel.

    Downsamples feature maps smoothly (LeNet, DenseNet transitions). ``stride`` defaults to
    ``kernel_size``. Shape per axis: ``floor((in + 2*padding - kernel) / stride) + 1``, rounded
    up with ``ceil_mode``. ``count_include_pad: false`` excludes padded zeros from the average.
    No parameters.
    """

    name = "avg_pool2d"
    dims = 2
    params = {**pool_params(2, dilation=False), "count_include_pad": _COUNT_PAD}
    examples = (
        {"params": {"kernel_size": 2}, "inputs": {"x": [6, 28, 28]}},
        {"params": {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": False},
         "inputs": {"x": [4, 7, 7]}},
        {"params": {"kernel_size": [3, 2], "stride": [2, 3], "ceil_mode": True}, "inputs": {"x": [2, 10, 11]}},
    )


@register
class AdaptiveAvgPool1d(Block):
    """Adaptive 1-D average pooling: averages ``[C, L]`` into exactly ``output_size`` positions.

    The windows are chosen from the input length: output position ``i`` averages input
    ``floor(i*L/out)`` up to ``ceil((i+1)*L/out)``, so any length gives the same output size.
    Shape: ``[C, L] -> [C, output_size]``. No parameters.
    """

    name = "adaptive_avg_pool1d"
    category = "Pooling"
    params = {"output_size": Int(min=1, doc="output length")}
    key_params = ("output_size",)
    examples = ({"params": {"output_size": 4}, "inputs": {"x": [3, 13]}},)

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, 2, "channels, length")
        return (x[0], p.output_size)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.AdaptiveAvgPool1d(p.output_size)


@register
class AdaptiveAvgPool2d(Block):
    """Adaptive 2-D average pooling: averages ``[C, H, W]`` into exactly ``output_size`` cells.

    The window sizes follow from the input size, so a network ends in a fixed-size grid
    whatever the image size (AlexNet and VGG use ``[7, 7]`` before their classifier).
    Output cell ``i`` along an axis averages input ``floor(i*in/out)`` to ``ceil((i+1)*in/out)``.
    Shape: ``[C, H, W] -> [C, output_size[0], output_size[1]]``. No parameters.
    """

    name = "adaptive_avg_pool2d"
    category = "Pooling"
    params = {"output_size": Ints(length=2, min=1, doc="output height and width")}
    key_params = ("output_size",)
    examples = (
        {"params": {"output_size": 7}, "inputs": {"x": [8, 13, 15]}},
        {"params": {"output_size": [2, 3]}, "inputs": {"x": [4, 6, 6]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, 3, "channels, height, width")
        return (x[0], *p.output_size)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.AdaptiveAvgPool2d(tuple(p.output_size))


@register
class GlobalAvgPool(Block):
    """Global average pooling: one mean per channel, ``[C, ...spatial] -> [C]``.

    Replaces the large fully connected layers of early CNNs (ResNet, MobileNet): each
    feature map is averaged to a single number, so the classifier sees a ``[C]`` vector
    whatever the input size. Works for ``[C, L]``, ``[C, H, W]`` and ``[C, D, H, W]``;
    same as ``adaptive_avg_pool2d`` with output 1 followed by ``flatten``. No parameters.
    """

    name = "global_avg_pool"
    category = "Pooling"
    examples = (
        {"params": {}, "inputs": {"x": [16, 7, 7]}},
        {"params": {}, "inputs": {"x": [5, 11]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        if len(x) < 2:
            raise ShapeError(f"expects at least 2 dimensions per sample (channels, then spatial axes),"
                             f" found {format_shape(x)}")
        return (x[0],)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return GlobalAvgPoolModule(len(x) - 1)
