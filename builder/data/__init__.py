"""Data sets for training: built-in (digits and synthetic tasks) and user files, checked
against the graph before training starts.

    from builder.data import load_data, InputSpec
    task = load_data({"name": "digits"}, [InputSpec("image", (1, 32, 32), "float32")], (10,))
    task.train.inputs[0].shape   # torch.Size([1438, 1, 32, 32])

``load_data`` returns a :class:`TaskData` (train/val :class:`ArrayData`, kind, classes,
the normalization applied, an optional batched augmentation) or raises :class:`DataError`
naming the file and what was expected. docs/data.md describes every source and option.

Names are imported on first use, so that ``from builder.data import DataError`` does not
import torch. Never imports Qt.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DataError": "builder.data.errors",
    "ArrayData": "builder.data.arrays", "InputSpec": "builder.data.arrays", "TaskData": "builder.data.arrays",
    "graph_io": "builder.data.arrays",
    "load_image": "builder.data.images",
    "apply_normalization": "builder.data.normalize",
    "SOURCES": "builder.data.pipeline", "load_data": "builder.data.pipeline",
}

__all__ = ["SOURCES", "ArrayData", "DataError", "InputSpec", "TaskData", "apply_normalization", "graph_io",
           "load_data", "load_image"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'builder.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
