"""The editor's document: a ``builder.Graph`` with change signals, undo and live analysis.

Widgets never change the graph themselves. They call the edit methods here, each of which
pushes an undoable command (:mod:`gui.commands`) onto the document's ``QUndoStack``; the
command changes the graph and the document emits what changed (``nodeAdded``,
``nodeRemoved``, ``nodeChanged``, ``nodeRenamed``, ``nodeMoved``). After every edit, undo or
redo the graph is analyzed again (shapes, costs, problems: a few milliseconds even for
ResNet-50) and ``analysisChanged`` follows.

Only QtCore and QtGui's undo framework are used, so the document is tested without any
widget. The engine is reached through ``builder``'s public API and the block declarations.
"""

from __future__ import annotations

import copy
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QUndoStack

from blocks import Block, Port, get_block
from builder import (
    data_flow,
    flow_path,
    LAYOUT_DIRECTION_KEY,
    Analysis,
    Graph,
    Node,
    Ref,
    analyze,
    id_problem,
    load_graph,
    save_graph,
)
from gui.wording import app_hint, app_message
from gui.commands import (
    DirectionCommand,
    NodesCommand,
    NodeState,
    NodeStates,
    PositionsCommand,
    RenameCommand,
    SetParamCommand,
    TrainingCommand,
    identical,
)
from gui.layout import DIRECTIONS, DOWN, NODE_HEIGHT, V_GAP, layered_layout
from gui.wiring import bind, drop_refs, encode, rename_refs

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


@dataclass(frozen=True)
class Wire:
    """One input reference drawn as a wire: output ``source_port`` of node ``source``
    into input ``target_port`` of node ``target``. A port is None where it cannot be known
    (an unknown block; inputs that do not fit the target's ports). ``ref`` is the reference
    text as written (``encoder`` for the first output, ``encoder.hidden``)."""

    source: str
    source_port: Optional[str]
    target: str
    target_port: Optional[str]
    ref: str


YES = Verdict(True)


def _no(reason: str, hint: Optional[str] = None) -> Verdict:
    return Verdict(False, reason, hint)


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively: the graph holds what YAML reads back."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _position(value: Iterable[float]) -> Position:
    x, y = value
    return round(float(x)), round(float(y))


def relative_path(target: Path, start: Path) -> str:
    """``target`` relative to the folder ``start`` with forward slashes, as graph files
    write it (absolute where no relative path exists, e.g. another drive)."""
    try:
        return Path(os.path.relpath(target.resolve(), start)).as_posix()
    except ValueError:
        return target.resolve().as_posix()


def starter_params(block_name: str) -> dict[str, Any]:
    """Values for a block's required parameters, taken from its first example, so that a
    node dropped from the palette is valid where it can be (e.g. linear: out_features 10)."""
    block = get_block(block_name)
    required = [name for name, param in block.params.items() if param.required]
    params: dict[str, Any] = {}
    for example in block.examples:
        for name in required:
            if name not in params and name in example.get("params", {}):
                params[name] = _plain(example["params"][name])
    return params


class GraphDocument(QObject):
    """One open graph: the model behind the canvas, the inspector and the problems list.

    Signals carry node ids; handlers read the graph, which is complete and consistent when
    they run (every change of one command is made before its first signal).
    """

    nodeAdded = Signal(str)
    nodeRemoved = Signal(str)
    nodeChanged = Signal(str)  # block, params or inputs (so: its wires) changed
    nodeRenamed = Signal(str, str)  # old id, new id
    nodeMoved = Signal(str)
    analysisChanged = Signal()
    modifiedChanged = Signal(bool)
    pathChanged = Signal(str)
    trainingChanged = Signal()  # the training section was set (an edit, undo or redo)
    layoutDirectionChanged = Signal(str)  # "down" or "right" (an arrange, undo or redo)

    def __init__(self, graph: Optional[Graph] = None, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._graph = graph if graph is not None else Graph()
        self.undo_stack = QUndoStack(self)
        self._analysis = analyze(self._graph)
        self._dirty = False  # the graph changed since the analysis was made
        self._unannounced = False  # an analysis was made that analysisChanged has not announced
        # bound methods, not lambdas: Qt drops the connections when the document is deleted
        self.undo_stack.indexChanged.connect(self._on_index_changed)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)

    @classmethod
    def open(cls, path: str | Path, parent: Optional[QObject] = None) -> GraphDocument:
        """A document for a graph file; ``builder.GraphError`` if it cannot be read."""
        return cls(load_graph(path), parent)

    # ------------------------------------------------------------------ reading
    @property
    def graph(self) -> Graph:
        """The graph. Read it freely; change it only through this document's methods."""
        return self._graph

    @property
    def analysis(self) -> Analysis:
        """Shapes, costs and problems of the current graph (``builder.Analysis``)."""
        if self._dirty:
            self._reanalyze()
        return self._analysis

    @property
    def path(self) -> Optional[str]:
        return self._graph.path

    @property
    def display_name(self) -> str:
        """The file name, or "untitled" for a graph never saved."""
        return Path(self._graph.path).name if self._graph.path else "untitled"

    @property
    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    def node(self, node_id: str) -> Node:
        return self._graph.nodes[node_id]

    def position(self, node_id: str) -> Optional[Position]:
        """Top-left corner of the node's box on the canvas, or None if it has none yet."""
        value = (self._graph.layout or {}).get(node_id)
        return _position(value) if value is not None else None

    @property
    def layout_direction(self) -> str:
        """Which way the automatic layout runs, "down" (the default) or "right"; the
        layout section keeps it under a key no node id can take."""
        value = (self._graph.layout or {}).get(LAYOUT_DIRECTION_KEY)
        return value if value in DIRECTIONS else DOWN

    def block_of(self, node_id: str) -> Optional[Block]:
        """The node's block declaration (also for composite graph nodes); None if unknown."""
        info = self.analysis.nodes.get(node_id)
        return info.block if info is not None else None

    def input_ports(self, node_id: str) -> Optional[tuple[Port, ...]]:
        block = self.block_of(node_id)
        return tuple(block.inputs) if block is not None else None

    def bound_inputs(self, node_id: str) -> Optional[dict[str, list[str]]]:
        """Reference texts per input port; None when the inputs do not fit the ports."""
        ports = self.input_ports(node_id)
        return bind(self._graph.nodes[node_id].inputs, ports) if ports is not None else None

    def wires(self, node_id: Optional[str] = None) -> list[Wire]:
        """Every wire in the graph, or those into ``node_id``; references to missing nodes
        are left out (the analysis reports them on the node)."""
        ids = [node_id] if node_id is not None else list(self._graph.nodes)
        wires = []
        for target in ids:
            bound = self.bound_inputs(target)
            if bound is None:
                pairs = [(None, str(r)) for r in self._graph.nodes[target].references()]
            else:
                pairs = [(port, text) for port, refs in bound.items() for text in refs]
            for port, text in pairs:
                ref = Ref.parse(text)
                if ref.node in self._graph.nodes:
                    source_port = ref.port or self._first_output(self.block_of(ref.node))
                    wires.append(Wire(ref.node, source_port, target, port, text))
        return wires

    def wires_from(self, node_id: str) -> list[Wire]:
        """The wires out of ``node_id``."""
        return [w for target in self._graph.consumers(node_id) for w in self.wires(target) if w.source == node_id]

    def fresh_id(self, base: str, taken: Iterable[str] = ()) -> str:
        """A new node id ``base_1``, ``base_2`` ... (a trailing ``_N`` of ``base`` is
        replaced): not used by a node, a reference or a layout entry, nor in ``taken``."""
        match = _NUMBERED.match(base)
        stem = match.group(1) if match else base
        if not stem or id_problem(f"{stem}_1"):
            stem = "node"
        used = set(taken) | set(self._graph.nodes) | set(self._graph.layout or {})
        used |= {r.node for n in self._graph.nodes.values() for r in n.references()}
        number = 1
        while f"{stem}_{number}" in used:
            number += 1
        return f"{stem}_{number}"

    # ------------------------------------------------------------------ edits
    @contextmanager
    def macro(self, text: str) -> Iterator[None]:
        """Group the edits made inside ``with document.macro("..."):`` into one undo step."""
        self.undo_stack.beginMacro(text)
        try:
            yield
        finally:
            self.undo_stack.endMacro()

    def add_node(self, block_name: str, params: Optional[Mapping[str, Any]] = None,
                 position: Optional[Iterable[float]] = (0, 0), inputs: Optional[list | dict] = None,
                 node_id: Optional[str] = None) -> str:
        """Add a node of a registered block; returns its id (``conv2d_1`` ... unless
        ``node_id`` is given). ``params`` None means none (see :func:`starter_params`);
        ``position`` None places it below the graph. Raises ``blocks.UnknownBlockError``
        for an unknown block and ValueError for an unusable ``node_id``."""
        get_block(block_name)  # raises UnknownBlockError with a suggestion
        if node_id is None:
            node_id = self.fresh_id(block_name)
        else:
            why = self.can_use_id(node_id)
            if not why:
                raise ValueError(why.reason)
        node = Node(node_id, block=block_name, params=_plain(dict(params or {})), inputs=_plain(inputs or []))
        if position is None:
            position = self._below_everything()
        self.add_nodes([node], {node_id: position}, f"Add {node_id}")
        return node_id

    def add_nodes(self, nodes: list[Node], positions: Mapping[str, Iterable[float]], text: str) -> list[str]:
        """Add prepared nodes (ids new and valid) at the end of the file, in one undo step;
        the paste and duplicate commands use it."""
        for node in nodes:
            why = self.can_use_id(node.id)
            if not why:
                raise ValueError(why.reason)
        if len({n.id for n in nodes}) != len(nodes):
            raise ValueError("the new nodes' ids are not distinct")
        count = len(self._graph.nodes)
        after: NodeStates = {}
        for i, node in enumerate(nodes):
            where = positions.get(node.id)
            after[node.id] = NodeState(copy.deepcopy(node), count + i, _position(where) if where is not None else None)
        before: NodeStates = {n.id: None for n in nodes}
        layout_none = self._graph.layout is None
        has_positions = any(s.position is not None for s in after.values())
        self.undo_stack.push(NodesCommand(self, text, before, after, layout_none, layout_none and not has_positions))
        return [n.id for n in nodes]

    def remove_nodes(self, ids: Iterable[str]) -> None:
        """Delete nodes with their layout entries, and every reference to them from the
        other nodes' inputs (each reference leaves its own port; others stay put)."""
        doomed = [i for i in dict.fromkeys(ids) if i in self._graph.nodes]
        if not doomed:
            return
        gone = set(doomed)
        before: NodeStates = {i: self._state(i) for i in doomed}
        after: NodeStates = {i: None for i in doomed}
        for node in self._graph.nodes.values():
            if node.id in gone or not any(r.node in gone for r in node.references()):
                continue
            inputs = drop_refs(node.inputs, self.input_ports(node.id), lambda ref: ref.node in gone)
            before[node.id] = self._state(node.id)
            after[node.id] = replace(before[node.id], node=replace(node, inputs=inputs))
        text = f"Delete {doomed[0]}" if len(doomed) == 1 else f"Delete {len(doomed)} nodes"
        layout_none = self._graph.layout is None
        self.undo_stack.push(NodesCommand(self, text, before, after, layout_none, layout_none))

    def set_param(self, node_id: str, name: str, value: Any) -> bool:
        """Set one parameter; ``None`` removes the key (back to the block's default).
        Returns False when nothing changes. Consecutive changes of the same parameter merge
        into one undo step."""
        node = self._graph.nodes[node_id]
        params = dict(node.params)
        if value is None:
            if name not in params:
                return False
            del params[name]
        else:
            value = _plain(value)
            if name in params and params[name] == value and type(params[name]) is type(value):
                return False
            params[name] = value
        before = self._state(node_id)
        after = replace(before, node=replace(node, params=params))
        text = f"Reset {node_id}.{name}" if value is None else f"Set {node_id}.{name}"
        self.undo_stack.push(SetParamCommand(self, text, {node_id: before}, {node_id: after}, (node_id, name)))
        return True

    def set_training(self, values: Optional[Mapping[str, Any]]) -> bool:
        """Replace the graph's ``training`` section with ``values`` (a plain mapping; None
        removes the section) as one undo step. Returns False when nothing changes.
        Consecutive changes of the same settings merge into one undo step."""
        after = _plain(dict(values)) if values is not None else None
        before = copy.deepcopy(self._graph.training)
        if identical(before, after):
            return False
        command = TrainingCommand(self, "", before, after)
        keys = sorted(k for k in command.keys if k)
        if after is None:
            text = "Remove the training settings"
        elif len(keys) == 1:
            text = f"Set training {keys[0]}"
        else:
            text = "Change the training settings"
        command.setText(text)
        self.undo_stack.push(command)
        return True

    def set_node_block(self, node_id: str, block_name: str, params: Optional[Mapping[str, Any]] = None) -> None:
        """Change a node's block (keeping id, inputs and position), e.g. relu -> gelu."""
        get_block(block_name)
        node = self._graph.nodes[node_id]
        before = self._state(node_id)
        new = replace(node, block=block_name, graph=None,
                      params=_plain(dict(params)) if params is not None else dict(node.params))
        self.undo_stack.push(NodesCommand(self, f"Change {node_id} to {block_name}", {node_id: before},
                                          {node_id: replace(before, node=new)}, False, False))

    def can_use_id(self, node_id: str, current: Optional[str] = None) -> Verdict:
        """Whether ``node_id`` can name a new node (or node ``current``, when renaming)."""
        why = id_problem(node_id) if isinstance(node_id, str) else "a node id is text"
        if why:
            return _no(f"{node_id!r} cannot be a node id: {why}", "e.g. conv1, block2_a")
        if node_id != current and node_id in self._graph.nodes:
            return _no(f"there is already a node {node_id!r}")
        return YES

    def can_rename(self, old: str, new: str) -> Verdict:
        """Whether ``old`` can be renamed to ``new`` (for the inspector, as the user types)."""
        if old not in self._graph.nodes:
            return _no(f"there is no node {old!r}")
        return self.can_use_id(new, current=old)

    def rename_node(self, old: str, new: str) -> Verdict:
        """Rename a node, rewriting ``old`` and ``old.port`` in every node's inputs, its
        layout key and ``expose`` targets. Refused (with the reason) for invalid or taken ids."""
        verdict = self.can_rename(old, new)
        if not verdict or old == new:
            return verdict
        mapping = {old: new}
        inputs_before, inputs_after = {}, {}
        for node in self._graph.nodes.values():
            if any(r.node == old for r in node.references()):
                inputs_before[node.id] = copy.deepcopy(node.inputs)
                inputs_after[mapping.get(node.id, node.id)] = rename_refs(node.inputs, mapping)
        expose_before = copy.deepcopy(self._graph.expose)
        expose_after = None
        if expose_before is not None:
            def target(text: str) -> str:
                node, dot, rest = text.partition(".")
                return f"{new}{dot}{rest}" if node == old else text

            expose_after = {key: [target(t) for t in value] if isinstance(value, list) else target(value)
                            for key, value in expose_before.items()}
        self.undo_stack.push(RenameCommand(self, old, new, inputs_before, inputs_after, expose_before, expose_after))
        return YES

    # ------------------------------------------------------------------ wires
    def can_connect(self, source_ref: str, target_id: str, port: Optional[str] = None) -> Verdict:
        """May ``source_ref`` (``node`` or ``node.port``) feed input ``port`` of ``target_id``
        (None: its first free input)? Refusals say why: unknown node or port, port taken,
        a cycle (with its path), integer ids versus float values, or the shape error the
        target would get (found by analyzing the graph with the wire made)."""
        plan = self._plan_connection(source_ref, target_id, port)
        return plan if isinstance(plan, Verdict) else plan[0]

    def connect(self, source_ref: str, target_id: str, port: Optional[str] = None) -> Verdict:
        """Make the wire if :meth:`can_connect` allows it (a variadic port appends)."""
        plan = self._plan_connection(source_ref, target_id, port)
        if isinstance(plan, Verdict):
            return plan
        verdict, port_name, new_node = plan
        before = self._state(target_id)
        self.undo_stack.push(NodesCommand(self, f"Connect {source_ref} to {target_id}.{port_name}",
                                          {target_id: before}, {target_id: replace(before, node=new_node)},
                                          False, False))
        return verdict

    def disconnect(self, target_id: str, port: Optional[str] = None, source_ref: Optional[str] = None,
                   once: bool = False) -> bool:
        """Remove the wires into input ``port`` of ``target_id`` (None: any port), only
        those from ``source_ref`` if given (``lstm`` and ``lstm.out`` are the same output);
        with ``once``, only the last such wire (one of two identical wires into a variadic
        port). Returns False when there was no such wire."""
        node = self._graph.nodes[target_id]
        wanted = self._output_key(Ref.parse(source_ref)) if source_ref is not None else None

        def matches(text: str) -> bool:
            return wanted is None or self._output_key(Ref.parse(text)) == wanted

        ports, bound = self.input_ports(target_id), self.bound_inputs(target_id)
        if bound is not None and once:
            kept = {name: list(refs) for name, refs in bound.items()}
            for name, refs in reversed(list(kept.items())):
                hits = [i for i, r in enumerate(refs) if (port is None or name == port) and matches(r)]
                if hits:
                    del refs[hits[-1]]
                    break
            inputs = encode(kept, ports, node.inputs) if kept != bound else node.inputs
        elif bound is not None:
            kept = {name: [r for r in refs if (port is not None and name != port) or not matches(r)]
                    for name, refs in bound.items()}
            inputs = encode(kept, ports, node.inputs) if kept != bound else node.inputs
        elif port is None:  # inputs that do not fit the ports: remove by source
            inputs = drop_refs(node.inputs, None, lambda ref: matches(str(ref)))
        else:
            return False
        if inputs == node.inputs:
            return False
        before = self._state(target_id)
        text = f"Disconnect {target_id}.{port}" if port else f"Disconnect {target_id}"
        self.undo_stack.push(NodesCommand(self, text, {target_id: before},
                                          {target_id: replace(before, node=replace(node, inputs=inputs))},
                                          False, False))
        return True

    # ------------------------------------------------------------------ positions
    def move_nodes(self, positions: Mapping[str, Iterable[float]]) -> None:
        """Move nodes (top-left corners, whole pixels). Consecutive moves of the same set
        of nodes are one undo step."""
        self._push_positions(positions, "Move", mergeable=True)

    def apply_layout(self, positions: Mapping[str, Iterable[float]], text: str = "Arrange nodes") -> None:
        """Set many positions as one undo step."""
        self._push_positions(positions, text, mergeable=False)

    def arrange(self, positions: Mapping[str, Iterable[float]], direction: Optional[str] = None) -> None:
        """Set many positions and (if given) the layout direction as one undo step."""
        direction = direction or self.layout_direction
        if direction not in DIRECTIONS:
            raise ValueError(f"unknown layout direction {direction!r}")
        if direction == self.layout_direction:
            self.apply_layout(positions)
            return
        with self.macro("Arrange nodes " + ("left to right" if direction == "right" else "top to bottom")):
            self.undo_stack.push(DirectionCommand(self, self.layout_direction, direction, self._graph.layout is None))
            self.apply_layout(positions)

    def auto_layout(self) -> None:
        """Lay the whole graph out in layers from top to bottom (one undo step)."""
        self.apply_layout(self.layered_positions(), "Arrange nodes")

    def layered_positions(self, ids: Optional[Iterable[str]] = None,
                          arrange: Optional[Callable[..., Mapping[str, Position]]] = None) -> dict[str, Position]:
        """The automatic layout of ``ids`` (default all nodes), wires among them only,
        with its top-left corner at (0, 0): ``arrange(ids, sources)`` if given (the
        canvas passes one that fits its window), else one layer after the other in the
        layout direction."""
        ids = list(self._graph.nodes) if ids is None else [i for i in ids if i in self._graph.nodes]
        sources = {i: [r.node for r in self._graph.nodes[i].references()] for i in ids}
        if arrange is not None:
            return dict(arrange(ids, sources))
        return layered_layout(ids, sources, self.layout_direction)

    def ensure_layout(self, arrange: Optional[Callable[..., Mapping[str, Position]]] = None) -> list[str]:
        """Give every node without a position one, outside the undo history and without
        marking the document modified (positions are the editor's bookkeeping): the whole
        graph is laid out when most nodes lack positions, else the missing ones go below
        the others. Call it after opening a file, before the canvas draws. Returns the ids
        whose position it set (``nodeMoved`` is emitted for each)."""
        layout = self._graph.layout or {}
        missing = [i for i in self._graph.nodes if i not in layout]
        if not missing:
            return []
        if len(missing) * 2 > len(self._graph.nodes):  # a stale or partial layout: redo it all
            positions = self.layered_positions(arrange=arrange)
        else:
            x, y = self._below_everything()
            positions = {i: (px + x, py + y) for i, (px, py) in self.layered_positions(missing).items()}
        placed = self._set_positions(positions, False)
        for node_id in placed:
            self.nodeMoved.emit(node_id)
        return placed

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path | None = None) -> Path:
        """Write the graph (atomically; a loaded file keeps its comments) to ``path``,
        default where it came from; marks the document unmodified."""
        old = self._graph.path
        if path is not None:
            self._rebase_graph_files(Path(path))
        target = save_graph(self._graph, path)
        self.undo_stack.setClean()
        if str(target) != old:
            self.pathChanged.emit(str(target))
        return target

    def graph_file_dir(self) -> Path:
        """The folder that graph-file nodes' relative paths start from."""
        return Path(self._graph.path).resolve().parent if self._graph.path else Path.cwd()

    def _rebase_graph_files(self, new_path: Path) -> None:
        """A graph-file node names its file relative to the graph's own file: saving into
        another folder rewrites those names so that they still find the same files."""
        old_dir, new_dir = self.graph_file_dir(), new_path.resolve().parent
        if old_dir == new_dir:
            return
        changed = []
        for node in self._graph.nodes.values():
            if node.graph and not Path(node.graph).is_absolute():
                node.graph = relative_path(old_dir / node.graph, new_dir)
                changed.append(node.id)
        if changed:
            self._dirty = True
            for node_id in changed:
                self.nodeChanged.emit(node_id)
            self._refresh()

    def mark_recovered(self) -> None:
        """Mark a document made from a recovery copy as unsaved (it differs from the file
        on disk) without adding an undo step."""
        self.undo_stack.resetClean()

    # ------------------------------------------------------------------ internals
    def _state(self, node_id: str) -> NodeState:
        index = list(self._graph.nodes).index(node_id)
        return NodeState(copy.deepcopy(self._graph.nodes[node_id]), index, self._raw_position(node_id))

    def _raw_position(self, node_id: str) -> Optional[tuple]:
        """The layout entry as written (undo restores 12.5 as 12.5, not rounded)."""
        value = (self._graph.layout or {}).get(node_id)
        return tuple(value) if value is not None else None

    def _below_everything(self) -> Position:
        placed = [_position(v) for k, v in (self._graph.layout or {}).items() if k != LAYOUT_DIRECTION_KEY]
        ys = [y for _, y in placed]
        xs = [x for x, _ in placed]
        if not ys:
            return 0, 0
        return min(xs), max(ys) + NODE_HEIGHT + V_GAP

    @staticmethod
    def _first_output(block: Optional[Block]) -> Optional[str]:
        return block.outputs[0].name if block is not None and block.outputs else None

    def _output_key(self, ref: Ref) -> tuple[str, Optional[str]]:
        """(node, output port) with the first output spelled out: ``lstm`` == ``lstm.out``."""
        return ref.node, ref.port or self._first_output(self.block_of(ref.node))

    def _plan_connection(self, source_ref: str, target_id: str, port: Optional[str]):
        """A refusal Verdict, or (Verdict, port name, target node with the wire made)."""
        nodes = self._graph.nodes
        ref = Ref.parse(source_ref)
        if target_id not in nodes:
            return _no(f"there is no node {target_id!r}")
        if ref.node not in nodes:
            return _no(f"there is no node {ref.node!r}")
        target = self.block_of(target_id)
        source = self.block_of(ref.node)
        if target is None:
            return _no(f"{target_id!r} has an unknown block ({nodes[target_id].kind})", "fix its block first")
        if source is None:
            return _no(f"{ref.node!r} has an unknown block ({nodes[ref.node].kind})", "fix its block first")
        if not target.inputs:
            return _no(f"{target_id!r} is an {target.name} node and takes no inputs")
        if not source.outputs:
            return _no(f"{ref.node!r} is an {source.name} node and has no outputs to take")
        if ref.port is not None and source.port(ref.port, output=True) is None:
            names = ", ".join(p.name for p in source.outputs)
            return _no(f"{source.name} has no output port {ref.port!r} (its outputs: {names})")
        if ref.port == self._first_output(source):
            ref = Ref(ref.node)  # written as the gallery writes it: lstm, not lstm.out
        bound = self.bound_inputs(target_id)
        if bound is None:
            return _no(f"the inputs of {target_id!r} do not fit the ports of {target.name}",
                       "fix them first (see the problems list)")
        if port is None:
            free = [p for p in target.inputs if p.variadic or not bound.get(p.name)]
            if not free:
                return _no(f"every input of {target_id!r} is connected", "disconnect one first")
            port = free[0].name
        target_port = target.port(port, output=False)
        if target_port is None:
            names = ", ".join(p.name for p in target.inputs)
            return _no(f"{target.name} has no input port {port!r} (its inputs: {names})")
        taken = bound.get(port, [])
        if taken and not target_port.variadic:
            return _no(f"input {port!r} of {target_id!r} is already connected to {taken[0]!r}",
                       "disconnect it first")
        if ref.node == target_id:
            return _no(f"{target_id!r} cannot take its own output: that would be a cycle "
                       f"{target_id} -> {target_id}")
        path = self._path(target_id, ref.node)
        if path is not None:
            return _no("the wire would make a cycle: " + " -> ".join([ref.node, *path]),
                       "data must flow one way; for recurrence use an rnn, lstm or gru block")
        verdict = self._check_dtype(ref, source, target, target_port)
        if not verdict:
            return verdict
        bound = {name: list(refs) for name, refs in bound.items()}
        bound.setdefault(port, []).append(str(ref))
        node = nodes[target_id]
        new_node = replace(node, inputs=encode(bound, target.inputs, node.inputs))
        verdict = self._check_shapes(target_id, new_node)
        if not verdict:
            return verdict
        return verdict, port, new_node

    def _path(self, start: str, goal: str) -> Optional[list[str]]:
        """Node ids from ``start`` to ``goal`` following the data flow, or None."""
        return flow_path(data_flow(self._graph.nodes), start, goal)

    def _check_dtype(self, ref: Ref, source: Block, target: Block, port: Port) -> Verdict:
        if source.name == "input":
            dtype = self._graph.nodes[ref.node].params.get("dtype", "float32")
        else:
            out = source.port(ref.port, output=True) if ref.port else source.outputs[0]
            dtype = out.dtype
        if port.dtype == "int64" and dtype != "int64":
            return _no(f"input {port.name!r} of {target.name} takes integer token ids, but {ref.node!r} gives "
                       f"float values", "feed it from an input with dtype: int64")
        if port.dtype != "int64" and dtype == "int64":
            return _no(f"{target.name} takes float values, but {ref.node!r} gives integer token ids",
                       "add an embedding block between them")
        return YES

    def _check_shapes(self, target_id: str, new_node: Node) -> Verdict:
        """Analyze the target and everything upstream of it with the wire made; refuse with
        the error the target would get from its shape rule."""
        nodes = self._graph.nodes
        keep, stack = {target_id}, [r.node for r in new_node.references()]
        while stack:
            node_id = stack.pop()
            if node_id in keep or node_id not in nodes:
                continue
            keep.add(node_id)
            stack.extend(r.node for r in nodes[node_id].references())
        trial_nodes = {i: (new_node if i == target_id else n) for i, n in nodes.items() if i in keep}
        trial = analyze(replace(self._graph, nodes=trial_nodes, layout=None))
        info = trial.nodes[target_id]
        # input_shapes is filled when the shape rule ran: a failure then is the shapes'
        # fault (an incomplete node, e.g. an add with one input so far, is not refused)
        if info.ok or not info.input_shapes:
            return YES
        errors = [p for p in trial.problems_for(target_id) if p.is_error]
        known = {p.message for p in self.analysis.problems_for(target_id)}
        fresh = [p for p in errors if p.message not in known] or errors
        if not fresh:
            return YES
        return _no(app_message(fresh[0]), app_hint(fresh[0].hint))

    def _push_positions(self, positions: Mapping[str, Iterable[float]], text: str, mergeable: bool) -> None:
        for node_id in positions:
            if node_id not in self._graph.nodes:
                raise KeyError(node_id)
        after = {i: _position(p) for i, p in positions.items()}
        before = {i: self._raw_position(i) for i in after}
        if after == before:
            return
        count = len(after)
        label = f"{text} {next(iter(after))}" if count == 1 else f"{text} {count} nodes"
        self.undo_stack.push(PositionsCommand(self, label, before, after, self._graph.layout is None, mergeable))

    def _apply_nodes(self, states: NodeStates, layout_none: bool) -> None:
        """Give nodes the states of a command, then announce what changed (called by commands)."""
        graph = self._graph
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
        moved = self._set_positions({i: (s.position if s is not None else None) for i, s in states.items()},
                                    layout_none)
        self._dirty = True
        for node_id in removed:
            self.nodeRemoved.emit(node_id)
        for _, node_id in sorted((order.index(i), i) for _, i in added):
            self.nodeAdded.emit(node_id)
        for node_id in changed:
            self.nodeChanged.emit(node_id)
        added_ids = {i for _, i in added}
        for node_id in moved:
            if node_id in current and node_id not in added_ids:
                self.nodeMoved.emit(node_id)

    def _apply_positions(self, positions: Mapping[str, Optional[Position]], layout_none: bool) -> None:
        for node_id in self._set_positions(positions, layout_none):
            if node_id in self._graph.nodes:
                self.nodeMoved.emit(node_id)

    def _set_positions(self, positions: Mapping[str, Optional[Position]], layout_none: bool) -> list[str]:
        """Write positions into the layout section (None: remove the entry); returns the ids
        whose position changed. ``layout_none`` restores a graph that had no layout."""
        graph = self._graph
        moved = []
        for node_id, position in positions.items():
            old = (graph.layout or {}).get(node_id)
            if position is None:
                if old is not None:
                    del graph.layout[node_id]
                    moved.append(node_id)
            elif old is None or list(old) != list(position):
                if graph.layout is None:
                    graph.layout = {}
                graph.layout[node_id] = list(position)
                moved.append(node_id)
        if layout_none and not graph.layout:
            graph.layout = None
        return moved

    def _apply_direction(self, direction: str, layout_none: bool) -> None:
        """Set the layout direction (called by commands); the default is not written."""
        graph = self._graph
        rest = {k: v for k, v in (graph.layout or {}).items() if k != LAYOUT_DIRECTION_KEY}
        # first in the section, where a reader of the file looks
        graph.layout = rest if direction == DOWN else {LAYOUT_DIRECTION_KEY: direction, **rest}
        if layout_none and not graph.layout:
            graph.layout = None
        self.layoutDirectionChanged.emit(direction)

    def _apply_rename(self, old: str, new: str, inputs: Mapping[str, Any], expose: Optional[dict]) -> None:
        graph = self._graph
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
        self._dirty = True
        self.nodeRenamed.emit(old, new)
        for node_id in changed:
            self.nodeChanged.emit(node_id)

    def _apply_training(self, section: Optional[dict]) -> None:
        """Give the graph a training section (called by commands); the analysis does not
        read it, so only ``trainingChanged`` follows."""
        self._graph.training = copy.deepcopy(section)
        self.trainingChanged.emit()

    def _reanalyze(self) -> None:
        self._analysis = analyze(self._graph)
        self._dirty = False
        self._unannounced = True

    @Slot(bool)
    def _on_clean_changed(self, clean: bool) -> None:
        self.modifiedChanged.emit(not clean)

    @Slot(int)
    def _on_index_changed(self, _index: int) -> None:
        self._refresh()

    def _refresh(self) -> None:
        """After every push, undo or redo (and at the end of a macro): analyze the graph
        again if it changed, and say so."""
        if self._dirty:
            self._reanalyze()
        if self._unannounced:
            self._unannounced = False
            self.analysisChanged.emit()
