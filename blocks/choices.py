"""Names and sizes that block declarations and their torch modules share.

Kept apart from :mod:`blocks.modules` (which imports torch) so that declaring and checking
a block never imports torch; the modules import them from here, so each is written once.
"""

from __future__ import annotations

ACTIVATIONS = ("relu", "silu", "gelu")  # the activations of the CNN building blocks
GATES = ("sigmoid", "hard_sigmoid")  # squeeze-and-excitation's gate


def se_channels(channels: int, reduction: int) -> int:
    """Width of the SE bottleneck: ``channels // reduction``, at least 1."""
    return max(1, channels // reduction)
