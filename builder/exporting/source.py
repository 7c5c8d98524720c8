"""What every export starts from: a trained model with its graph and what the data set
defined (class names, input normalization), read from a run folder or from a bundle."""

from __future__ import annotations

import json
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
from builder.training.checkpoint_store import weights_to_use
from builder.training.runs import RunFolder
from builder.yaml_format import parse_graph

BUNDLE_META = "meta.json"


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


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise ExportError(f"{path}: cannot read it as JSON ({err})") from None
    return value if isinstance(value, dict) else {}


def from_run(root: Path, weights: str = "best") -> TrainedModel:
    """The trained model of a run folder: its graph as trained (composite blocks resolve
    beside the original file), and its best checkpoint (``weights="last"``: the last)."""
    run = RunFolder.at(root)
    if not run.graph.is_file():
        raise ExportError(f"{root} is not a run folder (it has no graph.yaml)",
                          "give the folder that `modelbuilder train` printed, or a bundle")
    settings = _read_json(run.settings)
    text = run.graph.read_text(encoding="utf-8")
    graph = parse_graph(text, settings.get("graph_source") or str(run.graph))
    try:
        chosen = weights_to_use(run.checkpoints, weights)
    except CheckpointError as err:
        raise ExportError(str(err), err.hint or "train at least one epoch first, or resume the run") from None
    inputs, outputs = ports_of(graph)
    return TrainedModel(graph, model_with_weights(graph, chosen), chosen, inputs, outputs,
                        data=_read_json(run.data), training=_read_json(run.summary), source=root)


def from_graph(graph: Graph, seed: int = 0) -> TrainedModel:
    """An untrained model of ``graph`` (deterministic initialization), for exporting a
    graph without a run and for checking every gallery graph's exports."""
    inputs, outputs = ports_of(graph)
    model = compile_graph(graph, seed=seed, device="cpu").eval()
    return TrainedModel(graph, model, None, inputs, outputs)


def open_trained(path: str | Path, weights: str = "best") -> TrainedModel:
    """A run folder or a bundle folder, whichever ``path`` is."""
    root = Path(path)
    if not root.exists():
        aside = root.with_name(f".{root.name}.old")
        if aside.is_dir():  # an export that replaced it was killed between its two renames
            raise ExportError(f"{root}: no such bundle; an export into it was interrupted and the previous one "
                              f"is in {aside}", f"export again to {root} (it puts the previous one back first)")
        raise ExportError(f"{root}: no such run folder or bundle")
    if (root / BUNDLE_META).is_file():
        from builder.exporting.bundle import read_bundle

        return read_bundle(root)
    return from_run(root, weights)
