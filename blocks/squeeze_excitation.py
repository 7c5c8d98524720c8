"""Squeeze-and-excitation: channel attention for CNNs."""

from __future__ import annotations

from blocks.choices import se_channels
from blocks.inside import InsideGraph
from blocks.lazy import lazy_class, nn
from blocks.params import Choice, Int, Port
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, expect_rank

SqueezeExcitationModule = lazy_class("blocks.modules.cnn", "SqueezeExcitation")


def se_cost(channels: int, reduction: int) -> Cost:
    """Parameters and MACs of one SE module on ``channels`` channels (any height and width).

    Two 1x1 convolutions with bias on the pooled ``[C, 1, 1]`` vector:
    ``C*rd + rd`` and ``rd*C + C`` parameters, ``2*C*rd`` multiply-accumulates.
    """
    rd = se_channels(channels, reduction)
    return Cost(2 * channels * rd + rd + channels, 2 * channels * rd)


def se_nodes(g: InsideGraph, x: str, channels: int, reduction: int, gate: str = "sigmoid",
             prefix: str = "") -> str:
    """Add the nodes of one SE module on node ``x`` (``channels`` channels) to ``g``;
    returns the id of the rescaled result. Ids are those of the module's parts (``fc1``,
    ``fc2``) after ``prefix``; the squeeze is ``x.mean((2, 3), keepdim=True)`` there, an
    adaptive average pool to 1x1 here, and the scale a multiply that broadcasts
    ``[C, 1, 1]`` over ``[C, H, W]``."""
    rd = se_channels(channels, reduction)
    s = g.add(f"{prefix}squeeze", "adaptive_avg_pool2d", x, output_size=1)
    s = g.add(f"{prefix}fc1", "conv2d", s, out_channels=rd, kernel_size=1)
    s = g.add(f"{prefix}act", "relu", s)
    s = g.add(f"{prefix}fc2", "conv2d", s, out_channels=channels, kernel_size=1)
    s = g.add(f"{prefix}gate", gate, s)
    return g.add(f"{prefix}scale", "multiply", x, s, broadcast=True)


@register
class SqueezeExcitationBlock(Block):
    """Squeeze-and-excitation: reweight each channel by a gate computed from the whole image.

    From "Squeeze-and-Excitation Networks" (Hu, Shen, Sun; CVPR 2018), the ILSVRC 2017
    winner. A convolution only sees a small window; SE lets every channel look at global
    context cheaply, in three steps:

    1. **squeeze**: average each channel over height and width -> a vector of ``C`` numbers;
    2. **excitation**: a tiny bottleneck MLP, ``C -> rd -> C`` with a ReLU in between,
       where ``rd = C // reduction`` (at least 1), then a gate (sigmoid) -> ``C`` weights
       in (0, 1);
    3. **scale**: multiply each input channel by its weight.

    The MLP is written with 1x1 convolutions with bias (``fc1``, ``fc2``) like timm's
    ``SEModule``, so weights load from timm's SE-ResNets. Parameters:
    ``2*C*rd + rd + C`` (e.g. C = 256, reduction 16: rd = 16, 8,464 parameters), almost no
    compute (``2*C*rd`` MACs per image). ``gate: hard_sigmoid`` is the cheaper gate of
    MobileNetV3 (Howard et al., 2019). timm rounds ``rd`` to a multiple of 8, which gives
    the same width whenever ``C/reduction`` is already one (all of SE-ResNet-50).

    Shape: ``[C, H, W] -> [C, H, W]``. Inside a residual block use ``residual``'s
    ``se_reduction`` instead: it places this same module before the addition.
    """

    name = "squeeze_excitation"
    category = "Composite"
    inputs = (Port("x", "feature map [C, H, W]"),)
    outputs = (Port("out", "the input with each channel rescaled, [C, H, W]"),)
    params = {
        "reduction": Int(16, min=1, doc="bottleneck ratio: the MLP's hidden width is channels // reduction"),
        "gate": Choice("sigmoid", choices=("sigmoid", "hard_sigmoid"),
                       doc="squashes the excitation into (0, 1); hard_sigmoid is MobileNetV3's cheap version"),
    }
    key_params = ("reduction",)
    examples = (
        {"params": {"reduction": 4}, "inputs": {"x": [16, 5, 5]}},
        {"params": {"gate": "hard_sigmoid"}, "inputs": {"x": [64, 3, 4]}},
        {"params": {}, "inputs": {"x": [8, 4, 4]}},  # 8 // 16 = 0 -> one hidden unit
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, 3, "channels, height, width")
        return tuple(x)

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        return se_cost(x[0], p.reduction)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return SqueezeExcitationModule(x[0], se_channels(x[0], p.reduction), p.gate)

    def inside(self, p: Params, x: Shape) -> dict:
        self.infer(p, x)
        rd = se_channels(x[0], p.reduction)
        g = InsideGraph("squeeze_excitation",
                        f"squeeze [C, H, W] to [C, 1, 1], excite through {x[0]} -> {rd} -> {x[0]} channels "
                        f"(1x1 convolutions with bias), gate with {p.gate}, rescale each channel", x=x)
        return g.finish(se_nodes(g, "x", x[0], p.reduction, p.gate))
