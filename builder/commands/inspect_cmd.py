"""``modelbuilder inspect``: placeholder until the inspect command lands (being written now)."""

from __future__ import annotations


def add_arguments(parser) -> None:
    """The sub-command's arguments (cli.py builds the parser without torch)."""
    parser.add_argument("source", metavar="BUNDLE|RUN_DIR")


def run_inspect(args) -> int:
    print("not yet available")
    return 1
