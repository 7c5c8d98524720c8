"""The data flow on networkx (builder/flow.py): the order the compiler writes code in,
cycles, reachability, layers, and the annotated DiGraph users get from builder.to_networkx."""

from __future__ import annotations

import networkx as nx

from builder import analyze, load_graph, parse_graph, to_networkx
from builder.flow import data_flow, file_order, flow_from_sources, layers, path_between, upstream
from tests.conftest import ROOT


def flow(edges: dict[str, list[str]], order: str) -> nx.DiGraph:
    return flow_from_sources(list(order), edges)


def test_file_order_is_kept_wherever_the_data_flow_allows():
    # c is written before b but needs it; a and d are ready from the start
    g = flow({"c": ["b"], "b": ["a"]}, "acdb")
    order, cycle = file_order(g)
    assert cycle is None and order == ["a", "d", "b", "c"]


def test_order_leaves_out_a_cycle_and_what_is_downstream_of_it():
    g = flow({"b": ["a", "d"], "c": ["b"], "d": ["c"], "e": ["d"], "f": ["a"]}, "abcdef")
    order, cycle = file_order(g)
    assert order == ["a", "f"]
    assert cycle == ["b", "c", "d"]  # through the first node on it, in data-flow direction


def test_a_self_loop_is_a_cycle_of_one():
    order, cycle = file_order(flow({"a": ["a"]}, "ab"))
    assert cycle == ["a"] and order == ["b"]


def test_layers_are_longest_paths_and_a_cycle_is_broken_at_the_first_node():
    assert layers(flow({"b": ["a"], "c": ["a", "b"]}, "abc")) == {"a": 0, "b": 1, "c": 2}
    # a -> b -> c -> a: the wire into a (the first node) is dropped
    assert layers(flow({"b": ["a"], "c": ["b"], "a": ["c"]}, "abc")) == {"a": 0, "b": 1, "c": 2}


def test_paths_and_upstream_follow_the_data_flow():
    g = flow({"b": ["a"], "c": ["b"], "d": ["a"]}, "abcd")
    assert path_between(g, "a", "c") == ["a", "b", "c"]
    assert path_between(g, "c", "a") is None
    assert upstream(g, "c") == {"a", "b"}


def test_the_analysis_orders_the_gallery_in_file_order():
    graph = load_graph(ROOT / "graphs" / "resnet18.yaml")
    order = analyze(graph).order
    assert sorted(order) == sorted(graph.nodes)
    position = {n: i for i, n in enumerate(order)}
    assert all(position[r.node] < position[n.id] for n in graph.nodes.values() for r in n.references())
    assert order == list(graph.nodes)  # the gallery file is written in data-flow order


def test_to_networkx_gives_blocks_shapes_and_counts():
    graph = load_graph(ROOT / "graphs" / "lenet5.yaml")
    g = to_networkx(graph)
    analysis = analyze(graph)
    assert list(g) == list(graph.nodes)
    assert g.nodes["conv1"]["block"] == "conv2d" and g.nodes["conv1"]["shape"] == (6, 28, 28)
    assert sum(d["parameters"] for _, d in g.nodes(data=True)) == analysis.total.params
    assert sum(d["macs"] for _, d in g.nodes(data=True)) == analysis.total.macs
    port = analysis.nodes["conv1"].block.inputs[0].name
    assert g.edges["image", "conv1"]["port"] == port
    # the docs' example: the longest path runs from the input to the output
    longest = nx.dag_longest_path(g)
    assert longest[0] == "image" and longest[-1] == "logits"


def test_a_broken_graph_still_converts():
    graph = parse_graph("nodes:\n  x: {block: input, params: {shape: [4]}}\n  a: {block: linear, inputs: [x]}\n"
                        "  y: {block: output, inputs: [a]}\n")
    g = to_networkx(graph)
    assert g.nodes["a"]["shape"] is None and g.has_edge("x", "a")
    assert list(data_flow(graph.nodes).edges) == [("x", "a"), ("a", "y")]


def test_the_readmes_receptive_field_example():
    """README's example: VGG-16's receptive field along its deepest path (196 at conv5_3,
    212 at pool5, the textbook figures)."""
    flow = to_networkx(load_graph(ROOT / "graphs" / "vgg16.yaml"))
    field, jump, seen = 1, 1, {}
    for node in nx.dag_longest_path(flow):
        params = flow.nodes[node]["params"]
        if "kernel_size" in params:
            kernel, stride = params["kernel_size"][0], (params.get("stride") or params["kernel_size"])[0]
            field, jump = field + (kernel - 1) * jump, jump * stride
            seen[node] = field
    assert seen["conv5_3"] == 196 and seen["pool5"] == 212
