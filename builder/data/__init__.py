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

from builder.lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports("builder.data", globals(), _EXPORTS)
