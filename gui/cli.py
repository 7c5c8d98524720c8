"""The ``modelbuilder gui`` command, plugged into the command line through the
``modelbuilder.commands`` entry point (the engine does not know about the app). Nothing
here imports Qt until the command runs, so ``modelbuilder --help`` stays fast and works
without the ``[gui]`` extra."""

from __future__ import annotations

import argparse
import sys

NAME = "gui"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(NAME, help="open the desktop editor (needs the [gui] extra)")
    parser.add_argument("graph", nargs="?", help="graph YAML file to open")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="start as opening GRAPH does (a 1600x1000 window), save a picture of it once "
                             "painted, and exit; renders off screen without a display")
    parser.add_argument("--select", metavar="NODE", help="with --screenshot: select this node first")


def run(args: argparse.Namespace) -> int:
    try:
        import PySide6  # noqa: F401
    except ImportError:
        print("error: the desktop app needs PySide6; install it with: pip install 'modelbuilder[gui]'",
              file=sys.stderr)
        return 2
    if args.screenshot:
        if not args.graph:
            print("error: --screenshot needs a GRAPH file", file=sys.stderr)
            return 2
        from gui.app import take_screenshot

        return take_screenshot(args.graph, args.screenshot, args.select)
    from gui.app import run_app

    return run_app(args.graph)
