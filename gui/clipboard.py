"""Copy, paste and duplicate of node sets, as YAML text.

The clipboard text is a small graph file in the ordinary format (``builder.dump_graph``):
the copied nodes with their params, the wires among them, and a layout section with
positions relative to the selection's top-left corner. It can be pasted into another
document, into a text editor, or back; and any graph file's text can be pasted as nodes.
Qt's clipboard itself is the widget layer's business: these functions take and return text.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Iterable, Optional

from builder import Graph, GraphError, Node, dump_graph, parse_graph
from gui.document import GraphDocument, relative_path
from gui.layout import layered_layout
from gui.wiring import drop_refs, registered_ports, rename_refs

DUPLICATE_OFFSET = (40, 40)


def copy_nodes(document: GraphDocument, ids: Iterable[str]) -> str:
    """YAML text of the nodes ``ids`` (in file order): params, the inputs that come from
    other copied nodes (wires from outside the selection are left out), and positions
    relative to the selection's top-left corner."""
    chosen = set(ids)
    order = [i for i in document.graph.nodes if i in chosen]
    nodes: dict[str, Node] = {}
    for node_id in order:
        node = copy.deepcopy(document.node(node_id))
        node.inputs = drop_refs(node.inputs, document.input_ports(node_id), lambda ref: ref.node not in chosen)
        if node.graph and not Path(node.graph).is_absolute():  # the text may travel to another folder
            node.graph = (document.graph_file_dir() / node.graph).resolve().as_posix()
        nodes[node_id] = node
    placed = {i: document.position(i) for i in order if document.position(i) is not None}
    layout = None
    if placed:
        left = min(x for x, _ in placed.values())
        top = min(y for _, y in placed.values())
        layout = {i: [x - left, y - top] for i, (x, y) in placed.items()}
    return dump_graph(Graph(nodes=nodes, name=document.graph.name, layout=layout))


def has_nodes(text: str) -> bool:
    """Whether ``text`` can be pasted as nodes (for enabling Paste)."""
    try:
        return bool(parse_graph(text).nodes)
    except GraphError:
        return False


def paste_nodes(document: GraphDocument, text: str, offset: Iterable[float] = (0, 0),
                label: Optional[str] = None) -> list[str]:
    """Add the nodes in ``text`` (graph YAML) to ``document`` in one undo step; returns
    their ids in the document.

    A node keeps its id when the document has no node of that name, else it gets a fresh
    one (``conv1`` -> ``conv1_1``); wires among the pasted nodes are re-pointed to the new
    ids and wires from nodes that were not pasted are dropped. Positions keep their
    arrangement with the top-left corner at ``offset`` (nodes without one are laid out).
    Raises ``builder.GraphError`` for text that is not a graph."""
    pasted = parse_graph(text)
    if not pasted.nodes:
        return []
    mapping: dict[str, str] = {}
    for old in pasted.nodes:
        if document.can_use_id(old) and old not in mapping.values():
            mapping[old] = old
        else:
            mapping[old] = document.fresh_id(old, taken=list(mapping.values()) + list(pasted.nodes))
    nodes = []
    for old, node in pasted.nodes.items():
        inputs = drop_refs(node.inputs, registered_ports(node), lambda ref: ref.node not in mapping)
        graph_file = node.graph
        if graph_file and Path(graph_file).is_absolute() and document.path:
            graph_file = relative_path(Path(graph_file), document.graph_file_dir())
        nodes.append(Node(mapping[old], block=node.block, params=copy.deepcopy(node.params),
                          inputs=rename_refs(inputs, mapping), graph=graph_file,
                          repeat=copy.deepcopy(node.repeat), vary=copy.deepcopy(node.vary), enabled=node.enabled))
    layout = pasted.layout or {}
    relative = {i: tuple(layout[i]) for i in pasted.nodes if i in layout}
    if len(relative) < len(pasted.nodes):  # (some) positions missing: lay the pasted set out
        relative = dict(_laid_out(pasted))
    left = min(x for x, _ in relative.values())
    top = min(y for _, y in relative.values())
    dx, dy = offset
    positions = {mapping[i]: (x - left + dx, y - top + dy) for i, (x, y) in relative.items()}
    count = len(nodes)
    label = label or (f"Paste {nodes[0].id}" if count == 1 else f"Paste {count} nodes")
    return document.add_nodes(nodes, positions, label)


def duplicate(document: GraphDocument, ids: Iterable[str], offset: Iterable[float] = DUPLICATE_OFFSET) -> list[str]:
    """Copy and paste ``ids`` in one step, the copies ``offset`` from the originals;
    returns the new ids."""
    ids = [i for i in ids if i in document.graph.nodes]
    if not ids:
        return []
    placed = [document.position(i) for i in ids if document.position(i) is not None]
    left = min((x for x, _ in placed), default=0)
    top = min((y for _, y in placed), default=0)
    dx, dy = offset
    count = len(ids)
    label = f"Duplicate {ids[0]}" if count == 1 else f"Duplicate {count} nodes"
    return paste_nodes(document, copy_nodes(document, ids), (left + dx, top + dy), label)


def _laid_out(graph: Graph) -> dict[str, tuple[int, int]]:
    """The automatic layout of a graph that is not in a document."""
    ids = list(graph.nodes)
    return layered_layout(ids, {i: [r.node for r in graph.nodes[i].references()] for i in ids})
