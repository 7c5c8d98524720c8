"""The editor's layered layout against mature engines: igraph's Sugiyama and Graphviz dot.

    .venv/bin/python bench/layout_compare.py [--quick] [--sizes 500,5000] [--repeats N] [--only NAME,...]

Graphs: every gallery graph (graphs/*.yaml, its top-level nodes); ResNet-50 and
DenseNet-121 as a flat import would give them (one node per conv, bn, relu, add or
concat; built here, no torchvision); and generated ones of each size: ``chain``
(bench/check_scaling.py's residual chain: linear, relu, add with a skip), ``incep``
(inception-like blocks: four branches of 1-3 nodes merged by a concat, every other block
with a residual add around it) and ``random`` (a random DAG, seed 0: each node takes 1-3
inputs among the 12 nodes before it).

Engines, all top to bottom with the editor's box (``NODE_WIDTH`` x ``NODE_HEIGHT``) and
gaps (``H_GAP`` between boxes, ``V_GAP`` between layers):

- ``hand``: ``gui.layout.layered_layout`` (what ``GraphDocument.layered_positions`` gives
  without a view); ``hand-wrap``: ``wrapped_layout`` for a 1000x800 canvas at readable
  zoom 0.625 (what the editor does on open: bands side by side).
- ``igraph``: ``Graph.layout_sugiyama`` (python-igraph); it places every vertex and
  every dummy vertex of a long wire on a grid of unit gaps, so x is scaled by
  ``NODE_WIDTH + H_GAP`` and layers by ``NODE_HEIGHT + V_GAP``.
- ``dot``: the Graphviz ``dot`` binary (Debian's ``graphviz`` package, 2.43), boxes of the
  same size in points (1 px = 1 pt), ``nodesep``/``ranksep`` = the gaps, wires from the
  bottom center to the top center (``splines=polyline``); the time includes writing the
  graph and reading the answer. ``gv-pure``: the same with ``graphviz-pure`` (PyPI: a
  Rust port of Graphviz 16.1.0 as one binary, no Python code). Either is left out when
  it is not installed, as is igraph.

Metrics (the same code for every engine):

- ``cross drawn``: crossings of the wires as the editor draws them for those box
  positions (``gui.routing``: a curve from port to port, or a lane around the boxes in
  the way), curves flattened to 8 segments; ports at the boxes' top and bottom centers.
- ``cross own``: crossings of the engine's own routes: straight port to port through the
  points it reserved for long wires (hand: its waypoints; igraph: its dummy vertices;
  dot: its polylines); ``hand-wrap`` has none of its own (``-``).
- ``length``: total length of the drawn wires, in thousands of px.
- ``W x H``, ``aspect`` (W/H) of the bounding box of the boxes, and ``fit``: the zoom
  that shows it whole on that 1000x800 canvas (readable at >= 0.625).
- ``ms``: wall time of the layout call, median of up to ``--repeats`` runs (fewer when
  one run is long: about 10 s per graph and engine).

Then totals for the gallery and for the other graphs, and a last line of ``key=value``
crossing totals. Exit 0 whatever the figures (a measurement, not a test). The engines
are optional: ``pip install igraph graphviz-pure``, ``apt-get install graphviz``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from builder.yaml_format import load_graph, parse_graph  # noqa: E402
from check_scaling import graph_text  # noqa: E402
from gui import layout as L  # noqa: E402
from gui.readable import Screen  # noqa: E402
from gui.routing import BoxIndex, wire_points  # noqa: E402

W, H = L.NODE_WIDTH, L.NODE_HEIGHT
FLOW = L.flow_of(L.DOWN)
SCREEN = Screen(1000, 800, min_zoom=0.625)  # about the canvas of a 1600x1000 window (tests/gui)
CELL = 150.0  # grid cell of the crossing count
BUDGET_S = 10.0

try:
    import igraph
except ImportError:  # optional: the engine is left out
    igraph = None
DOT = shutil.which("dot")
# graphviz-pure (PyPI): a Rust port of Graphviz 16.1.0, one self-contained binary
GV_PURE = shutil.which("graphviz-pure") or shutil.which("graphviz-pure", path=str(Path(sys.executable).parent))


# ---------------------------------------------------------------- graphs
def from_graph(graph) -> tuple[list[str], dict[str, list[str]]]:
    ids = list(graph.nodes)
    return ids, {i: [r.node for r in graph.nodes[i].references()] for i in ids}


def chain(n: int):
    return from_graph(parse_graph(graph_text(n)))


def inception(n: int):
    sources: dict[str, list[str]] = {"x": []}
    previous, block = "x", 0
    while len(sources) < n - 1:
        b = f"b{block}"
        sources |= {f"{b}_1": [previous], f"{b}_2a": [previous], f"{b}_2b": [f"{b}_2a"],
                    f"{b}_3a": [previous], f"{b}_3b": [f"{b}_3a"], f"{b}_3c": [f"{b}_3b"],
                    f"{b}_4a": [previous], f"{b}_4b": [f"{b}_4a"],
                    f"{b}_cat": [f"{b}_1", f"{b}_2b", f"{b}_3c", f"{b}_4b"]}
        out = f"{b}_cat"
        if block % 2:
            sources[f"{b}_add"] = [out, previous]
            out = f"{b}_add"
        previous, block = out, block + 1
    sources["y"] = [previous]
    return list(sources), sources


def random_dag(n: int, seed: int = 0):
    rng = random.Random(seed)
    ids = [f"n{i}" for i in range(n)]
    sources = {ids[0]: []}
    for i in range(1, n):
        k = 1 if rng.random() < 0.6 else (2 if rng.random() < 0.75 else 3)
        sources[ids[i]] = [ids[s] for s in rng.sample(range(max(0, i - 12), i), min(k, i))]
    return ids, sources


def resnet50_flat():
    """ResNet-50 as a flat import would give it (one node per conv, bn, relu, add)."""
    sources: dict[str, list[str]] = {"x": []}

    def add(name, *inputs):
        sources[name] = list(inputs)
        return name

    out = add("maxpool", add("relu", add("bn1", add("conv1", "x"))))
    for stage, blocks in enumerate((3, 4, 6, 3), 1):
        for b in range(blocks):
            p, inp = f"layer{stage}_{b}_", out
            for k in (1, 2, 3):
                out = add(f"{p}bn{k}", add(f"{p}conv{k}", out))
                out = add(f"{p}relu{k}", out) if k < 3 else out
            skip = add(f"{p}ds_bn", add(f"{p}ds_conv", inp)) if b == 0 else inp
            out = add(f"{p}relu", add(f"{p}add", out, skip))
    add("fc", add("flatten", add("avgpool", out)))
    return list(sources), sources


def densenet121_flat():
    """DenseNet-121 as a flat import would give it: each layer reads a concat of every
    earlier layer of its block."""
    sources: dict[str, list[str]] = {"x": []}
    out = "x"
    for name in ("conv0", "norm0", "relu0", "pool0"):
        sources[name], out = [out], name
    for block, layers in enumerate((6, 12, 24, 16), 1):
        features = [out]
        for i in range(layers):
            p = f"b{block}_{i}_"
            x = features[0]
            if len(features) > 1:
                sources[x := f"{p}cat"] = list(features)
            for name in ("norm1", "relu1", "conv1", "norm2", "relu2", "conv2"):
                sources[p + name], x = [x], p + name
            features.append(x)
        sources[out := f"b{block}_cat"] = list(features)
        if block < 4:
            for name in ("norm", "relu", "conv", "pool"):
                sources[f"t{block}_{name}"], out = [out], f"t{block}_{name}"
    for name in ("norm5", "relu5", "avgpool", "flatten", "classifier"):
        sources[name], out = [out], name
    return list(sources), sources


def cases(sizes: list[int], only: set[str]):
    found = [(p.stem, True, lambda p=p: from_graph(load_graph(p))) for p in sorted((ROOT / "graphs").glob("*.yaml"))]
    found += [("resnet50_flat", False, resnet50_flat), ("densenet121_flat", False, densenet121_flat)]
    for n in sizes:
        found += [(f"chain{n}", False, lambda n=n: chain(n)), (f"incep{n}", False, lambda n=n: inception(n)),
                  (f"random{n}", False, lambda n=n: random_dag(n))]
    return [case for case in found if not only or case[0] in only]


def edges_of(ids, sources) -> list[tuple[str, str]]:
    """The wires the layouts take into account: one per (source, target), no self-loops."""
    known = set(ids)
    return [(s, t) for t in ids for s in dict.fromkeys(sources.get(t, ())) if s in known and s != t]


# ---------------------------------------------------------------- engines
# each returns (top-left position of every node, own route of every wire or None);
# a route is the list of points between the two ports
def hand(ids, sources):
    return L.layered_layout(ids, sources, L.DOWN), None


def hand_routes(ids, sources):
    """The waypoints gui.layout reserves for wires that skip layers (``_layered``'s
    routes), shifted as ``layered_layout`` shifts."""
    laid = L._layered(ids, sources, FLOW)
    low = min(laid.center[n] - laid.size[n] / 2 for n in laid.center)
    routes = {}
    for s, t in edges_of(ids, sources):
        if laid.layer[s] >= laid.layer[t]:
            continue
        points = []
        for point in laid.routes.get((s, t), ()):
            x, level = laid.center[point] - low, laid.layer[point]
            points += [(x, level * FLOW.pitch), (x, level * FLOW.pitch + H)]
        routes[(s, t)] = points
    return routes


def hand_wrap(ids, sources):
    return L.wrapped_layout(ids, sources, L.DOWN, SCREEN), None


def sugiyama(ids, sources):
    index = {n: i for i, n in enumerate(ids)}
    edges = edges_of(ids, sources)
    graph = igraph.Graph(n=len(ids), edges=[(index[s], index[t]) for s, t in edges], directed=True)
    layout = graph.layout_sugiyama()
    sx, sy = W + L.H_GAP, FLOW.pitch
    xs = [x for x, _ in layout.coords[:len(ids)]]
    shift = min(xs) * sx - W / 2
    positions = {n: (x * sx - W / 2 - shift, y * sy) for n, (x, y) in zip(ids, layout.coords[:len(ids)])}
    routes = {}
    for edge, points in zip(edges, layout.edge_routing):
        routes[edge] = [p for x, y in points for p in ((x * sx - shift, y * sy), (x * sx - shift, y * sy + H))]
    return positions, routes


def dot(ids, sources, binary=DOT):
    index = {n: i for i, n in enumerate(ids)}
    lines = ["digraph G {", f"graph [rankdir=TB, nodesep={L.H_GAP / 72}, ranksep={L.V_GAP / 72}, splines=polyline];",
             f'node [shape=box, fixedsize=true, width={W / 72}, height={H / 72}, label=""];',
             "edge [tailport=s, headport=n, arrowhead=none];"]
    lines += [f"n{i};" for i in range(len(ids))]
    edges = edges_of(ids, sources)
    lines += [f"n{index[s]} -> n{index[t]};" for s, t in edges]
    lines.append("}")
    done = subprocess.run([binary, "-Tplain"], input="\n".join(lines), capture_output=True, text=True, check=True)
    height, positions, routes = 0.0, {}, {}
    for line in done.stdout.splitlines():
        f = line.split()
        if f[0] == "graph":
            height = float(f[3]) * 72
        elif f[0] == "node":
            x, y = float(f[2]) * 72, height - float(f[3]) * 72
            positions[ids[int(f[1][1:])]] = (x - W / 2, y - H / 2)
        elif f[0] == "edge":
            count = int(f[3])
            points = [(float(f[4 + 2 * k]) * 72, height - float(f[5 + 2 * k]) * 72) for k in range(count)]
            routes[(ids[int(f[1][1:])], ids[int(f[2][1:])])] = points[1:-1]
    return positions, routes


def gv_pure(ids, sources):
    return dot(ids, sources, GV_PURE)


ENGINES = {"hand": hand, "hand-wrap": hand_wrap, "igraph": sugiyama, "dot": dot, "gv-pure": gv_pure}


# ---------------------------------------------------------------- metrics
def ports(positions, s, t):
    (sx, sy), (tx, ty) = positions[s], positions[t]
    return (sx + W / 2, sy + H), (tx + W / 2, ty)


def cubic(p0, c1, c2, p3, steps=8):
    out = []
    for k in range(1, steps + 1):
        u = k / steps
        a, b, c, d = (1 - u) ** 3, 3 * u * (1 - u) ** 2, 3 * u * u * (1 - u), u ** 3
        out.append((a * p0[0] + b * c1[0] + c * c2[0] + d * p3[0], a * p0[1] + b * c1[1] + c * c2[1] + d * p3[1]))
    return out


def drawn_wires(positions, edges):
    """Each wire as the editor draws it (flow down: flow coordinates are scene x, y)."""
    boxes = BoxIndex(((n, x, y) for n, (x, y) in positions.items()), FLOW)
    wires = []
    for s, t in edges:
        start, end = ports(positions, s, t)
        lane, _side = boxes.lane(start, end, {s, t})
        points, here = [start], start
        for kind, pts in wire_points(FLOW, start, end, lane):
            points += cubic(here, *pts) if kind == "cubic" else list(pts)
            here = points[-1]
        wires.append(points)
    return wires


def own_wires(positions, edges, routes):
    wires = []
    for s, t in edges:
        start, end = ports(positions, s, t)
        wires.append([start, *routes.get((s, t), ()), end])
    return wires


def length(wires) -> float:
    return sum(math.dist(a, b) for w in wires for a, b in zip(w, w[1:]))


def _orient(a, b, c) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def crossings(wires) -> int:
    """Proper intersections between segments of different wires (touching at a shared
    port, or running along one another, is no crossing), found through a grid: each
    segment is filed under every cell its bounding box meets, and an intersection is
    counted in the cell it lies in only."""
    grid: dict[tuple[int, int], list[tuple[int, tuple, tuple]]] = {}
    for w, points in enumerate(wires):
        for a, b in zip(points, points[1:]):
            if a == b:
                continue
            for i in range(math.floor(min(a[0], b[0]) / CELL), math.floor(max(a[0], b[0]) / CELL) + 1):
                for j in range(math.floor(min(a[1], b[1]) / CELL), math.floor(max(a[1], b[1]) / CELL) + 1):
                    grid.setdefault((i, j), []).append((w, a, b))
    count = 0
    for (i, j), segs in grid.items():
        for k, (w1, a, b) in enumerate(segs):
            for w2, c, d in segs[k + 1:]:
                if w1 == w2:
                    continue
                d1, d2 = _orient(a, b, c), _orient(a, b, d)
                if d1 * d2 >= 0:
                    continue
                d3, d4 = _orient(c, d, a), _orient(c, d, b)
                if d3 * d4 >= 0:
                    continue
                u = d3 / (d3 - d4)
                px, py = a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1])
                if math.floor(px / CELL) == i and math.floor(py / CELL) == j:
                    count += 1
    return count


def overlaps(positions) -> int:
    """Pairs of boxes that overlap (a sanity check of the scaling: should be 0)."""
    grid: dict[tuple[int, int], list[tuple[float, float]]] = {}
    count = 0
    for x, y in positions.values():
        cell = (math.floor(x / W), math.floor(y / H))
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                for ox, oy in grid.get((cell[0] + di, cell[1] + dj), ()):
                    count += abs(ox - x) < W - 0.5 and abs(oy - y) < H - 0.5
        grid.setdefault(cell, []).append((x, y))
    return count


def measure(engine, ids, sources, repeats: int):
    times, result = [], None
    while len(times) < repeats and (not times or sum(times) < BUDGET_S):
        started = time.perf_counter()
        result = engine(ids, sources)
        times.append(time.perf_counter() - started)
    positions, routes = result
    if engine is hand:
        routes = hand_routes(ids, sources)
    edges = edges_of(ids, sources)
    drawn = drawn_wires(positions, edges)
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    width, height = max(xs) - min(xs) + W, max(ys) - min(ys) + H
    cross_drawn = crossings(drawn)
    return {"cross_drawn": cross_drawn,
            "cross_own": None if routes is None else crossings(own_wires(positions, edges, routes)),
            "length": length(drawn) / 1000, "width": width, "height": height, "aspect": width / height,
            "fit": SCREEN.zoom_to_fit(width, height), "ms": statistics.median(times) * 1000,
            "runs": len(times), "overlaps": overlaps(positions)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="500,5000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="graph names, comma-separated (e.g. resnet50,chain500)")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--quick", action="store_true",
                        help="sizes up to 500, one run each, no DenseNet-121 (dot takes minutes on it)")
    args = parser.parse_args(argv)
    sizes = [n for n in (int(s) for s in args.sizes.split(",") if s) if n > 0]
    if args.quick:
        sizes, args.repeats = [s for s in sizes if s <= 500], 1
    engines = [e for e in args.engines.split(",") if e in ENGINES]
    if igraph is None and "igraph" in engines:
        print("igraph not installed (pip install igraph): left out")
        engines.remove("igraph")
    binaries = (("dot", DOT, "apt-get install graphviz"), ("gv-pure", GV_PURE, "pip install graphviz-pure"))
    for name, binary, how in binaries:
        if binary is None and name in engines:
            print(f"{name} not found ({how}): left out")
            engines.remove(name)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f} on {os.cpu_count()} cores"
          + ("\nwarning: other processes compete for the CPU; times are inflated" if load > 0.5 else ""))
    versions = [f"igraph {igraph.__version__}" if igraph and "igraph" in engines else ""]
    for name, binary in (("dot", DOT), ("gv-pure", GV_PURE)):
        if name in engines:
            versions.append(subprocess.run([binary, "-V"], capture_output=True, text=True).stderr.strip())
    print(", ".join(v for v in versions if v))
    for e in engines:  # warm-up: imports and first calls are not timed
        ENGINES[e](*chain(20))
    print("| graph | nodes | wires | engine | cross drawn | cross own | length kpx | W x H px | aspect | fit | ms |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    keys = ("cross_drawn", "length", "ms")
    totals = {(g, e): dict.fromkeys(keys, 0.0) for g in ("gallery", "generated") for e in engines}
    only = set(filter(None, args.only.split(",")))
    for name, gallery, make in cases(sizes, only):
        if args.quick and name == "densenet121_flat" and name not in only:
            continue
        ids, sources = make()
        wires = len(edges_of(ids, sources))
        for e in engines:
            m = measure(ENGINES[e], ids, sources, args.repeats)
            runs = "" if m["runs"] == args.repeats else f" ({m['runs']})"
            warn = f" (OVERLAPS {m['overlaps']})" if m["overlaps"] else ""
            own = "-" if m["cross_own"] is None else f"{m['cross_own']:,}"
            print(f"| {name} | {len(ids):,} | {wires:,} | {e}{warn} | {m['cross_drawn']:,} | {own} "
                  f"| {m['length']:,.1f} | {m['width']:,.0f} x {m['height']:,.0f} | {m['aspect']:.3g} "
                  f"| {m['fit']:.2f} | {m['ms']:,.1f}{runs} |", flush=True)
            for key in keys:
                totals[("gallery" if gallery else "generated", e)][key] += m[key]
    for group in ("gallery", "generated"):
        print(f"{group} totals: " + "; ".join(
            f"{e} {t['cross_drawn']:,.0f} crossings, {t['length']:,.0f} kpx, {t['ms']:,.0f} ms"
            for (g, e), t in totals.items() if g == group))
    print(" ".join(f"{g}_{e}_crossings={t['cross_drawn']:.0f}".replace("-", "_") for (g, e), t in totals.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
