"""``modelbuilder predict BUNDLE|RUN_DIR INPUT [--top K] [--json]``: run a trained model on
arrays, images or CSV rows and print the top classes (or the raw outputs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


NAME = "predict"


def add_parser(subparsers) -> None:
    add_arguments(subparsers.add_parser(
        NAME, help="run a bundle or run folder on arrays, images or CSV rows"))


def run(args) -> int:
    return run_predict(args)


def add_arguments(parser) -> None:
    """The ``predict`` sub-command's arguments (cli.py builds the parser without torch)."""
    parser.add_argument("source", metavar="BUNDLE|RUN_DIR", help="a bundle (from `modelbuilder export`) or a run folder")
    parser.add_argument("input", metavar="INPUT",
                        help="a .npy/.npz array (one sample or a batch), an image file, or a CSV with one sample per row")
    parser.add_argument("--top", "-k", type=int, default=5, help="classes to show per sample (default 5)")
    parser.add_argument("--weights", choices=("best", "last"), default="best",
                        help="for a run folder: its best checkpoint (default) or its last one")
    parser.add_argument("--json", action="store_true", help="machine-readable result on stdout")


def run_predict(args) -> int:
    """Exit status 0 when every sample was predicted, 1 otherwise."""
    from builder.commands.export_cmd import error_lines
    from builder.data.errors import DataError
    from builder.errors import GraphError
    from builder.exporting.errors import ExportError
    from builder.exporting.predict import describe_prediction, predict, read_input
    from builder.exporting.source import open_trained
    from builder.training.checkpoint import CheckpointError

    if args.top < 1:
        print(f"error: --top must be 1 or more, not {args.top}", file=sys.stderr)
        return 1
    try:
        trained = open_trained(Path(args.source), args.weights)
        tensors = read_input(Path(args.input), trained)
        result = predict(trained, tensors, top=args.top)
    except (ExportError, GraphError, CheckpointError, DataError) as err:
        for line in error_lines(err):
            print(line, file=sys.stderr)
        return 1
    if args.json:
        result["input"] = str(args.input)
        print(json.dumps(result, indent=2))
    else:
        for line in describe_prediction(result, trained):
            print(line)
    return 0
