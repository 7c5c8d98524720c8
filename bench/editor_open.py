"""The editor benchmark's opening measures (bench/editor.py): a graph opened into a bare
canvas and into the main window, laid out, fitted and painted; and graphs checked to open
readable.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from editor_timing import ROOT, SCRATCH, VIEW_SIZE, Measure, dispose, timed

OPEN_TARGET_MS = 1000.0


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
