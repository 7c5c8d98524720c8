"""Squeeze-and-excitation: channel attention for CNNs."""

from __future__ import annotations

from torch import nn

from blocks.modules.cnn import SqueezeExcitation as SqueezeExcitationModule
from blocks.modules.cnn import se_channels
from blocks.params import Choice, Int, Port
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, expect_rank


def se_cost(channels: int, reduction: int) -> Cost:
    """Parameters and MACs of one SE module on ``channels`` channels (any height and width).

    Two 1x1 convolutions with bias on the pooled ``[C, 1, 1]`` vector:
    ``C*rd + rd`` and ``rd*C + C`` parameters, ``2*C*rd`` multiply-accumulates.
    """
    rd = se_channels(channels, reduction)
    return Cost(2 * channels * rd + rd + channels, 2 * channels * rd)


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
