"""What ``modelbuilder check`` says about transfer learning: trainable and frozen parameters
(from the graph's ``freeze`` setting) and, with ``--init SRC``, what SRC would load into
each node. Only ``--init`` imports torch (to read the file and build the model's keys on
the meta device); the counts come from the analysis alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from builder.errors import Problem
from builder.training.freezing import node_factors, parameter_split


def transfer_check(analysis: Any, init: str | None = None) -> tuple[dict[str, Any], list[Problem], list[str]]:
    """(report entries, problems, text lines) for a valid graph's analysis."""
    graph = analysis.graph
    section = graph.training if isinstance(graph.training, dict) else {}
    split, problems = parameter_split(analysis, section)
    problems += node_factors(graph, section.get("lr_mult"))[1]
    report: dict[str, Any] = {"parameters": split.as_dict()}
    lines = []
    if split.frozen_nodes:
        weighted = [n for n in split.frozen_nodes if analysis.nodes[n].cost.params]  # not the relus between
        lines.append(f"parameters: {split.trainable:,} trainable, {split.frozen:,} frozen "
                     f"({', '.join(weighted) or 'nodes without weights'})")
    if init is not None:
        entry, more, init_lines = _init_plan(graph, init)
        report["init"] = entry
        problems += more
        lines += init_lines
    return report, problems, lines


def _init_plan(graph: Any, init: str) -> tuple[dict[str, Any], list[Problem], list[str]]:
    from blocks.params import ParamError
    from builder.textreport import table
    from builder.training.checkpoint import CheckpointError
    from builder.training.transfer_settings import init_override, init_spec
    from builder.training.weight_init import plan_for_graph

    section = graph.training if isinstance(graph.training, dict) else {}
    try:  # the section's map and skip lists apply, as with train --init
        spec = init_spec(init_override(section.get("init"), str(Path(init).expanduser().resolve())))
        plan = plan_for_graph(graph, spec)
    except (CheckpointError, ParamError) as err:
        hint = getattr(err, "hint", None)
        return {"errors": [{"message": str(err), "hint": hint}]}, [
            Problem(str(err), "error", graph.path, param="init", hint=hint)], []
    problems = [Problem(message, "error", graph.path, param="init", hint=hint) for message, hint in plan.errors()]
    lines = [plan.summary(), table(["node", "init", "tensors", "detail"], plan.rows())]
    lines += [plan.unexpected_note()] if plan.unexpected else []
    return plan.as_dict(), problems, lines
