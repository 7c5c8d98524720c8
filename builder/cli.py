"""The ``modelbuilder`` command line.

Sub-commands import what they need when they run, so ``modelbuilder --help`` answers
without importing torch.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelbuilder",
        description="Declarative neural-network graphs: check, train and export YAML models.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    blocks = sub.add_parser("blocks", help="list the blocks, or show one block's parameters and ports")
    blocks.add_argument("name", nargs="?", help="a block name, e.g. conv2d")
    blocks.add_argument("--markdown", action="store_true", help="write the block reference as Markdown")

    check = sub.add_parser("check", help="validate a graph file and print shapes, parameters and MACs")
    check.add_argument("graph", nargs="+", help="graph YAML file(s)")
    check.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    check.add_argument("--quiet", "-q", action="store_true", help="print only problems and totals")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modelbuilder`` script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"modelbuilder {version('modelbuilder')}")
        except PackageNotFoundError:
            print("modelbuilder (not installed)")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "blocks":
            from builder.commands.blocks_cmd import run_blocks

            return run_blocks(args.name, markdown=args.markdown)
        if args.command == "check":
            from builder.commands.check_cmd import run_check

            return run_check(args.graph, as_json=args.json, quiet=args.quiet)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
