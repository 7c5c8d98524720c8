"""Which blocks fit a given output: the choices offered when a wire is dropped in empty space.

Plain model logic (no widgets): it reads the document's analysis and asks
``builder.analyze`` about trial graphs, so the answer always agrees with the checks that
run once the node is really added.
"""

from __future__ import annotations

from dataclasses import replace

from blocks import Block, all_blocks
from builder import Graph, Node, Ref, analyze, dtypes_fit, output_dtype
from gui.document import GraphDocument, starter_params
from gui.wiring_rules import with_upstream

_SOURCE_ID = "fit_source"


def fitting_blocks(document: GraphDocument, source_ref: str) -> list[str]:
    """The registered blocks that a new node (with :func:`gui.document.starter_params`)
    fed by ``source_ref`` (``node`` or ``node.port``) would accept, in palette order
    (category, then name). Blocks without inputs (``input``) never fit; ``output`` always
    does. A merge block (add, concat, multiply) fits when it would accept the source
    together with an equal partner. Where the source's shape is unknown (it has a problem
    itself) only the dtype is checked. An unknown node or port, or a node without
    outputs, gives an empty list."""
    ref = Ref.parse(source_ref)
    analysis = document.analysis
    info = analysis.nodes.get(ref.node)
    if info is None or info.block is None or not info.block.outputs:
        return []
    if ref.port is not None and info.block.port(ref.port, output=True) is None:
        return []
    dtype = output_dtype(info.block, info.dtype, ref.port)  # what the analysis compares with a port's
    candidates = [b for b in all_blocks() if b.inputs and dtypes_fit(b.inputs[0].dtype, dtype)]
    shape = analysis.shape_of(ref) if info.ok else None
    if shape is None:
        return [b.name for b in candidates]
    if shape and min(shape) >= 1:
        # A lone input node with the source's shape stands in for everything upstream:
        # the shape rules see the same tensor, and the trial stays a few nodes small.
        source = Node(_SOURCE_ID, block="input", params={"shape": list(shape), "dtype": dtype})
        trial = Graph(nodes={_SOURCE_ID: source, **_trial_nodes(candidates, _SOURCE_ID)})
    else:  # a shape an input node cannot declare (a scalar): keep the real upstream nodes
        upstream = with_upstream(document.graph.nodes, ref.node)
        trial = replace(document.graph, nodes={**upstream, **_trial_nodes(candidates, str(ref))}, layout=None)
    result = analyze(trial)
    # a node with another input still open (max_unpool2d's indices) never reaches its shape
    # rule; the document's connection check lets such a wire be made, so it fits here too
    trials = [result.nodes[_trial_id(b)] for b in candidates]
    return [b.name for b, info in zip(candidates, trials) if info.ok or not info.input_shapes]


def _trial_id(block: Block) -> str:
    return f"fit_{block.name}"


def _trial_nodes(candidates: list[Block], source_ref: str) -> dict[str, Node]:
    """One new node per candidate, all fed by ``source_ref``; independent of each other, so
    that a single analysis answers for all of them."""
    nodes = {}
    for block in candidates:
        port = block.inputs[0]
        # a merge block needs its partners before its shape rule runs: equal copies of
        # the source stand in for them (any tensor fits an add with itself)
        refs = [source_ref] * (port.min_count if port.variadic else 1)
        node_id = _trial_id(block)
        nodes[node_id] = Node(node_id, block=block.name, params=starter_params(block.name), inputs={port.name: refs})
    return nodes
