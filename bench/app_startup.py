"""How long from `modelbuilder gui GRAPH` to a painted, usable editor? (target < 1.5 s)

Runs ``modelbuilder gui GRAPH --screenshot OUT`` in a fresh process, which starts exactly
as ``modelbuilder gui GRAPH`` does (``gui.app.open_window``: window shown, file opened,
laid out and fitted) and exits once the window has been painted and grabbed: the
time to its "wrote" line is the start-up a user waits, plus one grab and PNG write (tens
of milliseconds).
Also reports whether torch and matplotlib were imported by the first paint (neither is
needed to draw and check a graph; the training tools load them right after, in the
background).

    .venv/bin/python bench/app_startup.py [--graph graphs/lenet5.yaml] [--runs 5]

The last line is ``startup_s=<median seconds>``. Exit status 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.5


def started_modules(graph: str) -> set[str]:
    """Top-level packages imported when the editor has been painted (before the training
    tools load in the background)."""
    code = ("import sys; from gui.app import _application, open_window; app = _application(); "
            f"window, _ = open_window({graph!r}, (1600, 1000)); app.processEvents(); "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules}))); "
            "window.document.undo_stack.setClean(); window.close()")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    return set(done.stdout.split()) if done.returncode == 0 else {"(could not tell)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", default="graphs/lenet5.yaml")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f} on {os.cpu_count()} cores"
          + ("\nwarning: other processes compete for the CPU; times are inflated" if load > 0.5 else ""))
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    times = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "shot.png"
        for _ in range(args.runs + 1):  # the first run warms the file cache and is left out
            started = time.perf_counter()
            child = subprocess.Popen([sys.executable, "-m", "builder", "gui", args.graph, "--screenshot", str(out)],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            painted = None
            for line in child.stdout:  # "wrote OUT": the painted window is grabbed and saved
                if line.startswith("wrote ") and painted is None:
                    painted = time.perf_counter() - started
            _, err = child.communicate()
            if child.returncode != 0 or painted is None:
                print(err, file=sys.stderr)
                return 0
            times.append(painted)
    times = times[1:]
    modules = started_modules(args.graph)
    heavy = [name for name in ("torch", "matplotlib") if name in modules]
    print(f"{args.graph}: painted in {statistics.median(times):.2f} s median, {min(times):.2f} s best "
          f"({args.runs} runs; target < {TARGET_S} s)")
    print("imported before the first paint: " + (", ".join(heavy) if heavy else "neither torch nor matplotlib"))
    print(f"startup_s={statistics.median(times):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
