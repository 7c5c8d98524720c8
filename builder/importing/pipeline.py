"""``import_model``: a PyTorch model or an ONNX file becomes a checked graph file and its
weights, proven to compute what the source computes before anything is written.

    result = import_model("my_net.py:build", "my_net.yaml", input_shapes=[(1, 28, 28)])
    result.difference            # max |difference| of the outputs on a random input
    # wrote my_net.yaml and my_net.safetensors (keys "node_id.param", the compiled graph's)

Steps: load the source, trace it with torch.fx and run it once on a random batch, map
every traced operation to a block (stop listing every one that has no block), check and
compile the graph, copy the weights in, compare outputs (stop naming the first node that
differs), optionally fold repeated structure (proven again), then write the weights and
the graph atomically, and read the graph back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from builder.analysis import analyze
from builder.compiler import compile_graph
from builder.errors import GraphError
from builder.graph import Graph
from builder.importing.convert import convert
from builder.importing.errors import ImportFailure
from builder.importing.mapping import Built
from builder.importing.sources import load_source
from builder.importing.tracing import example_inputs, input_names, record, trace
from builder.importing.verify import allowed, difference, first_difference, flat_tensors
from builder.importing.weights import copy_weights, shared_note, write_weights
from builder.yaml_format import load_graph, save_graph

BATCH = 2  # the traced batch: more than one, so that an operation mixing samples shows
UNMAPPED_HINT = ("docs/import.md lists what maps to blocks; rewrite these parts with layers that do, "
                 "or declare a block for them (docs/custom_blocks.md)")


@dataclass
class ImportResult:
    """What an import wrote and how closely the graph matches the source."""

    graph: Graph
    graph_path: Path
    weights_path: Path
    difference: float
    tolerance: float
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    folded: int = 0  # copies folded into composites (0: the graph is flat)
    flat_nodes: int = 0


@dataclass
class _Traced:
    module: Any  # the fx.GraphModule the mapping reads
    inputs: list[torch.Tensor]
    reference: Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]
    batch: int
    name: str


def _trace_source(source: str, input_shapes: Sequence[Sequence[int]] | None, pretrained: bool, seed: int) -> _Traced:
    loaded = load_source(source, pretrained=pretrained)
    if loaded.onnx_path is not None:
        from builder.importing.onnx_source import load_onnx

        onnx = load_onnx(loaded.onnx_path, input_shapes, seed)
        return _Traced(onnx.module, onnx.inputs, onnx.reference, onnx.batch, loaded.name)
    model = loaded.module.eval()  # imported as used for inference: dropout off, batch-norm statistics used
    shapes = [tuple(s) for s in input_shapes] if input_shapes else loaded.shapes
    module = trace(model, source)
    if not shapes:
        names = ", ".join(input_names(module))
        raise ImportFailure(f"{source}: the input shape is needed to trace the model (forward takes {names})",
                            "give one --input-shape per forward argument, per sample: --input-shape 3,32,32")
    inputs = example_inputs(module, shapes, BATCH, seed, source)

    def reference(xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return flat_tensors(model(*xs))

    return _Traced(module, inputs, reference, BATCH, loaded.name)


def _graph_problems(problems: list) -> str:
    return "\n".join(f"  - {p}" for p in problems[:20])


def _build(traced: _Traced, source: str, weights_name: str) -> tuple[Built, Any]:
    """The flat graph of the traced model, checked and compiled with the source's weights."""
    seen = record(traced.module, traced.inputs, source)
    # training starts from the imported weights (a path relative to the graph file)
    graph = Graph(name=traced.name, description=f"Imported from {source} by modelbuilder import.",
                  training={"init": weights_name})
    built, unmapped = convert(traced.module, seen, traced.batch, graph)
    if unmapped:
        raise ImportFailure(f"{source}: {len(unmapped)} operation{'s' * (len(unmapped) != 1)} of the model "
                            f"{'have' if len(unmapped) != 1 else 'has'} no block, so nothing was written:",
                            UNMAPPED_HINT, unmapped)
    analysis = analyze(graph)
    if not analysis.ok:
        raise ImportFailure(f"{source}: the imported graph does not check, so nothing was written:\n"
                            f"{_graph_problems(analysis.errors)}",
                            "this is a gap in the importer; please report it with the model")
    compiled = compile_graph(graph, analysis=analysis)
    copy_weights(built, compiled)
    return built, compiled.eval()


def _compare(traced: _Traced, built: Built, compiled: Any, source: str) -> tuple[float, float]:
    with torch.no_grad():
        expected = [t.detach() for t in traced.reference(traced.inputs)]
        found = flat_tensors(compiled(*traced.inputs))
    gap, limit = difference(expected, found), allowed(expected)
    if not gap <= limit:
        order = list(built.graph.nodes)
        where = first_difference(traced.module, compiled, built.traced, order, traced.inputs)
        detail = (f"; the first node that differs is {where[0]!r} (from {built.origins[where[0]]}), "
                  f"by {where[1]:.3g}") if where else ""
        raise ImportFailure(f"{source}: the imported graph does not compute what the model computes "
                            f"(max |difference| {gap:.3g} > {limit:.3g}){detail}, so nothing was written",
                            "this is a gap in the importer; please report it with the model")
    return gap, limit


def _fold(graph: Graph, state: dict, traced: _Traced, out: Path, parts: Path, source: str):
    """Fold repeated structure (builder.folding), proven equal, with the weights carried over.
    Returns the fold result (None when nothing repeats), the folded weights and difference."""
    from builder.folding import TOLERANCE, check_fold, fold_all
    from builder.repeats import find_repeats

    repeats = find_repeats(graph)
    if not repeats:
        return None, state, None
    result = fold_all(graph, repeats, parts, graph_path=out)
    try:
        gap = check_fold(graph, result)
    except GraphError as err:
        raise ImportFailure(f"{source}: the folded graph does not check:\n{_graph_problems(err.errors)}",
                            "import without --fold") from None
    if not gap <= TOLERANCE:
        raise ImportFailure(f"{source}: the folded graph does not compute the same function "
                            f"(max |difference| {gap:.3g})", "import without --fold")
    folded = compile_graph(result.graph, analysis=result.analyze())
    folded.load_state_dict(result.carry_state(state))
    folded.eval()
    with torch.no_grad():
        expected = [t.detach() for t in traced.reference(traced.inputs)]
        found = flat_tensors(folded(*traced.inputs))
    gap = difference(expected, found)
    if not gap <= allowed(expected):
        raise ImportFailure(f"{source}: the folded graph with the imported weights differs from the model "
                            f"(max |difference| {gap:.3g})", "import without --fold")
    return result, folded.state_dict(), gap


def import_model(source: str, out: str | Path, *, input_shapes: Sequence[Sequence[int]] | None = None,
                 fold: bool = False, parts: str | Path | None = None, pretrained: bool = False,
                 seed: int = 0) -> ImportResult:
    """Import ``source`` (a ``file.py:callable``, a torchvision model name, or a ``.onnx``
    file) into the graph file ``out`` and ``out`` with the suffix ``.safetensors``.
    Raises ImportFailure (nothing written) for a source that cannot be imported exactly."""
    out = Path(out)
    weights_path = out.with_suffix(".safetensors")
    traced = _trace_source(source, input_shapes, pretrained, seed)
    built, compiled = _build(traced, source, weights_path.name)
    gap, limit = _compare(traced, built, compiled, source)
    graph, state = built.graph, compiled.state_dict()
    graph.path = str(out)
    result = ImportResult(graph, out, weights_path, gap, limit, notes=shared_note(built), flat_nodes=len(graph.nodes))
    folding = None
    if fold:
        folding, state, folded_gap = _fold(graph, state, traced, out, Path(parts) if parts else out.parent / "parts",
                                           source)
        if folding is None:
            result.notes.append("--fold: no repeated structure found; the graph is flat")
        else:
            result.graph, result.difference = folding.graph, max(gap, folded_gap)
            result.folded = sum(r.count for r in folding.repeats)
    write_weights(weights_path, state, source)
    result.written = [weights_path] + (folding.write() if folding is not None else [save_graph(graph, out)])
    try:  # the files alone must check
        problems = analyze(load_graph(out)).errors
    except GraphError as err:
        problems = err.errors
    if problems:
        raise ImportFailure(f"{out} was written but does not check when read back:\n{_graph_problems(problems)}",
                            "this is a gap in the importer; please report it with the model")
    return result
