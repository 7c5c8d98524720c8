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

The measures are in parts: timing helpers (bench/editor_timing.py), opening
(bench/editor_open.py) and panning (bench/editor_pan.py); editing is here.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "bench"))  # its parts, also when imported from elsewhere

from editor_open import bench_open, bench_readable, open_view  # noqa: E402
from editor_pan import bench_pan  # noqa: E402
from editor_timing import (  # noqa: E402
    HEADER,
    PAINTS,
    VIEW_SIZE,
    Measure,
    binding_leaks_none,
    dispose,
    load_report,
    timed,
)

EDIT_TARGET_MS = 50.0


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
