"""Normalization: batch norm (1-D and 2-D), layer norm and local response norm."""

from __future__ import annotations

import math

from blocks.lazy import nn

from blocks.params import Bool, Float, Int, ParamError
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, ShapeError, expect_rank, format_shape


def _batch_norm_params() -> dict:
    return {
        "eps": Float(1e-5, min=0.0, doc="added to the variance before the square root, for stability"),
        "momentum": Float(0.1, min=0.0, max=1.0, optional=True,
                          doc="weight of the current batch in the running statistics; null = plain average"),
        "affine": Bool(True, doc="learn a scale (gamma) and shift (beta) per channel"),
        "track_running_stats": Bool(True, doc="keep running mean/variance for evaluation mode"),
    }


class _BatchNorm(Block):
    category = "Normalization"
    key_params = ("affine",)
    ranks: tuple[int, ...] = (3,)
    axes = "channels, height, width"
    module = "BatchNorm2d"  # the torch.nn class, by name: nn is imported when a block is built

    def check(self, p: Params) -> None:
        if p.eps <= 0:  # PyTorch refuses it at the first training step, not when building
            raise ParamError(f"eps must be above 0 for batch norm in training, found {p.eps}")

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, self.ranks, self.axes)
        return tuple(x)

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        # gamma and beta are trainable; the running mean/variance are buffers, not parameters.
        return Cost(2 * x[0] if p.affine else 0, 0)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return getattr(nn, self.module)(x[0], eps=p.eps, momentum=p.momentum, affine=p.affine,
                           track_running_stats=p.track_running_stats)


@register
class BatchNorm1d(_BatchNorm):
    """Batch normalization for feature vectors ``[C]`` or sequences ``[C, L]``.

    In training, each channel is normalized with the mean and variance over the batch
    (and the length axis): ``y = (x - mean) / sqrt(var + eps) * gamma + beta``. Running
    averages of mean and variance (buffers, not trained) replace the batch statistics in
    evaluation mode, so call ``model.eval()`` before inference.
    Shape: unchanged, ``[C] -> [C]`` or ``[C, L] -> [C, L]``. Parameters: ``2*C`` with ``affine``.
    Put it after a linear or conv1d layer (usually with ``bias: false`` there) and before the activation.
    """

    name = "batch_norm1d"
    params = _batch_norm_params()
    ranks = (1, 2)
    axes = "features, or channels and length"
    module = "BatchNorm1d"
    examples = (
        {"params": {}, "inputs": {"x": [16]}},
        {"params": {"eps": 1e-3, "momentum": 0.01, "affine": False}, "inputs": {"x": [8, 20]}},
    )


@register
class BatchNorm2d(_BatchNorm):
    """Batch normalization for images ``[C, H, W]``: the standard CNN normalizer.

    Each channel is normalized with the mean and variance over the batch and all pixels,
    then scaled and shifted by the learned ``gamma`` and ``beta``:
    ``y = (x - mean) / sqrt(var + eps) * gamma + beta``. Running averages (buffers, not
    trained) are used in evaluation mode. Shape: unchanged. Parameters: ``2*C`` with ``affine``.
    Typical use: conv2d (``bias: false``) -> batch_norm2d -> relu.
    """

    name = "batch_norm2d"
    params = _batch_norm_params()
    ranks = (3,)
    axes = "channels, height, width"
    module = "BatchNorm2d"
    examples = (
        {"params": {}, "inputs": {"x": [16, 8, 8]}},
        {"params": {"momentum": None, "track_running_stats": True, "eps": 1e-3}, "inputs": {"x": [4, 5, 7]}},
    )


@register
class LayerNorm(Block):
    """Layer normalization over the last ``dims`` dimensions of each sample (transformers).

    Unlike batch norm it uses no batch statistics: every position is normalized on its own,
    ``y = (x - mean) / sqrt(var + eps) * gamma + beta``, with mean and variance taken over the
    last ``dims`` dimensions, so it behaves the same in training and evaluation.
    ``dims: 1`` on ``[T, D]`` normalizes each token's ``D`` features; ``dims: 3`` on
    ``[C, H, W]`` normalizes whole images. Shape: unchanged.
    Parameters: ``prod(normalized dims)`` each for ``gamma`` (``affine``) and ``beta`` (``bias``).
    """

    name = "layer_norm"
    category = "Normalization"
    params = {
        "dims": Int(1, min=1, doc="how many trailing dimensions to normalize over"),
        "eps": Float(1e-5, min=0.0, doc="added to the variance before the square root, for stability"),
        "affine": Bool(True, doc="learn a scale (gamma) per normalized element"),
        "bias": Bool(True, doc="learn a shift (beta) per normalized element (needs affine)"),
    }
    key_params = ("dims",)
    examples = (
        {"params": {}, "inputs": {"x": [10, 32]}},
        {"params": {"dims": 2, "eps": 1e-6, "bias": False}, "inputs": {"x": [3, 6, 8]}},
        {"params": {"affine": False, "bias": False}, "inputs": {"x": [12]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        if len(x) < p.dims:
            raise ShapeError(f"normalizes over the last {p.dims} dimensions, so expects at least {p.dims}"
                             f" dimensions per sample, found {format_shape(x)}")
        return tuple(x)

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        n = math.prod(x[len(x) - p.dims:])
        return Cost(n * (int(p.affine) + int(p.affine and p.bias)), 0)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.LayerNorm(tuple(x[len(x) - p.dims:]), eps=p.eps, elementwise_affine=p.affine,
                            bias=p.affine and p.bias)


@register
class LocalResponseNorm(Block):
    """Local response normalization across channels, as in AlexNet (Krizhevsky et al., 2012).

    Each value is divided by a power of the summed squares of the same position in the
    ``size`` neighbouring channels (``size // 2`` on each side, fewer at the edges), so a
    strongly responding channel damps its neighbours, "lateral inhibition":
    ``b[c] = a[c] / (k + alpha * sum_{c'=c-size/2}^{c+size/2} a[c']^2) ** beta``.
    The defaults are the paper's ``k = 2, n = 5, alpha = 1e-4, beta = 0.75``; AlexNet applies
    it after the ReLUs of its first two convolutions. ``alpha`` is the paper's: PyTorch's
    ``nn.LocalResponseNorm`` divides its ``alpha`` by ``size``, so this block builds it with
    ``alpha * size`` (porting PyTorch code, divide its alpha by size). Batch norm replaced it
    in later networks. Shape: unchanged, ``[C, ...]`` with at least one spatial axis.
    No parameters.
    """

    name = "local_response_norm"
    category = "Normalization"
    params = {
        "size": Int(5, min=1, doc="number of neighbouring channels summed over (the paper's n)"),
        "alpha": Float(1e-4, min=0.0, doc="scale of the sum of squares (the paper's alpha, not divided by size)"),
        "beta": Float(0.75, min=0.0, doc="exponent of the denominator"),
        "k": Float(2.0, min=0.0, doc="additive constant of the denominator (the paper's k; PyTorch's default is 1)"),
    }
    key_params = ("size",)
    examples = (
        {"params": {}, "inputs": {"x": [12, 6, 6]}},
        {"params": {"size": 3, "alpha": 1e-3, "beta": 0.5, "k": 1.0}, "inputs": {"x": [4, 9]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        if len(x) < 2:
            raise ShapeError(f"expects at least 2 dimensions per sample (channels, then spatial axes),"
                             f" found {format_shape(x)}")
        return tuple(x)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.LocalResponseNorm(p.size, alpha=p.alpha * p.size, beta=p.beta, k=p.k)
