"""Residual blocks: ResNet's basic and bottleneck blocks, optionally with squeeze-and-excitation."""

from __future__ import annotations

from blocks.choices import ACTIVATIONS
from blocks.inside import InsideGraph
from blocks.lazy import lazy_class, nn
from blocks.params import Choice, Int, Port
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, ShapeError, expect_rank, format_shape
from blocks.squeeze_excitation import se_cost, se_nodes

ResidualBasic = lazy_class("blocks.modules.cnn", "ResidualBasic")
ResidualBottleneck = lazy_class("blocks.modules.cnn", "ResidualBottleneck")


def _conv_cost(in_channels: int, out_channels: int, kernel: int, out_pixels: int) -> Cost:
    """A bias-free convolution followed by batch norm (2 parameters per channel)."""
    per_filter = in_channels * kernel * kernel
    return Cost(out_channels * per_filter + 2 * out_channels, out_pixels * out_channels * per_filter)


@register
class Residual(Block):
    """ResNet residual block: a few convolutions plus a shortcut, ``out = relu(F(x) + x)``.

    From "Deep Residual Learning for Image Recognition" (He, Zhang, Ren, Sun; CVPR 2016).
    Instead of learning a mapping ``H(x)`` directly, the layers learn the residual
    ``F(x) = H(x) - x`` and the block adds its input back. Gradients flow through the
    addition untouched, which is what made networks of 50-150 layers trainable.

    ``kind: basic`` (ResNet-18/34): 3x3 conv (stride) -> BN -> ReLU -> 3x3 conv -> BN.
    Output channels = ``channels``.

    ``kind: bottleneck`` (ResNet-50/101/152): 1x1 conv reduces to ``channels`` -> BN -> ReLU
    -> 3x3 conv (stride) -> BN -> ReLU -> 1x1 conv expands to ``channels * expansion`` ->
    BN. The expensive 3x3 works on the narrow width. Putting the stride on the 3x3 rather
    than the first 1x1 is torchvision's "ResNet v1.5" (more accurate than the paper's v1).

    Shortcut: the identity when input and output shapes agree; otherwise a projection,
    a 1x1 convolution with the block's stride followed by BN (the paper's option B).
    Convolutions have no bias (batch norm's shift replaces it). The layout follows
    torchvision's ``BasicBlock``/``Bottleneck`` exactly, so counts match: a basic block
    64 -> 64 has 73,984 parameters, ResNet-50's first bottleneck (64 -> 256) 75,008.

    ``se_reduction > 0`` adds squeeze-and-excitation (Hu et al., 2018) after the last
    batch norm, before the addition, as in SENet's SE-ResNet and timm's ``seresnet50``
    (see the ``squeeze_excitation`` block; 16 is the paper's ratio).

    Shape: ``[C, H, W] -> [out, (H-1)//stride + 1, (W-1)//stride + 1]`` where ``out`` is
    ``channels`` (basic) or ``channels * expansion`` (bottleneck).
    """

    name = "residual"
    category = "Composite"
    inputs = (Port("x", "feature map [C, H, W]"),)
    outputs = (Port("out", "feature map [out, (H-1)//stride + 1, (W-1)//stride + 1]"),)
    params = {
        "kind": Choice("basic", choices=("basic", "bottleneck"),
                       doc="basic: two 3x3 convs (ResNet-18/34); bottleneck: 1x1-3x3-1x1 (ResNet-50+)"),
        "channels": Int(min=1, doc="inner width; output channels = channels (basic) or channels * expansion"),
        "stride": Int(1, min=1, doc="2 halves height and width (first block of a stage)"),
        "expansion": Int(4, min=1, doc="bottleneck only (basic ignores it): output = channels * expansion"),
        "se_reduction": Int(0, min=0, doc="0: no squeeze-and-excitation; 16: SE-ResNet's SE before the addition"),
        "activation": Choice("relu", choices=ACTIVATIONS, doc="after each inner BN and after the addition"),
    }
    key_params = ("kind", "channels", "stride")
    examples = (
        {"params": {"channels": 8}, "inputs": {"x": [8, 10, 10]}},
        {"params": {"channels": 16, "stride": 2, "se_reduction": 4}, "inputs": {"x": [8, 9, 9]}},
        {"params": {"kind": "bottleneck", "channels": 4, "stride": 2, "se_reduction": 4},
         "inputs": {"x": [8, 11, 11]}},
        {"params": {"kind": "bottleneck", "channels": 4, "expansion": 2, "activation": "silu"},
         "inputs": {"x": [8, 6, 7]}},
    )

    def out_channels(self, p: Params) -> int:
        return p.channels * p.expansion if p.kind == "bottleneck" else p.channels

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, 3, "channels, height, width")
        if x[1] < 1 or x[2] < 1:
            raise ShapeError(f"needs a non-empty image, found {format_shape(x)}")
        return (self.out_channels(p), (x[1] - 1) // p.stride + 1, (x[2] - 1) // p.stride + 1)

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        cin, cout, width = x[0], out[0], p.channels
        pixels_in, pixels_out = x[1] * x[2], out[1] * out[2]
        if p.kind == "basic":
            cost = _conv_cost(cin, width, 3, pixels_out) + _conv_cost(width, width, 3, pixels_out)
        else:
            cost = (_conv_cost(cin, width, 1, pixels_in) + _conv_cost(width, width, 3, pixels_out)
                    + _conv_cost(width, cout, 1, pixels_out))
        if p.stride != 1 or cin != cout:
            cost += _conv_cost(cin, cout, 1, pixels_out)
        if p.se_reduction:
            cost += se_cost(cout, p.se_reduction)
        return cost

    def build(self, p: Params, x: Shape) -> nn.Module:
        if p.kind == "basic":
            return ResidualBasic(x[0], p.channels, p.stride, p.se_reduction, p.activation)
        return ResidualBottleneck(x[0], p.channels, p.stride, p.expansion, p.se_reduction, p.activation)

    def inside(self, p: Params, x: Shape) -> dict:
        out = self.infer(p, x)
        cout, width, act = out[0], p.channels, p.activation
        projection = p.stride != 1 or x[0] != cout
        g = InsideGraph("residual", f"{p.kind} residual block, {format_shape(x)} -> {format_shape(out)}; shortcut: "
                        + ("1x1 projection (stride, batch norm)" if projection else "identity (the input itself)")
                        + (f"; squeeze-and-excitation (reduction {p.se_reduction}) before the addition"
                           if p.se_reduction else ""), x=x)

        def conv(node_id: str, source: str, channels: int, kernel: int, stride: int = 1) -> str:
            return g.add(node_id, "conv2d", source, out_channels=channels, kernel_size=kernel, stride=stride,
                         padding=kernel // 2, bias=False)

        # F(x): the residual the layers learn
        if p.kind == "basic":
            f = g.add("act1", act, g.add("bn1", "batch_norm2d", conv("conv1", "x", width, 3, p.stride)))
            f = g.add("bn2", "batch_norm2d", conv("conv2", f, width, 3))
        else:
            f = g.add("act1", act, g.add("bn1", "batch_norm2d", conv("conv1", "x", width, 1)))
            f = g.add("act2", act, g.add("bn2", "batch_norm2d", conv("conv2", f, width, 3, p.stride)))
            f = g.add("bn3", "batch_norm2d", conv("conv3", f, cout, 1))
        if p.se_reduction:
            f = se_nodes(g, f, cout, p.se_reduction, prefix="se_")
        # the shortcut: x itself, or projected to the output's shape
        skip = g.add("shortcut_bn", "batch_norm2d", conv("shortcut", "x", cout, 1, p.stride)) if projection else "x"
        return g.finish(g.add("act", act, g.add("add", "add", f, skip)))
