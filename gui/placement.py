"""Where a document's nodes go on the canvas when nobody placed them: the automatic
layout of some or all nodes, and the place below everything. Plain Python on a graph."""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Optional

from builder import LAYOUT_DIRECTION_KEY, Graph
from gui.edits import Position, position
from gui.layout import NODE_HEIGHT, V_GAP, layered_layout

Arrange = Callable[..., Mapping[str, Position]]  # arrange(ids, sources) -> positions


def layered_positions(graph: Graph, direction: str, ids: Optional[Iterable[str]] = None,
                      arrange: Optional[Arrange] = None) -> dict[str, Position]:
    """The automatic layout of ``ids`` (default all nodes), wires among them only, with
    its top-left corner at (0, 0): ``arrange(ids, sources)`` if given, else one layer
    after the other in ``direction``."""
    ids = list(graph.nodes) if ids is None else [i for i in ids if i in graph.nodes]
    sources = {i: [r.node for r in graph.nodes[i].references()] for i in ids}
    if arrange is not None:
        return dict(arrange(ids, sources))
    return layered_layout(ids, sources, direction)


def below_everything(graph: Graph) -> Position:
    """The top-left corner of free space below every placed node."""
    placed = [position(v) for k, v in (graph.layout or {}).items() if k != LAYOUT_DIRECTION_KEY]
    if not placed:
        return 0, 0
    return min(x for x, _ in placed), max(y for _, y in placed) + NODE_HEIGHT + V_GAP


def missing_positions(graph: Graph, direction: str, arrange: Optional[Arrange] = None) -> dict[str, Position]:
    """Positions for the nodes without one: the whole graph is laid out again (with
    ``arrange`` if given) when most nodes lack positions, else the missing ones are laid
    out among themselves below the others. Empty when every node has a position."""
    layout = graph.layout or {}
    missing = [i for i in graph.nodes if i not in layout]
    if not missing:
        return {}
    if len(missing) * 2 > len(graph.nodes):  # a stale or partial layout: redo it all
        return layered_positions(graph, direction, arrange=arrange)
    x, y = below_everything(graph)
    return {i: (px + x, py + y) for i, (px, py) in layered_positions(graph, direction, missing).items()}
