"""Is the graph editor responsive? Opening a large graph, editing a parameter, panning.

    .venv/bin/python bench/editor.py [--quick] [--repeats N] [--changes N] [--frames N] [--graph PATH]

Times the three targets of the editor's responsiveness off screen (Qt's ``offscreen``
platform and software rasterizer, set before Qt is imported), in one process with one
``QApplication``, imports done before any timing:

1. **open**: from nothing to ``graphs/resnet50.yaml`` laid out and painted:
   ``GraphDocument.open`` + ``GraphScene`` (layout, items, wire routing) + ``GraphView``
   shown at 1600x1000, ``fit_all``, ``processEvents`` and one full paint (``grab``). Also
   the whole ``MainWindow`` path (window with palette, inspector, overview and problems
   panel, started as ``modelbuilder gui GRAPH`` starts it: ``gui.app.open_window``, which
   shows the window, then opens the file laid out for it and fitted readably; paint of
   the window). Target < 1 s.
   **open readable**: the same ``MainWindow`` path for ``graphs/googlenet.yaml``, checked
   to end readable (every node in view, its text at least ``gui.readable.MIN_TEXT_PX``
   high); the zoom and text height on open of lenet5, googlenet and resnet50 are
   printed. Target < 1 s.
2. **edit**: a parameter change to the new shapes on screen: ``document.set_param`` (undo
   command, analysis, every node and wire label refreshed), the wire routing the event
   loop would run next, and a synchronous repaint of the canvas; checked each time: the
   label of the wire out of the edited node changed, and the canvas was painted. Four
   edits (shapes a few / all / none valid below, one label) and one in the main window.
   Target < 50 ms.
3. **pan**: frame time while panning a synthetic 500-node, ~600-wire graph at zoom 1.0:
   ``view.pan_by`` 8 px, then a synchronous repaint of the whole viewport. Also at zoom
   0.4 (nodes show only their id and shape, in large letters) and with the whole graph
   in view (zoom 0.05, plain boxes: the level of detail). Target < 16 ms.

Output: a table (median, min and p95 over the samples, median process CPU time, target,
ok?) and then ``key=value`` lines, the last ``pan_frame_ms=`` (median at zoom 1.0). The
exit status is 0 whatever the figures (it is a measurement, not a test), unless the
editor fails to do what is timed (e.g. a wire label that does not change).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

OPEN_TARGET_MS = 1000.0
EDIT_TARGET_MS = 50.0
FRAME_TARGET_MS = 16.0
VIEW_SIZE = (1600, 1000)
PAN_STEP = 8  # screen pixels per frame, a brisk drag
SCRATCH = tempfile.TemporaryDirectory()  # settings and recovery folders of the windows opened


# --- statistics and output --------------------------------------------------------------

@dataclass
class Measure:
    """Samples of one measure, in seconds: wall clock and process CPU time."""

    name: str
    target_ms: float | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.wall) * 1e3

    @property
    def min_ms(self) -> float:
        return min(self.wall) * 1e3

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.wall)  # nearest rank
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1e3

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1e3

    def row(self) -> str:
        target = f"< {self.target_ms:g}" if self.target_ms is not None else ""
        ok = ("ok" if self.median_ms < self.target_ms else "SLOW") if self.target_ms is not None else ""
        return (f"{self.name:<50} {self.median_ms:>9.1f} {self.min_ms:>9.1f} {self.p95_ms:>9.1f} "
                f"{self.cpu_ms:>9.1f} {len(self.wall):>5}  {target:<7} {ok}").rstrip()


HEADER = (f"{'measure':<50} {'median ms':>9} {'min ms':>9} {'p95 ms':>9} {'cpu ms':>9} {'n':>5}  "
          f"{'target':<7} ok?")


def binding_leaks_none() -> bool:
    """Whether this PySide6 drops references to None (6.12.0 does; pyproject excludes it):
    on Python < 3.12 such a binding aborts the run with "none_dealloc" within seconds."""
    from PySide6.QtCore import QPointF

    point = QPointF()
    before = sys.getrefcount(None)
    for _ in range(1000):
        point.setX(1.0)  # returns None
    return before - sys.getrefcount(None) > 10


def timed(measure: Measure, action: Callable[[], object]) -> object:
    """Run ``action`` once, adding its wall-clock and process CPU time to ``measure``."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = action()
    measure.add(time.perf_counter() - start, time.process_time() - start_cpu)
    return result


def load_report() -> str:
    """The load average, with a warning when other processes compete for the CPU."""
    try:
        load = os.getloadavg()
    except (AttributeError, OSError):  # Windows
        return "load average unknown"
    cores = os.cpu_count() or 1
    text = f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {cores} cores"
    if load[0] > max(0.75, cores - 1 + 0.25):
        text += ("\nwarning: other processes compete for the CPU; wall-clock times will be inflated "
                 "and noisy (the cpu ms column is less affected)")
    return text


# --- the synthetic graph ------------------------------------------------------------------

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


# --- the benchmarks -----------------------------------------------------------------------

class PaintCounter:
    """Counts paint events of the widgets it watches (an event filter), to check that a
    timed paint really painted."""

    def __init__(self) -> None:
        self.count = 0
        self._filter = None

    def watch(self, widget) -> None:
        from PySide6.QtCore import QEvent, QObject

        if self._filter is None:
            counter = self

            class Filter(QObject):
                def eventFilter(self, obj, event):
                    if event.type() == QEvent.Paint:
                        counter.count += 1
                    return False

            self._filter = Filter()
        widget.installEventFilter(self._filter)


PAINTS = PaintCounter()


def dispose(app, *objects) -> None:
    """Delete Qt objects now (outside any timing) so one repeat does not slow the next."""
    for obj in objects:
        if obj is not None and hasattr(obj, "close"):
            obj.close()
    for obj in objects:
        if obj is not None:
            obj.deleteLater()
    app.processEvents()
    from PySide6.QtCore import QCoreApplication, QEvent
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    gc.collect()


def open_view(app, path: Path):
    """Open ``path`` in a bare canvas, shown, fitted and painted once."""
    from gui.canvas import GraphScene, GraphView
    from gui.document import GraphDocument

    document = GraphDocument.open(path)
    scene = GraphScene(document)
    view = GraphView(scene)
    view.resize(*VIEW_SIZE)
    view.show()
    view.fit_all()
    app.processEvents()
    view.viewport().grab()  # renders the viewport: one full paint
    return document, scene, view


def bench_open(app, path: Path, repeats: int, results: list[Measure]) -> dict[str, str]:
    cold = Measure("  first open in the process (cold caches)")
    canvas = Measure(f"open {path.name}: document+scene+view+paint", OPEN_TARGET_MS)

    def once(measure: Measure) -> str:
        gc.collect()
        document, scene, view = timed(measure, lambda: open_view(app, path))
        info = f"{len(scene.node_items)} nodes, {len(scene.wire_items)} wires, zoom {view.zoom():.2f}"
        dispose(app, view, scene, document)
        return info

    info = once(cold)  # the very first also loads fonts, fills glyph and registry caches ...
    for _ in range(repeats):
        once(canvas)

    window_m = Measure(f"open {path.name}: MainWindow+open_file+paint", OPEN_TARGET_MS)
    construct_m = Measure("  of which MainWindow() (palette, docks)")
    for i in range(repeats + 1):
        window = open_window_timed(app, path, window_m, construct_m)
        dispose(app, window)
        if i == 0:  # the first one (first MainWindow) is a warm-up
            for measure in (window_m, construct_m):
                measure.wall.clear()
                measure.cpu.clear()
    results += [canvas, cold, window_m, construct_m]
    return {"graph": info, "canvas": canvas, "window": window_m}


def open_window_timed(app, path: Path, measure: Measure, construct: Measure | None = None):
    """``MainWindow()`` and ``gui.app.open_window`` (shown at 1600x1000, then the file
    opened, laid out for the window and fitted), ``processEvents`` and a paint of the
    window, timed into ``measure`` (and the constructor alone into ``construct``)."""
    from PySide6.QtCore import QSettings

    from gui.app import open_window
    from gui.main_window import MainWindow

    errors: list[str] = []
    scratch = Path(SCRATCH.name) / f"window{len(measure.wall)}"
    gc.collect()
    settings = QSettings(str(scratch / "settings.ini"), QSettings.IniFormat)
    start, start_cpu = time.perf_counter(), time.process_time()
    window = MainWindow(settings=settings, recovery_folder=scratch / "recovery")
    built, built_cpu = time.perf_counter(), time.process_time()
    window.show_error = lambda title, text: errors.append(f"{title}: {text}")
    _, opened = open_window(str(path), VIEW_SIZE, window)
    app.processEvents()
    window.grab()
    end, end_cpu = time.perf_counter(), time.process_time()
    if not opened:
        raise SystemExit(f"opening {path} in the main window failed: {errors}")
    measure.add(end - start, end_cpu - start_cpu)
    if construct is not None:
        construct.add(built - start, built_cpu - start_cpu)
    window.document.undo_stack.setClean()  # nothing to ask about on close
    return window


def readable_report(window) -> str:
    """Zoom and text height after opening; SystemExit if a node is out of view or its text
    is below the readability threshold (then the figure would time the wrong thing)."""
    from gui.canvas.node_item import text_height
    from gui.layout import NODE_HEIGHT, NODE_WIDTH
    from gui.readable import MIN_TEXT_PX, is_readable

    view = window.view
    visible = view.visible_scene_rect()
    hidden = [i for i, item in window.scene.node_items.items()
              if not visible.contains(item.mapRectToScene(0, 0, NODE_WIDTH, NODE_HEIGHT))]
    if hidden or not is_readable(view.zoom(), text_height()):
        raise SystemExit(f"{window.document.display_name} opened unreadable: zoom {view.zoom():.2f}, "
                         f"text {view.text_pixels():.1f} px (< {MIN_TEXT_PX}?), out of view: {hidden[:5]}")
    columns = len({round(item.pos().x()) for item in window.scene.node_items.values()})
    return (f"zoom {view.zoom():.2f}, text {view.text_pixels():.1f} px high, "
            f"{len(window.scene.node_items)} nodes in {columns} columns, all in view")


def bench_readable(app, repeats: int, results: list[Measure]) -> dict[str, str]:
    """Open googlenet (and, once each, lenet5 and resnet50) to a readable, painted view."""
    measure = Measure("open googlenet.yaml readable: MainWindow+open+paint", OPEN_TARGET_MS)
    notes = {}
    for name in ("lenet5", "googlenet", "resnet50"):
        window = open_window_timed(app, ROOT / "graphs" / f"{name}.yaml", Measure(name))
        notes[name] = readable_report(window)
        dispose(app, window)
    for _ in range(repeats):
        window = open_window_timed(app, ROOT / "graphs" / "googlenet.yaml", measure)
        readable_report(window)
        dispose(app, window)
    results.append(measure)
    return {"notes": notes, "measure": measure}


@dataclass
class Change:
    """A parameter toggled between two values, and the wire whose label must follow."""

    name: str
    node: str
    param: str
    values: tuple
    note: str


def changes_for(document) -> list[Change]:
    """The edits timed on resnet50 (or the first conv2d / linear of another graph)."""
    nodes = document.graph.nodes
    conv = next((n for n in nodes.values() if n.block == "conv2d"), None)
    linear = next((n for n in reversed(nodes.values()) if n.block == "linear"), None)
    found = []
    if conv is not None:
        channels = conv.params.get("out_channels", 64)
        stride = conv.params.get("stride", 1)
        kernel = conv.params.get("kernel_size", 3)
        found += [
            Change(f"{conv.id}.out_channels", conv.id, "out_channels", (channels, channels // 2 or 1),
                   "a few labels change"),
            Change(f"{conv.id}.stride", conv.id, "stride", (stride, 1 if stride != 1 else 2),
                   "every shape below changes"),
            Change(f"{conv.id}.kernel_size", conv.id, "kernel_size", (kernel, 1001),
                   "error; shapes below: ?"),
        ]
    if linear is not None:
        features = linear.params.get("out_features", 1000)
        found.append(Change(f"{linear.id}.out_features", linear.id, "out_features",
                            (features, 10 if features != 10 else 20), "one label changes"))
    return found


def time_changes(app, measure: Measure, document, scene, change: Change, count: int, paint) -> set[str]:
    """Toggle ``change`` ``count`` times (after two untimed warm-ups, one per value), timing
    ``set_param`` + the wire routing the scene would do next + ``paint()`` (a synchronous
    repaint); checks each time that the label of a wire out of the node changed and that
    a paint happened. Returns the labels seen."""
    wire = next((w for w in scene.wire_items.values() if w.source == change.node), None)
    if wire is None:
        raise SystemExit(f"no wire out of {change.node}: cannot check that its label changes")
    labels = set()
    for i in range(count + 2):
        value = change.values[(i + 1) % 2]
        before_label, before_paints = wire.label, PAINTS.count
        gc.collect()

        def edit(value=value) -> None:
            if not document.set_param(change.node, change.param, value):
                raise SystemExit(f"set_param({change.node}, {change.param}, {value!r}) changed nothing")
            # analysisChanged has refreshed every node and label; the scene's routing timer
            # (0 ms) would run next in the event loop: run it here, then paint
            scene.route_wires()
            paint()

        timed(measure, edit)
        if wire.label == before_label:
            raise SystemExit(f"{change.name} = {value!r}: the label of the wire {wire.key} stayed {before_label!r}")
        if PAINTS.count == before_paints:
            raise SystemExit(f"{change.name}: the canvas was not painted")
        labels.add(wire.label)
        if i < 2:  # warm-up
            measure.wall.pop()
            measure.cpu.pop()
        app.processEvents()  # untimed: whatever the edit posted (a second, redundant paint)
    document.set_param(change.node, change.param, change.values[0])  # back to the file's value
    app.processEvents()
    return labels


def bench_edit(app, path: Path, count: int, results: list[Measure]) -> dict:
    document, scene, view = open_view(app, path)
    view.fit_all()  # readable: labels large enough to be drawn
    app.processEvents()
    PAINTS.watch(view.viewport())
    notes = {}
    headline = None
    changes = changes_for(document)
    if not changes:
        raise SystemExit(f"{path}: no conv2d or linear node to edit")
    for change in changes:
        measure = Measure(f"edit {change.name} ({change.note})", EDIT_TARGET_MS)
        labels = time_changes(app, measure, document, scene, change, count, view.viewport().repaint)
        wire = next(w for w in scene.wire_items.values() if w.source == change.node)
        notes[change.name] = f"label of {wire.source} -> {wire.target}: {' / '.join(sorted(labels))}"
        results.append(measure)
        if change.param == "out_channels" or headline is None:
            headline = measure
    dispose(app, view, scene, document)

    # the same in the main window, the node selected: the inspector shows its fields and
    # the problems panel and status bar follow every analysis. Painted the way the event
    # loop paints: processEvents() repaints every widget that asked for it (canvas
    # included, checked), in one pass; QMainWindow.repaint() would not reach the canvas.
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow

    change = next((c for c in changes if c.param == "stride"), changes[0])
    with tempfile.TemporaryDirectory() as scratch:
        window = MainWindow(settings=QSettings(str(Path(scratch) / "settings.ini"), QSettings.IniFormat),
                            recovery_folder=Path(scratch) / "recovery")
        window.resize(*VIEW_SIZE)
        window.show()
        window.open_file(path, ask=False)  # laid out for the window, fitted readably
        window.select_and_show(change.node)
        app.processEvents()
        PAINTS.watch(window.view.viewport())
        measure = Measure(f"edit {change.name} in MainWindow, node selected", EDIT_TARGET_MS)
        time_changes(app, measure, window.document, window.scene, change, count, app.processEvents)
        results.append(measure)
        window.document.undo_stack.setClean()
        dispose(app, window)
    return {"headline": headline, "labels": notes}


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


# --- main ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and frames (a smoke run, noisier figures)")
    parser.add_argument("--repeats", type=int, default=None, help="opens of the graph per path (default 5; 2 with --quick)")
    parser.add_argument("--changes", type=int, default=None,
                        help="timed changes of each parameter (default 30; 10 with --quick)")
    parser.add_argument("--frames", type=int, default=None, help="pan frames at zoom 1.0 (default 400; 120 with --quick)")
    parser.add_argument("--graph", type=Path, default=ROOT / "graphs/resnet50.yaml",
                        help="the graph opened and edited (default graphs/resnet50.yaml)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    changes = args.changes or (10 if args.quick else 30)
    frames = args.frames or (120 if args.quick else 400)
    if not args.graph.exists():
        parser.error(f"--graph {args.graph}: no such file")

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import PySide6
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    import gui.main_window  # noqa: F401  (imports outside the timings: the app has them at start)

    print(f"PySide6 {PySide6.__version__}, Python {sys.version.split()[0]}, platform "
          f"{QGuiApplication.platformName()}, view {VIEW_SIZE[0]}x{VIEW_SIZE[1]}, {load_report()}")
    if binding_leaks_none():
        print("error: this PySide6 drops references to None (6.12.0 does) and would abort the run; "
              "install another release: pip install 'PySide6-Essentials!=6.12.0'", file=sys.stderr)
        return 2
    started = time.perf_counter()
    results: list[Measure] = []
    opened = bench_open(app, args.graph, repeats, results)
    readable = bench_readable(app, repeats, results)
    edited = bench_edit(app, args.graph, changes, results)
    panned = bench_pan(app, frames, results)

    print(f"{args.graph.name}: {opened['graph']} (after fit_all)")
    for name, text in readable["notes"].items():
        print(f"  open {name}.yaml in the main window: {text}")
    for name, text in edited["labels"].items():
        print(f"  edit {name}: {text}")
    print(f"pan graph: {panned['graph']}")
    for name, text in panned["notes"].items():
        print(f"  pan {name}: {text}")
    print()
    print(HEADER)
    for measure in results:
        print(measure.row())
    print()
    edits = [m for m in results if m.name.startswith("edit")]
    edit = edited["headline"]
    worst_edit = max(edits, key=lambda m: m.median_ms)
    print(f"timing took {time.perf_counter() - started:.0f} s; {load_report().splitlines()[0]}")
    key = "open_resnet50_ms" if args.graph.name == "resnet50.yaml" else "open_graph_ms"
    print(f"{key}={opened['canvas'].median_ms:.1f}")
    print(f"open_window_ms={opened['window'].median_ms:.1f}")
    print(f"open_googlenet_readable_ms={readable['measure'].median_ms:.1f}")
    print(f"param_change_ms={edit.median_ms:.1f}")
    print(f"param_change_worst_ms={worst_edit.median_ms:.1f}")
    print(f"pan_frame_p95_ms={panned['near'].p95_ms:.1f}")
    print(f"pan_frame_lod_ms={panned['lod'].median_ms:.1f}")
    print(f"pan_frame_fit_ms={panned['far'].median_ms:.1f}")
    print(f"pan_frame_ms={panned['near'].median_ms:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
