"""What training minimises for a graph with one output or several: a head per output.

Each output node is a :class:`Head`: its loss (None: watched only, recorded and plotted but
never trained), the loss's weight in the total, its metrics, and what it learns (from
builder/data/targets.py: the target and the kind of task). The ``loss`` setting says which
outputs train (builder/training/loss_setting.py); :func:`plan_outputs` checks it against
the graph before any data is loaded, :func:`build_objective` completes it once the data
says what each output learns. Mistakes are problems with the graph file's line, and the
output node they concern.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from builder.analysis_types import OUTPUT_BLOCK, Analysis
from builder.data.targets import OutputSpec, OutputTask, target_of
from builder.errors import GraphError, Problem
from builder.graph import Graph
from builder.training.loss_setting import NONE, per_output
from builder.training.metrics import CLASS_KINDS, DEFAULT_METRICS, METRIC_KINDS, Measures
from builder.training.optimization import AUTO_LOSS, Loss

VALUE_LOSSES = ("mse", "bce", "l1", "smooth_l1")


@dataclass(frozen=True)
class Head:
    """One output: where it is in the model's outputs, what it learns and how it is measured."""

    node: str
    index: int  # position in the tuple the model returns (its only output: 0)
    shape: tuple[int, ...]
    kind: str | None  # builder.data.targets KINDS; None: watched, no target
    target: str | None  # the target's name; None: the data's only target
    loss: Loss | None  # None: watched only
    weight: float = 1.0
    metrics: tuple[str, ...] = ()
    num_classes: int | None = None

    def describe(self) -> dict[str, Any]:
        """What run folders and events record of the head."""
        return {"kind": self.kind, "loss": self.loss.name if self.loss else None, "weight": self.weight,
                "metrics": list(self.metrics), "target": self.target, "num_classes": self.num_classes}


class Objective:
    """The weighted sum of the heads' losses. ``several``: the model returns a tuple."""

    def __init__(self, heads: list[Head], several: bool, primary: str):
        self.heads = heads
        self.several = several
        self.primary = next(h for h in heads if h.node == primary)
        self.measures = Measures(self)  # what the training loop measures of it

    def outputs(self, out: Any) -> tuple[torch.Tensor, ...]:
        return tuple(out) if self.several else (out,)

    def __call__(self, out: Any, y: Any) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """The total loss and each head's own (None for watched heads)."""
        outs = self.outputs(out)
        losses: list[torch.Tensor | None] = []
        total = None
        for head in self.heads:
            if head.loss is None:
                losses.append(None)
                continue
            value = head.loss(outs[head.index], target_of(y, head.target))
            losses.append(value)
            weighted = value if head.weight == 1.0 else value * head.weight
            total = weighted if total is None else total + weighted
        return total, losses

    def total(self, out: Any, y: Any) -> torch.Tensor:
        """The total loss alone (what a step minimises)."""
        return self(out, y)[0]

    @property
    def kind(self) -> str:
        """The run's task: its one output's kind, or "multi_output"."""
        return (self.primary.kind or "regression") if len(self.heads) == 1 else "multi_output"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "primary": self.primary.node, "outputs": {h.node: h.describe() for h in self.heads}}


def output_nodes(analysis: Analysis) -> list[str]:
    """The output nodes in the order the compiled model returns them."""
    nodes = analysis.graph.nodes
    return [n for n in analysis.order if nodes[n].block == OUTPUT_BLOCK]


def plan_outputs(graph: Graph, analysis: Analysis, setting: Any) -> tuple[list[OutputSpec], str]:
    """What the data is checked against (an OutputSpec per output, in the model's order),
    and the primary output (the first the setting trains). GraphError for a loss setting
    that names no output of the graph."""
    nodes = output_nodes(analysis)
    shapes = {n: tuple(int(d) for d in analysis.nodes[n].shape) for n in nodes}
    mapping = per_output(setting)
    if mapping is None:
        trained = True if len(nodes) == 1 else None  # several: the ones the labels fit
        return [OutputSpec(n, shapes[n], trained) for n in nodes], nodes[0]
    for name in mapping:
        if name not in shapes:
            kind = graph.nodes[name].kind if name in graph.nodes else None
            what = f"{name!r} is a {kind} node, not an output" if kind else f"the graph has no output {name!r}"
            raise _problem(graph, f"the loss setting names {name!r}, but {what}", name,
                           f"the outputs are: {', '.join(nodes)} (a loss is computed on an output node; add one "
                           f"after {name!r} to train it)" if kind else f"the outputs are: {', '.join(nodes)}")
    trained = [n for n, entry in mapping.items() if entry["loss"] != NONE]
    if not trained:
        raise _problem(graph, "the loss setting trains no output (every one it names is 'none')", None,
                       f"give at least one output a loss, e.g. {nodes[0]}: cross_entropy")
    specs = []
    for n in nodes:
        entry = mapping.get(n)
        on = entry is not None and entry["loss"] != NONE
        box = entry is not None and "box_iou" in (entry["metrics"] or ())
        specs.append(OutputSpec(n, shapes[n], on, entry["target"] if entry else None,
                                entry["classes"] if entry else None, "box" if box else None))
    return specs, trained[0]


def build_objective(graph: Graph, specs: list[OutputSpec], tasks: dict[str, OutputTask], setting: Any,
                    primary: str) -> Objective:
    """The heads, once the data has said what each output learns (``tasks``, by node)."""
    mapping = per_output(setting) or {}
    heads = []
    for index, spec in enumerate(specs):
        task = tasks.get(spec.node) or tasks.get("")  # "": load_data's one unnamed output
        entry = mapping.get(spec.node) or {}
        name = entry.get("loss", setting if isinstance(setting, str) else "auto") if task.trained else None
        loss = None
        if name not in (None, NONE):
            _check_loss(graph, spec.node, name, task.kind)
            loss = Loss(task.kind, name)
        metrics = tuple(entry.get("metrics") or DEFAULT_METRICS.get(task.kind, ()))
        for metric in metrics:
            if task.kind not in METRIC_KINDS[metric]:
                raise _problem(graph, f"output {spec.node!r} learns {_what(task.kind)}, which {metric} cannot "
                                      "measure", spec.node,
                               f"metrics for it: {', '.join(m for m, k in METRIC_KINDS.items() if task.kind in k)}")
        if metrics and "box_iou" in metrics and spec.shape[-1:] != (4,):
            raise _problem(graph, f"box_iou measures boxes (x0, y0, x1, y1), but output {spec.node!r} is "
                                  f"{list(spec.shape)}", spec.node, "give the box output 4 values")
        heads.append(Head(spec.node, index, spec.shape, task.kind, task.target, loss,
                          float(entry.get("weight", 1.0)), metrics if task.kind else (), task.num_classes))
    if len(heads) == 1:
        primary = heads[0].node
    elif not per_output(setting):  # a plain loss: the one output the labels fit
        primary = next(h.node for h in heads if h.loss is not None)
    return Objective(heads, len(specs) > 1, primary)


def _check_loss(graph: Graph, node: str, name: str, kind: str | None) -> None:
    if name == "auto":
        return
    if kind in CLASS_KINDS and name != "cross_entropy":
        raise _problem(graph, f"output {node!r} learns {_what(kind)} but its loss is {name}", node,
                       "class ids train with cross_entropy (or auto)")
    if kind not in CLASS_KINDS and name == "cross_entropy":
        raise _problem(graph, f"output {node!r} learns {_what(kind)} but its loss is cross_entropy, which needs "
                              "class ids", node, f"use {' or '.join(VALUE_LOSSES)} (auto: {AUTO_LOSS.get(kind, 'mse')})")


def _what(kind: str | None) -> str:
    return {"classification": "class ids", "segmentation": "class ids per position (segmentation)",
            "regression": "values (regression)", "box": "boxes"}.get(kind or "", "nothing (it is watched only)")


def _problem(graph: Graph, message: str, node: str | None, hint: str) -> GraphError:
    """A GraphError at the loss setting's line in the graph file (or at the node's)."""
    line, column = loss_location(graph, node)
    if line is None and node is not None and node in graph.nodes:
        line, column = graph.where(node)
    return GraphError([Problem(message, file=graph.path, line=line, column=column, node=node, hint=hint)])


def loss_location(graph: Graph, node: str | None = None) -> tuple[int | None, int | None]:
    """Line and column (1-based) of ``training: loss:`` (of its entry for ``node`` where it has
    one) in the graph's file; (None, None) when the file does not say."""
    document = graph.document
    text = getattr(document, "text", None)
    try:
        if text is not None:
            from builder.yaml_reader import load_fast

            document, _ = load_fast(text, graph.path)
        elif document is None and graph.path and Path(graph.path).is_file():
            from builder.yaml_reader import load_fast

            document, _ = load_fast(Path(graph.path).read_text(encoding="utf-8"), graph.path)
        training = document["training"]
        place = training.lc.key("loss")
        entry = training["loss"]
        if node is not None and isinstance(entry, dict) and node in entry:
            place = entry.lc.key(node)
        return place[0] + 1, place[1] + 1
    except Exception:  # noqa: BLE001 - no location is better than no message
        return None, None
