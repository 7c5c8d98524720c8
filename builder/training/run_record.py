"""What the trainer writes into a run folder besides events and checkpoints: the graph and
settings as trained, the data set's definition, and the plots at the end."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from builder.data import TaskData
from builder.graph import Graph
from builder.training.events import read_events
from builder.training.runs import RunFolder
from builder.training.run_files import write_graph_files


def write_definition(run: RunFolder, graph: Graph, settings: dict[str, Any], data: TaskData,
                     task: dict[str, Any] | None = None) -> None:
    """The graph as trained and its resolved settings, so the run can be resumed or
    reproduced even if the original file changes; and what export and predict need to
    treat new inputs like the training data. ``task``: what each output learns and how
    (builder/training/objective.py Objective.describe), for a graph with several outputs."""
    parts = write_graph_files(run, graph)  # graph.yaml and the graph files it uses (run_files.py)
    source = str(Path(graph.path).resolve()) if graph.path else None
    run.write_json(run.settings, {"graph_source": source, "settings": settings, "parts": parts,
                                  "data_dir": str(Path(source).parent) if source else None})
    facts = {"kind": data.kind, "num_classes": data.num_classes, "class_names": data.class_names,
             "normalization": data.normalization, "description": data.description}
    if task is not None and len(task["outputs"]) > 1:  # what each output learns, with which loss
        facts.update(primary=task["primary"], outputs=task["outputs"])
    run.write_json(run.data, json.loads(json.dumps(facts, default=_json_value)))


def write_run_plots(run: RunFolder, trainer: Any = None) -> list[Path]:
    """The PNG plots of the run's metrics, and, given the ``trainer`` that just trained, its
    predicted masks or boxes (builder/training/prediction_plots.py); none, with a warning,
    if they cannot be drawn."""
    written: list[Path] = []
    try:
        from builder.training.plots import write_plots

        written = write_plots(run.root, read_events(str(run.metrics)))
    except Exception as err:  # a plot must never cost the user a finished run
        warnings.warn(f"could not write plots: {err}", stacklevel=2)
    if trainer is not None:
        from builder.training.prediction_plots import write_prediction_plots

        written += write_prediction_plots(trainer)
    return written


def _json_value(value):
    """numpy scalars and arrays (in normalization statistics) as JSON numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
