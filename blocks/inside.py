"""Writing the inside of a built-in composite block (:meth:`blocks.spec.Block.inside`).

A composite block's ``inside`` returns a graph mapping in the file format's structure;
:class:`InsideGraph` writes it node by node, so that the residual, inception and
squeeze-and-excitation blocks read like the forward pass they describe::

    g = InsideGraph("residual", "...", x=(64, 56, 56))
    g.add("conv1", "conv2d", "x", out_channels=64, kernel_size=3, padding=1, bias=False)
    g.add("bn1", "batch_norm2d", "conv1")
    return g.finish("bn1")

This module declares no block; it only helps the ones that have an inside.
"""

from __future__ import annotations

from typing import Any

from blocks.spec import Shape


class InsideGraph:
    """A graph mapping under construction: input nodes named after the block's input
    ports, then the nodes added in order, then one output node ``out``."""

    def __init__(self, name: str, description: str, **inputs: Shape):
        self.name = name
        self.description = description
        self.nodes: dict[str, dict[str, Any]] = {}
        for port, shape in inputs.items():
            self.nodes[port] = {"block": "input", "params": {"shape": [int(d) for d in shape]}}

    def add(self, node_id: str, block: str, *inputs: str, **params: Any) -> str:
        """Add node ``node_id`` of ``block`` fed by ``inputs`` (node ids); returns its id,
        so that the next node can take it as input."""
        if node_id in self.nodes:
            raise ValueError(f"node {node_id!r} is already in the inside of {self.name}")
        node: dict[str, Any] = {"block": block}
        if params:
            node["params"] = dict(params)
        node["inputs"] = list(inputs)
        self.nodes[node_id] = node
        return node_id

    def finish(self, result: str, output: str = "out") -> dict[str, Any]:
        """The mapping, with an output node ``output`` that returns ``result``."""
        self.nodes[output] = {"block": "output", "inputs": [result]}
        return {"format": 1, "name": self.name, "description": self.description, "nodes": self.nodes}
