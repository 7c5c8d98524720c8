"""Activations built on the sigmoid: SiLU (``x * sigmoid(x)``) and the hard sigmoid gate.

They are the pieces that the insides of the composite CNN blocks need beyond ReLU: a
residual block with ``activation: silu``, and a squeeze-and-excitation gate with
``gate: hard_sigmoid``. Like every activation they keep the shape and have no parameters.
"""

from __future__ import annotations

from blocks.lazy import nn

from blocks.registry import register
from blocks.spec import Block, Params, Shape


class _SameShape(Block):
    category = "Activation"

    def infer(self, p: Params, x: Shape) -> Shape:
        return tuple(x)


@register
class SiLU(_SameShape):
    """Sigmoid-weighted linear unit ("swish"): ``x * sigmoid(x)`` element-wise.

    A smooth ReLU that lets small negative values through (its minimum is about -0.28 at
    ``x = -1.28``). Found by search in "Searching for Activation Functions" (Ramachandran,
    Zoph, Le; 2017); used by EfficientNet, MobileNetV3 and YOLO. Shape: unchanged; no
    parameters.
    """

    name = "silu"
    examples = ({"params": {}, "inputs": {"x": [4, 6, 6]}},)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.SiLU()


@register
class HardSigmoid(_SameShape):
    """Hard sigmoid: ``clamp(x / 6 + 1/2, 0, 1)``, a piecewise-linear sigmoid that is cheap to compute.

    0 below -3, 1 above 3, a straight line in between. MobileNetV3 (Howard et al., 2019)
    uses it as the gate of its squeeze-and-excitation modules, where a true sigmoid costs
    too much on phones. Shape: unchanged; no parameters.
    """

    name = "hard_sigmoid"
    examples = ({"params": {}, "inputs": {"x": [8, 1, 1]}},)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.Hardsigmoid()
