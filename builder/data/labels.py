"""Targets from user data (npz arrays, CSV columns): classes or regression values.

``task: auto`` decides as a user would expect: an output of size 1 means regression;
text, booleans and whole numbers with one label per output row (``[T]`` for an output
``[T, C]``) or position (masks ``[H, W]`` for an output ``[C, H, W]``) mean classes;
anything else is regression. Text labels become class ids in sorted order (``class_names``).
"""

from __future__ import annotations

import numpy as np
import torch

from builder.data.errors import DataError
from builder.data.targets import CHANNELS, class_axis

TASKS = ("auto", "classification", "regression")


def targets_from_array(y: np.ndarray, output_shape: tuple[int, ...], task: str, where: str,
                       what: str) -> tuple[torch.Tensor, str, list[str] | None]:
    """``(targets, kind, class_names)`` for the labels ``y`` (``[N, ...]``); ``what`` names them
    in messages ("y", "column 'label'")."""
    if y.dtype.kind in "US":
        if task == "regression":
            raise DataError(f"{what} holds text, which cannot be a regression target", file=where,
                            hint="use numbers, or task: classification")
        names, ids = np.unique(y, return_inverse=True)
        return torch.from_numpy(ids.reshape(y.shape).astype(np.int64)), "classification", [str(n) for n in names]
    if y.dtype.kind not in "biuf":
        raise DataError(f"{what} has dtype {y.dtype}; expected numbers or text", file=where)
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y)
        if bad.any():
            index = int(np.argwhere(bad)[0][0])
            raise DataError(f"{what} has {'NaN' if np.isnan(y).any() else 'an infinite value'} "
                            f"(first at sample {index})", file=where,
                            hint="drop or fill the missing values before training")
    per_sample = tuple(y.shape[1:])
    whole = y.dtype.kind in "biu" or bool(np.all(np.mod(y, 1) == 0))
    if task == "auto":
        axis = class_axis(per_sample, tuple(output_shape))
        one_label_per_row = axis is not None or (per_sample == (1,) and len(output_shape) == 1)
        scores = output_shape[0] if axis == CHANNELS else (output_shape[-1] if output_shape else 1)
        classes = whole and one_label_per_row and scores > 1
        task = "classification" if classes else "regression"
    if task == "regression":
        return torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)), "regression", None
    if not whole:
        raise DataError(f"{what} has fractional values, which cannot be class ids", file=where,
                        hint="class labels are whole numbers 0, 1, 2 ... (or text); use task: regression "
                             "for continuous targets")
    if per_sample == (1,) and len(output_shape) == 1:
        y = y.reshape(len(y))
    if y.size and y.min() < 0:
        raise DataError(f"{what} has the negative label {int(y.min())}; class ids start at 0", file=where)
    return torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)), "classification", None

