"""``export(...)``: one entry point for every export format, used by the CLI and the app."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from builder.exporting.errors import ExportError
from builder.exporting.result import ExportResult
from builder.exporting.source import open_trained
from builder.exporting.trained import TrainedModel

# format -> "module:function"; each function is write(trained: TrainedModel, out: Path) -> ExportResult
FORMATS = {
    "bundle": "builder.exporting.bundle:write_bundle",
    "python": "builder.exporting.python_code:write_python",
    "torchscript": "builder.exporting.torchscript:write_torchscript",
    "onnx": "builder.exporting.onnx_export:write_onnx",
}
DEFAULT_NAMES = {"bundle": "{name}_bundle", "python": "{name}.py", "torchscript": "{name}.torchscript.pt",
                 "onnx": "{name}.onnx"}


def default_out(trained: TrainedModel, format: str) -> Path:
    name = trained.graph.name or "model"
    source = trained.source
    if source is None or not source.is_dir():
        base = Path.cwd()
    elif (source / "meta.json").is_file():  # a bundle: beside it, not inside it
        base = source.parent
    else:  # a run folder: inside it, with its checkpoints and plots
        base = source
    return base / DEFAULT_NAMES[format].format(name=name)


def export(source: str | Path | TrainedModel, format: str, out: str | Path | None = None,
           weights: str = "best") -> ExportResult:
    """Export a trained model (a run folder, a bundle, or a :class:`TrainedModel`) as
    ``format`` (bundle, python, torchscript, onnx) to ``out`` (default: beside the run).
    Every format is checked against the compiled model before this returns; raises
    ExportError (file and reason) when something cannot be exported."""
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}", f"choose one of {', '.join(FORMATS)}")
    trained = source if isinstance(source, TrainedModel) else open_trained(source, weights)
    target = Path(out) if out is not None else default_out(trained, format)
    module_name, function = FORMATS[format].split(":")
    return getattr(import_module(module_name), function)(trained, target)
