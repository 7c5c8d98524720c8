"""Train-time image augmentation, batched on tensors and reproducible from a generator.

The engine calls ``augment(batch, generator)`` on each training batch of input 0
(``[B, C, H, W]``, already normalized) on whatever device the batch is on; random numbers
come from ``generator`` (on its own device) so a run replays exactly from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def _draw_int(high: int, size: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randint(0, high, (size,), generator=generator, device=generator.device).to(device)


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2."""
    flip = _draw_int(2, len(x), generator, x.device).bool()
    return torch.where(flip.view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Each image padded by ``padding`` zeros (the mean, after normalization) on every side,
    then cropped back to its size at an offset drawn per image."""
    if padding <= 0:
        return x
    batch, _, height, width = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    top = _draw_int(2 * padding + 1, batch, generator, x.device)
    left = _draw_int(2 * padding + 1, batch, generator, x.device)
    rows = top[:, None] + torch.arange(height, device=x.device)  # [B, H]
    cols = left[:, None] + torch.arange(width, device=x.device)  # [B, W]
    picked = padded.permute(0, 2, 3, 1)[torch.arange(batch, device=x.device)[:, None, None],
                                        rows[:, :, None], cols[:, None, :]]  # [B, H, W, C]
    return picked.permute(0, 3, 1, 2).contiguous()


@dataclass(frozen=True)
class ImageAugment:
    """Random crop (with padding), then random horizontal flip. A plain picklable object,
    so it travels to DataLoader workers and DDP processes."""

    flip: bool = False
    crop: int = 0

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.crop:
            x = random_crop(x, self.crop, generator)
        if self.flip:
            x = random_flip(x, generator)
        return x

    def describe(self) -> str:
        parts = ([f"random crop (padding {self.crop})"] if self.crop else []) + (["horizontal flip"] if self.flip else [])
        return " + ".join(parts)


def make_augment(options: dict | None) -> ImageAugment | None:
    """The augmentation for ``{flip: ..., crop: ...}``, or None when it does nothing."""
    if not options or not (options.get("flip") or options.get("crop")):
        return None
    return ImageAugment(flip=bool(options.get("flip")), crop=int(options.get("crop") or 0))
