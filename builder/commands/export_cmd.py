"""``modelbuilder export RUN_DIR|BUNDLE --format FORMAT [--out PATH]``: write a trained model
as a bundle, standalone PyTorch code, TorchScript or ONNX, checked against the model."""

from __future__ import annotations

import sys
from pathlib import Path

FORMAT_NAMES = ("bundle", "python", "torchscript", "onnx")
# modules that some formats need beyond the engine's own requirements
EXTRAS = {"onnx": "export", "onnxruntime": "export", "onnxscript": "export"}


NAME = "export"


def add_parser(subparsers) -> None:
    add_arguments(subparsers.add_parser(
        NAME, help="write a trained model as a bundle, PyTorch code, TorchScript or ONNX"))


def run(args) -> int:
    return run_export(args)


def add_arguments(parser) -> None:
    """The ``export`` sub-command's arguments (cli.py builds the parser without torch)."""
    parser.add_argument("source", metavar="RUN_DIR|BUNDLE", help="a run folder (from `modelbuilder train`) or a bundle")
    parser.add_argument("--format", "-f", choices=FORMAT_NAMES, default="bundle",
                        help="bundle (default), python, torchscript or onnx")
    parser.add_argument("--out", "-o", help="where to write (default: inside RUN_DIR, named after the graph)")
    parser.add_argument("--weights", choices=("best", "last"), default="best",
                        help="a run's best checkpoint (default) or its last one")


def error_lines(err: Exception) -> list[str]:
    """``error: ...`` lines for what export and predict raise (never a traceback)."""
    from builder.errors import GraphError

    if isinstance(err, GraphError):  # each problem already reads "file:line: error: ..."
        return [str(p) for p in err.problems]
    return [f"error: {err}"]


def _missing_module(err: ImportError, format: str) -> str:
    missing = err.name or str(err)
    if missing.startswith(("builder", "blocks")):
        return (f"error: the {format} export is not available in this installation ({missing} is missing)\n"
                "    hint: choose another --format, or update modelbuilder")
    top = missing.split(".")[0]
    extra = EXTRAS.get(top)
    hint = f"pip install 'modelbuilder[{extra}]'" if extra else f"pip install {top}"
    return f"error: the {format} export needs the Python package {top!r}, which is not installed\n    hint: {hint}"


def _describe(result) -> list[str]:
    lines = [f"wrote {result.format}: {result.path}"]
    shown = [f for f in result.files if f != result.path]
    for path in shown:
        try:
            size = path.stat().st_size
        except OSError:
            size = None
        lines.append(f"  {path}" + (f"  ({size:,} bytes)" if size is not None else ""))
    if result.max_difference is not None:
        lines.append(f"checked: max abs difference against the compiled model {result.max_difference:.3g}")
    lines += [f"note: {note}" for note in result.notes]
    return lines


def run_export(args) -> int:
    """Exit status 0 when the export was written and checked, 1 otherwise."""
    from builder.data.errors import DataError
    from builder.errors import GraphError
    from builder.exporting.api import export
    from builder.exporting.errors import ExportError
    from builder.training.checkpoint import CheckpointError

    try:
        result = export(Path(args.source), args.format, Path(args.out) if args.out else None, weights=args.weights)
    except ImportError as err:
        print(_missing_module(err, args.format), file=sys.stderr)
        return 1
    except (ExportError, GraphError, CheckpointError, DataError) as err:
        for line in error_lines(err):
            print(line, file=sys.stderr)
        return 1
    for line in _describe(result):
        print(line)
    return 0
