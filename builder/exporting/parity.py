"""Checks that an exported model computes what the compiled one does."""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from builder.exporting.errors import ExportError
from builder.exporting.trained import PortInfo

TOLERANCE = 1e-4


def example_inputs(inputs: Sequence[PortInfo], batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs for every model input: floats ~ N(0, 1); integer token ids 0 or 1
    (valid for any vocabulary)."""
    generator = torch.Generator().manual_seed(seed)
    made = []
    for port in inputs:
        shape = (batch, *port.shape)
        if port.dtype.startswith("int"):
            made.append(torch.randint(0, 2, shape, generator=generator, dtype=torch.int64))
        else:
            made.append(torch.randn(shape, generator=generator))
    return tuple(made)


def as_tuple(outputs) -> tuple[torch.Tensor, ...]:
    if isinstance(outputs, torch.Tensor):
        return (outputs,)
    if isinstance(outputs, dict):
        return tuple(outputs.values())
    return tuple(outputs)


def max_difference(reference, candidate) -> float:
    """Largest absolute difference between two models' outputs (tensors, tuples, dicts)."""
    expected, found = as_tuple(reference), as_tuple(candidate)
    if len(expected) != len(found):
        return float("inf")
    worst = 0.0
    for a, b in zip(expected, found, strict=True):
        b = torch.as_tensor(b)
        if tuple(a.shape) != tuple(b.shape):
            return float("inf")
        worst = max(worst, (a.detach().float() - b.detach().float()).abs().max().item() if a.numel() else 0.0)
    return worst


def check_parity(reference: torch.nn.Module, run: Callable[..., object], inputs: Sequence[PortInfo],
                 what: str, tolerance: float = TOLERANCE) -> float:
    """Run both on the same random batch; ExportError if they differ by more than
    ``tolerance``. Returns the max abs difference."""
    batch = example_inputs(inputs)
    with torch.no_grad():
        expected = reference(*batch)
        found = run(*batch)
    difference = max_difference(expected, found)
    if not difference <= tolerance:
        raise ExportError(f"{what} does not compute what the model does: outputs differ by {difference:.3g} "
                          f"(allowed {tolerance:g})")
    return difference
