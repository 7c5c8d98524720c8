"""The editor benchmark's panning measures (bench/editor.py): frame times while panning a
synthetic graph of about 500 nodes, at 100 %, at 40 % and with the whole graph in view.
"""

from __future__ import annotations

import gc
import time

from editor_timing import VIEW_SIZE, Measure, dispose, timed

FRAME_TARGET_MS = 16.0
PAN_STEP = 8  # screen pixels per frame, a brisk drag


def synthetic_graph(target_nodes: int = 500, towers: int = 3):
    """A ``builder.Graph`` of about ``target_nodes`` nodes, all ``16x32x32`` tensors:
    ``towers`` parallel columns fed by one input, each a sequence of residual blocks
    (conv, bn, relu, conv, bn, add with the block's input, relu: a skip wire past five
    boxes, routed through a lane) and branch blocks (three convolutions of the same
    tensor, added, bn, relu: fan-out and fan-in), with a cross-link (an add of the
    neighbouring tower's last output) every third block and one add of all towers at the
    end. About 1.2 wires per node: diagonal, fanned and routed wires, not a straight chain."""
    from builder import Graph, Node

    nodes: dict[str, Node] = {}

    def add(node_id: str, block: str, inputs: list[str], **params) -> str:
        nodes[node_id] = Node(node_id, block=block, params=params, inputs=inputs)
        return node_id

    def conv(node_id: str, source: str) -> str:
        return add(node_id, "conv2d", [source], out_channels=16, kernel_size=3, padding="same")

    add("x", "input", [], shape=[16, 32, 32])
    tails = [conv(f"t{t}_stem", "x") for t in range(towers)]
    block = 0
    while len(nodes) < target_nodes - 2 - towers:
        for t in range(towers):
            p, prev = f"t{t}_b{block}", tails[t]
            if block % 2 == 0:  # residual block: 7 nodes, 8 wires
                h = conv(f"{p}_conv1", prev)
                h = add(f"{p}_bn1", "batch_norm2d", [h])
                h = add(f"{p}_relu1", "relu", [h])
                h = conv(f"{p}_conv2", h)
                h = add(f"{p}_bn2", "batch_norm2d", [h])
                h = add(f"{p}_add", "add", [h, prev])
                tails[t] = add(f"{p}_relu2", "relu", [h])
            else:  # branch block: 6 nodes, 8 wires
                branches = [conv(f"{p}_conv{i}", prev) for i in "abc"]
                h = add(f"{p}_add", "add", branches)
                h = add(f"{p}_bn", "batch_norm2d", [h])
                tails[t] = add(f"{p}_relu", "relu", [h])
        if block % 3 == 2:  # cross-links between neighbouring towers
            tails = [add(f"t{t}_x{block}", "add", [tails[t], tails[(t + 1) % towers]]) for t in range(towers)]
        block += 1
    merged = add("merge", "add", list(tails))
    add("out", "output", [merged])
    return Graph(nodes=nodes, name="synthetic")


def pan_segments(view, frames: int, segments: int, sideways: bool = True):
    """Start points (scene coordinates) and directions of pan segments spread over the
    graph: a walk down the graph, panning alternately down, right, up and left (only down
    and up without ``sideways``)."""
    rect = view.graph_scene.nodes_rect()
    visible = view.visible_scene_rect()
    per = max(1, frames // segments)
    directions = [(0, 1), (1, 0), (0, -1), (-1, 0)] if sideways else [(0, 1), (0, -1)]
    out = []
    for s in range(segments):
        fy = (s + 0.5) / segments
        fx = [0.5, 0.25, 0.5, 0.75][s % 4]
        x = rect.left() + fx * rect.width()
        y = rect.top() + visible.height() / 2 + fy * max(0.0, rect.height() - visible.height())
        out.append(((x, y), directions[s % len(directions)], per))
    return out


def bench_pan(app, frames: int, results: list[Measure]) -> dict[str, str]:
    from gui.canvas import GraphScene, GraphView
    from gui.document import GraphDocument

    graph = synthetic_graph()
    start, start_cpu = time.perf_counter(), time.process_time()
    document = GraphDocument(graph)
    if not document.analysis.ok:
        raise SystemExit(f"the synthetic graph does not check: {document.analysis.errors[0]}")
    scene = GraphScene(document)
    view = GraphView(scene)
    view.resize(*VIEW_SIZE)
    view.show()
    view.fit_all()
    app.processEvents()
    view.viewport().grab()
    build = Measure("pan graph: document+scene+view+paint (once)")
    build.add(time.perf_counter() - start, time.process_time() - start_cpu)
    rect = scene.nodes_rect()
    info = (f"{len(scene.node_items)} nodes, {len(scene.wire_items)} wires, "
            f"{sum(w.lane is not None for w in scene.wire_items.values())} routed through lanes; "
            f"laid out {rect.width():.0f} x {rect.height():.0f} px")

    def scroll() -> tuple[int, int]:
        return view.horizontalScrollBar().value(), view.verticalScrollBar().value()

    def pan_frames(measure: Measure, plan) -> int:
        """Time the frames of ``plan``; returns how many did not move (an edge reached)."""
        viewport = view.viewport()
        still = 0
        for (x, y), (dx, dy), count in plan:
            view.centerOn(x, y)
            app.processEvents()
            viewport.repaint()  # untimed: the jump between segments
            for _ in range(count):
                before = scroll()

                def frame(dx=dx, dy=dy) -> None:
                    view.pan_by(dx * PAN_STEP, dy * PAN_STEP)
                    viewport.repaint()

                timed(measure, frame)
                still += scroll() == before
            app.processEvents()
        return still

    measures, notes = [], {}
    # at 100 %, and at 40 % (below readable: the level of detail where nodes show only
    # their id and shape in large letters, with more of the graph in view; the graph is
    # then about as wide as the view, so only up and down), pans spread over the graph
    for zoom, target, share in ((1.0, FRAME_TARGET_MS, 1.0), (0.4, FRAME_TARGET_MS, 0.5)):
        view.zoom_by(zoom / view.zoom())
        app.processEvents()
        n = max(4, round(frames * share))
        segments = max(4, n // 50)
        measure = Measure(f"pan at zoom {zoom:.2f}: {PAN_STEP} px + repaint", target)
        gc.collect()
        still = pan_frames(measure, pan_segments(view, n, segments, sideways=zoom >= 1.0))
        notes[f"zoom {zoom:.2f}"] = f"{len(measure.wall)} frames in {segments} segments, {still} at an edge"
        measures.append(measure)

    # everything in view (far below readable, so not what fit_all does): plain boxes and wires
    rect = scene.nodes_rect()
    view.zoom_by(view.screen().zoom_to_fit(rect.width(), rect.height()) / view.zoom())
    view.centerOn(rect.center())
    app.processEvents()
    far = Measure(f"pan, whole graph in view (zoom {view.zoom():.2f})", FRAME_TARGET_MS)
    center = view.visible_scene_rect().center()
    wiggle = [((center.x(), center.y()), d, max(1, frames // 8)) for d in [(1, 0), (-1, 0), (0, 1), (0, -1)]]
    gc.collect()
    still = pan_frames(far, wiggle)
    # the whole graph fits, so the view can scroll little or not at all: those frames
    # repaint the same picture, which costs the same (every frame repaints it all)
    notes["whole graph"] = f"zoom {view.zoom():.2f}, {len(far.wall)} frames, {still} at an edge (no scrolling possible)"
    results += measures + [far, build]
    dispose(app, view, scene, document)
    return {"graph": info, "notes": notes, "near": measures[0], "lod": measures[1], "far": far}
