"""What a run trains: a snapshot of the open document, never the user's file.

Train writes the document's current graph (unsaved edits included) into the new run
folder as ``graph.yaml`` and trains that, so the graph file on disk is never rewritten
behind the user's back and unsaved edits stay unsaved. Relative paths in the graph (data
files such as ``data: {path: digits.npz}``, torchvision roots, composite parts such as
``graph: parts/double_conv.yaml``) mean what they mean in the user's file: the trainer is
told the document's file with ``--graph-source``, reads them against its folder, and
records it as the run's ``graph_source``, which ``--resume`` and export read them against
too. A document that was never saved has no folder for relative paths to start from: it
trains in the runs folder for unsaved graphs (:func:`untitled_runs_root`), and only
without relative paths (:func:`relative_paths` names them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from builder import DATA_SOURCES, Graph, dump_graph, write_atomic
from gui.training.run_folders import new_run_dir, new_run_dir_in

RUNS_DIR_VARIABLE = "MODELBUILDER_RUNS_DIR"  # where runs of never-saved graphs go (default: app data)


def untitled_runs_root() -> Path:
    """The runs folder for graphs that were never saved: ``$MODELBUILDER_RUNS_DIR``, else
    ``runs`` in the platform's app data folder (where the recovery copies live too)."""
    override = os.environ.get(RUNS_DIR_VARIABLE)
    if override:
        return Path(override)
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or str(Path.home() / ".modelbuilder")
    return Path(base) / "runs"


def _is_relative(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not Path(value).is_absolute() \
        and not Path(os.path.expanduser(value)).is_absolute()


def relative_paths(graph: Graph) -> list[str]:
    """What in ``graph`` names a file by a path relative to the graph file, in words:
    composite parts (``node 'enc': parts/double_conv.yaml``) and data set paths, given or
    default (``data path: digits.npz``, ``data root: data``)."""
    found = [f"node {node.id!r}: {node.graph}" for node in graph.nodes.values() if _is_relative(node.graph)]
    data = (graph.training or {}).get("data")
    if isinstance(data, str):
        data = {"name": data}
    if isinstance(data, dict):
        source = DATA_SOURCES.get(str(data.get("name")))
        for key, declared in (source.options.items() if source is not None else ()):
            if "relative to the graph file" not in (getattr(declared, "doc", "") or ""):
                continue
            value = data.get(key, getattr(declared, "default", None))
            if _is_relative(value):
                found.append(f"data {key}: {value}")
    init = (graph.training or {}).get("init")
    init = init.get("from") if isinstance(init, dict) else init
    if _is_relative(init):
        found.append(f"init: {init}")
    return found


class SnapshotRefused(Exception):
    """A run cannot start: why, in a sentence for the panel's messages."""


def snapshot_run(graph: Graph, graph_path: str | None, untitled_root: Path) -> tuple[Path, Path]:
    """A new run folder for ``graph`` (beside its file ``graph_path``; in ``untitled_root``
    for a graph never saved) with the snapshot written into it: (run folder, snapshot)."""
    name = graph.name or (Path(graph_path).stem if graph_path else "untitled")
    if graph_path is None:
        relative = relative_paths(graph)
        if relative:
            raise SnapshotRefused("This graph was never saved, and it reads files by paths relative to its file ("
                                  + "; ".join(relative) + "): save it first (File › Save As), or make those paths "
                                  "absolute.")
        run_dir = new_run_dir_in(untitled_root, name)
    else:
        run_dir = new_run_dir(graph_path, name)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir, write_snapshot(graph, run_dir)
    except OSError as error:
        raise SnapshotRefused(f"Cannot write the run folder {run_dir}: {error}") from None


def write_snapshot(graph: Graph, run_dir: Path) -> Path:
    """Write ``graph`` (the document's graph, as it is now) as the run folder's graph.yaml,
    for the trainer to read; returns that file."""
    target = run_dir / "graph.yaml"
    write_atomic(target, dump_graph(graph))
    return target
