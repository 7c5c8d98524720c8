"""Undo commands: the only code that changes a document's graph.

Each command is built by the editor's document (:class:`gui.document.GraphDocument`) with
the complete state it sets and the state it restores, for just the nodes it touches (never
a snapshot of the whole graph): ``redo`` applies the one, ``undo`` the other, through the
document's public :class:`gui.edits.GraphEdits` interface (``apply_node_states``,
``apply_positions``, ``apply_rename``, ``apply_training``, ``apply_direction``), which
changes the graph and then emits the change signals. Because the states are computed when
the edit is made, undo restores the graph exactly (node order, input style, layout
entries) and redo reproduces the edit exactly.

``QUndoStack.push`` calls ``redo`` at once; the document re-runs the analysis after the
stack's index changes, so a macro of many commands is analyzed once.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any, Optional

from PySide6.QtGui import QUndoCommand

from gui.edits import GraphEdits, NodeStates, Position

# QUndoCommand ids of the commands that merge with their predecessor (-1: never merge)
MOVE_ID = 1001
SET_PARAM_ID = 1002
TRAINING_ID = 1003


def _owned(states: NodeStates) -> NodeStates:
    """Deep copies: a command's states must not share lists with the live graph."""
    return {i: replace(s, node=copy.deepcopy(s.node)) if s is not None else None for i, s in states.items()}


class NodesCommand(QUndoCommand):
    """Sets some nodes (adds, replaces or removes them, with their layout positions).

    ``layout_none_*`` record whether the graph had no layout section at all, so that an
    undo that removes the last position restores ``layout: None`` rather than ``{}``.
    """

    def __init__(self, document: GraphEdits, text: str, before: NodeStates, after: NodeStates,
                 layout_none_before: bool, layout_none_after: bool):
        super().__init__(text)
        self.document = document
        self.before, self.after = _owned(before), _owned(after)
        self.layout_none_before, self.layout_none_after = layout_none_before, layout_none_after

    def redo(self) -> None:
        self.document.apply_node_states(self.after, self.layout_none_after)

    def undo(self) -> None:
        self.document.apply_node_states(self.before, self.layout_none_before)


class SetParamCommand(NodesCommand):
    """A parameter change. Consecutive changes of the same parameter of the same node
    (typing in a spin box) merge into one undo step; one that ends where it started
    disappears from the stack."""

    def __init__(self, document: GraphEdits, text: str, before: NodeStates, after: NodeStates,
                 key: tuple[str, str]):
        super().__init__(document, text, before, after, False, False)
        self.key = key

    def id(self) -> int:
        return SET_PARAM_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetParamCommand) or other.key != self.key:
            return False
        self.after = other.after
        self.setObsolete(self.after == self.before)
        return True


class PositionsCommand(QUndoCommand):
    """Sets node positions. Moves (``mergeable``) of the same set of nodes merge into one
    undo step, so a drag that the canvas reports in several steps undoes at once; a
    layout (auto layout, not mergeable) is always its own step."""

    def __init__(self, document: GraphEdits, text: str, before: dict[str, Optional[Position]],
                 after: dict[str, Optional[Position]], layout_none_before: bool, mergeable: bool):
        super().__init__(text)
        self.document = document
        self.before, self.after = before, after
        self.layout_none_before = layout_none_before
        self.mergeable = mergeable

    def id(self) -> int:
        return MOVE_ID if self.mergeable else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (isinstance(other, PositionsCommand) and other.mergeable and other.after.keys() == self.after.keys()):
            return False
        self.after = other.after
        self.setObsolete(self.after == self.before)
        return True

    def redo(self) -> None:
        self.document.apply_positions(self.after, False)

    def undo(self) -> None:
        self.document.apply_positions(self.before, self.layout_none_before)


class RenameCommand(QUndoCommand):
    """Renames a node and rewrites every reference to it: other nodes' inputs, its layout
    entry, and ``expose`` targets. ``inputs_*`` hold the inputs of every node whose
    references change, keyed by the ids they have in that state."""

    def __init__(self, document: GraphEdits, old: str, new: str, inputs_before: dict, inputs_after: dict,
                 expose_before: Optional[dict], expose_after: Optional[dict]):
        super().__init__(f"Rename {old} to {new}")
        self.document = document
        self.old, self.new = old, new
        self.inputs_before, self.inputs_after = inputs_before, inputs_after
        self.expose_before, self.expose_after = expose_before, expose_after

    def redo(self) -> None:
        self.document.apply_rename(self.old, self.new, self.inputs_after, self.expose_after)

    def undo(self) -> None:
        self.document.apply_rename(self.new, self.old, self.inputs_before, self.expose_before)


def identical(a: Any, b: Any) -> bool:
    """Equal with the same types and key order all the way down (``1`` is not ``1.0``,
    ``{a, b}`` is not ``{b, a}``): what writing the value to YAML would show."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b))
    return a == b


def changed_keys(before: Optional[dict], after: Optional[dict]) -> frozenset[str]:
    """The top-level keys of a section whose values differ between two states."""
    old, new = before or {}, after or {}
    keys = {k for k in old.keys() | new.keys() if k not in old or k not in new or not identical(old[k], new[k])}
    if (before is None) != (after is None):
        keys.add("")  # the section itself appears or goes
    return frozenset(keys)


class TrainingCommand(QUndoCommand):
    """Sets the graph's ``training`` section (None: the graph has none). Consecutive changes
    of the same settings (typing in the settings form's spin boxes) merge into one undo
    step; one that ends where it started disappears from the stack. Its text names the
    one setting changed, if one is."""

    def __init__(self, document: GraphEdits, before: Optional[dict], after: Optional[dict]):
        super().__init__()
        self.document = document
        self.before, self.after = copy.deepcopy(before), copy.deepcopy(after)
        self.keys = changed_keys(before, after)
        keys = sorted(k for k in self.keys if k)
        if after is None:
            self.setText("Remove the training settings")
        elif len(keys) == 1:
            self.setText(f"Set training {keys[0]}")
        else:
            self.setText("Change the training settings")

    def id(self) -> int:
        return TRAINING_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, TrainingCommand) or other.keys != self.keys:
            return False
        self.after = other.after
        self.setObsolete(identical(self.after, self.before))
        return True

    def redo(self) -> None:
        self.document.apply_training(self.after)

    def undo(self) -> None:
        self.document.apply_training(self.before)


class DirectionCommand(QUndoCommand):
    """Sets the direction of the automatic layout ("down" or "right"), which the layout
    section keeps; arranging in the other direction pairs it with a PositionsCommand.
    ``layout_none_before`` as for :class:`NodesCommand`."""

    def __init__(self, document: GraphEdits, before: str, after: str, layout_none_before: bool):
        super().__init__(f"Lay out {after}")
        self.document = document
        self.before, self.after = before, after
        self.layout_none_before = layout_none_before

    def redo(self) -> None:
        self.document.apply_direction(self.after, False)

    def undo(self) -> None:
        self.document.apply_direction(self.before, self.layout_none_before)
