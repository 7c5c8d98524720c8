"""Resampling: fixed-factor upsampling by interpolation."""

from __future__ import annotations

import math

from blocks.lazy import nn

from blocks.params import Bool, Choice, Float, ParamError
from blocks.registry import register
from blocks.spec import Block, Params, Shape, ShapeError, expect_rank, format_shape

_RANKS = {"nearest": (2, 3), "linear": (2,), "bilinear": (3,), "bicubic": (3,)}
_AXES = {(2, 3): "channels, length or channels, height, width", (2,): "channels, length",
         (3,): "channels, height, width"}


@register
class Upsample(Block):
    """Upsample ``[C, L]`` or ``[C, H, W]`` by a fixed ``scale_factor`` using interpolation.

    Enlarges every spatial axis without learned weights: ``nearest`` repeats values,
    ``linear`` (for ``[C, L]``), ``bilinear`` and ``bicubic`` (for ``[C, H, W]``) blend
    neighbours. Used in decoders (U-Net, FPN), often followed by a conv; the learned
    alternative is ``conv_transpose2d``. Shape per spatial axis: ``floor(in * scale_factor)``,
    e.g. ``[64, 14, 14] -> [64, 28, 28]`` with 2. ``align_corners`` (interpolating modes only)
    maps corner pixels exactly onto corner pixels. No parameters.
    """

    name = "upsample"
    category = "Resampling"
    params = {
        "scale_factor": Float(2.0, min=0.0, doc="multiplier for every spatial size (may be fractional)"),
        "mode": Choice("nearest", choices=("nearest", "linear", "bilinear", "bicubic"),
                       doc="nearest for any input; linear for [C, L]; bilinear or bicubic for [C, H, W]"),
        "align_corners": Bool(None, optional=True,
                              doc="align corner pixels (interpolating modes only); null = PyTorch's default, false"),
    }
    key_params = ("scale_factor", "mode")
    examples = (
        {"params": {}, "inputs": {"x": [4, 7, 9]}},
        {"params": {"scale_factor": 1.5, "mode": "linear", "align_corners": True}, "inputs": {"x": [3, 11]}},
        {"params": {"scale_factor": 3, "mode": "bilinear"}, "inputs": {"x": [2, 5, 4]}},
    )

    def check(self, p: Params) -> None:
        if p.scale_factor <= 0:
            raise ParamError(f"scale_factor must be above 0, found {p.scale_factor}")
        if p.align_corners is not None and p.mode == "nearest":
            raise ParamError("align_corners only applies to the interpolating modes"
                             " (linear, bilinear, bicubic); leave it null for mode 'nearest'")

    def infer(self, p: Params, x: Shape) -> Shape:
        ranks = _RANKS[p.mode]
        expect_rank(x, ranks, f"{_AXES[ranks]}, for mode '{p.mode}'")
        spatial = tuple(math.floor(n * p.scale_factor) for n in x[1:])
        if any(n < 1 for n in spatial):
            raise ShapeError(f"scale_factor {p.scale_factor} shrinks input {format_shape(x)} to nothing:"
                             f" output would be {format_shape((x[0], *spatial))}")
        return (x[0], *spatial)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.Upsample(scale_factor=p.scale_factor, mode=p.mode, align_corners=p.align_corners)
