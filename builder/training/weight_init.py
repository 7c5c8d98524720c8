"""Starting a graph from weights trained elsewhere (the ``init`` setting, ``--init``),
node by node.

The plan says, for every node with weights, what the source gives it: all its tensors
(``loaded``), some of them (``partial``), none (``missing``: it keeps its initialization),
or tensors of other shapes (``mismatch``: a new head with 5 classes where the file's has
1,000). A mismatch stops the run unless the user asked to skip that node
(``skip_mismatched: [fc]`` or ``true``); with ``strict: true`` a missing or partial node and
a tensor the graph does not take (``unexpected``) stop it too. ``modelbuilder check
--init`` prints the same plan without training.

    plan = plan_init(model.state_dict(), read_source(path), init_spec)
    plan.raise_errors()
    load_plan(model, plan)
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from builder.training.key_matching import by_names, by_order, group_by_node, renamed, shape_text
from builder.training.weight_sources import TransferError, WeightSource, read_source

LOADED, PARTIAL, MISSING, MISMATCH, SKIPPED = "loaded", "partial", "missing", "mismatch", "skipped"


@dataclass
class NodeLoad:
    """What the source gives one node."""

    node: str
    status: str  # loaded, partial, missing, mismatch (stops the run) or skipped (a mismatch, as asked)
    tensors: int  # how many of its tensors load
    total: int  # how many it has
    values: int  # numbers loaded (parameters and statistics)
    detail: str = ""  # the shapes that differ, or the tensors the source lacks

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v != ""}


@dataclass
class InitPlan:
    """Which of the source's tensors go where, and every node's status."""

    source: WeightSource
    spec: dict[str, Any]
    pairs: dict[str, str]  # graph key -> source name, for the tensors that load
    nodes: list[NodeLoad]
    unexpected: list[str]  # source names (as renamed) that no graph key takes
    left_out: int = 0  # source names the map turned to null
    renames: dict[str, str] = field(default_factory=dict)  # source name -> name read as, where they differ

    def of(self, status: str) -> list[NodeLoad]:
        return [n for n in self.nodes if n.status == status]

    @property
    def loaded_tensors(self) -> int:
        return len(self.pairs)

    def errors(self) -> list[tuple[str, str]]:
        """(message, hint) for each reason the plan cannot be loaded."""
        where = self.source.describe()
        found: list[tuple[str, str]] = []
        if not self.pairs:
            hint = ("if the file comes from a library whose layers come in the graph's order under other names "
                    "(torchvision's resnet18 for graphs/resnet18.yaml), add match: order" if self.source.ordered
                    and self.spec["match"] == "names" else
                    "rename the file's tensors to the graph's keys (node_id.param) with map: {\"old.*\": \"*\"}")
            found.append((f"init: none of the {len(self.source.tensors)} tensors of {where} matches a weight "
                          "of the graph", hint))
        mismatched = self.of(MISMATCH)
        if mismatched and self.pairs:
            names = [n.node for n in mismatched]
            found.append((f"init: {len(mismatched)} node{'s' * (len(mismatched) != 1)} of the graph "
                          f"{'do' if len(mismatched) != 1 else 'does'} not fit {where}: "
                          + "; ".join(f"{n.node}: {n.detail}" for n in mismatched[:5]),
                          f"a new layer keeps its fresh initialization with skip_mismatched: [{', '.join(names)}] "
                          "(or true for every node that does not fit)"))
        if self.spec["strict"] and self.pairs:
            short = self.of(MISSING) + self.of(PARTIAL)
            if short:
                found.append((f"init (strict): {where} has no weights for "
                              + ", ".join(f"{n.node} ({n.detail})" for n in short[:5])
                              + (" ..." if len(short) > 5 else ""), "leave strict out to keep their initialization"))
            if self.unexpected:
                found.append((f"init (strict): the graph has no place for {len(self.unexpected)} of the file's "
                              f"tensors: {_grouped(self.unexpected)}",
                              "leave them out with map: {\"name.*\": null}, or leave strict out"))
        return found

    def raise_errors(self) -> None:
        errors = self.errors()
        if errors:
            message, hint = errors[0]
            more = "".join(f"\n    also: {m}" for m, _ in errors[1:])
            raise TransferError(message + more, hint)

    def state(self) -> dict[str, torch.Tensor]:
        """The tensors to load, under the graph's keys."""
        tensors = self.source.tensors
        return {key: tensors[name] for key, name in self.pairs.items()}

    def summary(self) -> str:
        nodes = len(self.of(LOADED)) + len(self.of(PARTIAL))
        total = sum(n.total for n in self.nodes)
        text = (f"init from {self.source.describe()}: {self.loaded_tensors} of {total} tensors "
                f"into {nodes} of {len(self.nodes)} nodes with weights")
        return text + "".join(f"; {note}" for note in self.source.notes)

    def notes(self) -> list[str]:
        """One line for each thing that did not load as a whole (the run's warnings)."""
        lines = [f"init: node {n.node} keeps its initialization ({n.detail}; skipped as asked)"
                 for n in self.of(SKIPPED)]
        lines += [f"init: node {n.node} keeps its initialization: {self.source.describe()} has no weights for it"
                  for n in self.of(MISSING)]
        lines += [f"init: node {n.node} loaded in part ({n.detail})" for n in self.of(PARTIAL)]
        return lines + [self.unexpected_note()] if self.unexpected else lines

    def unexpected_note(self) -> str:
        """The file's tensors that no graph key takes, and what may be wrong."""
        text = (f"init: {len(self.unexpected)} tensors of the file have no place in the graph: "
                f"{_grouped(self.unexpected)}")
        if self.spec["match"] == "names" and self.source.ordered and self.of(MISSING):
            text += ("; if the file's layers come in the graph's order under other names (torchvision's), "
                     "add match: order")
        return text

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(node, status, tensors, detail) per node, for a table."""
        return [(n.node, n.status, f"{n.tensors}/{n.total}", n.detail) for n in self.nodes]

    def as_dict(self) -> dict[str, Any]:
        return {"source": str(self.source.path), "kind": self.source.kind, "match": self.spec["match"],
                "loaded_tensors": self.loaded_tensors, "nodes": [n.as_dict() for n in self.nodes],
                "unexpected": self.unexpected, "left_out": self.left_out, "notes": list(self.source.notes),
                "errors": [{"message": m, "hint": h} for m, h in self.errors()]}


def _grouped(names: list[str], limit: int = 6) -> str:
    groups = group_by_node(names)
    shown = [f"{first}.* ({len(keys)})" if len(keys) > 1 or keys[0] != first else first
             for first, keys in list(groups.items())[:limit]]
    return ", ".join(shown) + (" ..." if len(groups) > limit else "")


def _skips(spec: Mapping[str, Any], node: str) -> bool:
    skip = spec["skip_mismatched"]
    if isinstance(skip, bool):
        return skip
    return any(fnmatch.fnmatchcase(node, pattern) for pattern in skip)


def plan_init(target: Mapping[str, torch.Tensor], source: WeightSource, spec: Mapping[str, Any]) -> InitPlan:
    """The plan for loading ``source`` into a model whose state_dict is ``target`` (a meta
    model's will do: only names and shapes are read). ``spec``: ``init`` as resolved."""
    names = renamed(list(source.tensors), spec["map"])
    read_as = {new: old for old, new in names.items() if new is not None}
    offered = {new: tuple(source.tensors[old].shape) for new, old in read_as.items()}
    wanted = {key: tuple(t.shape) for key, t in target.items()}
    same_name = by_names(wanted, offered)
    pairs = {k: n for k, n in same_name.items() if wanted[k] == offered[n]}
    if spec["match"] == "order":  # what the names (as mapped) pair stays; the rest is lined up in order
        taken = set(pairs.values())
        pairs.update(by_order({k: s for k, s in wanted.items() if k not in pairs},
                              {n: s for n, s in offered.items() if n not in taken}))
    # a key whose namesake in the file has another shape is a mismatch, in either mode
    differ = {k: n for k, n in same_name.items() if k not in pairs and wanted[k] != offered[n]
              and n not in pairs.values()}
    nodes: list[NodeLoad] = []
    withheld: set[str] = set()  # names that fit a node that is skipped as a whole
    for node, keys in group_by_node(list(wanted)).items():
        taken = [k for k in keys if k in pairs]
        values = sum(int(torch.Size(wanted[k]).numel()) for k in taken)
        if any(k in differ for k in keys):
            detail = "; ".join(f"{k}: file {shape_text(offered[differ[k]])}, graph {shape_text(wanted[k])}"
                               for k in keys if k in differ)
            status = SKIPPED if _skips(spec, node) else MISMATCH
            nodes.append(NodeLoad(node, status, 0, len(keys), 0, detail))
            withheld.update(pairs.pop(k) for k in taken)
            continue
        lacking = [k for k in keys if k not in pairs]
        status = LOADED if not lacking else MISSING if not taken else PARTIAL
        detail = "" if status != PARTIAL else "not in the file: " + ", ".join(lacking[:4]) + (
            " ..." if len(lacking) > 4 else "")
        nodes.append(NodeLoad(node, status, len(taken), len(keys), values, detail))
    used = set(pairs.values()) | set(differ.values()) | withheld
    unexpected = [n for n in offered if n not in used]
    return InitPlan(source, dict(spec), {k: read_as[n] for k, n in pairs.items()}, nodes, unexpected,
                    left_out=sum(v is None for v in names.values()),
                    renames={old: new for old, new in names.items() if new is not None and new != old})


def load_plan(model: torch.nn.Module, plan: InitPlan) -> None:
    """Copy the plan's tensors into ``model`` (converted to its dtypes and device)."""
    state = plan.state()
    with torch.no_grad():
        result = model.load_state_dict(state, strict=False)
    if result.unexpected_keys:  # the plan only names the model's own keys
        raise TransferError(f"init: the model has no {', '.join(result.unexpected_keys[:3])}")


def initialize(model: torch.nn.Module, spec: Mapping[str, Any], base_dir: Path | None = None) -> InitPlan:
    """Load ``init`` (``spec``, as resolved) into ``model``; TransferError before changing
    anything if the plan has an error. Returns the plan (its ``notes()`` for the run)."""
    source = read_source(spec["from"], base_dir)
    plan = plan_init(model.state_dict(), source, spec)
    plan.raise_errors()
    load_plan(model, plan)
    return plan


def plan_for_graph(graph: Any, spec: Mapping[str, Any] | str, base_dir: Path | None = None) -> InitPlan:
    """The plan for ``graph`` (built on the meta device: no memory for its weights), for
    ``modelbuilder check --init`` and the app. ``spec`` may be a bare path."""
    from builder.compiler import compile_graph
    from builder.training.transfer_settings import init_spec

    spec = init_spec(spec) if isinstance(spec, str) else spec
    model = compile_graph(graph, device="meta")
    return plan_init(model.state_dict(), read_source(spec["from"], base_dir), spec)
