"""Every gallery graph loads, checks clean, compiles, runs, and its declared shapes,
parameter counts and MACs agree with what the compiled module actually does."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from builder import analyze, compile_graph, dump_graph, load_graph
from tests.conftest import GALLERY

BATCH = 2


def random_inputs(analysis, batch=BATCH, device="cpu"):
    tensors = []
    for node_id in analysis.input_ids:
        info = analysis.nodes[node_id]
        shape = (batch, *info.shape)
        if info.dtype == "int64":
            tensors.append(torch.randint(0, 2, shape, device=device))
        else:
            tensors.append(torch.randn(shape, device=device))
    return tensors


def as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.fixture(scope="module", params=GALLERY, ids=lambda p: p.stem)
def gallery_graph(request):
    graph = load_graph(request.param)
    return graph, analyze(graph)


def test_gallery_is_not_empty():
    names = {p.stem for p in GALLERY}
    assert {"lenet5", "resnet18", "resnet50"} <= names, names


def test_checks_clean_and_saves_identically(gallery_graph):
    graph, analysis = gallery_graph
    assert analysis.problems == [], "\n".join(map(str, analysis.problems))
    with open(graph.path, encoding="utf-8") as handle:
        assert dump_graph(graph) == handle.read()


def test_declared_numbers_match_the_module(gallery_graph):
    graph, analysis = gallery_graph
    model = compile_graph(graph, seed=0).eval()
    assert sum(p.numel() for p in model.parameters()) == analysis.total.params
    inputs = random_inputs(analysis)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        outputs = as_tuple(model(*inputs))
    expected = [analysis.nodes[o].shape for o in analysis.output_ids]
    assert [tuple(o.shape[1:]) for o in outputs] == expected
    exact = all(getattr(analysis.nodes[n].block, "macs_exact", True) for n in analysis.order)
    if exact:
        assert counter.get_total_flops() // 2 // BATCH == analysis.total.macs


def test_submodules_are_named_by_node_id(gallery_graph):
    graph, analysis = gallery_graph
    model = compile_graph(graph, device="meta")
    layers = {n for n, node in graph.nodes.items() if node.block not in ("input", "output")}
    assert set(dict(model.named_children())) == layers
