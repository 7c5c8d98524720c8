"""A trained model and what goes with it (:class:`TrainedModel`, its :class:`PortInfo`), and
how one is put together from a graph and a weights file.

A leaf of the exporting package: :mod:`.source` (a run folder or a bundle), the bundle and
the parity checks import it, and it imports none of them; its names are also importable
from :mod:`builder.exporting.source`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from builder.analysis import INPUT_BLOCK, OUTPUT_BLOCK, analyze
from builder.compiler import compile_graph
from builder.errors import GraphError
from builder.exporting.errors import ExportError
from builder.graph import Graph
from builder.training.checkpoint import CheckpointError, load_weights


@dataclass
class PortInfo:
    """One model input or output: node id, per-sample shape, dtype."""

    name: str
    shape: list[int]
    dtype: str = "float32"

    def as_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass
class TrainedModel:
    """A compiled model in eval mode with its weights loaded, and what goes with it.

    ``graph`` keeps the path that its composite blocks resolve against; ``weights`` is the
    safetensors file the weights came from (None: the model's own initialization; writers
    take the weights from ``model.state_dict()``); ``data`` holds ``kind``, ``num_classes``,
    ``class_names`` and ``normalization`` (see docs/data.md), empty when unknown;
    ``training`` is the run's summary.json (empty for a bundle without one)."""

    graph: Graph
    model: torch.nn.Module
    weights: Optional[Path]
    inputs: list[PortInfo]
    outputs: list[PortInfo]
    data: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    source: Optional[Path] = None

    @property
    def class_names(self) -> Optional[list[str]]:
        return self.data.get("class_names")

    @property
    def normalization(self) -> Optional[dict]:
        return self.data.get("normalization")


def ports_of(graph: Graph) -> tuple[list[PortInfo], list[PortInfo]]:
    """The graph's inputs and outputs in file order, with per-sample shapes and dtypes."""
    analysis = analyze(graph)
    if not analysis.ok:
        raise GraphError(analysis.problems)
    inputs, outputs = [], []
    for node_id, info in analysis.nodes.items():
        if info.block.name == INPUT_BLOCK:
            inputs.append(PortInfo(node_id, list(info.outputs["out"]), info.dtype))
        elif info.block.name == OUTPUT_BLOCK:
            shape = next(iter(info.input_shapes.values()))
            outputs.append(PortInfo(node_id, list(shape), info.dtype))
    return inputs, outputs


def model_with_weights(graph: Graph, weights: Path) -> torch.nn.Module:
    """The compiled graph on the CPU, in eval mode, with ``weights`` (safetensors) loaded;
    ExportError naming the file for a missing, truncated, pickled or mismatched one."""
    if not weights.is_file():
        raise ExportError(f"{weights}: no such weights file")
    try:
        model = compile_graph(graph, seed=0, device="cpu")
        load_weights(weights, model)
    except CheckpointError as err:
        raise ExportError(str(err)) from None
    return model.eval()
