"""``builder.to_networkx(graph)``: check a graph and give it as a ``networkx.DiGraph`` with
each node's block, parameters, shape, parameter count and MACs (README, "In Python")."""

from __future__ import annotations

from typing import Any

from builder.analysis import analyze
from builder.graph import Graph


def to_networkx(graph: Graph) -> Any:
    """``analyze(graph).to_networkx()``."""
    return analyze(graph).to_networkx()
