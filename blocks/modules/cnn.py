"""Modules for the composite CNN blocks: residual blocks, Inception, squeeze-and-excitation.

The layouts follow the reference implementations exactly, so that parameter counts match
torchvision's ``BasicBlock``/``Bottleneck``/``Inception`` and timm's ``SEModule``:

* ``ResidualBasic`` and ``ResidualBottleneck`` register ``conv1, bn1, conv2, bn2[, conv3,
  bn3]`` in torchvision's order; the projection shortcut is called ``shortcut`` (``conv``,
  ``bn``) where torchvision says ``downsample`` (``0``, ``1``), and the optional
  squeeze-and-excitation module is ``se`` (``fc1``, ``fc2``) as in timm.
* ``InceptionModule`` names its four branches after what they compute (``branch1x1``,
  ``branch3x3``, ``branch5x5``, ``branch_pool``) where torchvision says ``branch1`` to
  ``branch4``; the registration order is the same, so state dicts line up one to one.

Every ``forward`` is straight-line code (no data-dependent ``if``), so the modules script
with ``torch.jit.script`` and trace with ``torch.fx``. Optional parts (shortcut, SE, batch
norm) are ``nn.Identity`` when absent rather than ``None`` checks in ``forward``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from blocks.choices import ACTIVATIONS, se_channels  # noqa: F401 (ACTIVATIONS: re-exported)
from blocks.modules.arguments import keeps_arguments



def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of ``ACTIVATIONS``)."""
    if name == "relu":
        return nn.ReLU()
    if name == "silu":
        return nn.SiLU()
    if name == "gelu":
        return nn.GELU()
    raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}")


def make_gate(name: str) -> nn.Module:
    """The squeeze-and-excitation gate: ``sigmoid`` (SENet) or ``hard_sigmoid`` (MobileNetV3)."""
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "hard_sigmoid":
        return nn.Hardsigmoid()
    raise ValueError(f"unknown gate {name!r}; expected 'sigmoid' or 'hard_sigmoid'")


@keeps_arguments
class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018), laid out like timm's ``SEModule``.

    ``x * gate(fc2(act(fc1(mean_hw(x)))))`` with ``fc1``/``fc2`` 1x1 convolutions with bias:
    ``channels -> rd_channels -> channels``. Parameters: ``2*C*rd + rd + C``.
    """

    def __init__(self, channels: int, rd_channels: int, gate: str = "sigmoid") -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, rd_channels, kernel_size=1, bias=True)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(rd_channels, channels, kernel_size=1, bias=True)
        self.gate = make_gate(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)  # squeeze: one number per channel
        s = self.fc2(self.act(self.fc1(s)))  # excitation: a tiny bottleneck MLP
        return x * self.gate(s)  # rescale each channel by a weight in (0, 1)


@keeps_arguments
class Projection(nn.Module):
    """The projection shortcut of a residual block: 1x1 convolution (stride, no bias) + BN.

    torchvision calls it ``downsample`` and builds it as ``Sequential(conv, bn)``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Identity when shapes already match, otherwise a projection (ResNet's option B)."""
    if stride != 1 or in_channels != out_channels:
        return Projection(in_channels, out_channels, stride)
    return nn.Identity()


def _se(channels: int, reduction: int) -> nn.Module:
    if reduction <= 0:
        return nn.Identity()
    return SqueezeExcitation(channels, se_channels(channels, reduction))


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)


@keeps_arguments
class ResidualBasic(nn.Module):
    """ResNet's basic block (He et al., 2016), as torchvision's ``BasicBlock``.

    ``act(bn2(conv2(act(bn1(conv1(x))))) [* se] + shortcut(x))`` with two 3x3 convolutions;
    the first carries the stride.
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1, se_reduction: int = 0,
                 activation: str = "relu") -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.se = _se(channels, se_reduction)
        self.shortcut = _shortcut(in_channels, channels, stride)
        self.act = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.act(out + self.shortcut(x))


@keeps_arguments
class ResidualBottleneck(nn.Module):
    """ResNet's bottleneck block, as torchvision's ``Bottleneck`` ("ResNet v1.5").

    1x1 (reduce to ``channels``) -> 3x3 (carries the stride) -> 1x1 (expand to
    ``channels * expansion``), each followed by batch norm, then ``+ shortcut(x)``.
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1, expansion: int = 4,
                 se_reduction: int = 0, activation: str = "relu") -> None:
        super().__init__()
        out_channels = channels * expansion
        self.conv1 = _conv1x1(in_channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _conv3x3(channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = _conv1x1(channels, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.se = _se(out_channels, se_reduction)
        self.shortcut = _shortcut(in_channels, out_channels, stride)
        self.act = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.act(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        return self.act(out + self.shortcut(x))


@keeps_arguments
class ConvNormAct(nn.Module):
    """Convolution -> batch norm -> ReLU, torchvision's ``BasicConv2d`` (BN eps 0.001).

    Without batch norm the convolution has a bias and ``bn`` is an identity (the 2014
    GoogLeNet, which predates batch normalization).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, batch_norm: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                              bias=not batch_norm)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001) if batch_norm else nn.Identity()
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


@keeps_arguments
class InceptionModule(nn.Module):
    """The GoogLeNet Inception module (Szegedy et al., 2015) with dimension reductions.

    Four parallel branches, concatenated along channels: 1x1; 1x1 -> 3x3; 1x1 -> 5x5 (or
    3x3, see ``branch5x5_kernel``); 3x3 max pool (stride 1) -> 1x1 projection.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3_reduce: int, ch3x3: int,
                 ch5x5_reduce: int, ch5x5: int, pool_proj: int, branch5x5_kernel: int = 5,
                 batch_norm: bool = True) -> None:
        super().__init__()
        self.branch1x1 = ConvNormAct(in_channels, ch1x1, 1, batch_norm)
        self.branch3x3 = nn.Sequential(OrderedDict(
            reduce=ConvNormAct(in_channels, ch3x3_reduce, 1, batch_norm),
            conv=ConvNormAct(ch3x3_reduce, ch3x3, 3, batch_norm),
        ))
        self.branch5x5 = nn.Sequential(OrderedDict(
            reduce=ConvNormAct(in_channels, ch5x5_reduce, 1, batch_norm),
            conv=ConvNormAct(ch5x5_reduce, ch5x5, branch5x5_kernel, batch_norm),
        ))
        self.branch_pool = nn.Sequential(OrderedDict(
            pool=nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            proj=ConvNormAct(in_channels, pool_proj, 1, batch_norm),
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x), self.branch3x3(x), self.branch5x5(x), self.branch_pool(x)], 1)


class GlobalAvgPoolModule(nn.Module):
    """Mean over every axis after the channel axis: ``[N, C, ...] -> [N, C]``."""

    def __init__(self, spatial_dims: int):
        super().__init__()
        self.dims: List[int] = list(range(2, 2 + spatial_dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


@keeps_arguments
class UpsampleLike(nn.Module):
    """Interpolates ``x`` to the spatial size of ``like`` (only its shape is read), as
    ``F.interpolate(x, size=like.shape[2:])``. Where the sizes are known when the graph is
    built, ``scale`` (whole factors from ``x``'s size to ``like``'s) or ``size`` (``like``'s
    size) are used instead: the same output, and an exported model (ONNX, TorchScript)
    keeps fixed spatial sizes rather than reading them at run time."""

    def __init__(self, mode: str = "nearest", align_corners: Optional[bool] = None,
                 size: Optional[List[int]] = None, scale: Optional[List[float]] = None):
        super().__init__()
        self.mode = mode
        self.align_corners = align_corners
        self.size: Optional[List[int]] = [int(n) for n in size] if size is not None else None
        self.scale: Optional[List[float]] = [float(f) for f in scale] if scale is not None else None

    def forward(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        if self.scale is not None:
            return F.interpolate(x, scale_factor=self.scale, mode=self.mode, align_corners=self.align_corners)
        size = self.size if self.size is not None else list(like.shape[2:])
        return F.interpolate(x, size=size, mode=self.mode, align_corners=self.align_corners)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, align_corners={self.align_corners}"


@keeps_arguments
class MaxUnpool(nn.Module):
    """Inverse of max pooling: each value of ``x`` goes back to the position ``indices`` says
    its maximum came from (as max pooling returns them: per channel, into the flattened
    plane of the pooling's input), zeros everywhere else; ``output_size`` is that plane's
    spatial size. Computes what ``nn.MaxUnpool1d``/``nn.MaxUnpool2d`` do, written as one
    scatter so that it also exports to ONNX (torch's exporter has no rule for max_unpool)."""

    def __init__(self, output_size: List[int]):
        super().__init__()
        self.output_size = [int(n) for n in output_size]
        self.plane = int(math.prod(self.output_size))

    def forward(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        batch, channels = x.size(0), x.size(1)
        out = x.new_zeros([batch, channels, self.plane])
        out = out.scatter(2, indices.flatten(2), x.flatten(2))
        return out.reshape([batch, channels] + self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
