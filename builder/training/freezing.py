"""Which nodes a run freezes and how fast each one learns, worked out from the graph alone.

No torch here: ``modelbuilder check`` and the editor (the inspector's freeze toggle, the
trainable and frozen counts) ask these functions while the user edits; the trainer asks
the same ones (builder/training/transfer.py), so both always agree on what is frozen.

A node is chosen by its id, by a glob over ids (``layer1_*``), or, for ``freeze``, by
``{up_to: NODE}``: that node and every node upstream of it in the data flow (the whole
feature extractor in front of a new head). Names that match no node are problems, with
the closest id as a hint, never silently ignored.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from blocks.params import ParamError
from blocks.suggest import did_you_mean
from builder.errors import Problem
from builder.flow import data_flow, upstream
from builder.training.settings import SETTINGS
from builder.training.transfer_settings import UP_TO

_GLOB = set("*?[")


@dataclass(frozen=True)
class ParameterSplit:
    """Parameters that train and parameters that stay fixed at the start of a run."""

    trainable: int
    frozen: int
    frozen_nodes: list[str] = field(default_factory=list)  # every frozen node, with or without weights

    def as_dict(self) -> dict[str, Any]:
        return {"trainable": self.trainable, "frozen": self.frozen, "frozen_nodes": list(self.frozen_nodes)}


def _problem(graph: Any, setting: str, message: str, hint: str | None = None, node: str | None = None) -> Problem:
    return Problem(f"training setting {setting!r}: {message}", "error", getattr(graph, "path", None), node=node,
                   param=setting, hint=hint)


def _matching(graph: Any, pattern: str, setting: str, problems: list[Problem]) -> list[str]:
    ids = list(graph.nodes)
    if pattern in graph.nodes:
        return [pattern]
    if _GLOB & set(pattern):
        found = fnmatch.filter(ids, pattern)
        if found:
            return found
        problems.append(_problem(graph, setting, f"{pattern!r} matches no node id"))
        return []
    problems.append(_problem(graph, setting, f"the graph has no node {pattern!r}",
                             did_you_mean(pattern, ids, hint=True) or None))
    return []


def _checked(graph: Any, setting: str, value: Any, problems: list[Problem]) -> Any:
    try:
        return SETTINGS[setting].check(value)
    except ParamError as err:
        problems.append(_problem(graph, setting, str(err)))
        return None


def select_nodes(graph: Any, value: Any, setting: str = "freeze") -> tuple[list[str], list[Problem]]:
    """The node ids ``value`` (a ``freeze`` value, as written or as resolved) chooses, in
    file order, and the problems with it."""
    problems: list[Problem] = []
    value = _checked(graph, setting, value, problems)
    if not value:
        return [], problems
    if isinstance(value, Mapping):
        last = value[UP_TO]
        if last not in graph.nodes:
            problems.append(_problem(graph, setting, f"up_to: the graph has no node {last!r}",
                                     did_you_mean(last, graph.nodes, hint=True) or None))
            return [], problems
        chosen = upstream(data_flow(graph.nodes), last) | {last}
    else:
        chosen = {node for pattern in value for node in _matching(graph, pattern, setting, problems)}
    return [n for n in graph.nodes if n in chosen], problems


def node_factors(graph: Any, value: Any, setting: str = "lr_mult") -> tuple[dict[str, float], list[Problem]]:
    """The learning-rate factor of each node ``value`` names (a later entry wins over an
    earlier one); nodes it does not name are left out (factor 1)."""
    problems: list[Problem] = []
    value = _checked(graph, setting, value, problems) or {}
    factors: dict[str, float] = {}
    for pattern, factor in value.items():
        for node in _matching(graph, pattern, setting, problems):
            factors[node] = factor
    return factors, problems


def parameter_split(analysis: Any, section: Mapping[str, Any] | None = None) -> tuple[ParameterSplit, list[Problem]]:
    """Trainable and frozen parameter counts of ``analysis``' graph under the ``freeze``
    setting of ``section`` (the graph's training section when None), from the analysis'
    per-node counts: nothing is built."""
    graph = analysis.graph
    if section is None:
        section = graph.training if isinstance(graph.training, Mapping) else {}
    frozen, problems = select_nodes(graph, section.get("freeze"))
    frozen_params = sum(analysis.nodes[n].cost.params for n in frozen if n in analysis.nodes)
    return ParameterSplit(analysis.total.params - frozen_params, frozen_params, frozen), problems


def toggled(graph: Any, value: Any, node: str) -> list[str] | None:
    """The ``freeze`` value with ``node`` frozen if it was not, or thawed if it was (the
    inspector's toggle). Freezing one more node appends it to a written list (its globs
    stay as they are); otherwise the value becomes the list of nodes frozen now. None when
    nothing stays frozen, so the setting can be left out."""
    frozen, problems = select_nodes(graph, value)
    if node not in frozen and isinstance(value, list) and not problems:
        return [*value, node]
    chosen = [n for n in graph.nodes if (n in frozen) != (n == node)]
    return chosen or None

