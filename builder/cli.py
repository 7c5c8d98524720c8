"""The ``modelbuilder`` command line.

Every command, built-in or plugged in, is a module with ``add_parser(subparsers)`` and
``run(args) -> int``. The built-in ones (builder/commands/) import what they need when they
run, so ``modelbuilder --help`` answers without importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import entry_points
from types import ModuleType
from typing import Sequence

COMMANDS_GROUP = "modelbuilder.commands"

# The engine's own commands, in the order ``modelbuilder --help`` lists them -> their modules.
BUILTIN_COMMANDS = {
    "blocks": "builder.commands.blocks_cmd",
    "check": "builder.commands.check_cmd",
    "train": "builder.commands.train_cmd",
    "export": "builder.commands.export_cmd",
    "predict": "builder.commands.predict_cmd",
    "generate": "builder.commands.generate_cmd",
    "explain": "builder.commands.explain_cmd",
    "inspect": "builder.commands.inspect_cmd",
    "fold": "builder.commands.fold_cmd",
    "import": "builder.commands.import_cmd",
    "lr-find": "builder.commands.lr_find_cmd",
}


def _builtin_commands() -> dict[str, ModuleType]:
    """The built-in command modules, imported now (not when cli.py is): each declares its
    parser without torch and imports the engine only in ``run``."""
    return {name: importlib.import_module(module) for name, module in BUILTIN_COMMANDS.items()}


def _plugin_commands() -> dict[str, ModuleType]:
    """Commands other packages plug in (the desktop app's ``gui``): each entry point names a
    module with ``add_parser(subparsers)`` and ``run(args) -> int``. One that fails to load
    is left out, so a broken plug-in never breaks the engine's own commands."""
    found = {}
    for entry in entry_points(group=COMMANDS_GROUP):
        try:
            module = entry.load()
        except Exception as err:  # noqa: BLE001 - any import failure of a plug-in
            print(f"warning: command plug-in {entry.name!r} failed to load: {err}", file=sys.stderr)
            continue
        if callable(getattr(module, "add_parser", None)) and callable(getattr(module, "run", None)):
            found[entry.name] = module
    return found


def _commands(plugins: dict[str, ModuleType] | None = None) -> dict[str, ModuleType]:
    """The built-in commands, then the plug-ins that do not take a built-in one's name."""
    commands = _builtin_commands()
    for name, module in (plugins or {}).items():
        commands.setdefault(name, module)
    return commands


def _parser(commands: dict[str, ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelbuilder",
        description="Declarative neural-network graphs: check, train and export YAML models.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in commands.items():
        if name not in sub.choices:
            module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modelbuilder`` script; returns the exit status."""
    commands = _commands(_plugin_commands())
    parser = _parser(commands)
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
    if args.command not in commands:
        parser.error(f"unknown command {args.command!r}")
        return 2
    # the command line as given: ``train --nproc`` hands it on to torchrun
    args.command_line = list(sys.argv[1:] if argv is None else argv)
    try:
        return commands[args.command].run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
