"""Folding repeats (:mod:`builder.repeats`) into composites: each kind of copy becomes one
part file, and each run of copies either one repeated node using it (``graph:
parts/NAME.yaml, repeat: N``, with ``repeat=True``) or one composite node per copy.

    repeats = find_repeats(graph)
    result = fold_all(graph, repeats, "graphs/parts", graph_path="graphs/resnet50_folded.yaml")
    result.mapping["layer3_1_conv1"]      # ("layer3_1", "conv1"): where a flat node went
    fold_all(graph, repeats, "graphs/parts", repeat=True).mapping["layer3_1_conv1"]  # ("layer3.0", "conv1")
    difference = check_fold(graph, result)  # max |difference| of the outputs, weights carried over
    result.write()                          # the part files, then the graph, each atomically

Names stay discoverable: a composite node takes the common prefix of its copy's node ids
(``layer3_1`` for ``layer3_1_conv1`` ... ``layer3_1_act``, torchvision's module names) or
else the id of the copy's first node, and the part's nodes keep their ids without that
prefix. A repeated node takes the common prefix of all its copies' ids (``layer3``), or
else the blocks of a copy (``linear_relu``); its repetitions are ``layer3.0``, ``layer3.1``
... in the compiled model. A run of single block nodes (``residual`` x 5) becomes a
repeated node of that block, with no part file. Nothing is written until
:meth:`FoldResult.write`; the folded graph keeps the flat file's comments and layout (a
composite sits where its copy's first node was).
"""

from __future__ import annotations

import copy as copying
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from builder.analysis import Analysis, analyze
from builder.composite import Resolver
from builder.errors import GraphError
from builder.graph import Graph, Node, Ref, id_problem
from builder.repeats import Key, Repeat, output_key, same_copies
from builder.yaml_format import dump_graph, save_graph

TOLERANCE = 1e-5  # largest |difference| of outputs that still counts as the same function


@dataclass
class FoldResult:
    """A folded graph and its part files, not yet written."""

    graph: Graph  # its path is where it is to be written (composite paths are relative to it)
    parts: dict[Path, Graph] = field(default_factory=dict)  # part file -> its graph
    # flat node -> (composite, or a repetition "layer3.1"; node in the part, "" for a repeated block)
    mapping: dict[str, tuple[str, str]] = field(default_factory=dict)
    composites: list[str] = field(default_factory=list)  # the new composite (or repeated) nodes, in file order
    repeats: list[Repeat] = field(default_factory=list)

    def carry_state(self, flat_state: Mapping[str, Any]) -> dict[str, Any]:
        """The flat model's ``state_dict`` under the folded model's names
        (``layer3_1_conv1.weight`` -> ``layer3_1.conv1.weight``)."""
        carried = {}
        for key, value in flat_state.items():
            node, _, rest = key.partition(".")
            if node in self.mapping:
                composite, inner = self.mapping[node]
                key = f"{composite}.{inner}.{rest}" if inner else f"{composite}.{rest}"
            carried[key] = value
        return carried

    def analyze(self) -> Analysis:
        """The folded graph's analysis, with the part files taken from memory (so it can be
        checked before anything is written)."""
        resolver = Resolver()
        for path, part in self.parts.items():
            resolver.budget.graphs[Path(path).resolve()] = part
        return analyze(self.graph, resolver=resolver)

    def write(self) -> list[Path]:
        """Write the part files, then the graph (so the graph never names a missing part),
        each atomically; returns the paths written."""
        written = [save_graph(part, path) for path, part in self.parts.items()]
        written.append(save_graph(self.graph, self.graph.path))
        return written


def _stem(ids: list[str]) -> str:
    """The common prefix of ``ids`` up to a ``_`` boundary (``layer3_1`` for
    ``layer3_1_conv1, layer3_1_bn1``), or ''."""
    prefix = os.path.commonprefix(ids)
    if not all(len(i) > len(prefix) and i[len(prefix)] == "_" for i in ids):
        prefix = prefix[:prefix.rfind("_")] if "_" in prefix else ""
    return prefix.rstrip("_")


def _free(wanted: str, used: set[str]) -> str:
    name, number = wanted, 2
    while name in used or id_problem(name):
        name, number = f"{wanted}_{number}", number + 1
    return name


def _ref_text(analysis: Analysis, node: str, port: str, rename: Callable[[str], str] = str) -> str:
    """A reference as a file writes it: the port only when it is not the node's first."""
    first = output_key(analysis, Ref(node))[1]
    return rename(node) if port == first else f"{rename(node)}.{port}"


def _rewrite(inputs: Any, change: Callable[[str], str]) -> Any:
    """A node's ``inputs`` (a list, or a mapping of port -> one reference or a list)
    with every reference text passed through ``change``."""
    if isinstance(inputs, dict):
        return {port: [change(t) for t in refs] if isinstance(refs, list) else change(refs)
                for port, refs in inputs.items()}
    return [change(t) for t in inputs]


def _relative(target: Path, folder: Path) -> str:
    return Path(os.path.relpath(target.resolve(), folder.resolve())).as_posix()


def _part(analysis: Analysis, repeat: Repeat, path: Path, source_dir: Path) -> tuple[Graph, dict[str, str]]:
    """The part file holding one copy (the repeat's first), and flat id -> id in the part."""
    graph, nodes = analysis.graph, repeat.copies[0]
    stem = _stem(nodes)
    inner = {n: n[len(stem) + 1:] for n in nodes} if stem else {n: n for n in nodes}
    if len(set(inner.values())) != len(inner) or any(id_problem(i) for i in inner.values()):
        inner = {n: n for n in nodes}  # stripping the prefix would not leave good ids
    used = set(inner.values())
    entry, exit_ = repeat.entries[0], repeat.exits[0]
    source = analysis.nodes[entry[0]]
    params: dict[str, Any] = {"shape": list(analysis.shape_of(Ref(*entry)) or ())}
    if source.dtype == "int64":
        params["dtype"] = "int64"
    part = Graph(name=path.stem, description=(
        f"One copy of a structure repeated in {graph.name} ({repeat.count} copies there), "
        f"folded by modelbuilder fold. Checked on its own, it takes the first copy's input."))
    entry_id = _free("x", used)
    part.add(Node(entry_id, "input", params))

    def change(text: str) -> str:
        ref = Ref.parse(text)
        if ref.node not in inner:  # the entry: the part's input, which has one port
            return entry_id
        return f"{inner[ref.node]}.{ref.port}" if ref.port else inner[ref.node]

    for node_id in nodes:
        node = graph.nodes[node_id]
        composite = None if node.graph is None else _relative(source_dir / node.graph, path.parent)
        part.add(Node(inner[node_id], node.block, copying.deepcopy(node.params), _rewrite(node.inputs, change),
                      composite, node.repeat, copying.deepcopy(node.vary), node.enabled))
    part.add(Node(_free("y", used | {entry_id}), "output", {},
                  [_ref_text(analysis, exit_[0], exit_[1], inner.__getitem__)]))
    part.path = str(path)
    return part, inner


def _single_block(analysis: Analysis, repeat: Repeat) -> bool:
    """A run of single block nodes: folded into a repeated node of that block, no part."""
    return repeat.size == 1 and analysis.graph.nodes[repeat.copies[0][0]].block is not None


def _fold(analysis: Analysis, groups: list[tuple[Path, list[tuple[Repeat, dict[str, str]]]]],
          graph_path: Path, repeat_nodes: bool = False) -> FoldResult:
    """Fold each group's repeats into composites of the group's part file (one repeated
    node per run with ``repeat_nodes``); each repeat comes with its first copy's nodes ->
    counterparts in the group's first repeat."""
    graph = analysis.graph
    source_dir = Path(graph.path).parent if graph.path else Path.cwd()
    folded_nodes = {n for _, members in groups for r, _ in members for n in r.nodes}
    used = {n for n in graph.nodes if n not in folded_nodes}
    result = FoldResult(copying.deepcopy(graph))
    result.graph.path = str(graph_path)
    starts: dict[str, tuple[str, Key, str | None, int | None]] = {}  # first node -> (node, entry, part, count)
    exits: dict[Key, str] = {}  # a copy's exit (a run's last, for a repeated node) -> its node
    for part_path, members in groups:
        blocks_only = repeat_nodes and all(_single_block(analysis, r) for r, _ in members)
        if not blocks_only:
            part, inner = _part(analysis, members[0][0], part_path, source_dir)
            result.parts[part_path] = part
        relative = _relative(part_path, graph_path.parent)
        for repeat, to_reference in members:
            result.repeats.append(repeat)
            if repeat_nodes:
                stem = _stem(repeat.nodes) or _kinds(repeat)
                name = stem if stem not in used and not id_problem(stem) else _free(stem or "repeat", used)
                used.add(name)
                starts[repeat.copies[0][0]] = (name, repeat.entries[0], None if blocks_only else relative,
                                               repeat.count)
                exits[repeat.exits[-1]] = name
                for index, (nodes, counterparts) in enumerate(zip(repeat.copies, repeat.counterparts)):
                    for node in nodes:
                        result.mapping[node] = (f"{name}.{index}",
                                                "" if blocks_only else inner[to_reference[counterparts[node]]])
                continue
            for nodes, entry, exit_, counterparts in zip(repeat.copies, repeat.entries, repeat.exits,
                                                         repeat.counterparts):
                stem = _stem(nodes)
                composite = stem if stem and stem not in used and not id_problem(stem) else _free(nodes[0], used)
                used.add(composite)
                starts[nodes[0]] = (composite, entry, relative, None)
                exits[exit_] = composite
                for node in nodes:
                    result.mapping[node] = (composite, inner[to_reference[counterparts[node]]])

    def change(text: str) -> str:
        return exits.get(output_key(analysis, Ref.parse(text)), text)

    result.graph.nodes = {}
    for node_id, node in graph.nodes.items():
        if node_id in starts:
            composite, entry, relative, count = starts[node_id]
            if relative is None:  # a repeated block: the copies' own block and parameters
                made = Node(composite, node.block, copying.deepcopy(node.params), [change(_ref_text(analysis, *entry))],
                            repeat=count)
            else:
                made = Node(composite, inputs=[change(_ref_text(analysis, *entry))], graph=relative, repeat=count)
            result.graph.add(made)
            result.composites.append(composite)
        elif node_id not in folded_nodes:
            result.graph.add(Node(node_id, node.block, copying.deepcopy(node.params),
                                  _rewrite(node.inputs, change), node.graph, node.repeat,
                                  copying.deepcopy(node.vary), node.enabled))
    if graph.layout is not None:
        result.graph.layout = {(starts[k][0] if k in starts else k): v for k, v in graph.layout.items()
                               if k in starts or k not in folded_nodes}
    return result


def fold(graph: Graph, repeat: Repeat, part_path: str | os.PathLike, *, graph_path: str | os.PathLike | None = None,
         analysis: Analysis | None = None, repeat_node: bool = False) -> FoldResult:
    """Fold one repeat: its first copy becomes the part file ``part_path``, each copy a
    composite node (or, with ``repeat_node``, the run one node ``repeat: N``).
    ``graph_path`` is where the folded graph will be written (default: the graph's own
    file), since composite paths are relative to it."""
    analysis = analysis or _checked(graph)
    return _fold(analysis, [(Path(part_path), [(repeat, {n: n for n in repeat.copies[0]})])],
                 _graph_path(graph, graph_path), repeat_node)


def fold_all(graph: Graph, repeats: list[Repeat], parts_dir: str | os.PathLike, *,
             graph_path: str | os.PathLike | None = None, analysis: Analysis | None = None,
             repeat: bool = False) -> FoldResult:
    """Fold several repeats, each run into one repeated node (``repeat=True``) or one
    composite node per copy; repeats whose copies are identical share one part file (all of
    DenseNet's dense layers, in four runs, use one). Part files go into ``parts_dir``,
    named ``<graph>_<common prefix of the copies' ids>.yaml`` (else after the blocks of a
    copy: ``vgg16_conv2d_relu.yaml``); an existing file is never replaced unless it
    already holds the same text."""
    analysis = analysis or _checked(graph)
    groups: list[list[tuple[Repeat, dict[str, str]]]] = []
    for run in repeats:
        for members in groups:
            to_reference = same_copies(members[0][0], run, analysis)
            if to_reference is not None:
                members.append((run, to_reference))
                break
        else:
            groups.append([(run, {n: n for n in run.copies[0]})])
    folder, target = Path(parts_dir), _graph_path(graph, graph_path)
    named: list[tuple[Path, list[tuple[Repeat, dict[str, str]]]]] = []
    for members in groups:
        ids = [n for run, _ in members for n in run.nodes]
        stem = _stem(ids) or os.path.commonprefix(ids).rstrip("_0123456789") or _kinds(members[0][0])
        wanted = "".join(c if c.isalnum() or c == "_" else "_" for c in f"{graph.name}_{stem}")
        named.append((_part_file(analysis, members[0][0], folder, wanted, {p for p, _ in named}), members))
    return _fold(analysis, named, target, repeat)


def _kinds(repeat: Repeat) -> str:
    """A copy's blocks, each once, in order: ``conv2d_relu`` (a composite by its file)."""
    kinds = [Path(k.partition(" ")[2]).stem if k.startswith("graph ") else k for k in repeat.blocks]
    return "_".join(dict.fromkeys(kinds))[:40].rstrip("_")


def _part_file(analysis: Analysis, repeat: Repeat, folder: Path, wanted: str, taken: set[Path]) -> Path:
    """``folder/wanted.yaml``, or ``wanted_2.yaml`` ... when that is taken by another part
    of this fold or by a file on disk that holds something else."""
    source_dir = Path(analysis.graph.path).parent if analysis.graph.path else Path.cwd()
    number = 1
    while True:
        path = folder / (f"{wanted}.yaml" if number == 1 else f"{wanted}_{number}.yaml")
        number += 1
        if path in taken:
            continue
        if not path.exists():
            return path
        try:
            if path.read_text(encoding="utf-8") == dump_graph(_part(analysis, repeat, path, source_dir)[0]):
                return path  # the same part, written by an earlier fold
        except (OSError, UnicodeDecodeError):
            pass


def _graph_path(graph: Graph, graph_path: str | os.PathLike | None) -> Path:
    if graph_path is None and graph.path is None:
        raise ValueError("folding a graph that has no file needs graph_path: composite paths are relative to it")
    return Path(graph_path if graph_path is not None else graph.path)


def _checked(graph: Graph) -> Analysis:
    analysis = analyze(graph)
    if not analysis.ok:
        raise GraphError(analysis.errors)
    return analysis


def check_fold(flat: Graph, result: FoldResult, *, batch: int = 2, seed: int = 0) -> float:
    """Compile the flat and the folded graph, give the flat model non-trivial batch-norm
    statistics and biases, carry its weights into the folded model, and return the largest
    |difference| between their outputs on the same random input (eval mode). Raises
    GraphError when the folded graph does not check."""
    import torch

    from builder.compiler import compile_graph

    before, after = _checked(flat), result.analyze()
    if not after.ok:
        raise GraphError(after.errors)
    reference = compile_graph(flat, analysis=before, seed=seed)
    folded = compile_graph(result.graph, analysis=after, seed=seed + 1)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, tensor in reference.state_dict().items():
            if not tensor.is_floating_point() or tensor.dim() > 1:
                continue  # weights keep their (well scaled) initialization
            if key.endswith("running_var"):
                tensor.uniform_(0.5, 1.5, generator=generator)
            else:  # biases, batch-norm scales and shifts, running means: no longer 0 and 1
                tensor.add_(0.1 * torch.randn(tensor.shape, generator=generator))
        folded.load_state_dict(result.carry_state(reference.state_dict()))  # strict: every weight has a place
        reference.eval()
        folded.eval()
        inputs = []
        for node_id in before.input_ids:
            info = before.nodes[node_id]
            shape = (batch, *info.shape)
            inputs.append(torch.randint(0, 2, shape, generator=generator) if info.dtype == "int64"
                          else torch.randn(shape, generator=generator))
        expected, found = reference(*inputs), folded(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    found = found if isinstance(found, tuple) else (found,)
    return max(((a.float() - b.float()).abs().max().item() if a.numel() else 0.0)
               for a, b in zip(expected, found, strict=True))
