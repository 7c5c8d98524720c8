"""ONNX export: one ``.onnx`` file that onnxruntime (and other ONNX runtimes) can run.

    from builder import export
    result = export("runs/lenet5-20261123-010203", "onnx", "lenet5.onnx")
    result.max_difference        # onnxruntime against the compiled model, <= 1e-4

The file's inputs are named after the graph's input nodes and its outputs after the
output nodes; the batch dimension (the first) is dynamic, every other one is fixed as in
the graph. The model is exported with torch's TorchScript-based exporter
(``torch.onnx.export(..., dynamo=False)``) at opset 17: it ships with every PyTorch this
project supports (2.2 on), needs no extra package, exports every gallery graph in about
a second (recurrent layers become ONNX's own RNN/LSTM/GRU operators) and opset 17 runs on
onnxruntime >= 1.13 and most other runtimes. PyTorch has deprecated that exporter; where
it is missing or fails, the ``torch.export``-based one (``dynamo=True``, needs
``onnxscript``, part of the ``[export]`` extra) is tried at opset 18, the lowest it
writes natively. ``exporter="torchscript"`` or ``"dynamo"`` picks one.

Before anything is written under the final name, the file is read back, checked with
``onnx.checker`` and run with onnxruntime (CPU) at batch 2 and batch 1 (which also shows
that the batch dimension is really dynamic); outputs must equal the compiled model's
within 1e-4. Models whose weights exceed ``EXTERNAL_DATA_ABOVE`` bytes (a protobuf file
cannot exceed 2 GiB) keep their weights in ``<name>.onnx.data`` beside the model file.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from inspect import signature
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import torch

from builder.exporting.errors import ExportError
from builder.exporting.files import write_atomic
from builder.exporting.parity import TOLERANCE, example_inputs, max_difference
from builder.exporting.source import TrainedModel

if TYPE_CHECKING:
    from builder.exporting.api import ExportResult

OPSET = 17  # TorchScript-based exporter
DYNAMO_OPSET = 18  # the torch.export-based exporter's lowest native opset
EXPORTERS = ("torchscript", "dynamo")  # tried in this order by exporter="auto"
CHECK_BATCHES = (2, 1)  # onnxruntime is compared with the model at these batch sizes
BATCH_AXIS = "batch"
# Weights above this many bytes go into a separate file: a protobuf message (a .onnx
# file) cannot exceed 2 GiB, and the graph itself and folded constants need some room.
EXTERNAL_DATA_ABOVE = 1_500_000_000
INSTALL_HINT = "pip install 'modelbuilder[export]'"

__all__ = ["OPSET", "DYNAMO_OPSET", "EXTERNAL_DATA_ABOVE", "write_onnx"]


def _require() -> tuple[Any, Any]:
    """The onnx and onnxruntime modules; ExportError with the install hint without them."""
    try:
        import onnx
        import onnxruntime
    except ImportError as err:
        raise ExportError(f"ONNX export needs the onnx and onnxruntime packages ({err.name} is not installed)",
                          INSTALL_HINT) from None
    return onnx, onnxruntime


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's parameters and buffers (what the exporter stores as initializers)."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence what the exporters print for every model: the TorchScript exporter's
    deprecation notice, tracer warnings from torch's own RNN shape checks, and the
    dynamo exporter's log lines about torchvision operators it skips."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


# ------------------------------------------------------------------------- the exporters
def _export_torchscript(model: torch.nn.Module, args: tuple, names: tuple[list[str], list[str]],
                        target: io.BytesIO | str) -> None:
    inputs, outputs = names
    options: dict[str, Any] = {}
    if "dynamo" in signature(torch.onnx.export).parameters:  # torch >= 2.5; the default from 2.9
        options["dynamo"] = False
    axes = {name: {0: BATCH_AXIS} for name in [*inputs, *outputs]}
    # Not under torch.no_grad(): there nn.TransformerEncoderLayer and nn.MultiheadAttention
    # take their inference fast path (aten::_transformer_encoder_layer_fwd, ...), which has
    # no ONNX equivalent. The exporter does not compute gradients anyway.
    with _quiet():
        torch.onnx.export(model, args, target, input_names=inputs, output_names=outputs,
                          opset_version=OPSET, dynamic_axes=axes, do_constant_folding=True, **options)


def _export_dynamo(model: torch.nn.Module, args: tuple, names: tuple[list[str], list[str]],
                   target: io.BytesIO | str) -> None:
    if "dynamo" not in signature(torch.onnx.export).parameters:
        raise RuntimeError(f"torch {torch.__version__} has no torch.onnx.export(dynamo=True) (PyTorch >= 2.5 has)")
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        raise RuntimeError("it needs the onnxscript package, which is not installed") from None
    inputs, outputs = names
    batch = torch.export.Dim(BATCH_AXIS)
    with _quiet():
        program = torch.onnx.export(model, args, None, dynamo=True, input_names=inputs, output_names=outputs,
                                    opset_version=DYNAMO_OPSET, dynamic_shapes=tuple({0: batch} for _ in inputs),
                                    verbose=False)
    if isinstance(target, str):
        program.save(target, external_data=True)
    else:
        target.write(program.model_proto.SerializeToString())


_EXPORT = {"torchscript": (_export_torchscript, OPSET), "dynamo": (_export_dynamo, DYNAMO_OPSET)}
_DESCRIPTION = {"torchscript": "torch.onnx TorchScript-based exporter (dynamo=False)",
                "dynamo": "torch.onnx torch.export-based exporter (dynamo=True)"}


# ---------------------------------------------------------------------------- checking
def metadata(trained: TrainedModel) -> dict[str, str]:
    """What the file records besides the network (ONNX ``metadata_props``): graph name,
    input and output ports, and the class names and input normalization where known."""
    props = {"modelbuilder.graph": trained.graph.name or "",
             "modelbuilder.inputs": json.dumps([p.as_json() for p in trained.inputs]),
             "modelbuilder.outputs": json.dumps([p.as_json() for p in trained.outputs])}
    if trained.class_names:
        props["modelbuilder.class_names"] = json.dumps(list(trained.class_names))
    if trained.normalization:
        props["modelbuilder.normalization"] = json.dumps(trained.normalization)
    return props


def _session(ort: Any, model: bytes | str) -> Any:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _check_outputs(session: Any, trained: TrainedModel, out: Path) -> float:
    """Run ``session`` and the compiled model on the same random batches; the largest
    difference, or ExportError naming ``out``."""
    names = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
    wanted = ([p.name for p in trained.inputs], [p.name for p in trained.outputs])
    if names != wanted:
        raise ExportError(f"{out}: the exported model has inputs {names[0]} and outputs {names[1]}, "
                          f"expected {wanted[0]} and {wanted[1]} (the graph's input and output nodes)")
    worst = 0.0
    for batch in CHECK_BATCHES:
        tensors = example_inputs(trained.inputs, batch=batch)
        with torch.no_grad():
            expected = trained.model(*tensors)
        try:
            found = session.run(None, {name: t.numpy() for name, t in zip(wanted[0], tensors, strict=True)})
        except Exception as err:  # onnxruntime raises its own exception types
            raise ExportError(f"{out}: onnxruntime cannot run the exported model at batch {batch}: "
                              f"{_first_line(err)}") from None
        difference = max_difference(expected, [torch.from_numpy(a) for a in found])
        if not difference <= TOLERANCE:
            raise ExportError(f"{out}: onnxruntime's outputs differ from the model's by {difference:.3g} "
                              f"at batch {batch} (allowed {TOLERANCE:g})")
        worst = max(worst, difference)
    return worst


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def _share(files: Sequence[Path]) -> None:
    """Ordinary permissions (as the umask allows): temporary files are created private,
    but an exported model is meant to be handed on."""
    umask = os.umask(0)
    os.umask(umask)
    for path in files:
        path.chmod(0o666 & ~umask)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


# ---------------------------------------------------------------------------- writing
def _write_single(export, trained: TrainedModel, args: tuple, names, out: Path, onnx: Any, ort: Any
                  ) -> tuple[list[Path], float]:
    """Weights inside the file: export in memory, check, then one atomic write."""
    buffer = io.BytesIO()
    export(trained.model, args, names, buffer)
    proto = onnx.load_from_string(buffer.getvalue())
    del buffer
    onnx.helper.set_model_props(proto, metadata(trained))
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    del proto
    difference = _check_outputs(_session(ort, data), trained, out)
    write_atomic(out, data)
    return [out], difference


def _write_external(export, trained: TrainedModel, args: tuple, names, out: Path, onnx: Any, ort: Any
                    ) -> tuple[list[Path], float]:
    """Weights in ``<out>.data``: export and check in a scratch folder beside ``out``,
    then move the data file, and last the model file, into place."""
    data_name = f"{out.name}.data"
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent) as scratch:
        raw = Path(scratch) / "raw" / "model.onnx"
        raw.parent.mkdir()
        export(trained.model, args, names, str(raw))
        proto = onnx.load(str(raw))  # reads whatever external files the exporter wrote
        onnx.helper.set_model_props(proto, metadata(trained))
        final = Path(scratch) / out.name
        onnx.save_model(proto, str(final), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data_name, size_threshold=1024)
        del proto
        onnx.checker.check_model(str(final))
        difference = _check_outputs(_session(ort, str(final)), trained, out)
        for path in (final.with_name(data_name), final):
            _fsync(path)
        os.replace(final.with_name(data_name), out.with_name(data_name))
        os.replace(final, out)
    return [out, out.with_name(data_name)], difference


def write_onnx(trained: TrainedModel, out: Path, *, exporter: str = "auto") -> ExportResult:
    """Export ``trained`` as an ONNX file at ``out`` and check it with onnxruntime.

    ``exporter``: "auto" (the TorchScript-based exporter, then the torch.export-based one
    if that fails), "torchscript" or "dynamo". ExportError when onnx/onnxruntime are not
    installed, when no exporter can express the model, or when onnxruntime does not
    compute what the model does."""
    from builder.exporting.api import ExportResult

    onnx, ort = _require()
    if exporter not in ("auto", *EXPORTERS):
        raise ExportError(f"unknown ONNX exporter {exporter!r}", f"choose auto, {', '.join(EXPORTERS)}")
    out = Path(out)
    if out.is_dir():
        raise ExportError(f"{out} is a folder; ONNX export writes one file", "give a file name such as model.onnx")
    out.parent.mkdir(parents=True, exist_ok=True)

    size = weight_bytes(trained.model)
    external = size > EXTERNAL_DATA_ABOVE
    write = _write_external if external else _write_single
    args = example_inputs(trained.inputs, batch=CHECK_BATCHES[0])
    names = ([p.name for p in trained.inputs], [p.name for p in trained.outputs])
    failures: list[str] = []
    for name in EXPORTERS if exporter == "auto" else (exporter,):
        export, opset = _EXPORT[name]
        try:
            files, difference = write(export, trained, args, names, out, onnx, ort)
        except ExportError as err:  # exported, but wrong: say so, and try the next exporter
            failures.append(f"{name} exporter: {err}")
            continue
        except Exception as err:  # an operator the exporter cannot express, a missing package, ...
            failures.append(f"{name} exporter: {_first_line(err)}")
            continue
        _share(files)
        notes = [f"{_DESCRIPTION[name]}, opset {opset}",
                 f"batch dimension dynamic; checked with onnxruntime at batch "
                 f"{' and '.join(map(str, CHECK_BATCHES))} (max abs difference {difference:.3g})"]
        if external:
            notes.append(f"weights ({size / 1e9:.2f} GB) in {files[1].name} beside the model file")
        notes += [f"not used: {failure}" for failure in failures]
        return ExportResult("onnx", out, files, max_difference=difference, notes=notes)

    graph = trained.graph.name or "the model"
    if any("onnxscript" in failure for failure in failures):
        hint = f"{INSTALL_HINT} (adds onnxscript, which torch's newer ONNX exporter needs)"
    else:
        hint = "export it as torchscript or as a bundle instead"
    raise ExportError(f"{out}: cannot export {graph} to ONNX:\n  " + "\n  ".join(failures), hint)
