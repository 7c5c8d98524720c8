"""Automatic layered layout: data flows from top to bottom.

A small Sugiyama-style layout in plain Python (no Qt, no graph library), fast enough for
hundreds of nodes:

1. layers by longest path from the sources (inputs on top), so that every wire points down;
2. wires that skip layers get invisible waypoints, one per skipped layer, which reserve a
   lane so that a long skip connection does not run through the boxes it passes;
3. the order within each layer is improved by barycenter sweeps (a node goes below the
   mean position of its neighbours), keeping the order with the fewest crossings;
4. x coordinates: each node is placed under the mean of its parents, pushed right just as
   far as needed to keep boxes apart, and each layer is then shifted as a whole back
   towards its parents.

Positions are the top-left corners of node boxes of ``NODE_WIDTH`` x ``NODE_HEIGHT``.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Iterable, Mapping, Sequence

NODE_WIDTH = 180  # the box a node is laid out as; the canvas draws nodes no larger
NODE_HEIGHT = 70
H_GAP = 40  # between boxes side by side
V_GAP = 60  # between layers: room for the wire and its shape label
LAYER_PITCH = NODE_HEIGHT + V_GAP
WAYPOINT_WIDTH = 20  # the lane a wire that skips a layer keeps free
SWEEPS = 6


def layer_nodes(nodes: Sequence[str], sources: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Longest-path layer of every node: 0 for nodes fed by nothing, else one more than
    its deepest source. A cycle (an invalid graph) is broken at the first node in
    ``nodes`` order that is stuck on it."""
    known = set(nodes)
    deps = {n: {s for s in sources.get(n, ()) if s in known and s != n} for n in nodes}
    users: dict[str, list[str]] = {n: [] for n in nodes}
    for n, ds in deps.items():
        for s in ds:
            users[s].append(n)
    waiting = {n: len(ds) for n, ds in deps.items()}
    layer: dict[str, int] = {}
    ready = [n for n in nodes if waiting[n] == 0]
    pending = list(nodes)  # file order, for breaking cycles
    while len(layer) < len(nodes):
        if not ready:  # a cycle: take the first node not laid out yet, ignoring its missing sources
            ready = [next(n for n in pending if n not in layer)]
        next_ready = []
        for n in ready:
            if n in layer:
                continue
            layer[n] = 1 + max((layer[s] for s in deps[n] if s in layer), default=-1)
            for user in users[n]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    next_ready.append(user)
        ready = next_ready
    return layer


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


def layered_layout(nodes: Sequence[str], sources: Mapping[str, Iterable[str]]) -> dict[str, tuple[int, int]]:
    """Top-left positions for ``nodes`` given each node's sources (the nodes it takes
    input from); the bounding box starts at (0, 0)."""
    if not nodes:
        return {}
    layer = layer_nodes(nodes, sources)
    known = set(nodes)
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    children: dict[str, list[str]] = {n: [] for n in nodes}
    width = {n: NODE_WIDTH for n in nodes}
    waypoints = 0
    for target in nodes:
        for source in dict.fromkeys(sources.get(target, ())):
            if source not in known or source == target or layer[source] >= layer[target]:
                continue  # a wire of a cycle: drawn as it comes
            previous = source
            for level in range(layer[source] + 1, layer[target]):
                waypoints += 1
                point = f"\x00{waypoints}"  # cannot clash with a node id
                layer[point], width[point] = level, WAYPOINT_WIDTH
                parents[point], children[point] = [previous], []
                children[previous].append(point)
                previous = point
            parents[target].append(previous)
            children[previous].append(target)

    depth = max(layer.values()) + 1
    layers: list[list[str]] = [[] for _ in range(depth)]
    for n in _first_seen_order(nodes, children, layer):
        layers[layer[n]].append(n)
    layers = _order_layers(layers, parents, children)

    centers = _assign_x(layers, parents, width)
    left = min(centers[n] - width[n] / 2 for n in centers)
    return {n: (round(centers[n] - NODE_WIDTH / 2 - left), layer[n] * LAYER_PITCH) for n in nodes}


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
    for round_ in range(SWEEPS):
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


def _assign_x(layers: list[list[str]], parents: Mapping[str, list[str]], width: Mapping[str, int]) -> dict[str, float]:
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
                x = placed[-1] + (width[level[i - 1]] + width[n]) / 2 + H_GAP
                if wanted[i] is not None:
                    x = max(x, wanted[i])
            placed.append(x)
        offsets = [w - x for w, x in zip(wanted, placed, strict=True) if w is not None]
        shift = sum(offsets) / len(offsets) if offsets else 0.0
        for n, x in zip(level, placed, strict=True):
            center[n] = x + shift
    return center
