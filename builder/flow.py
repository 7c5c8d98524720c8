"""The data flow of a graph as a networkx DiGraph, and the graph algorithms everything
shares: order, cycles, reachability, upstream and downstream nodes, layers.

An edge runs from the node whose output is taken to the node that takes it, so
``networkx.ancestors`` are a node's upstream nodes. The analysis (order of evaluation
and the compiler's code), the editor (which wire would close a cycle, what feeds a
node), and the layout (layers) all ask this module, so each rule is written once.

    flow = data_flow(graph.nodes)                 # nx.DiGraph, nodes in file order
    order, cycle = file_order(flow)              # cycle: [a, b, c] when a -> b -> c -> a
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Optional

import networkx as nx

# This module imports neither the graph model nor the analysis (both use it): nodes are
# anything with ``references()``, graphs anything with ``nodes`` and ``name``.


def flow_from_sources(nodes: Iterable[str], sources: Mapping[str, Iterable[str]]) -> nx.DiGraph:
    """A DiGraph of ``nodes`` (kept in the given order) with an edge from each source to the
    node it feeds; sources that are not among ``nodes`` are left out."""
    flow = nx.DiGraph()
    flow.add_nodes_from(nodes)
    flow.add_edges_from((source, node) for node in flow for source in sources.get(node, ()) if source in flow)
    return flow


def data_flow(nodes: Mapping[str, Any]) -> nx.DiGraph:
    """The data flow of a graph's nodes (``Graph.nodes``), in file order."""
    return flow_from_sources(nodes, {node_id: [r.node for r in node.references()] for node_id, node in nodes.items()})


def _position(flow: nx.DiGraph) -> dict[str, int]:
    return {node: i for i, node in enumerate(flow)}


def file_order(flow: nx.DiGraph) -> tuple[list[str], Optional[list[str]]]:
    """A topological order that takes nodes in file order whenever several are ready, so the
    generated code reads like the file; and a cycle ``[a, b, c]`` (for a -> b -> c -> a)
    when there is one. Nodes on a cycle or downstream of one are left out of the order."""
    position = _position(flow)
    cyclic = [scc for scc in nx.strongly_connected_components(flow)
              if len(scc) > 1 or flow.has_edge(next(iter(scc)), next(iter(scc)))]
    if not cyclic:
        return list(nx.lexicographical_topological_sort(flow, key=position.__getitem__)), None
    stuck = reachable_from(flow, set().union(*cyclic))
    acyclic = flow.subgraph(n for n in flow if n not in stuck)
    order = list(nx.lexicographical_topological_sort(acyclic, key=position.__getitem__))
    return order, first_cycle(flow, cyclic, position)


def first_cycle(flow: nx.DiGraph, cyclic: list[set[str]], position: Mapping[str, int]) -> list[str]:
    """The cycle through the first node (in file order) that lies on one, in data-flow
    direction, starting at that node."""
    start = min((n for scc in cyclic for n in scc), key=position.__getitem__)
    component = next(scc for scc in cyclic if start in scc)
    edges = nx.find_cycle(flow.subgraph(component), source=start)
    path = [edge[0] for edge in edges]
    begin = path.index(start) if start in path else 0
    return path[begin:] + path[:begin]


def path_between(flow: nx.DiGraph, start: str, goal: str) -> Optional[list[str]]:
    """Node ids from ``start`` to ``goal`` along the data flow (both included), or None."""
    try:
        return nx.shortest_path(flow, start, goal)
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return None


def reachable_from(flow: nx.DiGraph, sources: Iterable[str]) -> set[str]:
    """``sources`` and every node downstream of them, in one walk (``nx.descendants`` per
    source walked the shared part again for each: thousands of inputs took seconds)."""
    seen = set(sources)
    frontier = list(seen)
    successors = flow.succ
    while frontier:
        node = frontier.pop()
        for user in successors[node]:
            if user not in seen:
                seen.add(user)
                frontier.append(user)
    return seen


def upstream(flow: nx.DiGraph, node: str) -> set[str]:
    """Every node whose output reaches ``node`` (not ``node`` itself)."""
    return nx.ancestors(flow, node)


def layers(flow: nx.DiGraph) -> dict[str, int]:
    """Longest-path layer of each node: 0 for nodes fed by nothing, else one more than its
    deepest source. A cycle (an invalid graph) is broken at the wire into the node that
    comes first in file order, so an invalid graph still gets a readable layout."""
    dag = flow
    position = _position(flow)
    if not nx.is_directed_acyclic_graph(flow):
        dag = flow.copy()
        dag.remove_edges_from(nx.selfloop_edges(dag))
        while True:
            try:
                cycle = nx.find_cycle(dag, source=min(dag, key=position.__getitem__))
            except nx.NetworkXNoCycle:
                if nx.is_directed_acyclic_graph(dag):
                    break
                cycle = nx.find_cycle(dag)
            dag.remove_edge(*min(cycle, key=lambda edge: position[edge[1]])[:2])
    layer: dict[str, int] = {}
    for node in nx.lexicographical_topological_sort(dag, key=position.__getitem__):
        layer[node] = 1 + max((layer[s] for s in dag.predecessors(node)), default=-1)
    return {node: layer[node] for node in flow}


def annotated(analysis: Any) -> nx.DiGraph:
    """The graph for users' own analyses: each node with ``block``, ``params`` (as checked,
    defaults filled in), ``shape`` (its first output's per-sample shape, None where it
    could not be worked out), ``outputs`` (every port's shape), ``parameters`` and ``macs``;
    each edge with the ``port`` it feeds and the source's output ``port`` (``from_port``).
    Takes an analysis (``Analysis.to_networkx``), so that this module, which the analysis
    uses, never reaches up to it."""
    graph = analysis.graph
    flow = nx.DiGraph(name=graph.name)
    for node_id, node in graph.nodes.items():
        info = analysis.nodes.get(node_id)
        ok = info is not None and info.ok
        outputs: dict[str, Any] = dict(info.outputs) if ok else {}
        flow.add_node(node_id, block=node.kind,
                      params=dict(info.params) if info is not None and info.params is not None else dict(node.params),
                      shape=info.shape if ok else None, outputs=outputs,
                      parameters=info.cost.params if ok else 0, macs=info.cost.macs if ok else 0)
    for node_id in graph.nodes:
        info = analysis.nodes.get(node_id)
        bound = info.inputs if info is not None and info.inputs else {}
        for port, refs in bound.items():
            for ref in refs:
                if ref.node in flow:
                    flow.add_edge(ref.node, node_id, port=port, from_port=ref.port)
    return flow
