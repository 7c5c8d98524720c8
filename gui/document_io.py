"""A document's files: where graph-file nodes' relative paths start, and how they are
rewritten when the graph is saved into another folder. Plain Python on a graph, no Qt."""

from __future__ import annotations

import os
from pathlib import Path

from builder import Graph


def relative_path(target: Path, start: Path) -> str:
    """``target`` relative to the folder ``start`` with forward slashes, as graph files
    write it (absolute where no relative path exists, e.g. another drive)."""
    try:
        return Path(os.path.relpath(target.resolve(), start)).as_posix()
    except ValueError:
        return target.resolve().as_posix()


def graph_file_dir(graph: Graph) -> Path:
    """The folder that graph-file nodes' relative paths start from: the graph file's own
    folder, or the working folder for a graph never saved."""
    return Path(graph.path).resolve().parent if graph.path else Path.cwd()


def rebase_graph_files(graph: Graph, new_path: Path) -> list[str]:
    """A graph-file node names its file relative to the graph's own file: before the graph
    is saved to ``new_path`` in another folder, rewrite those names so that they still find
    the same files. Returns the ids of the nodes rewritten."""
    old_dir, new_dir = graph_file_dir(graph), new_path.resolve().parent
    if old_dir == new_dir:
        return []
    changed = []
    for node in graph.nodes.values():
        if node.graph and not Path(node.graph).is_absolute():
            node.graph = relative_path(old_dir / node.graph, new_dir)
            changed.append(node.id)
    return changed
