"""The rules a wire between two ports follows, written once.

The analysis (:mod:`builder.analysis`) reports a graph that breaks one of them, and the
editor (``gui/wiring_rules.py``) refuses a wire that would break one before it is made,
with the same words. Each rule returns None when the connection may be made, else a
:class:`Broken` saying why (and, where there is one, what to do instead).

Plain functions on block declarations (``blocks.Block``, ``blocks.Port``): no graph, no
analysis state, no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from blocks import Block, Port
from blocks.suggest import did_you_mean
from builder.graph import Ref

TOKEN_DTYPE = "int64"  # integer token ids; every other tensor holds float values


@dataclass(frozen=True)
class Broken:
    """Why a connection may not be made: one sentence, and maybe a hint."""

    message: str
    hint: Optional[str] = None


def dtypes_fit(port_dtype: str, source_dtype: str) -> bool:
    """Integer token ids go only into ports that take them, and only token ids go there."""
    return (port_dtype == TOKEN_DTYPE) == (source_dtype == TOKEN_DTYPE)


def output_dtype(block: Block, node_dtype: str, port_name: Optional[str]) -> str:
    """What output ``port_name`` (None: the first) of a node of ``block`` carries: the
    dtype the block declares for that port where it declares integers (``int64`` for
    max_pool2d_with_indices' ``indices``), else the node's own (an input node's ``dtype``
    parameter; float32 for the others)."""
    port = block.port(port_name, output=True) if port_name else (block.outputs[0] if block.outputs else None)
    return port.dtype if port is not None and port.dtype == TOKEN_DTYPE else node_dtype


def dtype_problem(target: Block, port: Port, ref: Ref, dtype: str, node_dtype: str) -> Optional[Broken]:
    """Output ``ref`` carrying ``dtype`` (:func:`output_dtype`; ``node_dtype`` is its node's
    own) into input ``port`` of a ``target`` block: None when the dtypes fit
    (:func:`dtypes_fit`)."""
    if port.dtype == TOKEN_DTYPE and dtype != TOKEN_DTYPE:
        if "token" not in port.doc:
            return Broken(f"input {port.name!r} of {target.name} takes integers ({port.doc}), but {ref.node!r} "
                          f"gives float values")
        return Broken(f"input {port.name!r} of {target.name} takes integer token ids, but {ref.node!r} gives "
                      f"float values", "feed it from an input with dtype: int64")
    if port.dtype != TOKEN_DTYPE and dtype != node_dtype:  # a block's integer output
        return Broken(f"{target.name} takes float values, but {str(ref)!r} gives integers",
                      f"take {ref.node!r}'s float output instead; integer outputs such as pooling indices go "
                      "to the ports that take them")
    if port.dtype != TOKEN_DTYPE and dtype == TOKEN_DTYPE:
        return Broken(f"{target.name} takes float values, but {ref.node!r} gives integer token ids",
                      "add an embedding block between them")
    return None


def output_problem(source_id: str, source: Block, port_name: Optional[str]) -> Optional[Broken]:
    """Output ``port_name`` (None: the first) of node ``source_id``, a ``source`` block:
    None when the block has that output."""
    if not source.outputs:
        return Broken(f"{source_id!r} is an {source.name} node and has no outputs to take")
    if port_name is not None and source.port(port_name, output=True) is None:
        names = ", ".join(p.name for p in source.outputs)
        return Broken(f"{source_id!r} ({source.name}) has no output port {port_name!r} (its outputs: {names})")
    return None


def input_port_problem(target: Block, port_name: str) -> Optional[Broken]:
    """Input ``port_name`` of a ``target`` block: None when the block has that input."""
    if target.port(port_name, output=False) is not None:
        return None
    names = [p.name for p in target.inputs]
    return Broken(f"{target.name} has no input port {port_name!r} (its inputs: {', '.join(names) or 'none'})",
                  did_you_mean(port_name, names, hint=True) or None)


__all__ = ["TOKEN_DTYPE", "Broken", "dtype_problem", "dtypes_fit", "input_port_problem", "output_dtype",
           "output_problem"]
