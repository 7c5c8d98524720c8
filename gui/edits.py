"""What an undoable edit sets, and how it is applied to a ``builder.Graph``.

The undo commands (:mod:`gui.commands`) hold states from this module and hand them to
an object with the :class:`GraphEdits` interface (the editor's
:class:`gui.document.GraphDocument`), which applies them with the functions here and then
announces what changed. Commands therefore need neither the document's module nor its
internals, and the functions here are plain Python on a graph: no Qt.

Also here, for the document's edit methods: the states an edit starts from and sets
(:func:`node_state`, :func:`appended_states`, :func:`with_param`,
:func:`renamed_references`, :func:`position_change`), new ids (:func:`fresh_id`), and the
answer to "may I?" (:class:`Verdict`, :func:`can_use_id`).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Optional, Protocol

from blocks import get_block
from builder import LAYOUT_DIRECTION_KEY, Graph, Node, id_problem
from gui.layout import DOWN
from gui.wiring import rename_refs

Position = tuple[int, int]
_NUMBERED = re.compile(r"^(.*?)_\d+$")


@dataclass(frozen=True)
class Verdict:
    """The answer to "may I?": ``ok``, or a sentence saying why not (and maybe a hint).

    The canvas shows ``reason`` while a wire is dragged over a port it cannot join."""

    ok: bool
    reason: str = ""
    hint: Optional[str] = None

    def __bool__(self) -> bool:
        return self.ok


YES = Verdict(True)


def refuse(reason: str, hint: Optional[str] = None) -> Verdict:
    """A refusal that says why."""
    return Verdict(False, reason, hint)


@dataclass(frozen=True)
class NodeState:
    """One node as a command sets it: its content, its place in file order and its
    position on the canvas (None: none in the layout). ``index`` is where the node is
    inserted when it is not in the graph; a node already there keeps its place."""

    node: Node
    index: int
    position: Optional[Position] = None


# id -> the state the node gets, or None: the node is removed
NodeStates = dict[str, Optional[NodeState]]


class GraphEdits(Protocol):
    """What the undo commands call to set a graph's state (redo) and restore it (undo).

    Each method changes the graph and announces the change; ``layout_none`` asks for a
    layout section left empty to become None again (the graph had none before the edit).
    """

    def apply_node_states(self, states: NodeStates, layout_none: bool) -> None:
        """Add, replace or remove nodes (None) with their layout positions."""

    def apply_positions(self, positions: Mapping[str, Optional[Position]], layout_none: bool) -> None:
        """Set layout positions (None: remove the entry)."""

    def apply_rename(self, old: str, new: str, inputs: Mapping[str, Any], expose: Optional[dict]) -> None:
        """Rename node ``old`` to ``new``, giving the nodes in ``inputs`` those inputs and
        the graph that ``expose`` section."""

    def apply_training(self, section: Optional[dict]) -> None:
        """Set the ``training`` section (None: the graph has none)."""

    def apply_direction(self, direction: str, layout_none: bool) -> None:
        """Set the automatic layout's direction ("down" or "right")."""


def plain(value: Any) -> Any:
    """Tuples as lists, recursively: the graph holds what YAML reads back."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def starter_params(block_name: str) -> dict[str, Any]:
    """Values for a block's required parameters, taken from its first example, so that a
    node dropped from the palette is valid where it can be (e.g. linear: out_features 10)."""
    block = get_block(block_name)
    required = [name for name, param in block.params.items() if param.required]
    params: dict[str, Any] = {}
    for example in block.examples:
        for name in required:
            if name not in params and name in example.get("params", {}):
                params[name] = plain(example["params"][name])
    return params


def position(value: Iterable[float]) -> Position:
    """A position in whole pixels."""
    x, y = value
    return round(float(x)), round(float(y))


def raw_position(graph: Graph, node_id: str) -> Optional[tuple]:
    """The layout entry as written (undo restores 12.5 as 12.5, not rounded)."""
    value = (graph.layout or {}).get(node_id)
    return tuple(value) if value is not None else None


def node_state(graph: Graph, node_id: str) -> NodeState:
    """The state of a node in the graph now (a copy: later edits do not change it)."""
    index = list(graph.nodes).index(node_id)
    return NodeState(copy.deepcopy(graph.nodes[node_id]), index, raw_position(graph, node_id))


def appended_states(graph: Graph, nodes: list[Node], positions: Mapping[str, Iterable[float]]) -> NodeStates:
    """The states that add ``nodes`` at the end of the file, at ``positions`` (whole
    pixels; a node without one gets none)."""
    count = len(graph.nodes)
    states: NodeStates = {}
    for i, node in enumerate(nodes):
        where = positions.get(node.id)
        states[node.id] = NodeState(copy.deepcopy(node), count + i, position(where) if where is not None else None)
    return states


@dataclass
class NodeChanges:
    """What :func:`set_node_states` changed, in the order the signals announce it."""

    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # in file order
    changed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # nodes still there, not added


def set_node_states(graph: Graph, states: NodeStates, layout_none: bool) -> NodeChanges:
    """Give nodes the states of a command (see :meth:`GraphEdits.apply_node_states`)."""
    current = graph.nodes
    removed = [i for i, s in states.items() if s is None and i in current]
    added = sorted((s.index, i) for i, s in states.items() if s is not None and i not in current)
    changed = [i for i, s in states.items() if s is not None and i in current and current[i] != s.node]
    order = [i for i in current if i not in set(removed)]
    for index, node_id in added:
        order.insert(index, node_id)
    fresh = {i: copy.deepcopy(states[i].node) if states.get(i) is not None else current[i] for i in order}
    current.clear()
    current.update(fresh)
    moved = set_positions(graph, {i: (s.position if s is not None else None) for i, s in states.items()},
                          layout_none)
    added_ids = {i for _, i in added}
    return NodeChanges(removed, [i for _, i in sorted((order.index(i), i) for _, i in added)], changed,
                       [i for i in moved if i in current and i not in added_ids])


def set_positions(graph: Graph, positions: Mapping[str, Optional[Position]], layout_none: bool) -> list[str]:
    """Write positions into the layout section (None: remove the entry); returns the ids
    whose position changed. ``layout_none`` restores a graph that had no layout."""
    moved = []
    for node_id, value in positions.items():
        old = (graph.layout or {}).get(node_id)
        if value is None:
            if old is not None:
                del graph.layout[node_id]
                moved.append(node_id)
        elif old is None or list(old) != list(value):
            if graph.layout is None:
                graph.layout = {}
            graph.layout[node_id] = list(value)
            moved.append(node_id)
    if layout_none and not graph.layout:
        graph.layout = None
    return moved


def set_direction(graph: Graph, direction: str, layout_none: bool) -> None:
    """Set the layout direction; the default is not written."""
    rest = {k: v for k, v in (graph.layout or {}).items() if k != LAYOUT_DIRECTION_KEY}
    # first in the section, where a reader of the file looks
    graph.layout = rest if direction == DOWN else {LAYOUT_DIRECTION_KEY: direction, **rest}
    if layout_none and not graph.layout:
        graph.layout = None


def rename(graph: Graph, old: str, new: str, inputs: Mapping[str, Any], expose: Optional[dict]) -> list[str]:
    """Rename a node (see :meth:`GraphEdits.apply_rename`); returns the ids of the nodes
    whose inputs changed."""
    renamed = {(new if i == old else i): (replace(n, id=new) if i == old else n) for i, n in graph.nodes.items()}
    changed = []
    for node_id, value in inputs.items():
        if renamed[node_id].inputs != value:
            renamed[node_id] = replace(renamed[node_id], inputs=copy.deepcopy(value))
            changed.append(node_id)
    graph.nodes.clear()
    graph.nodes.update(renamed)
    if graph.layout is not None and old in graph.layout:
        graph.layout = {(new if k == old else k): v for k, v in graph.layout.items()}
    graph.expose = copy.deepcopy(expose)
    return changed


def with_param(params: Mapping[str, Any], name: str, value: Any) -> Optional[dict]:
    """``params`` with ``name`` set to ``value`` (None: removed, back to the block's
    default); None when that changes nothing (``1`` and ``1.0`` differ)."""
    params = dict(params)
    if value is None:
        if name not in params:
            return None
        del params[name]
    else:
        value = plain(value)
        if name in params and params[name] == value and type(params[name]) is type(value):
            return None
        params[name] = value
    return params


def can_use_id(graph: Graph, node_id: str, current: Optional[str] = None) -> Verdict:
    """Whether ``node_id`` can name a new node (or node ``current``, when renaming)."""
    why = id_problem(node_id) if isinstance(node_id, str) else "a node id is text"
    if why:
        return refuse(f"{node_id!r} cannot be a node id: {why}", "e.g. conv1, block2_a")
    if node_id != current and node_id in graph.nodes:
        return refuse(f"there is already a node {node_id!r}")
    return YES


def position_change(graph: Graph, positions: Mapping[str, Iterable[float]]) -> tuple[dict, dict]:
    """The layout entries of the nodes in ``positions`` now (as written) and after they
    are moved there (whole pixels); KeyError for a node not in the graph."""
    for node_id in positions:
        if node_id not in graph.nodes:
            raise KeyError(node_id)
    after = {i: position(p) for i, p in positions.items()}
    return {i: raw_position(graph, i) for i in after}, after


def fresh_id(graph: Graph, base: str, taken: Iterable[str] = ()) -> str:
    """A new node id ``base_1``, ``base_2`` ... (a trailing ``_N`` of ``base`` is
    replaced): not used by a node, a reference or a layout entry, nor in ``taken``."""
    match = _NUMBERED.match(base)
    stem = match.group(1) if match else base
    if not stem or id_problem(f"{stem}_1"):
        stem = "node"
    used = set(taken) | set(graph.nodes) | set(graph.layout or {})
    used |= {r.node for n in graph.nodes.values() for r in n.references()}
    number = 1
    while f"{stem}_{number}" in used:
        number += 1
    return f"{stem}_{number}"


def renamed_references(graph: Graph, old: str, new: str) -> tuple[dict, dict, Optional[dict], Optional[dict]]:
    """What renaming ``old`` to ``new`` changes besides the node itself: the inputs of
    every node that refers to it, before and after (keyed by the ids they have then), and
    the ``expose`` section before and after."""
    mapping = {old: new}
    inputs_before, inputs_after = {}, {}
    for node in graph.nodes.values():
        if any(r.node == old for r in node.references()):
            inputs_before[node.id] = copy.deepcopy(node.inputs)
            inputs_after[mapping.get(node.id, node.id)] = rename_refs(node.inputs, mapping)
    expose_before = copy.deepcopy(graph.expose)
    expose_after = None
    if expose_before is not None:
        def target(text: str) -> str:
            node, dot, rest = text.partition(".")
            return f"{new}{dot}{rest}" if node == old else text

        expose_after = {key: [target(t) for t in value] if isinstance(value, list) else target(value)
                        for key, value in expose_before.items()}
    return inputs_before, inputs_after, expose_before, expose_after
