"""Can a run folder generate? The runs list asks on every selection, so the answer comes
from the run's graph file and its recorded class names alone (no torch, no weights): the
decoding contract of builder's generation API (``decoder_contract``), whose error is the
reason shown on the disabled Generate button.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from builder import GenerationError, GraphError, analyze, decoder_contract, load_graph

_cache: dict[tuple, Optional[str]] = {}


def _stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def class_names(run: Path) -> Optional[list[str]]:
    """The class names the run's data defined (``data.json``), if it recorded them."""
    try:
        data = json.loads((run / "data.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    names = data.get("class_names") if isinstance(data, dict) else None
    return [str(n) for n in names] if isinstance(names, list) else None


def decoder_problem(run: str | Path) -> Optional[str]:
    """None when the run's graph is a decoder that can generate; else why not, in a
    sentence or two (its hint included)."""
    run = Path(run)
    graph_file = run / "graph.yaml"
    if not graph_file.is_file():
        return f"{run.name} has no graph.yaml: it is not a finished run folder"
    key = (str(run.resolve()), _stamp(graph_file), _stamp(run / "data.json"))
    if key not in _cache:
        _cache[key] = _problem(run, graph_file)
    return _cache[key]


def _problem(run: Path, graph_file: Path) -> Optional[str]:
    try:
        graph = load_graph(graph_file)
    except GraphError as err:
        first = err.problems[0].message if err.problems else str(err)
        return f"its graph does not load: {first}"
    try:
        decoder_contract(analyze(graph), class_names(run))
    except GenerationError as err:
        return str(err).replace("\n    hint: ", "\nhint: ")
    return None
