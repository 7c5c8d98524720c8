"""The ``modelbuilder`` command line.

Sub-commands import what they need when they run, so ``modelbuilder --help`` answers
without importing torch.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points
from types import ModuleType
from typing import Sequence

COMMANDS_GROUP = "modelbuilder.commands"


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


def _parser(plugins: dict[str, ModuleType] | None = None) -> argparse.ArgumentParser:
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
    check.add_argument("--batch-size", type=int, metavar="N",
                       help="estimate training memory at this batch size (default: the graph's, else 64)")

    train = sub.add_parser("train", help="train a graph into a run folder (settings from its training section)")
    train.add_argument("graph", nargs="?", help="graph YAML file (not needed with --resume)")
    train.add_argument("--epochs", type=int, help="total epochs (with --resume: train up to this many in all)")
    train.add_argument("--batch-size", type=int, help="samples per step")
    train.add_argument("--lr", type=float, help="learning rate")
    train.add_argument("--optimizer", choices=("adam", "adamw", "sgd"))
    train.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    train.add_argument("--seed", type=int)
    train.add_argument("--data", help="dataset name, overriding the graph's (e.g. digits)")
    train.add_argument("--out", help="run folder (default runs/<graph>-<time>)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped, crashed or finished run")
    train.add_argument("--checkpoint", metavar="NAME",
                       help="with --resume: continue from this checkpoint (e.g. step-000000120), not the newest")
    train.add_argument("--graph-source", metavar="PATH",
                       help="read relative paths in GRAPH (data files, composite parts) as if it were the file "
                            "PATH, and record PATH as the run's source: for front-ends that train a snapshot")
    train.add_argument("--threads", metavar="N|auto",
                       help="CPU threads to train with (default auto: the cores that are free at the start)")
    train.add_argument("--checkpoint-every", metavar="N|TIME",
                       help="mid-epoch checkpoints every N steps or every TIME (10min, 30s); off: epoch ends only")
    train.add_argument("--json-events", action="store_true", help="write the event stream as JSON lines on stdout")
    train.add_argument("--quiet", "-q", action="store_true", help="no progress bar or per-epoch lines")
    train.add_argument("--compile", action="store_true", default=None,
                       help="torch.compile the model (slower start, faster steps on a GPU)")
    train.add_argument("--nproc", type=int, metavar="N",
                       help="train on N processes (one per GPU) with DistributedDataParallel, through torchrun")

    # the sub-commands' argument declarations only: they import no torch
    from builder.commands import explain_cmd, export_cmd, fold_cmd, inspect_cmd, predict_cmd

    export_cmd.add_arguments(sub.add_parser(
        "export", help="write a trained model as a bundle, PyTorch code, TorchScript or ONNX"))
    predict_cmd.add_arguments(sub.add_parser(
        "predict", help="run a bundle or run folder on arrays, images or CSV rows"))
    explain_cmd.add_arguments(sub.add_parser(
        "explain", help="attribution maps of a trained model: saliency, Grad-CAM, occlusion ... as PNG and .npy"))
    inspect_cmd.add_arguments(sub.add_parser(
        "inspect", help="look inside a trained model: filters, feature maps, embeddings, attention, gates"))
    fold_cmd.add_arguments(sub.add_parser(
        "fold", help="find runs of repeated structure in a flat graph and fold them into composites"))
    for name, module in (plugins or {}).items():
        if name not in sub.choices:
            module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modelbuilder`` script; returns the exit status."""
    plugins = _plugin_commands()
    parser = _parser(plugins)
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

            return run_check(args.graph, as_json=args.json, quiet=args.quiet, batch_size=args.batch_size)
        if args.command == "train":
            from builder.commands.train_cmd import run_train

            return run_train(args, list(sys.argv[1:] if argv is None else argv))
        if args.command == "export":
            from builder.commands.export_cmd import run_export

            return run_export(args)
        if args.command == "predict":
            from builder.commands.predict_cmd import run_predict

            return run_predict(args)
        if args.command == "explain":
            from builder.commands.explain_cmd import run_explain

            return run_explain(args)
        if args.command == "inspect":
            from builder.commands.inspect_cmd import run_inspect

            return run_inspect(args)
        if args.command == "fold":
            from builder.commands.fold_cmd import run_fold

            return run_fold(args)
        if args.command in plugins:
            return plugins[args.command].run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
