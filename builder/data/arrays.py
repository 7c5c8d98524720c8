"""The data containers the training engine consumes: InputSpec, ArrayData and TaskData."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

DTYPES = {"float32": torch.float32, "int64": torch.int64}

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class InputSpec:
    """One graph input, in forward-argument order: its node id, per-sample shape and dtype."""

    node: str
    shape: tuple[int, ...]
    dtype: str = "float32"  # "float32" or "int64" (token ids)

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]


@dataclass
class ArrayData(Dataset):
    """Samples held in memory: one tensor per graph input (dim 0 = samples) and the targets.

    The engine can batch it by slicing (``x[i:j]`` for every tensor) instead of going
    through a DataLoader; ``__getitem__`` serves the DataLoader path as well.
    """

    inputs: list[torch.Tensor]
    targets: torch.Tensor  # or a builder.data.targets.Targets: several named targets, indexed alike

    def __post_init__(self) -> None:
        sizes = {len(t) for t in self.inputs} | {len(self.targets)}
        if len(sizes) != 1:
            raise ValueError(f"ArrayData: inputs and targets have different sample counts {sorted(sizes)}")

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        return tuple(x[i] for x in self.inputs), self.targets[i]

    def subset(self, index: torch.Tensor | slice) -> ArrayData:
        """The samples at ``index`` (an index tensor or a slice), as a new ArrayData."""
        return ArrayData([x[index] for x in self.inputs], self.targets[index])

    def to(self, device: torch.device | str) -> ArrayData:
        """The same samples on ``device`` (e.g. the whole set on the GPU, for small data)."""
        return ArrayData([x.to(device) for x in self.inputs], self.targets.to(device))


@dataclass
class TaskData:
    """Everything the engine needs to train on a data set, already checked against the graph.

    ``normalization`` records what was applied to input 0 so that export and predict can
    do the same: ``{"input": node, "scale": s, "mean": [...], "std": [...], "dim": d}``
    means ``(raw / s - mean) / std``, with ``mean``/``std`` indexed along per-sample
    dimension ``d`` (``None``: one value for the whole sample).
    ``augment`` transforms a training batch of input 0 (``[B, C, H, W]``) with the given
    generator; the engine calls it on training batches only.
    For classification, ``num_classes`` is the number of classes the data defines; the
    graph's output may have more (never fewer: that is a DataError).
    """

    train: ArrayData | Dataset
    val: ArrayData | Dataset | None
    # "classification" (also per-step labels), "segmentation" (classes on the channel axis),
    # "regression", or "multi_output" (a graph with several outputs: see ``outputs``)
    kind: str
    num_classes: int | None
    class_names: list[str] | None
    normalization: dict | None
    augment: Augment | None
    description: str
    # what each graph output learns (builder/data/targets.py OutputTask, by output node), in
    # the outputs' order; targets are then one tensor, or a Targets of several by name
    outputs: dict | None = None


def format_shape(shape) -> str:
    """``[1, 32, 32]``: how shapes read in messages (per sample, no batch dimension)."""
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def count(n: int) -> str:
    """``1,797``."""
    return f"{n:,}"


def graph_io(analysis) -> tuple[list[InputSpec], tuple[int, ...]]:
    """The InputSpecs (forward-argument order) and the first output's per-sample shape of a
    checked :class:`builder.analysis.Analysis`: what :func:`load_data` needs to know."""
    nodes = analysis.graph.nodes
    inputs = [InputSpec(i, tuple(analysis.nodes[i].shape), analysis.nodes[i].dtype)
              for i in analysis.order if nodes[i].block == "input"]
    outputs = [i for i in analysis.order if nodes[i].block == "output"]
    return inputs, tuple(analysis.nodes[outputs[0]].shape) if outputs else ()
