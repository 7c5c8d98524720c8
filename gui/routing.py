"""Where a wire runs: straight from port to port, or through a free lane beside the boxes
in its way. Plain Python, no Qt.

Everything here is in flow coordinates: ``along`` runs with the data (down the screen, or
to the right) and ``across`` at right angles to it, so that one piece of code routes both
directions. Points are ``(across, along)`` pairs, like (x, y) when the flow goes down.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Iterable, Optional

from gui.layout import Flow

LANE_MARGIN = 14  # how far a routed wire keeps from the boxes it passes
UP_LANE_MARGIN = 8  # the same for a wire running back against the flow (its label is not in the lane)
DIRECT_REACH = 40.0  # how far along the flow a direct wire at least leaves and enters its ports

Point = tuple[float, float]  # (across, along)


class BoxIndex:
    """Node boxes sorted by where they start along the flow, for quick range queries.
    Routing asks this, not the scene's index: the scene re-indexes every wire whose
    shape changes, which made routing a 500-node graph take seconds."""

    def __init__(self, corners: Iterable[tuple[str, float, float]], flow: Flow):
        """``corners``: (node id, x, y) of each box's top-left corner in the scene."""
        self.flow = flow
        found = []
        for node_id, x, y in corners:
            across, along = to_flow(flow, (x, y))
            found.append((along, across, across + flow.across, node_id))
        found.sort()
        self.boxes = found
        self.starts = [b[0] for b in found]
        # a grid of cells one box long and two boxes wide: a wire asks for the boxes near
        # it, not for every box in its stretch of the flow (in a wrapped layout that is
        # every column: routing 5,000 nodes took seconds)
        self.cell_along, self.cell_across = max(1.0, float(flow.along)), max(1.0, 2.0 * flow.across)
        self.cells: dict[tuple[int, int], list[tuple]] = {}
        for box in found:
            along, low, high, _ = box
            row = int(along // self.cell_along)
            for column in range(int(low // self.cell_across), int(high // self.cell_across) + 1):
                self.cells.setdefault((row, column), []).append(box)
        self.low_across = min((b[1] for b in found), default=0.0)
        self.high_across = max((b[2] for b in found), default=0.0)

    def _near(self, low_a: float, high_a: float, low_c: float, high_c: float) -> list[tuple]:
        """Boxes that start along the flow in [low_a, high_a) and may reach across into
        [low_c, high_c] (each once, in along order)."""
        if (high_a - low_a) / self.cell_along * (high_c - low_c) / self.cell_across > len(self.boxes):
            first, last = bisect_left(self.starts, low_a), bisect_left(self.starts, high_a)
            return self.boxes[first:last]  # a query as big as the graph: the sorted list is cheaper
        seen: dict[int, tuple] = {}
        for row in range(int(low_a // self.cell_along), int(high_a // self.cell_along) + 1):
            for column in range(int(low_c // self.cell_across), int(high_c // self.cell_across) + 1):
                for box in self.cells.get((row, column), ()):
                    if low_a <= box[0] < high_a:
                        seen[id(box)] = box
        return sorted(seen.values())

    def lane(self, start: Point, end: Point, ends: set[str]) -> tuple[Optional[float], int]:
        """(None, 0) when the direct curve from ``start`` (an output port) to ``end`` (an
        input port) meets no box but those of ``ends``; else the across-coordinate of the
        lane nearest the middle that no box between the two ends covers, and the side its
        label goes to (+1 or -1: away from the boxes beside it; 0: centred).

        A wire that runs back against the flow (its target is level with or before its
        source, as when nodes sit side by side, or from the end of one column of a
        wrapped layout to the start of the next) always takes a lane: a direct curve
        would cross both boxes. Its own two boxes count as obstacles then."""
        flow = self.flow
        bend = flow.bend
        (start_c, start_a), (end_c, end_a) = start, end
        backward = end_a - start_a < bend
        low_a, high_a = start_a + bend / 2, end_a - bend / 2
        if backward:
            low_a, high_a = end_a - bend, start_a + bend
        # a backward wire's label sits beside its source, not in its lane: any gap will do
        margin, min_gap = (UP_LANE_MARGIN, 0) if backward else (LANE_MARGIN, flow.lane_room)
        low_c, high_c = min(start_c, end_c) - 2, max(start_c, end_c) + 2
        if not backward and not any(
                node_id not in ends and a < high_a and a + flow.along > low_a and low < high_c and high > low_c
                for a, low, high, node_id in self._near(low_a - flow.along, high_a, low_c, high_c)):
            return None, 0  # nothing in the way (most wires): no need to look for a lane
        reach = 4 * flow.across  # how far beside the wire boxes are looked at first
        while True:
            window = (low_c - reach, high_c + reach)
            between = [(low - margin, high + margin) for a, low, high, node_id
                       in self._near(low_a - flow.along, high_a, *window)
                       if (backward or node_id not in ends) and a < high_a and a + flow.along > low_a]
            found = self._lane(between, start_c, end_c, low_c, high_c, backward, min_gap)
            lane = found[0]
            whole = window[0] <= self.low_across and window[1] >= self.high_across
            pad = margin + min_gap + 1  # a box just outside could widen the block the lane skirts
            if whole or lane is None or window[0] + pad < lane < window[1] - pad:
                return found  # (a lane at the window's edge may run through a box beyond it)
            reach *= 4

    @staticmethod
    def _lane(between: list[tuple[float, float]], start_c: float, end_c: float, low_c: float, high_c: float,
              backward: bool, min_gap: float) -> tuple[Optional[float], int]:
        if not backward and not any(lo + LANE_MARGIN < high_c and hi - LANE_MARGIN > low_c for lo, hi in between):
            return None, 0
        merged: list[list[float]] = []
        for lo, hi in sorted(between):
            if merged and lo <= merged[-1][1] + min_gap:  # too narrow a gap for a wire and its label
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        middle = (start_c + end_c) / 2
        for lo, hi in merged:
            if lo < middle < hi:
                if backward:
                    # the edge between the two ends (not round the far side of a column),
                    # the nearer one if both are
                    between_ends = [e for e in (lo, hi) if low_c <= e <= high_c] or [lo, hi]
                    return min(between_ends, key=lambda e: abs(e - middle)), 0
                return (lo, -1) if middle - lo <= hi - middle else (hi, 1)
        return middle, 0


def to_flow(flow: Flow, point: tuple[float, float]) -> Point:
    """A scene (x, y) as (across, along)."""
    x, y = point
    return (x, y) if flow.direction == "down" else (y, x)


def from_flow(flow: Flow, point: Point) -> tuple[float, float]:
    """(across, along) as a scene (x, y); the same swap as :func:`to_flow`."""
    return to_flow(flow, point)


def is_backward(flow: Flow, start: Point, end: Point) -> bool:
    """Whether a wire from ``start`` to ``end`` runs against the flow (or not far enough
    along it to bend into its target)."""
    return end[1] - start[1] < flow.bend


def wire_points(flow: Flow, start: Point, end: Point, lane: Optional[float]) -> list[tuple[str, tuple[Point, ...]]]:
    """The wire's path as segments in flow coordinates: ``("cubic", (c1, c2, to))`` and
    ``("line", (to,))``, starting at ``start``. A direct wire is one cubic that leaves and
    enters its ports along the flow; a routed one swings into its lane over ``bend``,
    follows it, and swings out into the target. A wire running backward makes a U-turn
    into its lane and another out of it, so that it never doubles back on itself (no
    zig-zag between boxes side by side)."""
    (sc, sa), (ec, ea) = start, end
    if lane is None:
        reach = max(abs(ea - sa) / 2, DIRECT_REACH)
        return [("cubic", ((sc, sa + reach), (ec, ea - reach), end))]
    bend = flow.bend
    if is_backward(flow, start, end):
        turn = min(sa, ea)  # where the lane's run against the flow ends
        segments = [("cubic", ((sc, sa + bend), (lane, sa + bend), (lane, sa)))]
        if turn < sa:
            segments.append(("line", ((lane, turn),)))
        segments.append(("cubic", ((lane, ea - bend), (ec, ea - bend), end)))
        return segments
    return [
        ("cubic", ((sc, sa + bend / 2), (lane, sa + bend / 2), (lane, sa + bend))),
        ("line", ((lane, ea - bend),)),
        ("cubic", ((lane, ea - bend / 2), (ec, ea - bend / 2), end)),
    ]


def direct_span(start: Point, end: Point) -> Optional[tuple[Point, Point]]:
    """The (low, high) corners of the rectangle a direct wire's curve fills, when that is
    the rectangle of its two ends (its control points lie between them: the ends are at
    least ``DIRECT_REACH`` apart along the flow); None when the curve overshoots them."""
    (sc, sa), (ec, ea) = start, end
    if ea - sa < DIRECT_REACH:
        return None
    return (min(sc, ec), sa), (max(sc, ec), ea)


def label_anchor(flow: Flow, start: Point, end: Point, lane: Optional[float]) -> Optional[Point]:
    """Where a routed wire's label is centred (flow coordinates): mid-lane, or for a wire
    running backward when the flow goes down, just below its source (a label is wider
    than a lane between boxes side by side); None for a direct wire (the label goes at
    the middle of its curve). When the flow goes right, a label is only a line high and
    fits on any lane."""
    if lane is None:
        return None
    (sc, sa), (_ec, ea) = start, end
    if is_backward(flow, start, end):
        if flow.direction == "down":
            return ((sc + lane) / 2, sa + flow.bend / 2)
        return (lane, (sa + ea) / 2)
    return (lane, (sa + flow.bend + ea - flow.bend) / 2)
