"""In the app, how long from a click to the first feature maps on screen? (target < 1 s, LeNet-5)

LeNet-5 is trained briefly on digits (or ``--run`` names a run folder of graphs/lenet5.yaml);
an off-screen main window opens the graph, the runs list's Inspect button opens the run in
the Inspect panel, and then a person's clicks are replayed: a sample in the strip, a node
on the canvas (mouse clicks on the widgets), alternating between samples and nodes so that
every click asks for feature maps not computed before. Each click is timed until the
panel has the new figure and has painted it (the window's own event loop runs meanwhile,
as in the app). The first click after the run opened is reported apart (cold: first
forward and first draw of this figure kind).

The same run also times a plain forward of one sample through the same model (the
engine's ``Subject.forward``, no hooks, no drawing; median of 20) right after each click,
on the same machine at the same moment: the ratio (median over clicks of click / forward)
says how much of a click's time is the panel's work (hooks, drawing the figure, painting)
rather than the network. Paired this way, a busy moment of a shared machine slows both.

    .venv/bin/python bench/app_inspect.py [--clicks 12] [--epochs 2] [--run RUN_DIR]

The last lines are ``click_s=<median>`` and ``ratio=<median click / forward>``. Exit
status 0 whatever the figures (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.0
NODES = ("conv1", "act1", "pool1", "conv2", "act2", "pool2")


def load_report() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = f"load average {load:.2f} on {os.cpu_count()} cores"
    if load > 0.5:
        text += "\nwarning: other processes compete for the CPU; times will be inflated"
    return text


def train(graph: Path, run: Path, epochs: int) -> None:
    from builder.cli import main as cli

    if cli(["train", str(graph), "--epochs", str(epochs), "--out", str(run), "-q", "--device", "cpu"]) != 0:
        raise SystemExit("training LeNet-5 failed")


class Forward:
    """A plain forward of one validation sample through the run's model (a Subject of its own)."""

    def __init__(self, run: Path):
        import torch

        from builder import open_subject

        self.torch = torch
        self.subject = open_subject(run)
        self.x = [t[:1] for t in self.subject.validation().inputs]
        self.seconds(50)  # warm-up

    def seconds(self, repeats: int = 20) -> float:
        """Median time of ``repeats`` forwards."""
        times = []
        with self.torch.no_grad():
            for _ in range(repeats):
                started = time.perf_counter()
                self.subject.forward(self.x)
                times.append(time.perf_counter() - started)
        return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=12, help="clicks timed after the first")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--run", help="a run folder of graphs/lenet5.yaml (default: train one)")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

    print(load_report())
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        graph = scratch / "lenet5.yaml"
        shutil.copy(ROOT / "graphs" / "lenet5.yaml", graph)
        run = Path(args.run) if args.run else scratch / "runs" / "lenet5-20250101-120000"
        if not args.run:
            train(graph, run, args.epochs)
        window = MainWindow(settings=QSettings(str(scratch / "s.ini"), QSettings.IniFormat),
                            recovery_folder=scratch / "recovery")
        window.resize(1500, 950)
        window.show()
        window.open_file(graph, ask=False)
        app.processEvents()

        def until(done, timeout_s: float = 120.0) -> None:
            """Run the window's event loop until ``done()``: checked when the panel shows a
            figure, and every 20 ms (a tighter poll would compete with the worker for the GIL)."""
            loop = QEventLoop()
            check = lambda *_args: done() and loop.quit()  # noqa: E731
            poll = QTimer()
            poll.setInterval(20)
            poll.timeout.connect(check)
            poll.start()
            panel_signal = window.inspect.figureShown if window._inspect_holder.built else None
            if panel_signal is not None:
                panel_signal.connect(check)
            QTimer.singleShot(int(timeout_s * 1000), loop.quit)
            if not done():
                loop.exec()
            poll.stop()
            if panel_signal is not None:
                panel_signal.disconnect(check)
            if not done():
                raise SystemExit("timed out waiting for the Inspect panel")

        training = window.training
        training.runs.select_runs([run])
        training.runs.inspect_button.click()
        panel = window.inspect
        until(lambda: panel.run is not None)
        until(lambda: not panel.is_busy())

        def click_sample(position: int) -> None:
            rect = panel.strip.cell_rect(position)
            QTest.mouseClick(panel.strip.viewport(), Qt.LeftButton, pos=rect.center())

        def click_node(node: str) -> None:
            view = window.view
            view.center_on_node(node)
            item = window.scene.node_items[node]
            point = view.mapFromScene(item.sceneBoundingRect().center())
            QTest.mouseClick(view.viewport(), Qt.LeftButton, pos=point)

        def timed(click, sample: int, node: str) -> float:
            started = time.perf_counter()
            click()
            until(lambda: panel.drawn is not None and panel.drawn.request.sample == sample
                  and panel.drawn.request.node == node and not panel.is_busy())
            panel.figure_view.repaint()  # on screen, not only delivered
            return time.perf_counter() - started

        forward = Forward(run)
        samples = len(panel.run.rows)
        click_sample(0)
        app.processEvents()
        first = timed(lambda: click_node(NODES[0]), 0, NODES[0])
        times, forwards = [], []
        sample, node = 0, NODES[0]
        for i in range(args.clicks):
            if i % 2 == 0:  # a new node for the same sample
                node = NODES[(NODES.index(node) + 1) % len(NODES)]
                times.append(timed(lambda n=node: click_node(n), sample, node))
            else:  # a new sample for the same node
                sample = (sample + 1) % samples
                times.append(timed(lambda s=sample: click_sample(s), sample, node))
            forwards.append(forward.seconds())  # at the same moment: the pair sees the same machine
        window.document.undo_stack.setClean()
        window.close()

    click = statistics.median(times)
    ratio = statistics.median(t / f for t, f in zip(times, forwards))
    verdict = "meets" if click < TARGET_S else "misses"
    print(f"first feature maps after a click: {click * 1000:.0f} ms median, {max(times) * 1000:.0f} ms slowest "
          f"({len(times)} clicks; the first click after opening the run: {first * 1000:.0f} ms); "
          f"target < {TARGET_S:.0f} s: {verdict} it")
    print(f"plain forward of one sample through the same model: {statistics.median(forwards) * 1000:.2f} ms "
          f"(median over clicks of the median of 20 right after each)")
    print(f"click / forward = {ratio:.0f}x, median over clicks (the rest is hooks, drawing the figure and "
          f"painting it)")
    print(f"click_s={click:.3f}")
    print(f"ratio={ratio:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
