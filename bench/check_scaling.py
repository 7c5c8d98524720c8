"""How does `modelbuilder check` grow with the graph? (target: linear; 20,000 nodes < 2 s, < 500 MB)

Generates graphs of N nodes (an input, then blocks of linear -> relu -> add with a skip
from two nodes back, an output), writes them as YAML, and times ``modelbuilder check
--quiet`` on each in a fresh process: wall time, peak memory (max RSS) and the time of the
same command on a 3-node graph, which is the start-up (Python and imports) that every
size pays once. The growth column is (time - start-up) per node relative to the smallest
size: near 1.0 is linear.

    .venv/bin/python bench/check_scaling.py [--sizes 1000,2000,5000,10000,20000]

The last line is ``seconds_20000=<s>`` for the largest size. Exit status 0 whatever the
figures (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def graph_text(n: int) -> str:
    """A residual chain of about ``n`` nodes, each one the YAML an editor would write."""
    lines = ["format: 1", f"name: chain{n}", "nodes:", "  x: {block: input, params: {shape: [16]}}"]
    previous, before = "x", "x"
    count = 1
    while count < n - 1:
        i = count
        lines.append(f"  l{i}: {{block: linear, params: {{out_features: 16}}, inputs: [{previous}]}}")
        lines.append(f"  r{i}: {{block: relu, inputs: [l{i}]}}")
        lines.append(f"  a{i}: {{block: add, inputs: [r{i}, {before}]}}")
        before, previous = previous, f"a{i}"
        count += 3
    lines.append(f"  y: {{block: output, inputs: [{previous}]}}")
    return "\n".join(lines) + "\n"


def run_check(path: Path) -> tuple[float, float, int]:
    """Wall seconds, peak resident MB of the child, exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "builder", "check", "--quiet", str(path)], cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss is the largest child so far (KB on Linux): only a new maximum is this child's
    return wall, max(peak, before) / 1024, done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,2000,5000,10000,20000")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f} on {os.cpu_count()} cores"
          + ("\nwarning: other processes compete for the CPU; times are inflated" if load > 0.5 else ""))
    with tempfile.TemporaryDirectory() as folder:
        small = Path(folder) / "small.yaml"
        small.write_text(graph_text(3))
        startup = min(run_check(small)[0] for _ in range(3))
        print(f"start-up (3 nodes): {startup:.2f} s")
        print(f"{'nodes':>7} {'seconds':>8} {'minus start-up':>15} {'ms/1000 nodes':>14} {'growth':>7} "
              f"{'peak MB':>8} {'status':>6}")
        base = None
        wall = float("nan")
        points: list[tuple[float, float]] = []
        for n in sizes:
            path = Path(folder) / f"chain{n}.yaml"
            path.write_text(graph_text(n))
            wall, peak, code = run_check(path)
            work = max(wall - startup, 1e-6)
            per = work / n * 1000 * 1000
            base = base or per
            print(f"{n:>7,} {wall:>8.2f} {work:>15.2f} {per:>14.1f} {per / base:>7.2f} {peak:>8.0f} {code:>6}")
            points.append((math.log(n), math.log(work)))
    # the growth exponent k of work ~ n^k, a least-squares fit on the log-log points:
    # 1.0 is linear, 2.0 quadratic
    exponent = float("nan")
    if len(points) > 1:
        mean_x = sum(x for x, _ in points) / len(points)
        mean_y = sum(y for _, y in points) / len(points)
        exponent = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    print(f"growth exponent over {sizes[0]:,}-{sizes[-1]:,} nodes: {exponent:.2f} (1.0 is linear)")
    print(f"seconds_{sizes[-1]}={wall:.2f} minus_startup_{sizes[-1]}={wall - startup:.2f} exponent={exponent:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
