"""``modelbuilder fold GRAPH [--min-size N] [--min-count N] [--only N,M] [--write OUT.yaml]
[--parts DIR] [--each]``: list the runs of repeated structure in a flat graph and, with
``--write``, fold each run into one repeated node of a part file (``repeat: N``; with
``--each`` one composite node per copy), proven to compute the same function before
anything is written."""

from __future__ import annotations

import sys
from pathlib import Path

from builder.errors import GraphError, Problem

WHAT = ("runs of identical consecutive copies (same blocks, parameters and wiring), each copy taking one "
        "tensor in and handing one on; see `Folding repeated structure` in docs/format.md")


NAME = "fold"


def add_parser(subparsers) -> None:
    add_arguments(subparsers.add_parser(
        NAME, help="find runs of repeated structure in a flat graph and fold them into repeated nodes"))


def run(args) -> int:
    return run_fold(args)


def add_arguments(parser) -> None:
    """The ``fold`` sub-command's arguments (cli.py builds the parser without torch)."""
    parser.add_argument("graph", metavar="GRAPH", help="a graph YAML file")
    parser.add_argument("--min-size", type=int, default=2, metavar="N", help="nodes per copy, at least (default 2)")
    parser.add_argument("--min-count", type=int, default=2, metavar="N", help="copies in a run, at least (default 2)")
    parser.add_argument("--only", metavar="N[,M...]", help="with --write: fold only these runs (numbers as listed)")
    parser.add_argument("--write", metavar="OUT.yaml",
                        help="write the folded graph here and its part files (then check it computes the same)")
    parser.add_argument("--parts", metavar="DIR", help="folder for the part files (default: parts/ beside OUT)")
    parser.add_argument("--each", action="store_true",
                        help="one composite node per copy, instead of one node 'repeat: N' per run")


def _fail(message: str, hint: str | None = None, problems: list[Problem] | None = None) -> int:
    for problem in problems or []:
        print(str(problem), file=sys.stderr)
    print(f"error: {message}" + (f"\n    hint: {hint}" if hint else ""), file=sys.stderr)
    return 1


def _chosen(text: str | None, count: int) -> list[int] | str:
    """Indexes (0-based) of the runs ``--only`` names, or why it cannot be read."""
    if text is None:
        return list(range(count))
    picked: list[int] = []
    for item in text.split(","):
        item = item.strip()
        if not item.isdigit() or not 1 <= int(item) <= count:
            return f"--only {text!r}: {item!r} is not a run number from 1 to {count}"
        if int(item) - 1 not in picked:
            picked.append(int(item) - 1)
    return picked


def run_fold(args) -> int:
    """Exit status 0 when repeats were listed (or folded and proven), 1 when nothing was
    found to fold with --write, or on any error; 2 for unusable options."""
    from builder.analysis import analyze
    from builder.repeats import find_repeats
    from builder.yaml_format import load_graph

    if args.min_size < 1 or args.min_count < 2:
        print("error: --min-size is at least 1 and --min-count at least 2", file=sys.stderr)
        return 2
    if args.write and Path(args.write).suffix.lower() not in (".yaml", ".yml"):
        print(f"error: --write {args.write}: the folded graph is written as a .yaml file", file=sys.stderr)
        return 2
    try:
        graph = load_graph(args.graph)
    except GraphError as err:
        return _fail(f"cannot read {args.graph}", problems=err.problems)
    analysis = analyze(graph)
    if not analysis.ok:
        return _fail(f"{args.graph} does not check, so its repeats cannot be folded",
                     f"`modelbuilder check {args.graph}` shows every problem", analysis.errors)
    repeats = find_repeats(graph, min_size=args.min_size, min_count=args.min_count, analysis=analysis)
    if not repeats:
        print(f"{args.graph}: no repeated structure found (at least {args.min_count} copies of at least "
              f"{args.min_size} node{'s' * (args.min_size != 1)}): looked for {WHAT}")
        return 1 if args.write else 0
    folded_away = sum(r.count * (r.size - 1) if args.each else r.count * r.size - 1 for r in repeats)
    print(f"{args.graph}: {len(repeats)} run{'s' * (len(repeats) != 1)} of repeated structure; folding all "
          f"would take {len(graph.nodes)} nodes to {len(graph.nodes) - folded_away}")
    for number, repeat in enumerate(repeats, start=1):
        print(f"  {number}. {repeat.describe()}")
        print(f"     blocks: {' '.join(repeat.blocks)}")
        starts = [copy[0] for copy in repeat.copies]
        shown = starts if len(starts) <= 6 else starts[:3] + ["..."] + starts[-2:]
        print(f"     copies start at: {', '.join(shown)}")
    if not args.write:
        print("write the folded graph with --write OUT.yaml (and --only N,M to choose runs)")
        return 0
    chosen = _chosen(args.only, len(repeats))
    if isinstance(chosen, str):
        print(f"error: {chosen}", file=sys.stderr)
        return 2
    return _write(graph, [repeats[i] for i in sorted(chosen)], Path(args.write),
                  Path(args.parts) if args.parts else Path(args.write).parent / "parts", not args.each)


def _write(graph, repeats: list, out: Path, parts: Path, repeat_nodes: bool = True) -> int:
    from builder.analysis import analyze
    from builder.folding import TOLERANCE, check_fold, fold_all
    from builder.yaml_format import load_graph

    result = fold_all(graph, repeats, parts, graph_path=out, repeat=repeat_nodes)
    try:
        difference = check_fold(graph, result)
    except GraphError as err:
        return _fail("the folded graph does not check, so nothing was written", problems=err.errors)
    except RuntimeError as err:  # the weights did not fit the folded model: a bug, said plainly
        return _fail(f"the flat model's weights do not fit the folded one, so nothing was written: {err}")
    if not difference <= TOLERANCE:
        return _fail(f"the folded graph does not compute the same function (max |difference| {difference:.3g} "
                     f"> {TOLERANCE:g}), so nothing was written")
    try:
        written = result.write()
    except OSError as err:
        return _fail(f"cannot write {err.filename or out}: {err.strerror or err}",
                     "choose another --write file or --parts folder")
    try:  # read back what was written: the files alone must check
        problems = analyze(load_graph(out)).errors
    except GraphError as err:
        problems = err.errors
    if problems:
        return _fail(f"{out} was written but does not check when read back", problems=problems)
    print(f"folded {sum(r.count for r in repeats)} copies: {len(graph.nodes)} nodes -> {len(result.graph.nodes)}")
    for path in written:
        print(f"wrote {path}")
    print(f"same function: max |difference| {difference:.3g} on random input, weights carried over "
          f"(tolerance {TOLERANCE:g})")
    return 0
