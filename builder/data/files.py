"""User data in files: NumPy ``.npz`` archives and CSV tables."""

from __future__ import annotations

import csv
import math
import zipfile
from typing import Any

import numpy as np
import torch

from blocks.params import Bool, Choice, Text
from builder.data.arrays import InputSpec, count, format_shape
from builder.data.errors import DataError, did_you_mean
from builder.data.labels import TASKS, targets_from_array
from builder.data.source import AutoBool, Column, Context, Names, Samples, Source


def to_input(array: np.ndarray, spec: InputSpec, where: str, key: str) -> torch.Tensor:
    """``array`` (``[N, ...]``) checked against ``spec`` and converted to its dtype; DataError
    naming ``where`` and ``key`` for a wrong shape, a non-numeric dtype, NaN or fractional ids."""
    found = tuple(array.shape[1:])
    if found != tuple(spec.shape):
        hint = None
        if array.ndim >= 1 and math.prod(found) == math.prod(spec.shape):
            hint = (f"the sizes agree; reshape it in NumPy: {key}.reshape(len({key}), "
                    f"{', '.join(str(d) for d in spec.shape)})")
        raise DataError(f"{key} has per-sample shape {format_shape(found)} but the graph's input "
                        f"{spec.node!r} expects {format_shape(spec.shape)}", file=where, hint=hint)
    if array.dtype.kind not in "biuf":
        raise DataError(f"{key} has dtype {array.dtype}; the graph's input {spec.node!r} needs numbers "
                        f"({spec.dtype})", file=where)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            kind = "NaN" if np.isnan(array[index]) else "an infinite value"
            raise DataError(f"{key} has {kind} at sample {index[0]} (index {list(index)})", file=where,
                            hint="drop or fill the missing values before training")
    if spec.dtype == "int64":
        if array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
            raise DataError(f"{key} has fractional values but the graph's input {spec.node!r} takes "
                            "integer token ids", file=where)
        if array.size and array.min() < 0:
            raise DataError(f"{key} has the negative token id {int(array.min())}", file=where,
                            hint="token ids index an embedding table: 0, 1, 2 ...")
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64))
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def load_npz(options: dict[str, Any], ctx: Context) -> Samples:
    """``npz``: arrays in a NumPy archive (``np.savez("data.npz", x=..., y=...)``).

    ``x`` holds the inputs with the samples first (``[N, *input shape]``), ``y`` the targets
    (``[N]`` class ids or text labels; ``[N, T]`` per-step labels; float values for
    regression). Options: ``path`` (required; relative to the graph file), ``x`` (array name,
    or a list of names, one per graph input in order; default "x"), ``y`` (default "y"),
    ``task`` (auto | classification | regression), ``normalize`` (standardize input 0 per
    channel or feature with the training split's statistics; default false), ``limit``,
    ``val_split``. Arrays must be plain numbers or text: pickled objects are refused.
    """
    path = ctx.path(options["path"])
    where = str(path)
    keys = options["x"]
    if len(keys) != len(ctx.inputs):
        raise DataError(f"x names {len(keys)} array{'s' if len(keys) != 1 else ''} ({', '.join(keys)}) but the "
                        f"graph has {len(ctx.inputs)} input{'s' if len(ctx.inputs) != 1 else ''} "
                        f"({', '.join(repr(s.node) for s in ctx.inputs)})", file=where,
                        hint="list one array per input, in the graph's order: x: [a, b]")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise DataError(f"not a readable .npz archive ({err})", file=where,
                        hint='write it with numpy.savez("data.npz", x=inputs, y=labels)') from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError("holds a single array, not an .npz archive of named arrays", file=where,
                        hint='write it with numpy.savez("data.npz", x=inputs, y=labels)')
    with archive:
        def array(key: str) -> np.ndarray:
            if key not in archive.files:
                raise DataError(f"no array named {key!r}{did_you_mean(key, archive.files)}", file=where,
                                hint=f"the archive holds: {', '.join(archive.files) or 'nothing'}")
            try:
                return archive[key]
            except ValueError as err:
                raise DataError(f"array {key!r} cannot be read without pickle ({err})", file=where,
                                hint="store plain numeric or text arrays") from None

        arrays = [array(k) for k in keys]
        labels = array(options["y"])
    sizes = {k: len(a) if a.ndim else 0 for k, a in zip(keys + [options["y"]], arrays + [labels])}
    if len(set(sizes.values())) != 1:
        listed = ", ".join(f"{k} has {n}" for k, n in sizes.items())
        raise DataError(f"the arrays disagree on the number of samples: {listed}", file=where)
    if ctx.limit:
        arrays, labels = [a[:ctx.limit] for a in arrays], labels[:ctx.limit]
    inputs = [to_input(a, spec, where, k) for a, spec, k in zip(arrays, ctx.inputs, keys)]
    targets, kind, names = targets_from_array(labels, ctx.output_shape, options["task"], where, options["y"])
    what = f"{path.name} ({count(len(targets))} samples)"
    return Samples(inputs, targets, kind, what, where, names=keys, class_names=names)


def is_number(text: str) -> bool:
    """Whether a CSV cell reads as a number (as ``float`` reads it: also inf and nan)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_csv(options: dict[str, Any], ctx: Context) -> Samples:
    """``csv``: a table with one sample per row: numeric feature columns and one label column.

    Features fill the graph's single input in row order (``[F]``, or any shape with F values,
    e.g. ``[1, 8, 8]`` for 64 pixel columns). Labels that are text become classes
    (``class_names`` sorted); numbers follow ``task``. Options: ``path`` (required),
    ``label`` (column name or 0-based index; default the last column), ``header`` (auto:
    a first row without any number is a header; true; false), ``delimiter`` (default ","),
    ``task`` (auto | classification | regression), ``normalize`` (standardize each feature
    column with the training split's statistics; default false), ``limit``, ``val_split``.
    """
    ctx.require_inputs(["features"])
    spec = ctx.inputs[0]
    path = ctx.path(options["path"])
    where = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=options["delimiter"])
            # line_num counts physical lines, so quoted cells spanning lines keep the numbers right
            rows = [(reader.line_num, row) for row in reader if row and any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"not a readable CSV text file ({err})", file=where) from None
    if not rows:
        raise DataError("the file has no rows", file=where)
    header = options["header"]
    if header == "auto":
        header = not any(is_number(cell) for cell in rows[0][1])
    columns = [c.strip() for c in rows[0][1]] if header else [str(i) for i in range(len(rows[0][1]))]
    body = rows[1:] if header else rows
    if not body:
        raise DataError("the file has a header but no data rows", file=where)
    label = _label_column(options["label"], columns, header, where)
    width = len(columns)
    for number, row in body:
        if len(row) != width:
            raise DataError(f"this row has {len(row)} cells but the {'header' if header else 'first row'} "
                            f"has {width}", file=where, line=number)
    if ctx.limit:
        body = body[:ctx.limit]
    feature_columns = [i for i in range(width) if i != label]
    expected = math.prod(spec.shape)
    if len(feature_columns) != expected:
        raise DataError(f"{len(feature_columns)} feature columns but the graph's input {spec.node!r} "
                        f"expects {format_shape(spec.shape)} ({expected} value{'s' if expected != 1 else ''})",
                        file=where, hint=f"the label column is {columns[label]!r}; every other column is a feature")
    features = np.empty((len(body), len(feature_columns)), dtype=np.float64)
    for r, (number, row) in enumerate(body):
        for f, c in enumerate(feature_columns):
            cell = row[c].strip()
            try:
                value = float(cell)
            except ValueError:
                value = None
            if value is None or not math.isfinite(value):
                name = f"column {columns[c]!r}" if header else f"column {c + 1}"
                problem = "is empty" if not cell else (f"has {cell!r}, not a number" if value is None
                                                       else f"has {cell!r}")
                raise DataError(f"{name} {problem}", file=where, line=number,
                                hint="feature columns must hold numbers; fill or drop missing values")
            features[r, f] = value
    x = to_input(features.reshape((len(body),) + tuple(spec.shape)), spec, where, "the features")
    label_name = f"column {columns[label]!r}" if header else f"label column {label + 1}"
    cells = [row[label].strip() for _, row in body]
    numeric = [is_number(cell) for cell in cells]
    for (number, _), cell in zip(body, cells):
        if not cell:
            raise DataError(f"{label_name} is empty", file=where, line=number, hint="every row needs a label")
    if all(numeric):
        raw = np.array([float(cell) for cell in cells])
    else:
        if sum(numeric) > len(numeric) // 2:  # mostly numbers: the odd text cell is a typo, not a class
            first = numeric.index(False)
            raise DataError(f"{label_name} has {cells[first]!r} where most labels are numbers",
                            file=where, line=body[first][0])
        raw = np.array(cells)
    targets, kind, names = targets_from_array(raw, ctx.output_shape, options["task"], where, label_name)
    what = f"{path.name} ({count(len(targets))} rows, {len(feature_columns)} features)"
    return Samples([x], targets, kind, what, where, names=["the features"], class_names=names)


def _label_column(label: str | int | None, columns: list[str], header: bool, where: str) -> int:
    if label is None:
        return len(columns) - 1
    if isinstance(label, int):
        if not -len(columns) <= label < len(columns):
            raise DataError(f"label: {label} but the table has {len(columns)} columns", file=where)
        return label % len(columns)
    if not header:
        raise DataError(f"label: {label!r} names a column, but the file has no header row", file=where,
                        hint="give the column's 0-based index instead, e.g. label: -1 for the last")
    if label not in columns:
        raise DataError(f"no column named {label!r}{did_you_mean(label, columns)}", file=where,
                        hint=f"the columns are: {', '.join(columns)}")
    return columns.index(label)


_TASK = Choice("auto", choices=TASKS, doc="auto: classes for whole-number or text labels, else regression")

SOURCES = [
    Source("npz", "arrays in a NumPy .npz archive (x: inputs, y: targets)", load_npz,
           {"path": Text(doc="the .npz file, relative to the graph file"),
            "x": Names(["x"], doc="input array name, or one name per graph input"),
            "y": Text("y", doc="target array name"),
            "task": _TASK,
            "normalize": Bool(False, doc="standardize input 0 with the training split's statistics")}),
    Source("csv", "a CSV table: numeric feature columns and a label column", load_csv,
           {"path": Text(doc="the .csv file, relative to the graph file"),
            "label": Column(None, optional=True, doc="label column name or index (default: the last)"),
            "header": AutoBool("auto", doc="whether the first row names the columns"),
            "delimiter": Text(",", doc="cell separator"),
            "task": _TASK,
            "normalize": Bool(False, doc="standardize each feature with the training split's statistics")}),
]
