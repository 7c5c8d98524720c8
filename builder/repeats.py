"""Finding repeated structure in a flat graph: runs of consecutive, identical copies.

    repeats = find_repeats(graph)          # list[Repeat], in file order
    repeats[0].copies                       # node ids of each copy

What is found (and what ``modelbuilder fold`` offers to fold):

- The data flow is cut where it narrows to one tensor. Walking the nodes in the
  analysis order (file order wherever the data flow allows), a *cut* is a point where
  exactly one node output is still waited for by later nodes. The nodes between two cuts
  form a *segment*: it takes that one tensor in and hands exactly one tensor on.
- A *copy* is one or more consecutive segments, so it has one entry (one node output,
  possibly taken by several of its nodes, e.g. a residual block's first convolution and
  its skip) and one exit (one node output, taken only by the next copy, or after the last
  copy by the rest of the graph).
- A *repeat* is a maximal run of at least ``min_count`` consecutive copies of at least
  ``min_size`` nodes that are identical: the same blocks (or composite files) with the
  same checked parameters (defaults filled in, so ``stride: 1`` written or not is the
  same), wired the same way (input ports, order of inputs, output ports taken, which
  nodes take the entry, which node is the exit). Segments are compared by networkx's
  Weisfeiler-Lehman hashes, and every copy is confirmed by an isomorphism
  (DiGraphMatcher) that also pairs each node with its counterpart in the first copy.
- Shapes are not compared: a copy folded into a composite takes its shapes from its
  caller, like any composite, so DenseNet's dense layers (the same layer at a growing
  width) are copies of one another. The fold is proven by compiling both graphs.
- A copy is never itself a repetition of a smaller copy (six linear nodes in a row are
  six copies of one node, not three of two); runs may not overlap; where runs compete,
  the one that folds away the most nodes wins. Where a run could start at more than one
  segment (``relu, [conv ... add, relu] x 2`` could also be read as ``[relu, conv ... add] x
  2``), copies start at a node with weights if one phase allows it.

What is not found:

- Copies whose parameters differ in any way: a copy with another stride or width ends
  the run (ResNet's first block of a stage, with its stride and projection shortcut, is
  not folded with the blocks after it). Composite ``expose`` could cover such copies; it
  is not offered.
- Structure that does not narrow to one tensor between copies: DenseNet's dense block
  written as "each layer concatenates every earlier output" keeps every earlier output
  waited for, so nothing inside the block is offered (the same block written as a running
  concatenation, ``concat(previous, new)`` per layer, is a chain and is found); nor are
  copies whose outputs are also used further on (U-Net's skip connections).
- Input and output nodes, and nodes named by the file's ``expose`` (a part file's public
  parameters): they end runs.
- A side branch (an auxiliary head) keeps the tensor it branches off waited for until its
  own nodes come in the file order, which hides the cuts in between.
"""

from __future__ import annotations

import heapq
import json
import warnings
from collections import Counter
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
from networkx.algorithms.isomorphism import DiGraphMatcher

from builder.analysis import INPUT_BLOCK, OUTPUT_BLOCK, Analysis, analyze
from builder.errors import GraphError
from builder.graph import Graph, Ref

ENTRY = " entry"  # the copy's entry in a structure graph: a space keeps it apart from node ids
Key = tuple[str, str]  # a node output: (node id, port name), the port always spelled out


@dataclass
class Repeat:
    """A run of identical copies, in data-flow order."""

    copies: list[list[str]]  # node ids of each copy, in file order
    entries: list[Key]  # the output each copy takes in (copy i > 0: copy i-1's exit)
    exits: list[Key]  # the output each copy hands on
    counterparts: list[dict[str, str]]  # per copy: node id -> its counterpart in copies[0]
    signature: str  # equal for repeats whose copies look alike (confirm with an isomorphism)
    blocks: list[str] = field(default_factory=list)  # what the first copy's nodes are, in file order

    @property
    def count(self) -> int:
        return len(self.copies)

    @property
    def size(self) -> int:
        """Nodes in each copy."""
        return len(self.copies[0])

    @property
    def nodes(self) -> list[str]:
        return [node for copy in self.copies for node in copy]

    def describe(self) -> str:
        """One line: how many copies of how many nodes, and where."""
        first, last = self.copies[0], self.copies[-1]
        return (f"{self.count} copies x {self.size} node{'s' * (self.size != 1)}, "
                f"{first[0]} .. {last[-1]} (first copy {first[0]} .. {first[-1]})")


@dataclass
class _Segment:
    nodes: list[str]
    entry: Key
    exit: Key | None  # None: nothing of it is used later (a dead end), never part of a copy
    barrier: bool  # holds an input, an output or an exposed node, or is a dead end


def output_key(analysis: Analysis, ref: Ref) -> Key:
    """``ref`` with its port spelled out (``conv1`` -> ``(conv1, out)``)."""
    if ref.port:
        return ref.node, ref.port
    block = analysis.nodes[ref.node].block
    return ref.node, (block.outputs[0].name if block is not None and block.outputs else "out")


def _segments(analysis: Analysis) -> list[_Segment]:
    """The data flow cut where exactly one output is still waited for (one pass)."""
    uses: Counter[Key] = Counter()
    for node_id in analysis.order:
        for refs in analysis.nodes[node_id].inputs.values():
            uses.update(output_key(analysis, ref) for ref in refs)
    exposed = {str(t).partition(".")[0] for targets in (analysis.graph.expose or {}).values()
               for t in ([targets] if isinstance(targets, str) else targets)}
    live: dict[Key, int] = {}
    cuts: list[tuple[int, Key]] = []
    for position, node_id in enumerate(analysis.order):
        info = analysis.nodes[node_id]
        for refs in info.inputs.values():
            for ref in refs:
                key = output_key(analysis, ref)
                live[key] -= 1
                if not live[key]:
                    del live[key]
        for port in info.block.outputs if info.block is not None else ():
            if uses[(node_id, port.name)]:
                live[(node_id, port.name)] = uses[(node_id, port.name)]
        if len(live) == 1:
            cuts.append((position, next(iter(live))))
    segments = []
    for (start, entry), (end, leaving) in zip(cuts, cuts[1:]):
        nodes = analysis.order[start + 1:end + 1]
        dead_end = leaving[0] not in nodes
        barrier = dead_end or any(analysis.graph.nodes[n].block in (INPUT_BLOCK, OUTPUT_BLOCK) or n in exposed
                                  for n in nodes)
        segments.append(_Segment(nodes, entry, None if dead_end else leaving, barrier))
    return segments


def _labels(analysis: Analysis) -> dict[str, str]:
    """What a node is, as text: its block (or composite file) and checked parameters."""
    labels = {}
    for node_id, node in analysis.graph.nodes.items():
        params = analysis.nodes[node_id].params
        labels[node_id] = node.kind + "|" + json.dumps(dict(params or {}), sort_keys=True, default=repr)
        if node.repeated:  # (a repeated node's checked parameters leave out those that vary)
            labels[node_id] += f"|x{node.repeat}|" + json.dumps(node.vary, sort_keys=True, default=repr)
    return labels


def structure(analysis: Analysis, labels: dict[str, str], nodes: list[str], exit_: Key) -> nx.DiGraph:
    """The wiring of ``nodes`` as a DiGraph to hash and match: nodes labelled by block and
    parameters (the exit also by its port), one pseudo-node for the entry, and on each
    wire the input slots it feeds (port, position) with the output port it takes."""
    inside = set(nodes)
    graph = nx.DiGraph()
    graph.add_node(ENTRY, label="<entry>")
    slots: dict[tuple[str, str], list[str]] = {}
    for node_id in nodes:
        graph.add_node(node_id, label=labels[node_id] + (f"|exit:{exit_[1]}" if node_id == exit_[0] else ""))
        for port, refs in analysis.nodes[node_id].inputs.items():
            for position, ref in enumerate(refs):
                source, taken = output_key(analysis, ref)
                if source not in inside:  # the entry: its port is the caller's business
                    source, taken = ENTRY, "*"
                slots.setdefault((source, node_id), []).append(f"{port}#{position}<{taken}")
    for (source, target), on in slots.items():
        graph.add_edge(source, target, slots=",".join(sorted(on)))
    return graph


def _written(analysis: Analysis, labels: dict[str, str], nodes: list[str], exit_: Key) -> tuple:
    """The wiring of ``nodes`` by position in the list: copies written the same way have
    equal tuples (then node i matches node i, no hashing or matching needed)."""
    index = {n: i for i, n in enumerate(nodes)}
    rows = []
    for node_id in nodes:
        wires = []
        for port, refs in analysis.nodes[node_id].inputs.items():
            for position, ref in enumerate(refs):
                source, taken = output_key(analysis, ref)
                wires.append((port, position, index.get(source, -1), taken if source in index else "*"))
        rows.append((labels[node_id], exit_[1] if node_id == exit_[0] else None, tuple(wires)))
    return tuple(rows)


def _signature(graph: nx.DiGraph) -> str:
    with warnings.catch_warnings():  # networkx 3.5 notes that directed hashes changed; ours are never stored
        warnings.filterwarnings("ignore", message="The hashes produced for directed graphs", category=UserWarning)
        return nx.weisfeiler_lehman_graph_hash(graph, node_attr="label", edge_attr="slots", iterations=3)


def match(reference: nx.DiGraph, other: nx.DiGraph) -> dict[str, str] | None:
    """``other``'s node -> its counterpart in ``reference``, or None when they differ."""
    if reference.number_of_nodes() != other.number_of_nodes() or \
            reference.number_of_edges() != other.number_of_edges():
        return None
    matcher = DiGraphMatcher(other, reference, node_match=lambda a, b: a["label"] == b["label"],
                             edge_match=lambda a, b: a["slots"] == b["slots"])
    if not matcher.is_isomorphic():
        return None
    return {node: counterpart for node, counterpart in matcher.mapping.items() if node != ENTRY}


def _primitive(unit: tuple[int, ...]) -> bool:
    """False when ``unit`` is a shorter unit repeated (a copy made of copies)."""
    size = len(unit)
    return not any(size % d == 0 and unit == unit[:d] * (size // d) for d in range(1, size // 2 + 1))


def _candidates(tokens: np.ndarray, sizes: list[int], weighted: list[bool], min_size: int,
                min_count: int) -> list[tuple[int, int, int]]:
    """Every maximal run of at least ``min_count`` equal consecutive units of ``period``
    segments, as (period, first segment, copies). Per period one vectorized comparison of
    the token sequence with itself shifted: O(segments) each."""
    found = []
    n = len(tokens)
    for period in range(1, n // min_count + 1):
        same = np.concatenate(([False], tokens[:-period] == tokens[period:], [False]))
        edges = np.diff(same.astype(np.int8))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        long = (ends - starts) >= period * (min_count - 1)
        for start, end in zip(starts[long].tolist(), ends[long].tolist()):
            span = end - start + period  # segments start .. end + period - 1 repeat
            count, spare = divmod(span, period)
            # the unit may start at any of spare + 1 segments: prefer one whose first node has weights
            phase = next((start + s for s in range(spare + 1) if weighted[start + s]), start)
            unit = tuple(tokens[phase:phase + period].tolist())
            if _primitive(unit) and sum(sizes[phase:phase + period]) >= min_size:
                found.append((period, phase, count))
    return found


def _select(candidates: list[tuple[int, int, int]], sizes: list[int], min_count: int) -> list[tuple[int, int, int]]:
    """Runs that do not overlap, the ones folding away the most nodes first; a run that
    overlaps a chosen one keeps its longest free stretch of copies."""
    def saved(period: int, start: int, count: int) -> int:
        return count * (sum(sizes[start:start + period]) - 1)

    heap = [(-saved(*c), c[0], c[1], c[2]) for c in candidates]
    heapq.heapify(heap)
    taken = np.zeros(len(sizes), dtype=bool)
    chosen = []
    while heap:
        _, period, start, count = heapq.heappop(heap)
        free = [not taken[start + i * period:start + (i + 1) * period].any() for i in range(count)]
        if all(free):
            chosen.append((period, start, count))
            taken[start:start + period * count] = True
            continue
        length, first, i = 0, 0, 0  # the longest stretch of free copies
        while i < count:
            j = i
            while j < count and free[j]:
                j += 1
            if j - i > length:
                length, first = j - i, i
            i = max(j, i + 1)
        if length >= min_count:
            trimmed = (period, start + first * period, length)
            heapq.heappush(heap, (-saved(*trimmed), *trimmed))
    return chosen


def find_repeats(graph: Graph, *, min_size: int = 2, min_count: int = 2,
                 analysis: Analysis | None = None) -> list[Repeat]:
    """Runs of at least ``min_count`` identical consecutive copies of at least
    ``min_size`` nodes each (see the module's docstring for exactly what counts), in file
    order. Raises GraphError when the graph does not check: its problems say why."""
    if min_size < 1 or min_count < 2:
        raise ValueError("min_size is at least 1 and min_count at least 2")
    analysis = analysis or analyze(graph)
    if not analysis.ok:
        raise GraphError(analysis.errors)
    segments = _segments(analysis)
    labels = _labels(analysis)
    hashes: dict[str, int] = {}
    seen: dict[tuple, int] = {}  # segments written alike are hashed once
    tokens = np.empty(len(segments), dtype=np.int64)
    for index, segment in enumerate(segments):
        if segment.barrier:
            tokens[index] = -1 - index  # equal to nothing
            continue
        written = _written(analysis, labels, segment.nodes, segment.exit)
        if written not in seen:
            text = _signature(structure(analysis, labels, segment.nodes, segment.exit))
            seen[written] = hashes.setdefault(text, len(hashes))
        tokens[index] = seen[written]
    sizes = [len(s.nodes) for s in segments]
    weighted = [analysis.nodes[s.nodes[0]].cost.params > 0 for s in segments]
    chosen = _select(_candidates(tokens, sizes, weighted, min_size, min_count), sizes, min_count)
    repeats = []
    for period, start, count in chosen:
        copies = [segments[start + i * period:start + (i + 1) * period] for i in range(count)]
        repeats.extend(_confirm(analysis, labels, copies, min_count))
    position = {node_id: i for i, node_id in enumerate(analysis.graph.nodes)}
    return sorted(repeats, key=lambda r: position[r.copies[0][0]])


def _confirm(analysis: Analysis, labels: dict[str, str], copies: list[list[_Segment]],
             min_count: int) -> list[Repeat]:
    """The copies that are truly identical (an isomorphism to the first copy of their
    stretch), as repeats; a copy that is not starts a new stretch."""
    position = {node_id: i for i, node_id in enumerate(analysis.graph.nodes)}
    found: list[Repeat] = []
    current: Repeat | None = None
    reference: nx.DiGraph | None = None  # the first copy of the stretch, built when first needed
    reference_written: tuple = ()
    for segments in copies:
        nodes = sorted((n for s in segments for n in s.nodes), key=position.__getitem__)
        entry, exit_ = segments[0].entry, segments[-1].exit
        written = _written(analysis, labels, nodes, exit_)
        mapping = None
        if current is not None and written == reference_written:  # written alike: node i is node i
            mapping = dict(zip(nodes, current.copies[0]))
        elif current is not None:
            reference = reference or structure(analysis, labels, current.copies[0], current.exits[0])
            mapping = match(reference, structure(analysis, labels, nodes, exit_))
        if current is None or mapping is None:
            if current is not None and current.count >= min_count:
                found.append(current)
            reference, reference_written = None, written
            current = Repeat([], [], [], [], _signature(structure(analysis, labels, nodes, exit_)),
                             [analysis.graph.nodes[n].kind for n in nodes])
            mapping = {n: n for n in nodes}
        current.copies.append(nodes)
        current.entries.append(entry)
        current.exits.append(exit_)
        current.counterparts.append(mapping)
    if current is not None and current.count >= min_count:
        found.append(current)
    return found


def same_copies(first: Repeat, second: Repeat, analysis: Analysis) -> dict[str, str] | None:
    """``second``'s first-copy nodes -> their counterparts in ``first``'s first copy, when
    the two repeats' copies are identical (they can then share one part file)."""
    if first.signature != second.signature:
        return None
    labels = _labels(analysis)
    return match(structure(analysis, labels, first.copies[0], first.exits[0]),
                 structure(analysis, labels, second.copies[0], second.exits[0]))

