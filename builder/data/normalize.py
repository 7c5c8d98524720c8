"""Standardization: statistics from the training split, applied to every split and recorded.

The record (``TaskData.normalization``) is what export and predict need to feed new data
the same way: ``(x - mean) / std``, with ``mean`` and ``std`` indexed along one dimension
of the per-sample ``shape`` (``dim``; ``None`` means one value for the whole sample).
"""

from __future__ import annotations

import torch


def stats_dim(shape: tuple[int, ...], images: bool) -> int | None:
    """Which per-sample dimension gets its own statistics: channels of ``[C, H, W]``,
    features (the last dimension) of tables and sequences, one value for flat images."""
    if len(shape) == 3:
        return 0
    if images or not shape:
        return None
    return len(shape) - 1


def fit_normalization(x: torch.Tensor, node: str, images: bool, scale: float = 1.0) -> dict:
    """Mean and std of ``x`` (``[N, *shape]``, the training split) per ``stats_dim``."""
    dim = stats_dim(tuple(x.shape[1:]), images)
    flat = x.double()
    if dim is None:
        values = flat.reshape(1, -1)
    else:
        values = flat.movedim(dim + 1, 0).reshape(x.shape[dim + 1], -1)
    mean = values.mean(dim=1)
    std = values.std(dim=1, unbiased=False)
    std = torch.where(std < 1e-6, torch.ones_like(std), std)  # a constant feature stays as it is
    return {"input": node, "shape": list(x.shape[1:]), "scale": scale, "dim": dim,
            "mean": [round(float(v), 6) for v in mean], "std": [round(float(v), 6) for v in std]}


def apply_normalization(x: torch.Tensor, normalization: dict) -> torch.Tensor:
    """``(x - mean) / std`` for a batch ``[B, *shape]`` or a single sample ``[*shape]``."""
    mean = torch.tensor(normalization["mean"], dtype=x.dtype, device=x.device)
    std = torch.tensor(normalization["std"], dtype=x.dtype, device=x.device)
    dim = normalization.get("dim")
    if dim is not None:
        # broadcast from the right: the per-sample dims after ``dim`` get size 1
        trailing = len(normalization["shape"]) - dim - 1
        mean = mean.reshape((-1,) + (1,) * trailing)
        std = std.reshape((-1,) + (1,) * trailing)
    return (x - mean) / std

