"""A node's input references bound to its block's input ports, and written back.

A node's ``inputs`` are either a list in port order (``[a, b]``) or a mapping from port name
to one reference or a list (``{x: a, state: enc.hidden}``), kept exactly as written. Edits
that concern one port (connect, disconnect, deleting a source node) bind the references to
ports the way ``builder.analyze`` does, change the bound form, and write it back in the
node's own style, so that a file only changes where the user changed something. Plain
Python: no Qt here.
"""

from __future__ import annotations

from typing import Callable, Sequence

from blocks import Port, UnknownBlockError, get_block
from builder import Node, Ref, assign_to_ports

Bound = dict[str, list[str]]  # input port -> reference texts, in order


def registered_ports(node: Node) -> tuple[Port, ...] | None:
    """The input ports of a node's registered block; None for composite or unknown blocks."""
    if node.block is None:
        return None
    try:
        return tuple(get_block(node.block).inputs)
    except UnknownBlockError:
        return None


def bind(inputs: list | dict, ports: Sequence[Port]) -> Bound | None:
    """Reference texts per input port, or None when the inputs do not fit the ports (an
    unknown port name, more references than ports): such inputs can only be edited whole."""
    if isinstance(inputs, dict):
        names = {p.name for p in ports}
        if any(name not in names for name in inputs):
            return None
        return {name: list(value) if isinstance(value, list) else [value] for name, value in inputs.items()}
    bound, used = assign_to_ports(list(inputs), ports)
    return bound if used == len(inputs) else None


def encode(bound: Bound, ports: Sequence[Port], like: list | dict) -> list | dict:
    """``bound`` written as a node's ``inputs`` in the style of ``like`` (its old value).

    A list stays a list while a list still binds to the same ports (a gap, such as an
    optional port connected while an earlier one is not, needs the mapping form); a mapping
    stays a mapping, keeping its key order and adding new ports in declaration order.
    """
    bound = {name: refs for name, refs in bound.items() if refs}
    order = [p.name for p in ports]
    if not isinstance(like, dict) or not like:
        flat = [ref for name in order for ref in bound.get(name, [])]
        if bind(flat, ports) == bound:
            return flat
    variadic = {p.name for p in ports if p.variadic}
    keys = [k for k in like if k in bound] if isinstance(like, dict) else []
    keys += [name for name in order if name in bound and name not in keys]
    return {name: list(bound[name]) if name in variadic or len(bound[name]) > 1 else bound[name][0]
            for name in keys}


def drop_refs(inputs: list | dict, ports: Sequence[Port] | None, drop: Callable[[Ref], bool]) -> list | dict:
    """``inputs`` without the references for which ``drop`` is true; the others stay on
    their ports (removing the first of two positional references does not shift the second
    onto the first port)."""
    bound = bind(inputs, ports) if ports is not None else None
    if bound is not None:
        kept = {name: [r for r in refs if not drop(Ref.parse(r))] for name, refs in bound.items()}
        if kept == bound:
            return inputs
        return encode(kept, ports, inputs)
    # inputs that do not fit the ports: filter the raw references in place
    if isinstance(inputs, dict):
        result: dict = {}
        for name, value in inputs.items():
            if isinstance(value, list):
                kept_list = [r for r in value if not drop(Ref.parse(r))]
                if kept_list:
                    result[name] = kept_list
            elif not drop(Ref.parse(value)):
                result[name] = value
        return result
    return [r for r in inputs if not drop(Ref.parse(r))]


def rename_refs(inputs: list | dict, mapping: dict[str, str]) -> list | dict:
    """``inputs`` with every reference to a node in ``mapping`` (``old`` or ``old.port``)
    pointing to its new id; the structure is unchanged."""
    def one(text: str) -> str:
        ref = Ref.parse(text)
        return str(Ref(mapping[ref.node], ref.port)) if ref.node in mapping else text

    if isinstance(inputs, dict):
        return {name: [one(r) for r in value] if isinstance(value, list) else one(value)
                for name, value in inputs.items()}
    return [one(r) for r in inputs]
