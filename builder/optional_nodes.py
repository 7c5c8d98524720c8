"""Optional nodes: ``enabled: false`` leaves a node out of the graph.

A node switched off is removed, and every reference to it is replaced by its first input
(the first reference under its ``inputs``), which may itself lead through switched-off
nodes. So a switched-off ``conv -> batch_norm`` projection makes its consumer take the
projection's input: a residual part with and without its projection shortcut is one file.
A part file exposes the switch like a parameter, naming ``node.enabled`` as the target::

    expose:
      project: [proj.enabled, proj_bn.enabled]     # a true/false parameter of the part
    nodes:
      proj: {block: conv2d, params: {...}, inputs: [x], enabled: false}

An exposed switch takes its default from the first node it names. What cannot be switched
off, each a problem naming the node: input and output nodes, a node without inputs (it has
nothing to pass on), and a node whose output is taken by port (``lstm.hidden``): only its
first output is replaced by its input.

The analysis runs on the graph without its switched-off nodes (:func:`active_graph`) and
reports them with the shape they pass on and no cost (:func:`analyze_switched`); a
composite block switches its inner graph per use (``builder/composite.py``).
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

from blocks import UnknownBlockError, get_block
from builder.analysis_types import INPUT_BLOCK, OUTPUT_BLOCK, Analysis, NodeInfo
from builder.errors import Problem
from builder.graph import ENABLED_KEY, Graph, Ref

HINT = "enabled: false leaves a node out and gives its consumers its first input instead"


def switched(graph: Graph, values: Mapping[str, bool]) -> Graph:
    """``graph`` with the nodes in ``values`` switched on or off (a shallow copy; ``graph``
    itself when nothing changes)."""
    changes = {n: v for n, v in values.items() if n in graph.nodes and graph.nodes[n].enabled != v}
    if not changes:
        return graph
    result = copy.copy(graph)
    result.nodes = dict(graph.nodes)
    for node_id, value in changes.items():
        result.nodes[node_id] = copy.copy(graph.nodes[node_id])
        result.nodes[node_id].enabled = value
    return result


def active_graph(graph: Graph) -> tuple[Graph, dict[str, Ref | None], list[tuple[str, str, str]]]:
    """``graph`` without its switched-off nodes, their consumers rewired (a copy; ``graph``
    itself when every node is on); what each switched-off node passes on (None: nothing);
    and the problems found, as (node, message, key)."""
    off = [n for n in graph.nodes.values() if not n.enabled]
    if not off:
        return graph, {}, []
    problems: list[tuple[str, str, str]] = []
    passes: dict[str, Ref] = {}
    ids = {n.id for n in off}
    by_port = [(n.id, r) for n in graph.nodes.values() for r in n.references() if r.port and r.node in ids]
    for consumer, ref in by_port:
        problems.append((consumer, f"takes {str(ref)!r}, but {ref.node!r} is switched off and only its first "
                         "output can be replaced by its input", "inputs"))
    kept = {ref.node for _, ref in by_port}
    for node in off:  # one that cannot be switched off stays in, with a problem
        if node.id in kept:
            continue
        if node.block in (INPUT_BLOCK, OUTPUT_BLOCK):
            problems.append((node.id, f"an {node.block} node cannot be switched off", ENABLED_KEY))
        elif not node.references():
            problems.append((node.id, "a node without inputs cannot be switched off: it has nothing to pass on",
                             ENABLED_KEY))
        else:
            passes[node.id] = node.references()[0]

    def through(ref: Ref, seen: tuple[str, ...] = ()) -> Ref | None:
        while ref.node in passes:
            if ref.node in seen:
                return None  # switched-off nodes feeding each other: the cycle is reported as usual
            seen += (ref.node,)
            ref = passes[ref.node]
        return ref

    result = copy.copy(graph)
    result.nodes = {}
    for node_id, node in graph.nodes.items():
        if node_id in passes:
            continue
        if any(r.node in passes for r in node.references()):
            node = copy.copy(node)
            node.inputs = _rewire(node, through, passes)
        result.nodes[node_id] = node
    return result, {k: through(v) for k, v in passes.items()}, problems


def _rewire(node: Any, through: Callable, passes: dict) -> Any:
    def change(text: str) -> str:
        ref = Ref.parse(text)
        if ref.node not in passes:
            return text
        target = through(ref)
        return str(target) if target is not None else text

    if isinstance(node.inputs, dict):
        return {port: [change(t) for t in refs] if isinstance(refs, list) else change(refs)
                for port, refs in node.inputs.items()}
    return [change(t) for t in node.inputs]


def analyze_switched(graph: Graph, run: Callable[[Graph], Analysis]) -> Analysis:
    """``run`` (the analysis) on ``graph`` without its switched-off nodes; the result
    describes ``graph`` itself: a switched-off node is listed with the shape it passes on,
    no cost, and no place in the order (the compiled model leaves it out)."""
    active, passes, found = active_graph(graph)
    if active is graph:
        return run(graph)
    result = run(active)
    result.graph = graph
    for node_id, ref in passes.items():
        info = NodeInfo(node_id)
        block_name = graph.nodes[node_id].block
        try:  # (its ports, for the editor's wires; a composite's file is not read for a node left out)
            info.block = get_block(block_name) if block_name is not None else None
        except UnknownBlockError:
            pass
        source = result.nodes.get(ref.node) if ref is not None else None
        if source is not None and source.ok:
            info.outputs = {"out": result.shape_of(ref)}
            info.dtype, info.ok = source.dtype, True
        result.nodes[node_id] = info
    result.nodes = {node_id: result.nodes[node_id] for node_id in graph.nodes}  # file order
    for node_id, message, key in found:
        line, column = graph.where(node_id, key)
        result.problems.append(Problem(message, "error", graph.path, line, column, node_id, hint=HINT))
    return result
