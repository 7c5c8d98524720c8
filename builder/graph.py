"""The graph model: plain dataclasses that the YAML format, the analysis, the compiler
and the editor's document all share.

A node keeps its parameters and input references exactly as written (``params`` is the
raw mapping, ``inputs`` raw reference strings), so that saving what was loaded reproduces
the file. Validation and normalization happen in :mod:`builder.analysis`.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Union

FORMAT_VERSION = 1
# A node key, and the pseudo-parameter a part file exposes (``node.enabled``) to switch a node
ENABLED_KEY = "enabled"

# A list in input-port order, or a mapping from port name to one reference or a list.
Inputs = Union[list[str], dict[str, Union[str, list[str]]]]

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Attributes of torch.nn.Module that a submodule named by node id would shadow.
RESERVED_IDS = frozenset({
    "training", "forward", "parameters", "buffers", "modules", "children", "state_dict", "to",
    "train", "eval", "cuda", "cpu", "type", "float", "double", "half", "code", "graph", "apply",
    "zero_grad", "register_buffer", "add_module", "self", "input", "output",
})


def id_problem(node_id: str) -> str | None:
    """Why ``node_id`` cannot name a node, or None when it can.

    Ids become submodule names, ``state_dict`` keys and variables in generated code.
    """
    if not _ID.match(node_id):
        return "node ids use letters, digits and '_' and do not start with a digit"
    if keyword.iskeyword(node_id):
        return f"{node_id!r} is a Python keyword"
    if node_id in RESERVED_IDS:
        return f"{node_id!r} is reserved (it names part of torch.nn.Module)"
    return None


def assign_to_ports(refs: list, ports) -> tuple[dict[str, list], int]:
    """Inputs written as a list, in port order: a plain port takes one reference and a
    variadic port all that remain. Returns the references per port name and how many
    were used (fewer than ``len(refs)`` when there are more references than ports)."""
    bound: dict[str, list] = {}
    position = 0
    for port in ports:
        if position >= len(refs):
            break
        take = len(refs) - position if port.variadic else 1
        bound[port.name] = refs[position:position + take]
        position += take
    return bound, position


@dataclass(frozen=True)
class Ref:
    """A reference to a node's output: ``node`` (its first port) or ``node.port``."""

    node: str
    port: str | None = None

    @classmethod
    def parse(cls, text: str) -> Ref:
        node, _, port = text.partition(".")
        return cls(node, port or None)

    def __str__(self) -> str:
        return f"{self.node}.{self.port}" if self.port else self.node


@dataclass
class Node:
    """One block instance: a registered ``block`` name or a composite ``graph`` file."""

    id: str
    block: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    inputs: Inputs = field(default_factory=list)
    graph: str | None = None  # path of a graph file used as a block, relative to this file
    # ``repeat: N``: the block (or graph file) applied N times in a chain; ``vary`` sets
    # parameters per repetition (a list, one value each, or an expression of ``i``), both as
    # written (checked by the analysis, expanded by builder/repeat_expand.py)
    repeat: Any = None
    vary: dict[str, Any] | None = None
    # ``enabled: false`` leaves the node out: its consumers take its first input instead
    # (a part file exposes it as ``node.enabled`` to switch optional nodes; builder/optional_nodes.py)
    enabled: bool = True

    @property
    def repeated(self) -> bool:
        """True for a repeated node (``repeat`` or ``vary`` written)."""
        return self.repeat is not None or self.vary is not None

    @property
    def kind(self) -> str:
        """What the node is, for messages: the block name or the composite file."""
        return self.block if self.block is not None else f"graph {self.graph}"

    def references(self) -> list[Ref]:
        """Every input reference, in order."""
        raw = self.inputs.values() if isinstance(self.inputs, dict) else self.inputs
        refs: list[Ref] = []
        for item in raw:
            for text in item if isinstance(item, list) else [item]:
                refs.append(Ref.parse(text))
        return refs


@dataclass
class Graph:
    """A whole graph file: nodes in file order plus optional training and layout sections.

    Equality compares content only; ``path``, ``locations`` and the round-trip document
    (which carries comments) are bookkeeping.
    """

    nodes: dict[str, Node] = field(default_factory=dict)
    name: str = "model"
    description: str = ""
    training: dict[str, Any] | None = None
    # For graphs used as composite blocks: public parameter -> "node.param" target(s).
    expose: dict[str, str | list[str]] | None = None
    layout: dict[str, list[float]] | None = None
    path: str | None = field(default=None, compare=False, repr=False)
    # (node id, key or None) -> (line, column), 1-based, as found in the file.
    locations: dict[tuple[str, str | None], tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)
    document: Any = field(default=None, compare=False, repr=False)
    # warnings found while reading the file (e.g. an unusable layout section that was dropped)
    load_warnings: list[Any] = field(default_factory=list, compare=False, repr=False)

    def add(self, node: Node) -> Node:
        self.nodes[node.id] = node
        return node

    def where(self, node: str | None = None, key: str | None = None) -> tuple[int | None, int | None]:
        """Line and column of a node (or one of its keys) in the file it came from."""
        if node is None:
            return self.locations.get(("", key), (None, None))
        candidates = [key, key.split(".")[0] if key else None, None]  # params.kernel -> params -> node
        for candidate in candidates:
            if (node, candidate) in self.locations:
                return self.locations[(node, candidate)]
        return None, None

    def consumers(self, node_id: str) -> list[str]:
        """Ids of the nodes that take ``node_id``'s outputs as input."""
        return [n.id for n in self.nodes.values() if any(r.node == node_id for r in n.references())]
