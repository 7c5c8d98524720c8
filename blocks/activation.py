"""Activations: element-wise non-linearities and softmax.

All of them keep the shape and have no parameters; each builds PyTorch's own module so a
compiled graph runs exactly as fast as hand-written PyTorch.
"""

from __future__ import annotations

from blocks.lazy import nn

from blocks.params import Bool, Choice, Float, Int
from blocks.registry import register
from blocks.reshape import batch_dim, check_dim
from blocks.spec import Block, Params, Shape


class _Elementwise(Block):
    category = "Activation"

    def infer(self, p: Params, x: Shape) -> Shape:
        return tuple(x)


@register
class ReLU(_Elementwise):
    """Rectified linear unit: ``max(0, x)`` element-wise, the default CNN activation.

    Negative values become zero, positive values pass unchanged; cheap and keeps gradients
    alive for positive inputs. Shape: unchanged; no parameters.
    ``inplace: true`` overwrites its input to save memory: only safe when nothing else
    (for example a residual skip connection) reads that same tensor afterwards.
    """

    name = "relu"
    params = {"inplace": Bool(False, doc="overwrite the input tensor (saves memory; unsafe if the input is reused)")}
    examples = (
        {"params": {}, "inputs": {"x": [3, 8, 8]}},
        {"params": {"inplace": True}, "inputs": {"x": [10]}},
    )

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.ReLU(inplace=p.inplace)


@register
class LeakyReLU(_Elementwise):
    """Leaky ReLU: ``x`` for positive inputs, ``negative_slope * x`` otherwise.

    The small slope for negative inputs keeps a gradient flowing where a plain ReLU would be
    stuck at zero ("dying ReLU"); common in GANs. Shape: unchanged; no parameters.
    """

    name = "leaky_relu"
    params = {"negative_slope": Float(0.01, min=0.0, doc="slope used for negative inputs")}
    key_params = ("negative_slope",)
    examples = ({"params": {"negative_slope": 0.2}, "inputs": {"x": [4, 6, 6]}},)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.LeakyReLU(p.negative_slope)


@register
class GELU(_Elementwise):
    """Gaussian error linear unit: ``x * Phi(x)``, the smooth ReLU used in transformers.

    ``Phi`` is the standard normal CDF, so inputs are weighted by how likely they are to be
    positive. ``approximate: tanh`` uses the faster tanh formula of the original BERT/GPT-2
    code. Shape: unchanged; no parameters.
    """

    name = "gelu"
    params = {"approximate": Choice("none", choices=("none", "tanh"), doc="'tanh' for the tanh approximation")}
    key_params = ("approximate",)
    examples = (
        {"params": {}, "inputs": {"x": [5, 16]}},
        {"params": {"approximate": "tanh"}, "inputs": {"x": [16]}},
    )

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.GELU(approximate=p.approximate)


@register
class Sigmoid(_Elementwise):
    """Logistic sigmoid: ``1 / (1 + exp(-x))``, squashes each value into (0, 1).

    Used for probabilities of independent yes/no outputs and for gates (LSTM, squeeze-and-
    excitation). For training a classifier prefer raw logits with ``BCEWithLogitsLoss``.
    Shape: unchanged; no parameters.
    """

    name = "sigmoid"
    examples = ({"params": {}, "inputs": {"x": [1]}},)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.Sigmoid()


@register
class Tanh(_Elementwise):
    """Hyperbolic tangent: squashes each value into (-1, 1), zero-centred.

    ``tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))``; the classic RNN activation and the
    usual output of image generators that produce pixels in [-1, 1].
    Shape: unchanged; no parameters.
    """

    name = "tanh"
    examples = ({"params": {}, "inputs": {"x": [3, 4, 4]}},)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.Tanh()


@register
class Softmax(_Elementwise):
    """Softmax along one axis: ``exp(x_i) / sum_j exp(x_j)``, turning scores into probabilities.

    The values along ``dim`` become positive and sum to 1. ``dim`` counts per-sample axes
    (the batch axis is not counted): ``-1``, the default, is the last axis, e.g. the classes
    of ``[10]`` or each token's scores in ``[T, V]``; ``0`` is the first per-sample axis.
    Shape: unchanged; no parameters. For training, feed raw logits to ``CrossEntropyLoss``
    instead, which applies log-softmax itself.
    """

    name = "softmax"
    params = {"dim": Int(-1, doc="per-sample axis to normalize over; -1 = last")}
    key_params = ("dim",)
    examples = (
        {"params": {}, "inputs": {"x": [10]}},
        {"params": {"dim": 0}, "inputs": {"x": [4, 7]}},
        {"params": {"dim": -2}, "inputs": {"x": [3, 5, 6]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        check_dim(p.dim, x, "softmax over dim")
        return tuple(x)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.Softmax(dim=batch_dim(p.dim))


@register
class SiLU(_Elementwise):
    """Sigmoid-weighted linear unit ("swish"): ``x * sigmoid(x)`` element-wise.

    A smooth ReLU that lets small negative values through (its minimum is about -0.28 at
    ``x = -1.28``). Found by search in "Searching for Activation Functions" (Ramachandran,
    Zoph, Le; 2017); used by EfficientNet, MobileNetV3 and YOLO. Shape: unchanged; no
    parameters. Also accepted as ``block: swish``.
    """

    name = "silu"
    aliases = ("swish",)
    examples = ({"params": {}, "inputs": {"x": [4, 6, 6]}},)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.SiLU()


@register
class HardSigmoid(_Elementwise):
    """Hard sigmoid: ``clamp(x / 6 + 1/2, 0, 1)``, a piecewise-linear sigmoid that is cheap to compute.

    0 below -3, 1 above 3, a straight line in between. MobileNetV3 (Howard et al., 2019)
    uses it as the gate of its squeeze-and-excitation modules, where a true sigmoid costs
    too much on phones. Shape: unchanged; no parameters. Also accepted as ``block: hardsigmoid``
    (PyTorch's spelling).
    """

    name = "hard_sigmoid"
    aliases = ("hardsigmoid",)
    examples = ({"params": {}, "inputs": {"x": [8, 1, 1]}},)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.Hardsigmoid()


@register
class ReLU6(_Elementwise):
    """ReLU capped at 6: ``min(max(0, x), 6)`` element-wise, MobileNet's activation.

    Like ``relu`` but values above 6 are clipped to 6, which keeps activations in a range
    that low-precision (8-bit) arithmetic represents well. MobileNetV1 and V2 (Sandler et
    al., 2018) use it after every expansion and depthwise convolution; with a plain ``relu``
    their outputs differ as soon as an activation passes 6. Shape: unchanged; no parameters.
    """

    name = "relu6"
    params = {"inplace": Bool(False, doc="overwrite the input tensor (saves memory; unsafe if the input is reused)")}
    examples = ({"params": {}, "inputs": {"x": [8, 5, 5]}},)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.ReLU6(inplace=p.inplace)


@register
class HardSwish(_Elementwise):
    """Hard swish: ``x * relu6(x + 3) / 6``, a piecewise version of ``silu`` that is cheap to compute.

    0 below -3, ``x`` above 3, a parabola in between. MobileNetV3 ("Searching for
    MobileNetV3", Howard et al., 2019) uses it in its deeper layers instead of ``silu``
    (swish), whose sigmoid is slow on phones. Shape: unchanged; no parameters. Also accepted
    as ``block: hardswish`` (PyTorch's spelling).
    """

    name = "hard_swish"
    aliases = ("hardswish",)
    examples = ({"params": {}, "inputs": {"x": [16, 4, 4]}},)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.Hardswish()
