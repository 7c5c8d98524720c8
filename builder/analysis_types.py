"""What the analysis works out, and the names its users share: the block names of input and
output nodes, each node's :class:`NodeInfo`, the whole :class:`Analysis`, and
:class:`CompositeProblem` (why a graph file cannot be used as a block).

A leaf module: :mod:`builder.analysis` (which fills these in), :mod:`builder.composite`
(whose blocks analyze their inner graphs) and the compiler all import it, and it imports
none of them, so they do not import each other for their types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from blocks import Block, Cost, Params, Shape
from builder.errors import HintedError, Problem
from builder.graph import Graph, Ref

INPUT_BLOCK = "input"
OUTPUT_BLOCK = "output"


@dataclass
class NodeInfo:
    """What the analysis learned about one node."""

    id: str
    block: Block | None = None
    params: Params | None = None
    inputs: dict[str, list[Ref]] = field(default_factory=dict)  # port -> references, bound
    input_shapes: dict[str, Any] = field(default_factory=dict)  # port -> shape (list for variadic)
    outputs: dict[str, Shape] = field(default_factory=dict)  # port -> shape
    dtype: str = "float32"
    cost: Cost = field(default_factory=Cost)
    ok: bool = False  # False when the node or something upstream of it has an error

    @property
    def shape(self) -> Shape | None:
        """The node's main shape: its first output, or for an output node what it returns."""
        if self.outputs:
            return next(iter(self.outputs.values()))
        if self.input_shapes:
            first = next(iter(self.input_shapes.values()))
            return first if isinstance(first, tuple) else None
        return None


@dataclass
class Analysis:
    """The result of :func:`analyze`: per-node information, problems and totals."""

    graph: Graph
    nodes: dict[str, NodeInfo]
    order: list[str]  # a topological order (file order where the data flow allows)
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total(self) -> Cost:
        total = Cost()
        for info in self.nodes.values():
            total = total + info.cost
        return total

    @property
    def input_ids(self) -> list[str]:
        return [n.id for n in self.graph.nodes.values() if n.block == INPUT_BLOCK]

    @property
    def output_ids(self) -> list[str]:
        return [n.id for n in self.graph.nodes.values() if n.block == OUTPUT_BLOCK]

    def shape_of(self, ref: Ref) -> Shape | None:
        info = self.nodes.get(ref.node)
        if info is None or not info.outputs:
            return None
        return info.outputs.get(ref.port) if ref.port else next(iter(info.outputs.values()))

    def to_networkx(self) -> Any:
        """The graph as a ``networkx.DiGraph`` for your own analyses: each node with its
        ``block``, checked ``params``, output ``shape``, ``parameters`` and ``macs``; each
        edge from the node whose output is taken, with the ``port`` it feeds
        (``builder.to_networkx(graph)`` analyzes and converts in one call)."""
        from builder.flow import annotated

        return annotated(self)

    def problems_for(self, node_id: str) -> list[Problem]:
        # indexed once (the editor asks for every node: a scan each was quadratic), and
        # again should the list have grown
        index = self.__dict__.get("_by_node")
        if index is None or index[0] != len(self.problems):
            by_node: dict[str | None, list[Problem]] = {}
            for problem in self.problems:
                by_node.setdefault(problem.node, []).append(problem)
            index = self.__dict__["_by_node"] = (len(self.problems), by_node)
        return list(index[1].get(node_id, ()))



class CompositeProblem(HintedError):
    """A graph file used as a block that cannot be used (missing, invalid, recursive)."""

    HINT_IN_TEXT = False  # becomes a Problem, whose hint is shown on its own
