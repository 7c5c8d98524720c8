"""Modules of the tensor blocks: axes reordered, reshaped, dropped, added, indexed.

Their arguments are axes of the *batched* tensor (axis 0 is the batch), as in
``torch.permute`` and ``nn.Flatten``; the block declarations translate the per-sample axes a
graph file uses. Nothing here has weights. Each records its constructor arguments
(``@keeps_arguments``) and works with ``torch.jit.script``, ``torch.fx`` and ONNX export.
"""

from __future__ import annotations

from typing import List, Optional

from torch import Tensor, nn

from blocks.modules.arguments import keeps_arguments


@keeps_arguments
class Permute(nn.Module):
    """``x.permute(order)``; ``order`` starts with 0 (the batch axis stays first)."""

    def __init__(self, order: List[int]):
        super().__init__()
        self.order = [int(d) for d in order]

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(self.order)

    def extra_repr(self) -> str:
        return f"order={self.order}"


@keeps_arguments
class Transpose(nn.Module):
    """``x.transpose(dim0, dim1)``: swaps two axes."""

    def __init__(self, dim0: int, dim1: int):
        super().__init__()
        self.dim0 = dim0
        self.dim1 = dim1

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(self.dim0, self.dim1)

    def extra_repr(self) -> str:
        return f"dim0={self.dim0}, dim1={self.dim1}"


@keeps_arguments
class Reshape(nn.Module):
    """``x.reshape(batch, *shape)``: ``shape`` is per sample and may hold one -1."""

    def __init__(self, shape: List[int]):
        super().__init__()
        self.shape = [int(d) for d in shape]

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape([x.size(0)] + self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


@keeps_arguments
class Squeeze(nn.Module):
    """``x.squeeze(dim)``: drops an axis of size 1."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.squeeze(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


@keeps_arguments
class Unsqueeze(nn.Module):
    """``x.unsqueeze(dim)``: inserts an axis of size 1."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.unsqueeze(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


@keeps_arguments
class Select(nn.Module):
    """``x.select(dim, index)``: one position along an axis, which disappears."""

    def __init__(self, dim: int, index: int):
        super().__init__()
        self.dim = dim
        self.index = index

    def forward(self, x: Tensor) -> Tensor:
        return x.select(self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={self.index}"


@keeps_arguments
class Slice(nn.Module):
    """``x[..., start:stop:step, ...]`` along axis ``dim`` (``stop`` None: to the end).

    The axis is moved to the front, sliced and moved back: TorchScript cannot build an
    indexing tuple whose length depends on ``dim``, and both moves are views.
    """

    def __init__(self, dim: int, start: int = 0, stop: Optional[int] = None, step: int = 1):
        super().__init__()
        self.dim = dim
        self.start = start
        self.stop = stop
        self.step = step

    def forward(self, x: Tensor) -> Tensor:
        moved = x.movedim(self.dim, 0)
        stop = self.stop
        if stop is None:
            moved = moved[self.start::self.step]
        else:
            moved = moved[self.start:stop:self.step]
        return moved.movedim(0, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}, stop={self.stop}, step={self.step}"
