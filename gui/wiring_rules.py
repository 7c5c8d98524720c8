"""Which wires may be made, and the wires a graph has: plain Python on a graph and its
analysis, no Qt (the document asks these questions for the canvas and the inspector).

The rules come from the engine where it has them as functions: references are bound to
ports as the analysis binds them (``builder.assign_to_ports``, through
:func:`gui.wiring.bind`), ports are looked up in the block declarations
(``Block.port``), a cycle is found in the data flow (``builder.data_flow``,
``builder.flow_path``), the nodes a shape check needs are the target's upstream
(``builder.upstream_nodes``), and a shape error is the one ``builder.analyze`` reports for
the graph with the wire made. The port and dtype rules are the analysis' own
(``builder.output_problem``, ``builder.input_port_problem``, ``builder.dtype_problem``,
from ``builder/connection_rules.py``): a refusal says, with the same words, what the
analysis would report once the wire is made.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Union

from blocks import Block
from builder import (
    Analysis,
    Graph,
    Node,
    Ref,
    analyze,
    data_flow,
    dtype_problem,
    flow_path,
    input_port_problem,
    output_dtype,
    output_problem,
    upstream_nodes,
)
from gui.edits import YES, Verdict, refuse
from gui.wiring import Bound, bind, drop_refs, encode
from gui.wording import app_hint, app_message


@dataclass(frozen=True)
class Wire:
    """One input reference drawn as a wire: output ``source_port`` of node ``source``
    into input ``target_port`` of node ``target``. A port is None where it cannot be known
    (an unknown block; inputs that do not fit the target's ports). ``ref`` is the reference
    text as written (``encoder`` for the first output, ``encoder.hidden``)."""

    source: str
    source_port: Optional[str]
    target: str
    target_port: Optional[str]
    ref: str


@dataclass(frozen=True)
class Connection:
    """A wire that may be made: the input port it goes into and the target node with it."""

    verdict: Verdict
    port: str
    node: Node


def block_of(analysis: Analysis, node_id: str) -> Optional[Block]:
    """The node's block declaration (also for composite graph nodes); None if unknown."""
    info = analysis.nodes.get(node_id)
    return info.block if info is not None else None


def bound_inputs(graph: Graph, analysis: Analysis, node_id: str) -> Optional[Bound]:
    """Reference texts per input port; None when the block is unknown or the inputs do
    not fit its ports."""
    block = block_of(analysis, node_id)
    return bind(graph.nodes[node_id].inputs, tuple(block.inputs)) if block is not None else None


def first_output(block: Optional[Block]) -> Optional[str]:
    """The name of the block's first output port (what ``node`` without a port means)."""
    return block.outputs[0].name if block is not None and block.outputs else None


def output_key(analysis: Analysis, ref: Ref) -> tuple[str, Optional[str]]:
    """(node, output port) with the first output spelled out: ``lstm`` == ``lstm.out``."""
    return ref.node, ref.port or first_output(block_of(analysis, ref.node))


def wires(graph: Graph, analysis: Analysis, node_id: Optional[str] = None) -> list[Wire]:
    """Every wire in the graph, or those into ``node_id``; references to missing nodes
    are left out (the analysis reports them on the node)."""
    ids = [node_id] if node_id is not None else list(graph.nodes)
    found = []
    for target in ids:
        bound = bound_inputs(graph, analysis, target)
        if bound is None:
            pairs = [(None, str(r)) for r in graph.nodes[target].references()]
        else:
            pairs = [(port, text) for port, refs in bound.items() for text in refs]
        for port, text in pairs:
            ref = Ref.parse(text)
            if ref.node in graph.nodes:
                source_port = ref.port or first_output(block_of(analysis, ref.node))
                found.append(Wire(ref.node, source_port, target, port, text))
    return found


def plan_connection(graph: Graph, analysis: Analysis, source_ref: str, target_id: str,
                    port: Optional[str]) -> Union[Verdict, Connection]:
    """A refusal, or the :class:`Connection` that feeds ``source_ref`` into input ``port``
    of ``target_id`` (None: its first free input), checked in the order a user reads the
    reasons: nodes, blocks, ports, a cycle, dtypes, shapes."""
    nodes = graph.nodes
    ref = Ref.parse(source_ref)
    if target_id not in nodes:
        return refuse(f"there is no node {target_id!r}")
    if ref.node not in nodes:
        return refuse(f"there is no node {ref.node!r}")
    target = block_of(analysis, target_id)
    source = block_of(analysis, ref.node)
    if target is None:
        return refuse(f"{target_id!r} has an unknown block ({nodes[target_id].kind})", "fix its block first")
    if source is None:
        return refuse(f"{ref.node!r} has an unknown block ({nodes[ref.node].kind})", "fix its block first")
    if not target.inputs:
        return refuse(f"{target_id!r} is an {target.name} node and takes no inputs")
    broken = output_problem(ref.node, source, ref.port)
    if broken is not None:
        return refuse(broken.message, broken.hint)
    if ref.port == first_output(source):
        ref = Ref(ref.node)  # written as the gallery writes it: lstm, not lstm.out
    bound = bound_inputs(graph, analysis, target_id)
    if bound is None:
        return refuse(f"the inputs of {target_id!r} do not fit the ports of {target.name}",
                      "fix them first (see the problems list)")
    if port is None:
        free = [p for p in target.inputs if p.variadic or not bound.get(p.name)]
        if not free:
            return refuse(f"every input of {target_id!r} is connected", "disconnect one first")
        port = free[0].name
    broken = input_port_problem(target, port)
    if broken is not None:
        return refuse(broken.message, broken.hint)
    target_port = target.port(port, output=False)
    taken = bound.get(port, [])
    if taken and not target_port.variadic:
        return refuse(f"input {port!r} of {target_id!r} is already connected to {taken[0]!r}",
                      "disconnect it first")
    if ref.node == target_id:
        return refuse(f"{target_id!r} cannot take its own output: that would be a cycle "
                      f"{target_id} -> {target_id}")
    path = flow_path(data_flow(nodes), target_id, ref.node)
    if path is not None:
        return refuse("the wire would make a cycle: " + " -> ".join([ref.node, *path]),
                      "data must flow one way; for recurrence use an rnn, lstm or gru block")
    node_dtype = analysis.nodes[ref.node].dtype
    broken = dtype_problem(target, target_port, ref, output_dtype(source, node_dtype, ref.port), node_dtype)
    if broken is not None:
        return refuse(broken.message, broken.hint)
    bound = {name: list(refs) for name, refs in bound.items()}
    bound.setdefault(port, []).append(str(ref))
    node = nodes[target_id]
    new_node = replace(node, inputs=encode(bound, target.inputs, node.inputs))
    verdict = check_shapes(graph, analysis, target_id, new_node)
    if not verdict:
        return verdict
    return Connection(verdict, port, new_node)


def with_upstream(nodes: dict[str, Node], node_id: str) -> dict[str, Node]:
    """``node_id`` and every node it depends on, in file order: all a trial analysis of
    the node needs."""
    keep = upstream_nodes(data_flow(nodes), node_id) | {node_id}
    return {i: n for i, n in nodes.items() if i in keep}


def check_shapes(graph: Graph, analysis: Analysis, target_id: str, new_node: Node) -> Verdict:
    """Analyze the target and everything upstream of it with the wire made; refuse with
    the error the target would get from its shape rule."""
    trial_nodes = with_upstream({**graph.nodes, target_id: new_node}, target_id)
    trial = analyze(replace(graph, nodes=trial_nodes, layout=None))
    info = trial.nodes[target_id]
    # input_shapes is filled when the shape rule ran: a failure then is the shapes'
    # fault (an incomplete node, e.g. an add with one input so far, is not refused)
    if info.ok or not info.input_shapes:
        return YES
    errors = [p for p in trial.problems_for(target_id) if p.is_error]
    known = {p.message for p in analysis.problems_for(target_id)}
    fresh = [p for p in errors if p.message not in known] or errors
    if not fresh:
        return YES
    return refuse(app_message(fresh[0]), app_hint(fresh[0].hint))


def without_wires(graph: Graph, analysis: Analysis, target_id: str, port: Optional[str] = None,
                  source_ref: Optional[str] = None, once: bool = False) -> list | dict:
    """The inputs of ``target_id`` without the wires into input ``port`` (None: any port),
    only those from ``source_ref`` if given (``lstm`` and ``lstm.out`` are the same
    output); with ``once``, only the last such wire. The node's inputs unchanged (the same
    object) when there is no such wire."""
    node = graph.nodes[target_id]
    wanted = output_key(analysis, Ref.parse(source_ref)) if source_ref is not None else None

    def matches(text: str) -> bool:
        return wanted is None or output_key(analysis, Ref.parse(text)) == wanted

    block, bound = block_of(analysis, target_id), bound_inputs(graph, analysis, target_id)
    if bound is not None and once:
        kept = {name: list(refs) for name, refs in bound.items()}
        for name, refs in reversed(list(kept.items())):
            hits = [i for i, r in enumerate(refs) if (port is None or name == port) and matches(r)]
            if hits:
                del refs[hits[-1]]
                break
    elif bound is not None:
        kept = {name: [r for r in refs if (port is not None and name != port) or not matches(r)]
                for name, refs in bound.items()}
    elif port is None:  # inputs that do not fit the ports: remove by source
        return drop_refs(node.inputs, None, lambda ref: matches(str(ref)))
    else:
        return node.inputs
    return encode(kept, tuple(block.inputs), node.inputs) if kept != bound else node.inputs


def without_sources(graph: Graph, analysis: Analysis, gone: set[str]) -> dict[str, list | dict]:
    """The new inputs of every other node that refers to a node in ``gone`` (each
    reference leaves its own port; the others stay put)."""
    changed = {}
    for node in graph.nodes.values():
        if node.id in gone or not any(r.node in gone for r in node.references()):
            continue
        block = block_of(analysis, node.id)
        ports = tuple(block.inputs) if block is not None else None
        changed[node.id] = drop_refs(node.inputs, ports, lambda ref: ref.node in gone)
    return changed
