"""The pure logic behind a readable canvas (no Qt): the readability threshold and the
zoom choices made from it, wrapped layouts in both directions, wire routes without
zig-zags, the overview's mapping and the background grid."""

from __future__ import annotations

import math

import pytest

from builder import load_graph
from gui.layout import DOWN, FLOWS, NODE_HEIGHT, NODE_WIDTH, RIGHT, layer_nodes, layered_layout, wrapped_layout
from gui.readable import (
    BOXES,
    FULL,
    LARGE_TEXT,
    MIN_TEXT_PX,
    Screen,
    choose_view,
    detail_level,
    fit_into,
    grid_lines,
    readable_zoom,
)
from gui.routing import BoxIndex, wire_points
from tests.conftest import GALLERY

SCREEN = Screen(1000, 800, min_zoom=0.625)  # about the canvas of a 1600x1000 window


def sources_of(path):
    graph = load_graph(path)
    return list(graph.nodes), {i: [r.node for r in n.references()] for i, n in graph.nodes.items()}


def chain(length: int):
    ids = [f"n{i}" for i in range(length)]
    return ids, {b: [a] for a, b in zip(ids, ids[1:])}


def extent(positions) -> tuple[float, float]:
    return (max(x for x, _ in positions.values()) + NODE_WIDTH, max(y for _, y in positions.values()) + NODE_HEIGHT)


# ---------------------------------------------------------------- the threshold
def test_one_threshold_decides_readable_zoom_and_level_of_detail():
    assert readable_zoom(16) == MIN_TEXT_PX / 16
    assert detail_level(readable_zoom(12.8), 12.8, 28) == FULL  # exactly at the threshold: readable
    assert detail_level(readable_zoom(12.8) * 0.99, 12.8, 28) == LARGE_TEXT
    assert detail_level(readable_zoom(28) * 0.99, 12.8, 28) == BOXES


def test_choose_view_fits_whole_graphs_and_never_goes_below_readable():
    small = choose_view(SCREEN, 0, 0, 400, 300)
    assert small.zoom == 1.0 and (small.center_x, small.center_y) == (200, 150)  # never magnified
    fits = choose_view(SCREEN, 100, 0, 1000, 1000)
    assert SCREEN.min_zoom <= fits.zoom < 1.0 and (fits.center_x, fits.center_y) == (600, 500)
    tall = choose_view(SCREEN, 0, 0, 400, 20000)  # too tall for any readable fit
    assert tall.zoom == SCREEN.min_zoom
    top_of_view = tall.center_y - SCREEN.height / tall.zoom / 2
    assert top_of_view == -SCREEN.margin  # the start of the reading order, at the top
    assert tall.center_x == 200  # narrower than the view: centred across


# ---------------------------------------------------------------- wrapped layouts
@pytest.mark.parametrize("direction", [DOWN, RIGHT])
@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.stem)
def test_gallery_graphs_wrap_to_fit_a_1600x1000_window_readably(path, direction):
    ids, sources = sources_of(path)
    positions = wrapped_layout(ids, sources, direction, SCREEN)
    assert set(positions) == set(ids)
    assert SCREEN.fits(*extent(positions)), f"{path.stem} does not fit a readable screen"
    boxes = sorted(positions.items(), key=lambda kv: kv[1])
    for i, (a, (ax, ay)) in enumerate(boxes):
        for b, (bx, by) in boxes[i + 1:]:
            assert abs(ax - bx) >= NODE_WIDTH or abs(ay - by) >= NODE_HEIGHT, f"{a} overlaps {b}"


@pytest.mark.parametrize("direction", [DOWN, RIGHT])
def test_a_wrapped_layout_keeps_reading_order_band_after_band(direction):
    ids, sources = chain(30)
    positions = wrapped_layout(ids, sources, direction, SCREEN)
    along, across = (1, 0) if direction == DOWN else (0, 1)
    bands = sorted({p[across] for p in positions.values()})
    assert len(bands) > 1  # 30 boxes do not fit in one readable column (row)
    order = sorted(ids, key=lambda i: (positions[i][across], positions[i][along]))
    assert order == ids  # down each column, columns left to right (along rows, rows top to bottom)
    assert len({positions[i][along] for i in ids}) < len(ids)  # the bands share the window's height (width)


def test_unwrapped_layout_is_the_layered_one_and_right_flows_right():
    ids, sources = sources_of(GALLERY[0])
    assert wrapped_layout(ids, sources) == layered_layout(ids, sources)
    right = layered_layout(ids, sources, RIGHT)
    layer = layer_nodes(ids, sources)
    for node, (x, _) in right.items():
        assert x == layer[node] * FLOWS[RIGHT].pitch


def test_a_graph_too_large_for_one_screen_is_cut_into_bands_that_each_fit_the_screen():
    ids, sources = chain(400)
    positions = wrapped_layout(ids, sources, DOWN, SCREEN)
    _, height = extent(positions)
    assert not SCREEN.fits(*extent(positions))
    assert height <= SCREEN.span_at_min_zoom()[1]  # scroll sideways only, column after column


@pytest.mark.parametrize("direction", [DOWN, RIGHT])
def test_a_wire_from_one_band_into_another_keeps_no_lanes_along_the_bands(direction):
    """A graph too wide for a readable screen: a long skip wire from its first node to its
    last reserves no lane in the layers it skips (it runs round the bands, not along them),
    so it makes the wrapped layout no wider."""
    ids, sources = chain(30)
    branches = [f"w{k}" for k in range(6)]  # one wide layer in the middle
    sources.update({b: ["n12"] for b in branches})
    sources["n13"] = ["n12", *branches]
    ids = ids[:13] + branches + ids[13:]
    plain = wrapped_layout(ids, sources, direction, SCREEN)
    skipping = wrapped_layout(ids, {**sources, "n29": ["n28", "n0"]}, direction, SCREEN)
    assert not SCREEN.fits(*extent(plain))
    assert extent(skipping) == extent(plain)
    along = plain["n29"][1 if direction == DOWN else 0]
    assert along < 29 * FLOWS[direction].pitch  # wrapped: the last node is not 29 layers down the first band


# ---------------------------------------------------------------- routes
def turning_angles(segments, start) -> list[float]:
    """Angles (degrees) between successive short pieces of a path."""
    points = [start]
    current = start
    for kind, pts in segments:
        if kind == "line":
            points += [(current[0] + (pts[0][0] - current[0]) * t / 20, current[1] + (pts[0][1] - current[1]) * t / 20)
                       for t in range(1, 21)]
        else:
            (c1, c2, end) = pts
            for k in range(1, 41):
                t = k / 40
                points.append(tuple((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t * t * p2 + t ** 3 * p3
                                    for p0, p1, p2, p3 in zip(current, c1, c2, end)))
        current = points[-1]
    angles = []
    directions = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:]) if a != b]
    for (ax, ay), (bx, by) in zip(directions, directions[1:]):
        cos = (ax * bx + ay * by) / (math.hypot(ax, ay) * math.hypot(bx, by))
        angles.append(math.degrees(math.acos(max(-1.0, min(1.0, cos)))))
    return angles


@pytest.mark.parametrize("end", [(310, 0), (310, 60), (60, -500)], ids=["level", "a little lower", "next column"])
def test_a_wire_running_back_turns_smoothly_without_zig_zag(end):
    flow = FLOWS[DOWN]
    index = BoxIndex([("a", 0, 0), ("b", end[0] - 90, end[1])], flow)
    start = (90, 70)
    lane, _side = index.lane(start, end, {"a", "b"})
    assert lane is not None
    assert max(turning_angles(wire_points(flow, start, end, lane), start)) < 30  # no cusp, no reversal


def test_a_forward_wire_past_boxes_takes_a_lane_and_a_clear_one_goes_straight():
    flow = FLOWS[DOWN]
    index = BoxIndex([("a", 0, 0), ("mid", 0, 130), ("b", 0, 260)], flow)
    lane, side = index.lane((90, 70), (90, 260), {"a", "b"})
    assert lane is not None and not 0 - 14 < lane < 180 + 14 and side != 0
    assert index.lane((90, 70), (90, 130), {"a", "mid"}) == (None, 0)


# ---------------------------------------------------------------- overview and grid
def test_overview_mapping_shows_the_whole_graph_centred():
    mapping = fit_into(100, 50, 1000, 500, 220, 170, pad=10)
    left, top = mapping.to_frame(100, 50)
    right, bottom = mapping.to_frame(1100, 550)
    assert left == pytest.approx(10) and right == pytest.approx(210)  # as wide as the frame allows
    assert (top + bottom) / 2 == pytest.approx(85)  # centred vertically
    assert mapping.to_scene(*mapping.to_frame(321, 123)) == pytest.approx((321, 123))
    assert fit_into(0, 0, 0, 0, 220, 170) is None


def test_grid_lines_do_not_depend_on_which_strip_is_drawn():
    for start in (-95.5, -40, -1, 0, 13.2, 39.9, 40):
        lines = grid_lines(start, start + 200, 40)
        assert lines and all(x % 40 == 0 for x in lines)
        assert lines[0] - 40 < start <= lines[0]
