"""Resampling: upsampling by interpolation, by a factor, to a size, or to another tensor's size."""

from __future__ import annotations

import math

from blocks.lazy import lazy_class, nn

from blocks.params import Bool, Choice, Float, Ints, ParamError, Port
from blocks.registry import register
from blocks.spec import Block, Params, Shape, ShapeError, expect_rank, format_shape

UpsampleLike = lazy_class("blocks.modules.cnn", "UpsampleLike")

_RANKS = {"nearest": (2, 3), "linear": (2,), "bilinear": (3,), "bicubic": (3,)}
_AXES = {(2, 3): "channels, length or channels, height, width", (2,): "channels, length",
         (3,): "channels, height, width"}
DEFAULT_FACTOR = 2.0


@register
class Upsample(Block):
    """Upsample ``[C, L]`` or ``[C, H, W]`` by interpolation: by a factor, to a size, or to the size of ``like``.

    Enlarges (or shrinks) every spatial axis without learned weights: ``nearest`` repeats
    values, ``linear`` (for ``[C, L]``), ``bilinear`` and ``bicubic`` (for ``[C, H, W]``) blend
    neighbours. Used in decoders (U-Net, FPN), often followed by a conv; the learned
    alternative is ``conv_transpose2d``. The output size comes from one of three things:

    * ``scale_factor`` (2 when nothing else is given): per spatial axis ``floor(in * scale_factor)``,
      e.g. ``[64, 14, 14] -> [64, 28, 28]``;
    * ``size``: a fixed spatial size, ``size: [60, 60]`` gives ``[C, 60, 60]`` whatever comes in;
    * a second input on the ``like`` port: the output takes that tensor's spatial size (its
      channels may differ, its values are not used). A PSPNet pyramid brings each pooled
      branch back to the feature map's size this way, without working out the factors.

    ``align_corners`` (interpolating modes only) maps corner pixels exactly onto corner
    pixels. Shape: ``[C, *in] -> [C, *out]``. No parameters.
    """

    name = "upsample"
    category = "Resampling"
    params = {
        "scale_factor": Float(None, min=0.0, optional=True,
                              doc=f"multiplier for every spatial size (may be fractional); null = {DEFAULT_FACTOR:g}"
                                  " unless size or a 'like' input gives the size"),
        "size": Ints(None, length=None, min=1, optional=True,
                     doc="fixed output size of the spatial axes ([L] or [H, W]); null = use scale_factor"),
        "mode": Choice("nearest", choices=("nearest", "linear", "bilinear", "bicubic"),
                       doc="nearest for any input; linear for [C, L]; bilinear or bicubic for [C, H, W]"),
        "align_corners": Bool(None, optional=True,
                              doc="align corner pixels (interpolating modes only); null = PyTorch's default, false"),
    }
    inputs = (Port("x", "tensor to resize, [C, L] or [C, H, W]"),
              Port("like", "optional: a tensor whose spatial size the output takes (values unused)", optional=True))
    key_params = ("scale_factor", "size", "mode")
    examples = (
        {"params": {}, "inputs": {"x": [4, 7, 9]}},
        {"params": {"scale_factor": 1.5, "mode": "linear", "align_corners": True}, "inputs": {"x": [3, 11]}},
        {"params": {"scale_factor": 3, "mode": "bilinear"}, "inputs": {"x": [2, 5, 4]}},
        {"params": {"size": [9, 6], "mode": "bilinear"}, "inputs": {"x": [2, 3, 3]}},
        {"params": {"mode": "bilinear", "align_corners": False}, "inputs": {"x": [8, 2, 2], "like": [4, 15, 15]}},
    )

    def check(self, p: Params) -> None:
        if p.scale_factor is not None and p.scale_factor <= 0:
            raise ParamError(f"scale_factor must be above 0, found {p.scale_factor}")
        if p.scale_factor is not None and p.size is not None:
            raise ParamError("give either scale_factor or size, not both")
        if p.align_corners is not None and p.mode == "nearest":
            raise ParamError("align_corners only applies to the interpolating modes"
                             " (linear, bilinear, bicubic); leave it null for mode 'nearest'")

    def infer(self, p: Params, x: Shape, like: Shape | None = None) -> Shape:
        ranks = _RANKS[p.mode]
        expect_rank(x, ranks, f"{_AXES[ranks]}, for mode '{p.mode}'")
        if like is not None:
            if p.scale_factor is not None or p.size is not None:
                raise ShapeError("takes its size from the 'like' input, so scale_factor and size must stay null")
            if len(like) != len(x):
                raise ShapeError(f"'like' must have as many dimensions as the input to take its spatial size:"
                                 f" input {format_shape(x)}, like {format_shape(like)}")
            return (x[0], *like[1:])
        if p.size is not None:
            if len(p.size) != len(x) - 1:
                raise ShapeError(f"size {format_shape(p.size)} gives {len(p.size)} spatial sizes, but input"
                                 f" {format_shape(x)} has {len(x) - 1} spatial axes")
            return (x[0], *p.size)
        factor = DEFAULT_FACTOR if p.scale_factor is None else p.scale_factor
        spatial = tuple(math.floor(n * factor) for n in x[1:])
        if any(n < 1 for n in spatial):
            raise ShapeError(f"scale_factor {factor} shrinks input {format_shape(x)} to nothing:"
                             f" output would be {format_shape((x[0], *spatial))}")
        return (x[0], *spatial)

    def build(self, p: Params, x: Shape, like: Shape | None = None) -> nn.Module:
        if like is not None:
            # constants, so that exports keep fixed sizes: whole factors where there are (ONNX
            # infers the shapes of a Resize by scales), else the size
            factors = [out / size for out, size in zip(like[1:], x[1:])]
            if all(f == int(f) for f in factors):
                return UpsampleLike(p.mode, p.align_corners, list(like[1:]), factors)
            return UpsampleLike(p.mode, p.align_corners, list(like[1:]))
        if p.size is not None:
            return nn.Upsample(size=tuple(p.size), mode=p.mode, align_corners=p.align_corners)
        factor = DEFAULT_FACTOR if p.scale_factor is None else p.scale_factor
        return nn.Upsample(scale_factor=factor, mode=p.mode, align_corners=p.align_corners)
