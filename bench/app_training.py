"""Does training from the app run as fast as `modelbuilder train`? (target: ratio >= 0.90)

LeNet-5 on digits (graphs/lenet5.yaml's settings, ``--epochs`` epochs) is trained, in
interleaved rounds, (a) from the desktop app's training panel: an off-screen main window,
the Train button, live plots drawn while it trains, and (b) by ``modelbuilder train`` on
the same graph file and settings, with the same default ``threads: auto``. Each side's
figure is the median of its epochs' ``samples_per_s`` (the trainer's own clock: training
steps only), the first epoch left out (warm-up). The ratio is the median over rounds of
app / CLI.

Then the thread policy's effect, on the command line: samples/s with ``threads: auto``
and with torch's default (one thread per core), each on an idle machine and beside one
busy competing process (a Python loop, as another program or the app's drawing would be).

    .venv/bin/python bench/app_training.py [--rounds 3] [--epochs 6] [--skip-threads]

Prints a table per part; the last line is ``ratio=<app / CLI samples/s>``. Exit status 0
whatever the figures (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.90


def load_report() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = f"load average {load:.2f} on {os.cpu_count()} cores"
    if load > 0.5:
        text += "\nwarning: other processes compete for the CPU; the figures will be low and noisy"
    return text


def epoch_rate(events: list[dict]) -> float:
    rates = [e["samples_per_s"] for e in events if e.get("event") == "epoch" and e.get("samples_per_s")]
    rates = rates[1:] if len(rates) > 1 else rates
    return statistics.median(rates) if rates else float("nan")


def cli_events(graph: Path, out: Path, *flags: str, env: dict | None = None) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "builder", "train", str(graph), "--out", str(out), "--json-events",
                           "--quiet", *flags], cwd=ROOT, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def app_events(app, window, graph: Path) -> list[dict]:
    window.open_file(graph, ask=False)
    app.processEvents()
    panel = window.training
    events: list[dict] = []
    panel.runner.event.connect(events.append)
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    panel.runner.finished.connect(loop.quit)
    if not panel.train():
        raise RuntimeError("training did not start: " + " | ".join(panel.message_texts()))
    loop.exec()  # the window's own event loop, as in the app: it sleeps until something happens
    panel.runner.finished.disconnect(loop.quit)
    app.processEvents()
    panel.runner.event.disconnect(events.append)
    return events


def busy_process() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def thread_policy(graph: Path, scratch: Path) -> None:
    """CLI samples/s with threads auto and with torch's default, idle and beside one busy process."""
    import torch

    cores = torch.get_num_threads()
    print(f"\nthread policy (CLI, LeNet-5): torch's default is {cores} threads")
    print(f"{'machine':<22} {'auto':>22} {'default (' + str(cores) + ')':>14} {'auto / default':>15}")
    for label, competitor in (("idle", False), ("one busy process", True)):
        other = busy_process() if competitor else None
        try:
            time.sleep(0.5 if competitor else 0)
            auto = cli_events(graph, scratch / f"auto-{competitor}")
            fixed = cli_events(graph, scratch / f"fixed-{competitor}", "--threads", str(cores))
        finally:
            if other is not None:
                other.kill()
                other.wait()
        chosen = next(e for e in auto if e["event"] == "run_started")
        a, f = epoch_rate(auto), epoch_rate(fixed)
        print(f"{label:<22} {a:>10,.0f} ({chosen['threads']} thr) {f:>14,.0f} {a / f:>15.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--skip-threads", action="store_true", help="leave out the thread-policy table")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

    print(load_report())
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        graph = scratch / "lenet5.yaml"
        shutil.copy(ROOT / "graphs" / "lenet5.yaml", graph)
        graph.write_text(graph.read_text().replace("epochs: 10", f"epochs: {args.epochs}"))
        window = MainWindow(settings=QSettings(str(scratch / "s.ini"), QSettings.IniFormat),
                            recovery_folder=scratch / "recovery")
        window.resize(1600, 1000)
        window.show()
        print(f"{'round':<6} {'app samples/s':>14} {'CLI samples/s':>14} {'ratio':>7} {'plot redraws':>13}")
        ratios = []
        for index in range(args.rounds):
            sides = ["app", "cli"] if index % 2 == 0 else ["cli", "app"]
            rates, redraws = {}, 0
            for side in sides:
                if side == "app":
                    before = window.training.plots.redraw_count
                    rates[side] = epoch_rate(app_events(app, window, graph))
                    redraws = window.training.plots.redraw_count - before
                else:
                    rates[side] = epoch_rate(cli_events(graph, scratch / f"cli-{index}"))
            ratios.append(rates["app"] / rates["cli"])
            print(f"{index + 1:<6} {rates['app']:>14,.0f} {rates['cli']:>14,.0f} {ratios[-1]:>7.2f} {redraws:>13}")
        window.document.undo_stack.setClean()
        window.close()
        if not args.skip_threads:
            thread_policy(graph, scratch)
    ratio = statistics.median(ratios)
    print(f"\nok={'yes' if ratio >= TARGET else 'no'} (target >= {TARGET})")
    print(f"ratio={ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
