"""How long does finding (and folding) repeated structure take on big flat graphs?

Generates graphs of N nodes in memory and times, separately: the analysis (``analyze``,
which finding needs and ``check`` does anyway), ``find_repeats``, and ``fold_all`` (the
new graph and part, nothing written). Three kinds of graph:

- ``chain``: x -> [linear 16 -> relu] x N/2 -> y: one run of N/2 copies of 2 nodes.
- ``residual``: x -> [linear -> relu -> linear -> add(., entry) -> relu] x N/5 -> y: copies
  of 5 nodes whose entry feeds two of their nodes (ResNet's basic block in miniature).
- ``skip2``: bench/check_scaling.py's chain, where every add takes the output from two
  blocks back: the flow never narrows to one tensor, so nothing is found (the worst case
  for the cut search: every node keeps two outputs waited for).

    .venv/bin/python bench/fold_repeats.py [--sizes 1000,5000,10000] [--check]

``--check`` also compiles the flat and folded graphs and compares their outputs (slow on
big graphs: it is torch.fx building thousands of modules). The last line is
``find_seconds_5000=<s>`` for the 5,000-node chain. Exit status 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.analysis import analyze  # noqa: E402 - after the path set-up above
from builder.folding import check_fold, fold_all  # noqa: E402
from builder.graph import Graph, Node  # noqa: E402
from builder.repeats import find_repeats  # noqa: E402


def chain(n: int) -> Graph:
    g = Graph(name=f"chain{n}")
    g.add(Node("x", "input", {"shape": [16]}))
    last = "x"
    for i in range(1, (n - 2) // 2 + 1):
        g.add(Node(f"fc{i}", "linear", {"out_features": 16}, [last]))
        last = g.add(Node(f"act{i}", "relu", {}, [f"fc{i}"])).id
    g.add(Node("y", "output", {}, [last]))
    return g


def residual(n: int) -> Graph:
    g = Graph(name=f"residual{n}")
    g.add(Node("x", "input", {"shape": [16]}))
    last = "x"
    for i in range(1, (n - 2) // 5 + 1):
        p = f"block{i}_"
        g.add(Node(p + "fc1", "linear", {"out_features": 16}, [last]))
        g.add(Node(p + "act1", "relu", {}, [p + "fc1"]))
        g.add(Node(p + "fc2", "linear", {"out_features": 16}, [p + "act1"]))
        g.add(Node(p + "add", "add", {}, [p + "fc2", last]))
        last = g.add(Node(p + "act", "relu", {}, [p + "add"])).id
    g.add(Node("y", "output", {}, [last]))
    return g


def skip2(n: int) -> Graph:
    g = Graph(name=f"skip{n}")
    g.add(Node("x", "input", {"shape": [16]}))
    previous, before = "x", "x"
    for i in range(1, (n - 2) // 3 + 1):
        g.add(Node(f"l{i}", "linear", {"out_features": 16}, [previous]))
        g.add(Node(f"r{i}", "relu", {}, [f"l{i}"]))
        g.add(Node(f"a{i}", "add", {}, [f"r{i}", before]))
        before, previous = previous, f"a{i}"
    g.add(Node("y", "output", {}, [previous]))
    return g


def timed(work):
    started = time.perf_counter()
    value = work()
    return value, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,10000", help="node counts, comma-separated")
    parser.add_argument("--check", action="store_true", help="also prove each fold by compiling both graphs")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    headline = None
    print(f"{'graph':<16}{'nodes':>7}{'analyze s':>11}{'find s':>9}{'fold s':>9}{'runs':>6}{'copies':>8}"
          f"{'after':>7}" + ("   max |diff|" if args.check else ""))
    with tempfile.TemporaryDirectory() as folder:
        for make in (chain, residual, skip2):
            for n in sizes:
                graph = make(n)
                graph.path = str(Path(folder) / f"{graph.name}.yaml")
                analysis, t_analyze = timed(lambda: analyze(graph))
                repeats, t_find = timed(lambda: find_repeats(graph, analysis=analysis))
                result, t_fold = timed(lambda: fold_all(graph, repeats, Path(folder) / "parts", analysis=analysis))
                line = (f"{make.__name__:<16}{len(graph.nodes):>7}{t_analyze:>11.3f}{t_find:>9.3f}{t_fold:>9.3f}"
                        f"{len(repeats):>6}{sum(r.count for r in repeats):>8}{len(result.graph.nodes):>7}")
                if args.check and repeats:
                    line += f"   {check_fold(graph, result):.3g}"
                print(line, flush=True)
                if make is chain and n == 5000:
                    headline = t_find
    if headline is not None:
        print(f"find_seconds_5000={headline:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
