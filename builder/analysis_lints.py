"""Lints: graphs that check and compile but almost certainly do not compute what was meant.

Each rule reads a finished analysis (blocks, bound inputs, shapes) and returns warnings
(:class:`~builder.errors.Problem` with severity ``warning``); none raises and none stops
compilation. :func:`builder.analysis.analyze` runs them after its own checks, so
``modelbuilder check`` and the editor show them with the other problems.

* **conv1d after an embedding without a transpose.** An ``embedding`` gives one vector per
  time step, ``[T, E]``, but ``conv1d`` reads ``[channels, length]``: fed directly (or through
  blocks that keep the shape: dropout, activations, norms, positions ...) it takes the ``T``
  time steps as channels and slides along the ``E`` features, and still checks and trains.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from builder.analysis_types import NodeInfo
from builder.errors import Problem
from builder.graph import Graph, Ref

#: blocks that reorder axes: a path through one of them is no longer [time, features]
AXIS_MOVERS = frozenset({"transpose", "permute", "reshape"})


def lint(graph: Graph, infos: Mapping[str, NodeInfo]) -> list[Problem]:
    """Every lint warning for an analyzed graph, in file order."""
    problems: list[Problem] = []
    for node_id, info in infos.items():
        if info.ok and info.block is not None and info.block.name == "conv1d":
            problems.extend(_conv1d_after_embedding(graph, infos, node_id))
    return problems


def _shape(infos: Mapping[str, NodeInfo], ref: Ref):
    info = infos.get(ref.node)
    if info is None or not info.outputs:
        return None
    return info.outputs.get(ref.port) if ref.port else next(iter(info.outputs.values()))


def _inputs(info: NodeInfo) -> Iterable[Ref]:
    for refs in info.inputs.values():
        yield from refs


def _keeps_layout(infos: Mapping[str, NodeInfo], ref: Ref) -> bool:
    """True when the node behind ``ref`` passes its input's axes through unchanged: every
    input has the shape of that output and the block does not move axes."""
    info = infos[ref.node]
    if info.block is None or info.block.name in AXIS_MOVERS or not info.inputs:
        return False
    shape = _shape(infos, ref)
    return shape is not None and all(_shape(infos, r) == shape for r in _inputs(info))


def _find_embedding(infos: Mapping[str, NodeInfo], start: Ref) -> str | None:
    """The embedding node whose [T, E] output reaches ``start`` through layout-keeping
    nodes, or None."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        ref = stack.pop()
        if ref.node in seen or ref.node not in infos:
            continue
        seen.add(ref.node)
        info = infos[ref.node]
        if info.block is not None and info.block.name == "embedding":
            return ref.node
        if _keeps_layout(infos, ref):
            stack.extend(_inputs(info))
    return None


def _conv1d_after_embedding(graph: Graph, infos: Mapping[str, NodeInfo], node_id: str) -> list[Problem]:
    info = infos[node_id]
    refs = info.inputs.get("x", [])
    if not refs:
        return []
    feeder = refs[0]
    embedding = _find_embedding(infos, feeder)
    if embedding is None:
        return []
    shape = _shape(infos, feeder)
    if shape is None or len(shape) != 2:
        return []
    steps, features = shape
    via = "" if feeder.node == embedding else f" (through {feeder.node!r})"
    message = (f"conv1d slides along the embedding's features, not along time: {embedding!r}{via} gives"
               f" [T, E] = [{steps}, {features}] but conv1d reads [channels, length], so it takes the"
               f" {steps} time steps as channels and convolves over the {features} features")
    hint = (f"insert a transpose (dim0: 0, dim1: 1) between {str(feeder)!r} and {node_id!r} so that conv1d gets"
            f" [{features}, {steps}]: {features} channels over {steps} time steps")
    line, column = graph.where(node_id, "inputs")
    return [Problem(message, "warning", graph.path, line, column, node_id, None, hint)]
