"""Is a 5,000-node graph fluid in the app? (issue 22: open < 2 s, < 16 ms a frame with the
whole graph in view)

    .venv/bin/python bench/big_graph_app.py [--nodes 5000] [--frames 40]

Writes the synthetic graph of bench/editor.py (parallel towers of residual and branch
blocks with cross-links: fan-out, fan-in and long skip wires, not a plain chain) with
``--nodes`` nodes to a file, then in one process with one QApplication (offscreen):

1. **open**: ``MainWindow`` + ``open_window`` (read, check, lay out for the window, build
   the canvas, fit) + a paint of the window, as ``modelbuilder gui FILE`` does; median of
   ``--repeats``, and each open's wall-clock and CPU time (the first open in a process
   also sets up fonts and glyph caches; the second is slower while the process grows);
   also the process's peak memory.
2. **frames, whole graph in view**: the view zoomed to show every node, then a
   synchronous repaint of the viewport per frame while panning a few pixels (the picture
   a user has when looking over a big graph).
3. **frames at the zoom the window opened with** (readable, part of the graph in view).

Prints a table and ``key=value`` lines; exit status 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from editor_open import open_window_timed  # noqa: E402
from editor_pan import synthetic_graph  # noqa: E402
from editor_timing import HEADER, Measure, dispose, load_report, timed  # noqa: E402

OPEN_TARGET_MS = 2000.0
FRAME_TARGET_MS = 16.0


def frames(app, view, count: int, measure: Measure) -> None:
    viewport = view.viewport()
    for i in range(count):
        step = 4 if (i // 10) % 2 == 0 else -4

        def frame(step=step) -> None:
            view.pan_by(step, step)
            viewport.repaint()

        timed(measure, frame)
    app.processEvents()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from builder import save_graph

    app = QApplication.instance() or QApplication([])
    print(load_report())
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / f"towers{args.nodes}.yaml"
    graph = synthetic_graph(args.nodes)
    save_graph(graph, path)
    wires = sum(len(n.references()) for n in graph.nodes.values())
    print(f"graph: {len(graph.nodes):,} nodes, {wires:,} wires, {path.stat().st_size / 1e6:.1f} MB")

    opened = Measure(f"open {len(graph.nodes):,} nodes in the main window", OPEN_TARGET_MS)
    far = Measure("frame, whole graph in view", FRAME_TARGET_MS)
    near = Measure("frame at the zoom it opened with", FRAME_TARGET_MS)
    zoom_far = zoom_near = 0.0
    for repeat in range(args.repeats):
        window = open_window_timed(app, path, opened)
        if repeat == args.repeats - 1:
            view = window.view
            zoom_near = view.zoom()
            frames(app, view, args.frames, near)
            rect = view.graph_scene.nodes_rect()
            view.zoom_by(view.screen().zoom_to_fit(rect.width(), rect.height()) / view.zoom())
            view.centerOn(rect.center())
            app.processEvents()
            zoom_far = view.zoom()
            gc.collect()
            frames(app, view, args.frames, far)
        dispose(app, window)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(HEADER)
    for measure in (opened, near, far):
        print(measure.row())
    print("each open, wall / CPU s: " + ", ".join(f"{w:.2f} / {c:.2f}" for w, c in zip(opened.wall, opened.cpu)))
    print(f"zoom on open {zoom_near:.2f}; whole graph in view at zoom {zoom_far:.3f}; peak memory {peak_mb:.0f} MB")
    print(load_report())
    print(f"open_ms={opened.median_ms:.0f}")
    print(f"frame_near_ms={near.median_ms:.1f}")
    print(f"frame_far_ms={far.median_ms:.1f}")
    print(f"peak_mb={peak_mb:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
