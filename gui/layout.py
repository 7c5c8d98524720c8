"""Automatic layered layout: data flows from top to bottom, or from left to right.

A small Sugiyama-style layout in plain Python (no Qt, no graph library), fast enough for
hundreds of nodes:

1. layers by longest path from the sources (inputs first), so that every wire points
   along the flow;
2. wires that skip layers get invisible waypoints, one per skipped layer, which reserve a
   lane so that a long skip connection does not run through the boxes it passes;
3. the order within each layer is improved by barycenter sweeps (a node goes beside the
   mean position of its neighbours), keeping the order with the fewest crossings;
4. positions across the flow: each node is placed in line with the mean of its parents,
   pushed just as far as needed to keep boxes apart, and each layer is then shifted as a
   whole back towards its parents.

:func:`wrapped_layout` then cuts a graph too long for the screen into bands of
consecutive layers, set side by side (columns when the flow goes down, rows when it goes
right) so that the whole graph fits the window at a readable zoom where it can: reading
order is down each column, columns from left to right (or along each row, rows from top
to bottom). When even that is too big for one readable screen, the wires from one band
into another give up their waypoints (they are drawn round the bands, not along them)
and the graph is laid out again, narrower.

Positions are the top-left corners of node boxes of ``NODE_WIDTH`` x ``NODE_HEIGHT``,
whatever the direction (text stays horizontal).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from builder import flow_from_sources, flow_layers
from gui.readable import Screen

NODE_WIDTH = 180  # the box a node is laid out as; the canvas draws nodes no larger
NODE_HEIGHT = 70
H_GAP = 40  # between boxes side by side
V_GAP = 60  # between layers: room for the wire and its shape label
LAYER_PITCH = NODE_HEIGHT + V_GAP
WAYPOINT_WIDTH = 20  # the lane a wire that skips a layer keeps free
BIG_GRAPH = 1500  # nodes and waypoints above which crossing reduction is cut short
SWEEPS = 6

DOWN, RIGHT = "down", "right"
DIRECTIONS = (DOWN, RIGHT)


@dataclass(frozen=True)
class Flow:
    """Sizes for one direction, named along the flow (from layer to layer) and across it
    (between the boxes of a layer)."""

    direction: str
    along: int  # a box's extent along the flow
    across: int  # a box's extent across it
    gap_along: int  # between layers: the wire and its shape label
    gap_across: int  # between boxes of one layer
    band_gap: int  # between the columns (rows) of a wrapped layout: the lane back to the start
    lane_room: int  # the narrowest gap a routed wire may run through (its label goes beside it)
    waypoint: int  # the lane a wire that skips a layer keeps free: wide enough for its label when across

    @property
    def pitch(self) -> int:
        return self.along + self.gap_along

    @property
    def bend(self) -> float:
        """How far along the flow a wire swings before it turns into a lane."""
        return self.gap_along / 2

    def corner(self, along: float, across: float) -> tuple[float, float]:
        """The scene (x, y) of a point given along and across the flow."""
        return (across, along) if self.direction == DOWN else (along, across)


FLOWS = {
    # down: a shape label sits on the vertical wire between layers; a lane's label beside it
    DOWN: Flow(DOWN, along=NODE_HEIGHT, across=NODE_WIDTH, gap_along=V_GAP, gap_across=H_GAP,
               band_gap=110, lane_room=60, waypoint=WAYPOINT_WIDTH),
    # right: the label ("64×112×112", about 75 px) must fit on the wire between layers
    RIGHT: Flow(RIGHT, along=NODE_WIDTH, across=NODE_HEIGHT, gap_along=100, gap_across=36,
                band_gap=70, lane_room=24, waypoint=28),
}


def flow_of(direction: Optional[str]) -> Flow:
    """The sizes of ``direction``; top to bottom for anything unknown."""
    return FLOWS.get(direction or DOWN, FLOWS[DOWN])


def layer_nodes(nodes: Sequence[str], sources: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Longest-path layer of every node: 0 for nodes fed by nothing, else one more than
    its deepest source. A cycle (an invalid graph) is broken at the wire into the first
    node in ``nodes`` order that is on it (builder.flow_layers)."""
    return flow_layers(flow_from_sources(nodes, sources))



def _crossings(upper_pos: Mapping[str, int], lower: Sequence[str], parents: Mapping[str, list[str]]) -> int:
    """Wire crossings between two adjacent layers (inversions of the lower ends when the
    wires are sorted by their upper ends)."""
    ends = sorted((upper_pos[p], i) for i, n in enumerate(lower) for p in parents[n])
    seen: list[int] = []
    count = 0
    for _, lower_index in ends:
        position = bisect_right(seen, lower_index)
        count += len(seen) - position
        seen.insert(position, lower_index)
    return count


@dataclass
class _Layers:
    """The layered graph before it is placed: each node's (and waypoint's) layer and
    center across the flow, and its extent across."""

    layer: dict[str, int]
    center: dict[str, float]
    size: dict[str, int]
    depth: int
    routes: dict[tuple[str, str], list[str]]  # (source, target) -> the waypoints of its wire, in order


def _layered(nodes: Sequence[str], sources: Mapping[str, Iterable[str]], flow: Flow,
             levels: Optional[Mapping[str, int]] = None, band: Optional[int] = None) -> _Layers:
    """``levels``: the nodes' layers if known (:func:`layer_nodes`). ``band``: the layers
    per band of a wrapped layout; a wire from one band into another then keeps no lanes
    (it is drawn round the bands, not along them)."""
    layer = dict(levels) if levels is not None else layer_nodes(nodes, sources)
    known = set(nodes)
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    children: dict[str, list[str]] = {n: [] for n in nodes}
    size = {n: flow.across for n in nodes}
    routes: dict[tuple[str, str], list[str]] = {}
    waypoints = 0
    for target in nodes:
        for source in dict.fromkeys(sources.get(target, ())):
            if source not in known or source == target or layer[source] >= layer[target]:
                continue  # a wire of a cycle: drawn as it comes
            route = routes[source, target] = []
            if band and layer[source] // band != layer[target] // band:
                continue
            previous = source
            for level in range(layer[source] + 1, layer[target]):
                waypoints += 1
                point = f"\x00{waypoints}"  # cannot clash with a node id
                layer[point], size[point] = level, flow.waypoint
                parents[point], children[point] = [previous], []
                children[previous].append(point)
                route.append(point)
                previous = point
            parents[target].append(previous)
            children[previous].append(target)

    depth = max(layer.values()) + 1
    layers: list[list[str]] = [[] for _ in range(depth)]
    for n in _first_seen_order(nodes, children, layer):
        layers[layer[n]].append(n)
    layers = _order_layers(layers, parents, children)
    return _Layers(layer, _assign_across(layers, parents, size, flow.gap_across), size, depth, routes)


def layered_layout(nodes: Sequence[str], sources: Mapping[str, Iterable[str]],
                   direction: str = DOWN) -> dict[str, tuple[int, int]]:
    """Top-left positions for ``nodes`` given each node's sources (the nodes it takes
    input from), one layer after the other in ``direction``; the bounding box starts at
    (0, 0)."""
    if not nodes:
        return {}
    flow = flow_of(direction)
    laid = _layered(nodes, sources, flow)
    low = min(laid.center[n] - laid.size[n] / 2 for n in laid.center)
    return {n: _corner(flow, laid.layer[n] * flow.pitch, laid.center[n] - flow.across / 2 - low) for n in nodes}


def _corner(flow: Flow, along: float, across: float) -> tuple[int, int]:
    x, y = flow.corner(along, across)
    return round(x), round(y)


def wrapped_layout(nodes: Sequence[str], sources: Mapping[str, Iterable[str]], direction: str = DOWN,
                   screen: Optional[Screen] = None) -> dict[str, tuple[int, int]]:
    """Like :func:`layered_layout`, but cut into bands of consecutive layers set side by
    side so that the graph uses the shape of ``screen``: the number of bands is the one
    that shows the whole graph at the largest zoom (at most ``screen.max_zoom``). If no
    number of bands fits at ``screen.min_zoom`` (a graph too large for one readable
    screen), each band is made as long as fits on the screen at that zoom, and the user
    scrolls across the bands in reading order. Without a screen: one band."""
    if not nodes:
        return {}
    flow = flow_of(direction)
    levels = layer_nodes(nodes, sources)
    laid = _layered(nodes, sources, flow, levels)
    per_band, fits = (laid.depth, True) if screen is None else _layers_per_band(laid, flow, screen)
    if not fits and per_band < laid.depth and len(nodes) <= BIG_GRAPH:
        # too big for a readable screen: drop the lanes of wires from one band into
        # another (they run round the bands, through the gaps between them, not along
        # the layers they skip) and split again. Not for a graph of thousands of nodes:
        # laying it out twice would cost a tenth of a second more for a few % less width
        laid = _layered(nodes, sources, flow, levels, per_band)
        split, _ = _layers_per_band(laid, flow, screen)
        if split != per_band:
            laid, per_band = _layered(nodes, sources, flow, levels, split), split
    extents = _layer_extents(laid)
    in_band: dict[int, list[str]] = {}
    for n in nodes:
        in_band.setdefault(laid.layer[n] // per_band, []).append(n)
    positions: dict[str, tuple[int, int]] = {}
    offset = 0.0
    for start in range(0, laid.depth, per_band):
        band = extents[start:start + per_band]
        low = min(e[0] for e in band)
        high = max(e[1] for e in band)
        for n in in_band.get(start // per_band, ()):
            along = (laid.layer[n] - start) * flow.pitch
            positions[n] = _corner(flow, along, laid.center[n] - flow.across / 2 - low + offset)
        offset += high - low + flow.band_gap
    return {n: positions[n] for n in nodes}


def _layer_extents(laid: _Layers) -> list[tuple[float, float]]:
    """Each layer's (lowest, highest) coordinate across the flow, waypoints included."""
    extents = [(math.inf, -math.inf)] * laid.depth
    for n, level in laid.layer.items():
        low, high = extents[level]
        half = laid.size[n] / 2
        extents[level] = (min(low, laid.center[n] - half), max(high, laid.center[n] + half))
    return extents


def _layers_per_band(laid: _Layers, flow: Flow, screen: Screen) -> tuple[int, bool]:
    """How many layers each band holds: the split whose whole fits ``screen`` at the
    largest zoom (fewer bands on a tie), else as many layers as one screen shows; and
    whether the whole fits at a readable zoom."""
    extents = _layer_extents(laid)
    lows, highs = [low for low, _ in extents], [high for _, high in extents]
    best, best_zoom = laid.depth, -1.0
    tried = set()
    for count in range(1, laid.depth + 1):
        per_band = math.ceil(laid.depth / count)
        if per_band in tried:
            continue
        tried.add(per_band)
        across = -flow.band_gap
        for start in range(0, laid.depth, per_band):
            across += max(highs[start:start + per_band]) - min(lows[start:start + per_band]) + flow.band_gap
        along = per_band * flow.pitch - flow.gap_along
        width, height = flow.corner(along, across)
        zoom = screen.zoom_to_fit(width, height)
        if zoom > best_zoom + 1e-9:
            best, best_zoom = per_band, zoom
    if best_zoom >= screen.min_zoom - 1e-9:
        return best, True
    room = screen.span_at_min_zoom()[1 if flow.direction == DOWN else 0]
    return max(1, min(laid.depth, int((room + flow.gap_along) // flow.pitch))), False


def _first_seen_order(nodes: Sequence[str], children: Mapping[str, list[str]], layer: Mapping[str, int]) -> list[str]:
    """Every node and waypoint in depth-first order from the sources (file order among
    them): a first order per layer that keeps branches together."""
    seen: set[str] = set()
    order: list[str] = []
    for root in nodes:
        if root in seen:
            continue
        stack = [root]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            order.append(n)
            stack.extend(reversed(children[n]))
    return order


def _order_layers(layers: list[list[str]], parents: Mapping[str, list[str]],
                  children: Mapping[str, list[str]]) -> list[list[str]]:
    def total(candidate: list[list[str]]) -> int:
        count = 0
        for upper, lower in zip(candidate, candidate[1:], strict=False):
            count += _crossings({n: i for i, n in enumerate(upper)}, lower, parents)
        return count

    def sweep(current: list[list[str]], down: bool) -> list[list[str]]:
        current = [list(level) for level in current]
        indices = range(1, len(current)) if down else range(len(current) - 2, -1, -1)
        for i in indices:
            fixed = {n: k for k, n in enumerate(current[i - 1 if down else i + 1])}
            current[i] = _by_barycenter(current[i], fixed, parents if down else children)
        return current

    best, best_count = layers, total(layers)
    current = layers
    # each sweep costs ~50 ms per 1,000 nodes and gains least on big graphs, which are
    # mostly long chains: two (one down, one up) keep a 5,000-node graph opening in time
    sweeps = SWEEPS if sum(map(len, layers)) <= BIG_GRAPH else 2
    for round_ in range(sweeps):
        if best_count == 0:
            break
        current = sweep(current, down=round_ % 2 == 0)
        count = total(current)
        if count < best_count:
            best, best_count = current, count
    return best


def _by_barycenter(level: list[str], fixed: Mapping[str, int], neighbours: Mapping[str, list[str]]) -> list[str]:
    """``level`` sorted by the mean position of each node's neighbours in the adjacent,
    fixed layer; a node without any keeps its own position as its key."""
    def key(item: tuple[int, str]) -> float:
        own, n = item
        near = [fixed[m] for m in neighbours[n] if m in fixed]
        return sum(near) / len(near) if near else float(own)

    return [n for _, n in sorted(enumerate(level), key=key)]


def _assign_across(layers: list[list[str]], parents: Mapping[str, list[str]], size: Mapping[str, int],
                   gap: float) -> dict[str, float]:
    center: dict[str, float] = {}
    for level in layers:
        wanted = []
        for n in level:
            xs = [center[p] for p in parents[n] if p in center]
            wanted.append(sum(xs) / len(xs) if xs else None)
        placed: list[float] = []
        for i, n in enumerate(level):
            if i == 0:
                x = wanted[i] if wanted[i] is not None else 0.0
            else:
                x = placed[-1] + (size[level[i - 1]] + size[n]) / 2 + gap
                if wanted[i] is not None:
                    x = max(x, wanted[i])
            placed.append(x)
        offsets = [w - x for w, x in zip(wanted, placed, strict=True) if w is not None]
        shift = sum(offsets) / len(offsets) if offsets else 0.0
        for n, x in zip(level, placed, strict=True):
            center[n] = x + shift
    return center
