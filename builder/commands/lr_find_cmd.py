"""``modelbuilder lr-find GRAPH.yaml``: the learning-rate range test. Writes the loss
against the learning rate as a PNG and suggests a rate (builder/training/lr_find.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

NAME = "lr-find"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        NAME, help="learning-rate range test: plot the loss as the rate grows, and suggest a rate")
    parser.add_argument("graph", help="graph YAML file (its training section gives the data, batch size, optimizer)")
    parser.add_argument("--out", metavar="PNG", help="the plot (default: lr_find_<graph>.png here)")
    parser.add_argument("--start", type=float, default=1e-7, help="smallest learning rate (default 1e-7)")
    parser.add_argument("--end", type=float, default=10.0, help="largest learning rate (default 10)")
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps, one rate each (default 100)")
    parser.add_argument("--init", metavar="PATH", help="start from these weights, as train --init does")
    parser.add_argument("--data", help="dataset name, overriding the graph's (e.g. digits)")
    parser.add_argument("--batch-size", type=int, help="samples per step")
    parser.add_argument("--threads", metavar="N|auto", help="CPU threads (default auto)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (the curve included)")


def run(args) -> int:
    from builder.data import DataError
    from builder.errors import GraphError
    from builder.training.checkpoint import CheckpointError
    from builder.training.lr_find import range_test, write_plot
    from builder.training.settings import SettingsError, resolve_settings
    from builder.training.transfer_settings import init_override
    from builder.yaml_format import load_graph

    if args.steps < 8:
        print("error: --steps must be at least 8 (the smoothed loss needs a few steps to settle)", file=sys.stderr)
        return 1
    try:
        graph = load_graph(args.graph)
        section = graph.training if isinstance(graph.training, dict) else {}
        init = init_override(section.get("init"), args.init and str(Path(args.init).expanduser().resolve()))
        settings = resolve_settings(section, {"data": args.data, "batch_size": args.batch_size,
                                              "threads": args.threads, "init": init})
        result = range_test(graph, settings, start=args.start, end=args.end, steps=args.steps)
    except GraphError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return 1
    except (SettingsError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except CheckpointError as err:
        print(f"error: {err}" + (f"\n    hint: {err.hint}" if err.hint else ""), file=sys.stderr)
        return 1
    out = Path(args.out or f"lr_find_{graph.name}.png")
    write_plot(result, out, f"Learning-rate range test: {graph.name}")
    if args.json:
        print(json.dumps({**result.as_dict(), "plot": str(out)}, indent=2))
        return 0
    if result.suggestion is None:
        print(f"no suggestion: the loss {result.stopped} after {len(result.lrs)} steps, too few to tell; "
              f"plot: {out}", file=sys.stderr)
        print("hint: lower --start, or give more --steps", file=sys.stderr)
        return 1
    other = f"; {result.min_tenth:.2g} by the rule lowest loss / 10" if result.rule != "lowest loss / 10" else ""
    print(f"suggested learning rate: {result.suggestion:.2g} ({result.rule} of the smoothed loss{other})")
    print(f"tried {len(result.lrs)} rates from {result.lrs[0]:.2g} to {result.lrs[-1]:.2g} ({result.stopped})")
    print(f"plot: {out}")
    return 0
