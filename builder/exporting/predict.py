"""Running a trained model on new inputs from files: arrays (``.npy``, ``.npz``), images,
CSV rows. Inputs are checked against the model's per-sample shapes and prepared as the
training data were (the recorded normalization); nothing is ever unpickled.

    trained = open_trained("lenet5_bundle")
    result = predict(trained, read_input("digit.png", trained), top=3)
    result["samples"][0]["top"]   # [{"class": 7, "name": "7", "probability": 0.98}, ...]

Array values are taken in the data set's own units, the units of the training data
before scaling (digits: 0 to 16, image sources: 0 to 255, npz and csv files: as they
are); they are divided by the recorded ``scale`` and standardized. Image files are read
as pixels in [0, 1], converted and resized to the input, then standardized.
"""

from __future__ import annotations

import csv
import math
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from builder.data.arrays import InputSpec
from builder.data.errors import DataError
from builder.data.files import is_number
from builder.data.images import IMAGE_SUFFIXES, load_image
from builder.data.normalize import apply_normalization
from builder.exporting.errors import ExportError
from builder.exporting.parity import as_tuple
from builder.exporting.source import PortInfo, TrainedModel

ARRAY_SUFFIXES = (".npy", ".npz")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
CHUNK = 256  # samples per forward pass

__all__ = ["describe_prediction", "predict", "read_input"]


def _shape_text(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def _port_text(port: PortInfo) -> str:
    return f"input {port.name!r} {_shape_text(port.shape)} ({port.dtype})"


# ---------------------------------------------------------------------------- arrays to tensors
def _as_batch(array: np.ndarray, port: PortInfo, where: str) -> torch.Tensor:
    """``array`` (one sample of ``port``'s shape, or a batch of them) as a batch tensor of the
    port's dtype; ExportError naming ``where`` with the expected and found shape or dtype."""
    expected = tuple(port.shape)
    found = tuple(array.shape)
    if found == expected:
        array = array[None]
    elif not (len(found) == len(expected) + 1 and found[1:] == expected):
        raise ExportError(f"{where} has shape {_shape_text(found)}, but the model's {_port_text(port)} takes "
                          f"{_shape_text(expected)} per sample, or a batch [N{''.join(f', {d}' for d in expected)}]")
    if len(array) == 0:
        raise ExportError(f"{where} holds no samples (shape {_shape_text(found)})")
    kind = array.dtype.kind
    if kind not in "biuf":
        raise ExportError(f"{where} holds {array.dtype} values, but the model's {_port_text(port)} takes numbers")
    if port.dtype.startswith("int"):
        if kind == "f" and not (np.all(np.isfinite(array)) and np.all(array == np.round(array))):
            raise ExportError(f"{where} holds fractional values ({array.dtype}), but the model's "
                              f"{_port_text(port)} takes whole-number token ids")
        values = array.astype(np.int64)
        if values.size and values.min() < 0:
            raise ExportError(f"{where} holds negative token ids (smallest {int(values.min())}); "
                              f"the model's {_port_text(port)} takes ids from 0")
        return torch.from_numpy(np.ascontiguousarray(values))
    if kind == "f" and not np.all(np.isfinite(array)):
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ExportError(f"{where} holds NaN or infinite values (the first at index {list(first)}); the model's "
                          f"outputs for them would be meaningless")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _only_input(trained: TrainedModel, path: Path, what: str) -> PortInfo:
    if len(trained.inputs) != 1:
        names = ", ".join(repr(p.name) for p in trained.inputs)
        raise ExportError(f"{path}: {what} gives one input, but the model has {len(trained.inputs)} ({names})",
                          f"give a .npz file with one array per input, named {names}")
    return trained.inputs[0]


def _read_npy(path: Path, trained: TrainedModel) -> list[torch.Tensor]:
    port = _only_input(trained, path, "a .npy file")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as err:  # object arrays and pickles are refused by allow_pickle=False
        raise ExportError(f"{path}: refused: it holds pickled Python objects, not plain numbers ({err})",
                          "save plain numeric arrays (np.save of a float or int array)") from None
    except (OSError, EOFError) as err:
        raise ExportError(f"{path}: cannot read it as a .npy array ({err})") from None
    return [_as_batch(array, port, str(path))]


def _read_npz(path: Path, trained: TrainedModel) -> list[torch.Tensor]:
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as err:
        raise ExportError(f"{path}: refused: it holds pickled Python objects ({err})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ExportError(f"{path}: cannot read it as a .npz archive ({err})") from None
    is_archive = isinstance(archive, np.lib.npyio.NpzFile)
    if not is_archive:
        archive = {"arr_0": archive}  # a .npy file under a .npz name
    try:
        names = list(archive.keys())
        wanted = [p.name for p in trained.inputs]
        if all(name in names for name in wanted):
            chosen = wanted
        elif len(wanted) == 1 and len(names) == 1:
            chosen = names
        else:
            raise ExportError(f"{path} holds arrays {', '.join(map(repr, names)) or 'none'}, but the model's inputs "
                              f"are {', '.join(_port_text(p) for p in trained.inputs)}",
                              "name each array after its input node: np.savez(path, "
                              + ", ".join(f"{name}=..." for name in wanted) + ")")
        tensors = []
        for port, name in zip(trained.inputs, chosen, strict=True):
            try:
                array = archive[name]
            except ValueError as err:
                raise ExportError(f"{path}: array {name!r} is refused: it holds pickled Python objects ({err})",
                                  "save plain numeric arrays") from None
            except (OSError, EOFError, zipfile.BadZipFile) as err:
                raise ExportError(f"{path}: cannot read array {name!r} ({err})") from None
            tensors.append(_as_batch(array, port, f"{path} (array {name!r})"))
    finally:
        if is_archive:
            archive.close()
    sizes = {len(t) for t in tensors}
    if len(sizes) > 1:
        raise ExportError(f"{path}: the arrays hold different numbers of samples "
                          f"({', '.join(f'{n}: {len(t)}' for n, t in zip(chosen, tensors))})")
    return tensors


def _read_table(path: Path, trained: TrainedModel) -> list[torch.Tensor]:
    """One sample per row: the per-sample shape flattened; a first row of names is skipped."""
    port = _only_input(trained, path, "a CSV file")
    width = math.prod(port.shape)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows: list[list[float]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for line, cells in enumerate(csv.reader(handle, delimiter=delimiter), start=1):
                cells = [c.strip() for c in cells]
                if not any(cells):
                    continue
                try:
                    values = [float(c) for c in cells]
                except ValueError:
                    if not rows and line == 1:
                        continue  # a header
                    bad = next(c for c in cells if not is_number(c))
                    raise ExportError(f"{path}:{line}: {bad!r} is not a number") from None
                if len(values) != width:
                    raise ExportError(f"{path}:{line}: {len(values)} numbers, but the model's {_port_text(port)} "
                                      f"takes {width} per row (one sample, flattened)")
                rows.append(values)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ExportError(f"{path}: cannot read it as CSV ({err})") from None
    if not rows:
        raise ExportError(f"{path}: no rows of numbers")
    array = np.asarray(rows, dtype=np.float64).reshape((len(rows), *port.shape))
    return [_as_batch(array, port, str(path))]


def _read_image(path: Path, trained: TrainedModel) -> list[torch.Tensor]:
    port = _only_input(trained, path, "an image file")
    try:
        image = load_image(path, InputSpec(port.name, tuple(port.shape), port.dtype))
    except DataError as err:
        text = str(err)
        raise ExportError(text if str(path) in text else f"{path}: {text}") from None
    return [image.unsqueeze(0)]


def _normalize(tensors: list[torch.Tensor], trained: TrainedModel, scaled: bool) -> list[torch.Tensor]:
    """The recorded normalization applied to the input it was fitted on; ``scaled``: the
    values are already in [0, 1] (images), else they are divided by the recorded scale."""
    record = trained.normalization
    if not record:
        return tensors
    out = list(tensors)
    for index, port in enumerate(trained.inputs):
        if port.name != record.get("input") or port.dtype.startswith("int"):
            continue
        if list(record.get("shape") or port.shape) != list(port.shape):
            raise ExportError(f"the recorded normalization is for shape {_shape_text(record['shape'])}, but the "
                              f"model's {_port_text(port)} differs", "export the bundle again from its run folder")
        x = out[index]
        if not scaled:
            x = x / float(record.get("scale") or 1.0)
        out[index] = apply_normalization(x, record)
    return out


def read_input(path: str | Path, trained: TrainedModel) -> tuple[torch.Tensor, ...]:
    """The samples in ``path``, one batch tensor per model input, normalized as in training.

    ``.npy``: one sample of the input's per-sample shape, or a batch ``[N, *shape]``;
    ``.npz``: one array per input, named by its node id (or a single array for a
    one-input model); an image file (png, jpg, bmp, ...): converted to the input's
    channels and resized; ``.csv``: one sample per row, the per-sample shape flattened.
    ExportError naming the file and what was expected for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such input file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        tensors, scaled = _read_npy(path, trained), False
    elif suffix == ".npz":
        tensors, scaled = _read_npz(path, trained), False
    elif suffix in TABLE_SUFFIXES:
        tensors, scaled = _read_table(path, trained), False
    elif suffix in IMAGE_SUFFIXES:
        tensors, scaled = _read_image(path, trained), True
    else:
        raise ExportError(f"{path}: unknown input file type {suffix or '(no suffix)'!r}",
                          "give a .npy or .npz array, an image (.png, .jpg, .bmp) or a .csv of numbers")
    return tuple(_normalize(tensors, trained, scaled))


# ---------------------------------------------------------------------------- predictions
def _run(model: torch.nn.Module, tensors: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    total = len(tensors[0])
    parts: list[tuple[torch.Tensor, ...]] = []
    with torch.no_grad():
        for start in range(0, total, CHUNK):
            batch = [t[start:start + CHUNK].to(device) for t in tensors]
            try:
                parts.append(tuple(o.detach().float().cpu() for o in as_tuple(model(*batch))))
            except (RuntimeError, IndexError, ValueError) as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise ExportError(f"the model cannot run on this input: {first}",
                                  "check the values, e.g. token ids below the vocabulary size") from None
    return tuple(torch.cat(column) for column in zip(*parts, strict=True))


def _is_classifier(trained: TrainedModel) -> bool:
    return (trained.data.get("kind") == "classification" and len(trained.outputs) == 1
            and len(trained.outputs[0].shape) == 1)


def predict(trained: TrainedModel, tensors: Sequence[torch.Tensor], top: int = 5) -> dict[str, Any]:
    """Run the model on a batch (``read_input``'s tensors). A classifier (one output ``[C]``,
    trained for classification) gives each sample's ``top`` classes with softmax
    probabilities and class names; any other model gives its raw outputs as lists.

    ``{"model", "kind", "outputs": [names], "samples": [{"index", "top": [{"class", "name",
    "probability"}], "label"} or {"index", "outputs": {name: values}}]}``"""
    if len(tensors) != len(trained.inputs):
        raise ExportError(f"the model takes {len(trained.inputs)} inputs, got {len(tensors)}")
    if not tensors or len(tensors[0]) == 0:
        raise ExportError("no samples to predict")
    outputs = _run(trained.model, tensors)
    result: dict[str, Any] = {"model": trained.graph.name, "kind": trained.data.get("kind") or "raw",
                              "outputs": [p.name for p in trained.outputs], "samples": []}
    if _is_classifier(trained):
        probabilities = torch.softmax(outputs[0], dim=-1)
        k = max(1, min(int(top), probabilities.shape[-1]))
        values, indices = probabilities.topk(k, dim=-1)
        names = trained.class_names or []
        for index, (row_p, row_i) in enumerate(zip(values.tolist(), indices.tolist(), strict=True)):
            best = [{"class": c, "name": names[c] if c < len(names) else str(c), "probability": p}
                    for p, c in zip(row_p, row_i, strict=True)]
            result["samples"].append({"index": index, "label": best[0]["name"], "top": best})
    else:
        for index in range(len(outputs[0])):
            result["samples"].append({"index": index, "outputs": {port.name: out[index].tolist()
                                                                  for port, out in zip(trained.outputs, outputs,
                                                                                       strict=True)}})
    return result


def _values_text(values: Any, shape: Sequence[int]) -> str:
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size > 12:
        return f"{_shape_text(shape)} values, min {flat.min():.4g}, max {flat.max():.4g} (--json prints them all)"
    return "[" + ", ".join(f"{v:.4g}" for v in flat) + "]"


def describe_prediction(result: dict[str, Any], trained: TrainedModel | None = None) -> list[str]:
    """Human lines for :func:`predict`'s result: ``sample 0: 7 (98.1%), 1 (0.9%)``."""
    shapes = {p.name: p.shape for p in trained.outputs} if trained is not None else {}
    lines = []
    for sample in result["samples"]:
        if "top" in sample:
            body = ", ".join(f"{c['name']} ({100 * c['probability']:.1f}%)" for c in sample["top"])
        else:
            parts = [f"{name} {_values_text(values, shapes.get(name, np.shape(values)))}"
                     for name, values in sample["outputs"].items()]
            body = "; ".join(parts)
        lines.append(f"sample {sample['index']}: {body}")
    return lines
