"""Proving an import: the compiled graph, holding the imported weights, must give the
source model's outputs on the same random input. When it does not, the first node whose
value differs from the traced model's is named, so the report points at one layer."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import fx

TOLERANCE = 1e-5  # largest |difference|, relative to the outputs' size when they exceed 1


def flat_tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in flat_tensors(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in flat_tensors(item)]
    return []


def difference(expected: Sequence[torch.Tensor], found: Sequence[torch.Tensor]) -> float:
    """Largest |difference| over all outputs; inf when their number or shapes differ."""
    if len(expected) != len(found):
        return float("inf")
    worst = 0.0
    for a, b in zip(expected, found):
        if tuple(a.shape) != tuple(b.shape):
            return float("inf")
        if a.numel():
            worst = max(worst, (a.double() - b.double()).abs().max().item())
    return worst


def allowed(expected: Sequence[torch.Tensor]) -> float:
    """The tolerance for these outputs: TOLERANCE, scaled up for outputs larger than 1."""
    scale = max([1.0] + [t.abs().max().item() for t in expected if t.numel() and t.is_floating_point()])
    return TOLERANCE * scale


def _values(module: fx.GraphModule, inputs: Sequence[torch.Tensor], pick: Callable[[fx.Node], str | None]) -> dict:
    """``pick(node)``'s name -> that node's tensor result, for one run."""
    found: dict[str, torch.Tensor] = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n: fx.Node) -> Any:
            result = super().run_node(n)
            key = pick(n)
            if key is not None and isinstance(result, torch.Tensor):
                found[key] = result.detach().clone()  # an in-place layer later must not change it
            return result

    with torch.no_grad():
        Recorder(module).run(*inputs)
    return found


def first_difference(source: fx.GraphModule, compiled: fx.GraphModule, traced: dict[str, str],
                     order: list[str], inputs: Sequence[torch.Tensor]) -> tuple[str, float] | None:
    """The first graph node (in ``order``) whose output differs from the traced model's
    node it was mapped from, with the difference."""
    wanted = set(traced.values())
    original = _values(source, inputs, lambda n: n.name if n.name in wanted else None)

    # each node of the compiled graph is a submodule (an input a placeholder) named by its id
    mine = _values(compiled, inputs, lambda n: str(n.target) if n.op in ("call_module", "placeholder") else None)
    for node_id in order:
        if node_id not in traced or node_id not in mine or traced[node_id] not in original:
            continue
        expected, found = original[traced[node_id]], mine[node_id]
        gap = difference([expected], [found])
        if gap > allowed([expected]):
            return node_id, gap
    return None
