"""The editor's document: a ``builder.Graph`` with change signals, undo and live analysis.

Widgets never change the graph themselves. They call the edit methods here, each of which
pushes an undoable command (:mod:`gui.commands`) onto the document's ``QUndoStack``; the
command changes the graph and the document emits what changed (``nodeAdded``,
``nodeRemoved``, ``nodeChanged``, ``nodeRenamed``, ``nodeMoved``). After every edit, undo or
redo the graph is analyzed again (shapes, costs, problems: a few milliseconds even for
ResNet-50) and ``analysisChanged`` follows.

The commands apply their states through the document's public ``apply_*`` methods (the
:class:`gui.edits.GraphEdits` interface). The plain-Python work lives beside it: edit
states and applying them to a graph (:mod:`gui.edits`), which wires may be made
(:mod:`gui.wiring_rules`), automatic placement (:mod:`gui.placement`) and graph-file
paths (:mod:`gui.document_io`). Only QtCore and QtGui's undo framework are used, so the
document is tested without any widget; the engine is reached through ``builder``'s public
API and the block declarations.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QUndoStack

from blocks import Block, Port, get_block
from builder import LAYOUT_DIRECTION_KEY, Analysis, Graph, Node, analyze, load_graph, renamed_in_training, save_graph
from gui import edits, placement, wiring_rules
from gui.commands import (
    DirectionCommand,
    NodesCommand,
    PositionsCommand,
    RenameCommand,
    SetParamCommand,
    TrainingCommand,
    identical,
)
from gui.document_io import graph_file_dir, rebase_graph_files, relative_path
from gui.edits import YES, NodeStates, Position, Verdict, node_state, plain, refuse, starter_params
from gui.layout import DIRECTIONS, DOWN
from gui.wiring_rules import Connection, Wire

# re-exported: the canvas, the clipboard and the fitting helpers import them from here
__all__ = ["GraphDocument", "Verdict", "Wire", "relative_path", "starter_params"]


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
        return edits.position(value) if value is not None else None

    @property
    def layout_direction(self) -> str:
        """Which way the automatic layout runs, "down" (the default) or "right"; the
        layout section keeps it under a key no node id can take."""
        value = (self._graph.layout or {}).get(LAYOUT_DIRECTION_KEY)
        return value if value in DIRECTIONS else DOWN

    def block_of(self, node_id: str) -> Optional[Block]:
        """The node's block declaration (also for composite graph nodes); None if unknown."""
        return wiring_rules.block_of(self.analysis, node_id)

    def input_ports(self, node_id: str) -> Optional[tuple[Port, ...]]:
        block = self.block_of(node_id)
        return tuple(block.inputs) if block is not None else None

    def bound_inputs(self, node_id: str) -> Optional[dict[str, list[str]]]:
        """Reference texts per input port; None when the inputs do not fit the ports."""
        return wiring_rules.bound_inputs(self._graph, self.analysis, node_id)

    def wires(self, node_id: Optional[str] = None) -> list[Wire]:
        """Every wire in the graph, or those into ``node_id``; references to missing nodes
        are left out (the analysis reports them on the node)."""
        return wiring_rules.wires(self._graph, self.analysis, node_id)

    def wires_from(self, node_id: str) -> list[Wire]:
        """The wires out of ``node_id``."""
        return [w for target in self._graph.consumers(node_id) for w in self.wires(target) if w.source == node_id]

    def fresh_id(self, base: str, taken: Iterable[str] = ()) -> str:
        """A new node id ``base_1``, ``base_2`` ... (a trailing ``_N`` of ``base`` is
        replaced): not used by a node, a reference or a layout entry, nor in ``taken``."""
        return edits.fresh_id(self._graph, base, taken)

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
        node = Node(node_id, block=block_name, params=plain(dict(params or {})), inputs=plain(inputs or []))
        if position is None:
            position = placement.below_everything(self._graph)
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
        after = edits.appended_states(self._graph, nodes, positions)
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
        before: NodeStates = {i: node_state(self._graph, i) for i in doomed}
        after: NodeStates = {i: None for i in doomed}
        for node_id, inputs in wiring_rules.without_sources(self._graph, self.analysis, gone).items():
            before[node_id] = node_state(self._graph, node_id)
            after[node_id] = replace(before[node_id], node=replace(before[node_id].node, inputs=inputs))
        text = f"Delete {doomed[0]}" if len(doomed) == 1 else f"Delete {len(doomed)} nodes"
        layout_none = self._graph.layout is None
        self.undo_stack.push(NodesCommand(self, text, before, after, layout_none, layout_none))

    def set_param(self, node_id: str, name: str, value: Any) -> bool:
        """Set one parameter; ``None`` removes the key (back to the block's default).
        Returns False when nothing changes. Consecutive changes of the same parameter merge
        into one undo step."""
        params = edits.with_param(self._graph.nodes[node_id].params, name, value)
        if params is None:
            return False
        before = node_state(self._graph, node_id)
        after = replace(before, node=replace(before.node, params=params))
        text = f"Reset {node_id}.{name}" if value is None else f"Set {node_id}.{name}"
        self.undo_stack.push(SetParamCommand(self, text, {node_id: before}, {node_id: after}, (node_id, name)))
        return True

    def set_training(self, values: Optional[Mapping[str, Any]]) -> bool:
        """Replace the graph's ``training`` section with ``values`` (a plain mapping; None
        removes the section) as one undo step. Returns False when nothing changes.
        Consecutive changes of the same settings merge into one undo step."""
        after = plain(dict(values)) if values is not None else None
        before = copy.deepcopy(self._graph.training)
        if identical(before, after):
            return False
        self.undo_stack.push(TrainingCommand(self, before, after))
        return True

    def set_node_block(self, node_id: str, block_name: str, params: Optional[Mapping[str, Any]] = None) -> None:
        """Change a node's block (keeping id, inputs and position), e.g. relu -> gelu."""
        get_block(block_name)
        node = self._graph.nodes[node_id]
        self._replace_node(replace(node, block=block_name, graph=None,
                                   params=plain(dict(params)) if params is not None else dict(node.params)),
                           f"Change {node_id} to {block_name}")

    def can_use_id(self, node_id: str, current: Optional[str] = None) -> Verdict:
        """Whether ``node_id`` can name a new node (or node ``current``, when renaming)."""
        return edits.can_use_id(self._graph, node_id, current)

    def can_rename(self, old: str, new: str) -> Verdict:
        """Whether ``old`` can be renamed to ``new`` (for the inspector, as the user types)."""
        if old not in self._graph.nodes:
            return refuse(f"there is no node {old!r}")
        return self.can_use_id(new, current=old)

    def rename_node(self, old: str, new: str) -> Verdict:
        """Rename a node, rewriting ``old`` and ``old.port`` in every node's inputs, its
        layout key and ``expose`` targets. Refused (with the reason) for invalid or taken ids."""
        verdict = self.can_rename(old, new)
        if not verdict or old == new:
            return verdict
        inputs_before, inputs_after, expose_before, expose_after = edits.renamed_references(self._graph, old, new)
        training = renamed_in_training(self._graph.training, old, new)  # freeze, lr_mult ... name nodes
        self.undo_stack.beginMacro(f"Rename {old} to {new}")  # one undo step
        self.undo_stack.push(RenameCommand(self, old, new, inputs_before, inputs_after, expose_before, expose_after))
        if training is not None:
            self.undo_stack.push(TrainingCommand(self, copy.deepcopy(self._graph.training), training))
        self.undo_stack.endMacro()
        return YES

    # ------------------------------------------------------------------ wires
    def can_connect(self, source_ref: str, target_id: str, port: Optional[str] = None) -> Verdict:
        """May ``source_ref`` (``node`` or ``node.port``) feed input ``port`` of ``target_id``
        (None: its first free input)? Refusals say why: unknown node or port, port taken,
        a cycle (with its path), integer ids versus float values, or the shape error the
        target would get (found by analyzing the graph with the wire made)."""
        plan = wiring_rules.plan_connection(self._graph, self.analysis, source_ref, target_id, port)
        return plan.verdict if isinstance(plan, Connection) else plan

    def connect(self, source_ref: str, target_id: str, port: Optional[str] = None) -> Verdict:
        """Make the wire if :meth:`can_connect` allows it (a variadic port appends)."""
        plan = wiring_rules.plan_connection(self._graph, self.analysis, source_ref, target_id, port)
        if not isinstance(plan, Connection):
            return plan
        self._replace_node(plan.node, f"Connect {source_ref} to {target_id}.{plan.port}")
        return plan.verdict

    def disconnect(self, target_id: str, port: Optional[str] = None, source_ref: Optional[str] = None,
                   once: bool = False) -> bool:
        """Remove the wires into input ``port`` of ``target_id`` (None: any port), only
        those from ``source_ref`` if given (``lstm`` and ``lstm.out`` are the same output);
        with ``once``, only the last such wire (one of two identical wires into a variadic
        port). Returns False when there was no such wire."""
        node = self._graph.nodes[target_id]
        inputs = wiring_rules.without_wires(self._graph, self.analysis, target_id, port, source_ref, once)
        if inputs == node.inputs:
            return False
        self._replace_node(replace(node, inputs=inputs),
                           f"Disconnect {target_id}.{port}" if port else f"Disconnect {target_id}")
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
        return placement.layered_positions(self._graph, self.layout_direction, ids, arrange)

    def ensure_layout(self, arrange: Optional[Callable[..., Mapping[str, Position]]] = None) -> list[str]:
        """Give every node without a position one, outside the undo history and without
        marking the document modified (positions are the editor's bookkeeping): the whole
        graph is laid out when most nodes lack positions, else the missing ones go below
        the others. Call it after opening a file, before the canvas draws. Returns the ids
        whose position it set (``nodeMoved`` is emitted for each)."""
        positions = placement.missing_positions(self._graph, self.layout_direction, arrange)
        placed = edits.set_positions(self._graph, positions, False)
        for node_id in placed:
            self.nodeMoved.emit(node_id)
        return placed

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path | None = None) -> Path:
        """Write the graph (atomically; a loaded file keeps its comments) to ``path``,
        default where it came from; marks the document unmodified."""
        old = self._graph.path
        changed = rebase_graph_files(self._graph, Path(path)) if path is not None else []
        if changed:  # graph-file nodes' relative paths rewritten for the new folder: an edit
            self._dirty = True
            for node_id in changed:
                self.nodeChanged.emit(node_id)
            self._refresh()
        target = save_graph(self._graph, path)
        self.undo_stack.setClean()
        if str(target) != old:
            self.pathChanged.emit(str(target))
        return target

    def graph_file_dir(self) -> Path:
        """The folder that graph-file nodes' relative paths start from."""
        return graph_file_dir(self._graph)

    def mark_recovered(self) -> None:
        """Mark a document made from a recovery copy as unsaved (it differs from the file
        on disk) without adding an undo step."""
        self.undo_stack.resetClean()

    # ------------------------------------------------------------------ internals
    def _replace_node(self, node: Node, text: str) -> None:
        """Push the undo step that gives a node new content (same id, place and position)."""
        before = node_state(self._graph, node.id)
        self.undo_stack.push(NodesCommand(self, text, {node.id: before}, {node.id: replace(before, node=node)},
                                          False, False))

    def _push_positions(self, positions: Mapping[str, Iterable[float]], text: str, mergeable: bool) -> None:
        before, after = edits.position_change(self._graph, positions)
        if after == before:
            return
        count = len(after)
        label = f"{text} {next(iter(after))}" if count == 1 else f"{text} {count} nodes"
        self.undo_stack.push(PositionsCommand(self, label, before, after, self._graph.layout is None, mergeable))

    # ------------------------------------------------------------------ applying edits
    # The gui.edits.GraphEdits interface: the undo commands (gui.commands) call these to
    # set the graph's state on redo and restore it on undo. Each changes the graph, then
    # announces the change; the analysis follows when the undo stack's index changes.
    def apply_node_states(self, states: NodeStates, layout_none: bool) -> None:
        """Add, replace or remove (None) nodes with their layout positions; emits
        ``nodeRemoved``, ``nodeAdded``, ``nodeChanged`` and ``nodeMoved``."""
        changes = edits.set_node_states(self._graph, states, layout_none)
        self._dirty = True
        for node_id in changes.removed:
            self.nodeRemoved.emit(node_id)
        for node_id in changes.added:
            self.nodeAdded.emit(node_id)
        for node_id in changes.changed:
            self.nodeChanged.emit(node_id)
        for node_id in changes.moved:
            self.nodeMoved.emit(node_id)

    def apply_positions(self, positions: Mapping[str, Optional[Position]], layout_none: bool) -> None:
        """Set layout positions (None: remove the entry); emits ``nodeMoved``."""
        for node_id in edits.set_positions(self._graph, positions, layout_none):
            if node_id in self._graph.nodes:
                self.nodeMoved.emit(node_id)

    def apply_direction(self, direction: str, layout_none: bool) -> None:
        """Set the layout direction (the default is not written); emits
        ``layoutDirectionChanged``."""
        edits.set_direction(self._graph, direction, layout_none)
        self.layoutDirectionChanged.emit(direction)

    def apply_rename(self, old: str, new: str, inputs: Mapping[str, Any], expose: Optional[dict]) -> None:
        """Rename a node, giving the nodes in ``inputs`` those inputs and the graph that
        ``expose`` section; emits ``nodeRenamed``, then ``nodeChanged``."""
        changed = edits.rename(self._graph, old, new, inputs, expose)
        self._dirty = True
        self.nodeRenamed.emit(old, new)
        for node_id in changed:
            self.nodeChanged.emit(node_id)

    def apply_training(self, section: Optional[dict]) -> None:
        """Set the training section; the analysis does not read it, so only
        ``trainingChanged`` follows."""
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
