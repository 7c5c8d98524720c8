"""What the trainer writes into a run folder besides events and checkpoints: the graph and
settings as trained, the data set's definition, and the plots at the end."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from builder.atomic import write_atomic
from builder.data import TaskData
from builder.graph import Graph
from builder.training.events import read_events
from builder.training.runs import RunFolder
from builder.yaml_format import dump_graph


def write_definition(run: RunFolder, graph: Graph, settings: dict[str, Any], data: TaskData) -> None:
    """The graph as trained and its resolved settings, so the run can be resumed or
    reproduced even if the original file changes; and what export and predict need to
    treat new inputs like the training data."""
    write_atomic(run.graph, dump_graph(graph))
    source = str(Path(graph.path).resolve()) if graph.path else None
    run.write_json(run.settings, {"graph_source": source, "settings": settings})
    facts = {"kind": data.kind, "num_classes": data.num_classes, "class_names": data.class_names,
             "normalization": data.normalization, "description": data.description}
    run.write_json(run.data, json.loads(json.dumps(facts, default=_json_value)))


def write_run_plots(run: RunFolder) -> list[Path]:
    """The PNG plots of the run's metrics; none, with a warning, if they cannot be drawn."""
    try:
        from builder.training.plots import write_plots

        return write_plots(run.root, read_events(str(run.metrics)))
    except Exception as err:  # a plot must never cost the user a finished run
        warnings.warn(f"could not write plots: {err}", stacklevel=2)
        return []


def _json_value(value):
    """numpy scalars and arrays (in normalization statistics) as JSON numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
