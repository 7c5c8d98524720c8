"""Data sets for training: built-in (digits and synthetic tasks) and user files, checked
against the graph before training starts.

    from builder.data import load_data, InputSpec
    task = load_data({"name": "digits"}, [InputSpec("image", (1, 32, 32), "float32")], (10,))
    task.train.inputs[0].shape   # torch.Size([1438, 1, 32, 32])

``load_data`` returns a :class:`TaskData` (train/val :class:`ArrayData`, kind, classes,
the normalization applied, an optional batched augmentation) or raises :class:`DataError`
naming the file and what was expected. docs/data.md describes every source and option.
Never imports Qt.
"""

from __future__ import annotations

from builder.data.arrays import ArrayData, InputSpec, TaskData, graph_io
from builder.data.errors import DataError
from builder.data.images import load_image
from builder.data.normalize import apply_normalization
from builder.data.pipeline import SOURCES, load_data

__all__ = ["ArrayData", "DataError", "InputSpec", "SOURCES", "TaskData", "apply_normalization", "graph_io", "load_data",
           "load_image"]
