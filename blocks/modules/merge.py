"""The merge blocks' modules: sums, products and concatenations of several tensors.

A variadic input port reaches the module as one list of tensors (``forward(self, xs)``),
which TorchScript, torch.fx, torch.compile and ONNX export all handle; ``*xs`` would not
script.
"""

from __future__ import annotations

from typing import List

import torch
from torch import nn


class AddModule(nn.Module):
    """Element-wise sum of the inputs (all of the same shape)."""

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class MultiplyModule(nn.Module):
    """Element-wise product of the inputs (of the same shape, or broadcastable)."""

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class ConcatModule(nn.Module):
    """Concatenation of the inputs along ``dim`` (an axis of the batched tensor)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
