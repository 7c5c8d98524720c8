"""A run folder that stands on its own: the graph as trained and every graph file it uses.

A graph may use other graph files as blocks (``graph: parts/double_conv.yaml``, which may
use others in turn). The run folder keeps a copy of each next to its ``graph.yaml``, at the
same relative path, so that the graph reloads, re-checks, resumes, exports and is
inspected from the run folder alone, even after the original files moved or changed.
Should a part lie above the graph's folder (``../shared/block.yaml``) or collide with a
file of the run folder itself, the parts go to ``graph_files/`` with the folders they
share kept, and the run's ``graph.yaml`` names them there.

``settings.json`` records the copied files (``parts``) and the folder that relative data
paths are read from (``data_dir``: the original graph's folder, where a ``data.npz``
named in the training section lies).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from builder.atomic import write_atomic
from builder.composite import Resolver
from builder.graph import Graph
from builder.training.runs import RunFolder
from builder.yaml_format import dump_graph, load_graph

FALLBACK = "graph_files"  # where parts go that cannot keep their place next to graph.yaml


def used_parts(graph: Graph) -> dict[Path, Graph]:
    """Every graph file ``graph`` uses as a block, all the way down (resolved path -> graph),
    found by the rules the analysis applies (builder/composite.py)."""
    found: dict[Path, Graph] = {}
    resolver = Resolver()

    def walk(user: Graph) -> None:
        for node in user.nodes.values():
            if node.graph is None:
                continue
            path = resolver.locate(user, node.graph)
            if path not in found:
                found[path] = load_graph(path)
                walk(found[path])

    walk(graph)
    return found


def write_graph_files(run: RunFolder, graph: Graph) -> list[str]:
    """Write ``graph.yaml`` and a copy of every part it uses into ``run``; returns the parts'
    paths relative to the run folder."""
    parts = used_parts(graph) if graph.path else {}
    if not parts:
        write_atomic(run.graph, dump_graph(graph))
        return []
    home = Path(graph.path).resolve().parent
    places = {path: _inside(path, home) for path in parts}
    if all(place is not None and not _taken(run, place) for place in places.values()):
        for path, place in places.items():
            write_atomic(run.root / place, path.read_bytes())
        write_atomic(run.graph, dump_graph(graph))
        return [place.as_posix() for place in places.values()]
    common = Path(os.path.commonpath([home, *(p.parent for p in parts)]))
    moved = {path: Path(FALLBACK) / path.relative_to(common) for path in parts}
    for path, place in moved.items():
        write_atomic(run.root / place, path.read_bytes())
    renamed = Graph(nodes={}, name=graph.name, description=graph.description, training=graph.training,
                    expose=graph.expose, layout=graph.layout, path=graph.path, locations=graph.locations,
                    document=graph.document)
    resolver = Resolver()
    for node_id, node in graph.nodes.items():
        if node.graph is not None:
            node = replace(node, graph=moved[resolver.locate(graph, node.graph)].as_posix())
        renamed.nodes[node_id] = node
    write_atomic(run.graph, dump_graph(renamed))
    return [place.as_posix() for place in moved.values()]


def _inside(path: Path, folder: Path) -> Path | None:
    try:
        return path.relative_to(folder)
    except ValueError:
        return None


def _taken(run: RunFolder, place: Path) -> bool:
    """Whether ``place`` would mix with the run folder's own files (graph.yaml, checkpoints ...)."""
    first = run.root / place.parts[0]
    return place == Path(run.graph.name) or (first.exists() and not first.is_dir()) or place.parts[0] in (
        run.checkpoints.name, run.plots.name)


def run_graph_path(root: Path, recorded: dict[str, Any]) -> str:
    """The path to read a run's ``graph.yaml`` as: the run folder's own copy where the run
    holds its parts (``parts`` in settings.json), else the original file, whose folder the
    parts of a run from an older version are read from."""
    own = str(Path(root) / "graph.yaml")
    if "parts" in recorded:
        return own
    return recorded.get("graph_source") or own


def recorded_data_dir(root: Path, recorded: dict[str, Any]) -> Path:
    """The folder a run's relative data paths are read from."""
    if recorded.get("data_dir"):
        return Path(recorded["data_dir"])
    source = recorded.get("graph_source")
    return Path(source).resolve().parent if source else Path(root)


def data_folder(graph: Graph, run: RunFolder, resume: bool) -> Path:
    """Where the trainer reads relative data paths from: the graph file's folder, or, when
    resuming (the graph then comes from the run folder), the one the run recorded."""
    if resume and run.settings.is_file():
        try:
            return recorded_data_dir(run.root, run.read_json(run.settings))
        except (OSError, ValueError):
            pass
    return Path(graph.path).resolve().parent if graph.path else Path.cwd()
