"""What every export starts from: a trained model with its graph and what the data set
defined (class names, input normalization), read from a run folder or from a bundle.

The model's types and how it is put together live in :mod:`builder.exporting.trained`
(below the bundle, which reads bundles with them); their names are importable from here.
"""

from __future__ import annotations

import json
from pathlib import Path

from builder.compiler import compile_graph
from builder.exporting.bundle import BUNDLE_META, read_bundle
from builder.exporting.errors import ExportError
from builder.exporting.trained import (  # noqa: F401 - PortInfo re-exported
    PortInfo,
    TrainedModel,
    model_with_weights,
    ports_of,
)
from builder.graph import Graph
from builder.training.checkpoint import CheckpointError
from builder.training.checkpoint_store import weights_to_use
from builder.training.run_files import run_graph_path
from builder.training.runs import RunFolder
from builder.yaml_format import parse_graph


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise ExportError(f"{path}: cannot read it as JSON ({err})") from None
    return value if isinstance(value, dict) else {}


def from_run(root: Path, weights: str = "best") -> TrainedModel:
    """The trained model of a run folder: its graph as trained (with the graph files it
    uses, which the run folder holds; an older run's resolve beside the original file), and
    its best checkpoint (``weights="last"``: the last)."""
    run = RunFolder.at(root)
    if not run.graph.is_file():
        raise ExportError(f"{root} is not a run folder (it has no graph.yaml)",
                          "give the folder that `modelbuilder train` printed, or a bundle")
    settings = _read_json(run.settings)
    text = run.graph.read_text(encoding="utf-8")
    graph = parse_graph(text, run_graph_path(root, settings))
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
        return read_bundle(root)
    return from_run(root, weights)
