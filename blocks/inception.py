"""The Inception module of GoogLeNet."""

from __future__ import annotations

from blocks.inside import InsideGraph
from blocks.lazy import lazy_class, nn
from blocks.params import Bool, Int, ParamError, Port
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, expect_rank, format_shape

InceptionModule = lazy_class("blocks.modules.cnn", "InceptionModule")


def _conv_cost(in_channels: int, out_channels: int, kernel: int, pixels: int, batch_norm: bool) -> Cost:
    """Convolution + BN (2 parameters per channel) or convolution with bias (1 per channel)."""
    per_filter = in_channels * kernel * kernel
    extra = 2 * out_channels if batch_norm else out_channels
    return Cost(out_channels * per_filter + extra, pixels * out_channels * per_filter)


@register
class Inception(Block):
    """GoogLeNet's Inception module: four parallel branches concatenated along channels.

    From "Going Deeper with Convolutions" (Szegedy et al., CVPR 2015), the ILSVRC 2014
    winner. Rather than choosing one filter size per layer, the module applies several
    at once and lets training decide what to use:

    * ``branch1x1``: 1x1 conv -> ``ch1x1`` channels;
    * ``branch3x3``: 1x1 conv to ``ch3x3_reduce`` -> 3x3 conv -> ``ch3x3``;
    * ``branch5x5``: 1x1 conv to ``ch5x5_reduce`` -> 5x5 conv -> ``ch5x5``;
    * ``branch_pool``: 3x3 max pool (stride 1, padding 1) -> 1x1 conv -> ``pool_proj``.

    The 1x1 "reduce" convolutions are the trick that makes it affordable: they shrink the
    channels before the expensive 3x3 and 5x5 filters (Lin et al.'s "Network in Network").
    Every convolution is followed by ReLU and keeps height and width ("same" padding), so
    the branches can be concatenated.

    ``batch_norm: true`` (default) is torchvision's ``BasicConv2d``: conv without bias ->
    BatchNorm2d(eps=0.001) -> ReLU, the "GoogLeNet with batch norm" everyone trains today.
    ``false`` is the 2014 paper: conv with bias -> ReLU. ``branch5x5_kernel`` is 5 in the
    paper; torchvision's ``googlenet`` uses 3 there, a bug kept for compatibility with its
    pretrained weights: set 3 to match it (inception 3a then has 155,872 parameters).

    Shape: ``[C, H, W] -> [ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W]``.
    """

    name = "inception"
    category = "Composite"
    inputs = (Port("x", "feature map [C, H, W]"),)
    outputs = (Port("out", "concatenated branches [ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W]"),)
    params = {
        "ch1x1": Int(min=1, doc="channels of the 1x1 branch"),
        "ch3x3_reduce": Int(min=1, doc="1x1 reduction before the 3x3 convolution"),
        "ch3x3": Int(min=1, doc="channels of the 3x3 branch"),
        "ch5x5_reduce": Int(min=1, doc="1x1 reduction before the 5x5 convolution"),
        "ch5x5": Int(min=1, doc="channels of the 5x5 branch"),
        "pool_proj": Int(min=1, doc="1x1 projection after the 3x3 max pool"),
        "branch5x5_kernel": Int(5, min=1, max=7,
                                doc="kernel of the '5x5' branch: 5 as in the paper, 3 as in torchvision (odd)"),
        "batch_norm": Bool(True, doc="conv (no bias) + BatchNorm(eps 0.001) + ReLU; false: conv with bias + ReLU"),
    }
    key_params = ("ch1x1", "ch3x3", "ch5x5", "pool_proj")
    examples = (
        {"params": {"ch1x1": 4, "ch3x3_reduce": 4, "ch3x3": 8, "ch5x5_reduce": 2, "ch5x5": 4, "pool_proj": 4},
         "inputs": {"x": [8, 9, 9]}},
        {"params": {"ch1x1": 3, "ch3x3_reduce": 2, "ch3x3": 5, "ch5x5_reduce": 2, "ch5x5": 3, "pool_proj": 2,
                    "batch_norm": False}, "inputs": {"x": [6, 8, 7]}},
        # GoogLeNet's inception 3a, as in torchvision
        {"params": {"ch1x1": 64, "ch3x3_reduce": 96, "ch3x3": 128, "ch5x5_reduce": 16, "ch5x5": 32,
                    "pool_proj": 32, "branch5x5_kernel": 3}, "inputs": {"x": [192, 28, 28]}},
    )

    def check(self, p: Params) -> None:
        if p.branch5x5_kernel % 2 == 0:
            raise ParamError(f"branch5x5_kernel must be odd so that the branch keeps height and width,"
                             f" found {p.branch5x5_kernel}")

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, 3, "channels, height, width")
        return (p.ch1x1 + p.ch3x3 + p.ch5x5 + p.pool_proj, x[1], x[2])

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        c, pixels, bn = x[0], x[1] * x[2], p.batch_norm
        return (_conv_cost(c, p.ch1x1, 1, pixels, bn)
                + _conv_cost(c, p.ch3x3_reduce, 1, pixels, bn) + _conv_cost(p.ch3x3_reduce, p.ch3x3, 3, pixels, bn)
                + _conv_cost(c, p.ch5x5_reduce, 1, pixels, bn)
                + _conv_cost(p.ch5x5_reduce, p.ch5x5, p.branch5x5_kernel, pixels, bn)
                + _conv_cost(c, p.pool_proj, 1, pixels, bn))

    def build(self, p: Params, x: Shape) -> nn.Module:
        return InceptionModule(x[0], p.ch1x1, p.ch3x3_reduce, p.ch3x3, p.ch5x5_reduce, p.ch5x5, p.pool_proj,
                               p.branch5x5_kernel, p.batch_norm)

    def inside(self, p: Params, x: Shape) -> dict:
        out = self.infer(p, x)
        g = InsideGraph("inception", f"four branches on {format_shape(x)}, concatenated along channels: "
                        f"{p.ch1x1} + {p.ch3x3} + {p.ch5x5} + {p.pool_proj} = {out[0]} channels"
                        + ("" if p.batch_norm else " (2014 paper: convolutions with bias, no batch norm)"), x=x)

        def conv_norm_act(group: str, source: str, channels: int, kernel: int) -> str:
            # torchvision's BasicConv2d: conv (bias only without BN) -> BN(eps 0.001) -> ReLU
            s = g.add(group, "conv2d", source, out_channels=channels, kernel_size=kernel, padding=kernel // 2,
                      bias=not p.batch_norm)
            if p.batch_norm:
                s = g.add(f"{group}_bn", "batch_norm2d", s, eps=0.001)
            return g.add(f"{group}_relu", "relu", s)

        b1 = conv_norm_act("branch1x1", "x", p.ch1x1, 1)
        b3 = conv_norm_act("branch3x3_conv", conv_norm_act("branch3x3_reduce", "x", p.ch3x3_reduce, 1), p.ch3x3, 3)
        b5 = conv_norm_act("branch5x5_conv", conv_norm_act("branch5x5_reduce", "x", p.ch5x5_reduce, 1), p.ch5x5,
                           p.branch5x5_kernel)
        pool = g.add("branch_pool", "max_pool2d", "x", kernel_size=3, stride=1, padding=1, ceil_mode=True)
        bp = conv_norm_act("branch_pool_proj", pool, p.pool_proj, 1)
        return g.finish(g.add("concat", "concat", b1, b3, b5, bp, dim=0))
