"""The editor's document model and its undo commands, without widgets.

Every edit is checked the same way: the graph after undo equals (``==``, and in the same
node order) the graph before, and redo gives the graph after again.
"""

from __future__ import annotations

import copy
import time

import pytest

from builder import Graph, Node, load_graph, parse_graph
from builder.graph import id_problem
from gui.clipboard import copy_nodes, duplicate, has_nodes, paste_nodes
from gui.document import GraphDocument, starter_params
from gui.layout import NODE_HEIGHT, NODE_WIDTH, layered_layout
from tests.conftest import GALLERY, ROOT

SIGNALS = ("nodeAdded", "nodeRemoved", "nodeChanged", "nodeRenamed", "nodeMoved", "analysisChanged",
           "modifiedChanged", "pathChanged")


class Recorder:
    """Every signal of a document, in order, as (name, *args)."""

    def __init__(self, document: GraphDocument):
        self.events: list[tuple] = []
        for name in SIGNALS:
            getattr(document, name).connect(self._recorder(name))

    def _recorder(self, name):
        return lambda *args: self.events.append((name, *args))

    def of(self, name: str) -> list[tuple]:
        return [e[1:] for e in self.events if e[0] == name]

    def names(self) -> list[str]:
        return [e[0] for e in self.events]

    def clear(self) -> None:
        self.events.clear()


def snapshot(graph: Graph) -> Graph:
    """A deep copy of what Graph equality compares."""
    return Graph(nodes=copy.deepcopy(graph.nodes), name=graph.name, description=graph.description,
                 training=copy.deepcopy(graph.training), expose=copy.deepcopy(graph.expose),
                 layout=copy.deepcopy(graph.layout))


def same(graph: Graph, expected: Graph) -> bool:
    """Equal, and with the nodes in the same (file) order."""
    return graph == expected and list(graph.nodes) == list(expected.nodes)


def check_undo_redo(document: GraphDocument, edit) -> tuple[Graph, Graph]:
    """Make ``edit``; undo must restore the graph exactly, redo must reproduce the edit."""
    before = snapshot(document.graph)
    steps = document.undo_stack.index()
    edit()
    after = snapshot(document.graph)
    assert document.undo_stack.index() == steps + 1, "an edit is one undo step"
    document.undo_stack.undo()
    assert same(document.graph, before)
    document.undo_stack.redo()
    assert same(document.graph, after)
    return before, after


@pytest.fixture
def seq2seq(qapp) -> GraphDocument:
    document = GraphDocument.open(ROOT / "graphs" / "seq2seq_attention.yaml")
    document.ensure_layout()
    return document


WIRING = """
format: 1
nodes:
  image: {block: input, params: {shape: [16, 4, 4]}}
  tokens: {block: input, params: {shape: [12], dtype: int64}}
  flat: {block: flatten, inputs: [image]}
  conv: {block: conv2d, params: {out_channels: 4, kernel_size: 3}, inputs: [image]}
  fc: {block: linear, params: {out_features: 10, in_features: 400}}
  embed: {block: embedding, params: {num_embeddings: 50, embedding_dim: 8}}
  sum: {block: add}
  a: {block: add, inputs: [flat]}
  b: {block: relu, inputs: [a]}
  c: {block: relu, inputs: [b]}
  out: {block: output, inputs: [c]}
"""


@pytest.fixture
def wiring(qapp) -> GraphDocument:
    return GraphDocument(parse_graph(WIRING))


# ------------------------------------------------------------------ nodes
def test_add_node_gives_fresh_valid_ids_and_is_undoable(lenet):
    recorder = Recorder(lenet)
    check_undo_redo(lenet, lambda: lenet.add_node("conv2d", {"out_channels": 8, "kernel_size": 3}, (100.4, 250)))
    assert "conv2d_1" in lenet.graph.nodes and lenet.position("conv2d_1") == (100, 250)
    assert lenet.add_node("conv2d") == "conv2d_2"
    assert id_problem("conv2d_2") is None
    assert lenet.graph.nodes["conv2d_1"] == Node("conv2d_1", "conv2d", {"out_channels": 8, "kernel_size": 3})
    assert list(lenet.graph.nodes)[-2:] == ["conv2d_1", "conv2d_2"]
    assert recorder.of("nodeAdded") == [("conv2d_1",), ("conv2d_1",), ("conv2d_2",)]
    assert recorder.of("nodeRemoved") == [("conv2d_1",)]
    assert recorder.of("modifiedChanged")[0] == (True,)
    # each push, undo and redo re-analyzes once
    assert recorder.names().count("analysisChanged") == 4
    assert [p.param for p in lenet.analysis.problems_for("conv2d_2") if p.param] == ["out_channels", "kernel_size"]
    with pytest.raises(KeyError, match="did you mean"):
        lenet.add_node("conv2e")
    with pytest.raises(ValueError, match="already a node"):
        lenet.add_node("relu", node_id="conv1")


def test_add_node_without_layout_and_undo_restores_no_layout(qapp):
    document = GraphDocument(parse_graph(WIRING))
    assert document.graph.layout is None
    check_undo_redo(document, lambda: document.add_node("relu", position=(5, 5)))
    document.undo_stack.undo()
    assert document.graph.layout is None
    assert document.fresh_id("relu_7") == "relu_1"


def test_new_document_starts_empty_and_unmodified(qapp):
    document = GraphDocument()
    assert document.graph.nodes == {} and not document.is_modified and document.display_name == "untitled"
    node_id = document.add_node("input", starter_params("input"), position=None)
    assert document.graph.nodes[node_id].params == {"shape": [3, 32, 32]}
    assert document.position(node_id) == (0, 0)
    assert document.add_node("relu", position=None) == "relu_1"
    assert document.position("relu_1")[1] > NODE_HEIGHT  # placed below the first


def test_starter_params_fill_required_params_from_examples():
    assert starter_params("linear") == {"out_features": 10}
    assert starter_params("conv2d") == {"out_channels": 6, "kernel_size": 5}
    assert starter_params("relu") == {}


def test_remove_nodes_drops_references_and_layout_and_undo_restores_them(lenet):
    lenet.ensure_layout()
    recorder = Recorder(lenet)
    check_undo_redo(lenet, lambda: lenet.remove_nodes(["conv2", "fc2"]))
    graph = lenet.graph
    assert "conv2" not in graph.nodes and "conv2" not in graph.layout
    assert graph.nodes["act2"].inputs == [] and graph.nodes["act4"].inputs == []
    assert recorder.of("nodeRemoved")[:2] == [("conv2",), ("fc2",)]
    assert ("act2",) in recorder.of("nodeChanged")
    lenet.undo_stack.undo()
    assert list(lenet.graph.layout)[:3] == ["image", "conv1", "act1"]


def test_remove_keeps_other_references_on_their_ports(qapp):
    text = WIRING + """
  enc: {block: lstm, params: {hidden_size: 8}, inputs: [embed]}
  emb2: {block: embedding, params: {num_embeddings: 50, embedding_dim: 8}, inputs: [tokens]}
  dec: {block: lstm, params: {hidden_size: 8}, inputs: [emb2, enc.hidden]}
  many: {block: concat, inputs: [flat, flat, image]}
"""
    document = GraphDocument(parse_graph(text))
    check_undo_redo(document, lambda: document.remove_nodes(["emb2"]))
    # the positional list would shift enc.hidden onto 'x': it becomes a mapping
    assert document.graph.nodes["dec"].inputs == {"state": "enc.hidden"}
    check_undo_redo(document, lambda: document.remove_nodes(["flat"]))
    assert document.graph.nodes["many"].inputs == ["image"]
    assert document.graph.nodes["a"].inputs == []


def test_undo_restores_positions_as_written(qapp):
    graph = parse_graph(WIRING)
    graph.layout = {"fc": [12.5, 3], "flat": [0, 0.25]}
    document = GraphDocument(graph)
    check_undo_redo(document, lambda: document.remove_nodes(["fc"]))
    check_undo_redo(document, lambda: document.move_nodes({"flat": (7.6, 8)}))
    assert document.graph.layout["flat"] == [8, 8]
    document.undo_stack.undo()
    assert document.graph.layout == {"flat": [0, 0.25]}


@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.stem)
def test_removing_any_node_of_a_gallery_graph_undoes_exactly(qapp, path):
    document = GraphDocument.open(path)
    document.ensure_layout()
    ids = list(document.graph.nodes)
    middle = ids[len(ids) // 2]
    check_undo_redo(document, lambda: document.remove_nodes([middle, ids[0]]))
    assert not any(r.node in (middle, ids[0]) for n in document.graph.nodes.values() for r in n.references())


def test_set_param_sets_removes_and_merges(lenet):
    recorder = Recorder(lenet)
    check_undo_redo(lenet, lambda: lenet.set_param("conv1", "stride", (2, 2)))
    assert lenet.graph.nodes["conv1"].params["stride"] == [2, 2]
    assert recorder.of("nodeChanged") == [("conv1",)] * 3
    check_undo_redo(lenet, lambda: lenet.set_param("conv1", "out_channels", None))
    assert "out_channels" not in lenet.graph.nodes["conv1"].params
    assert lenet.set_param("conv1", "out_channels", None) is False
    assert lenet.set_param("conv1", "kernel_size", 5) is False

    # typing 6 -> 7 -> 8 in a spin box is one undo step
    steps = lenet.undo_stack.count()
    before = snapshot(lenet.graph)
    for value in (7, 8, 9):
        lenet.set_param("fc1", "out_features", value)
    lenet.set_param("fc2", "out_features", 50)
    assert lenet.undo_stack.count() == steps + 2
    lenet.undo_stack.undo()
    lenet.undo_stack.undo()
    assert same(lenet.graph, before)
    # a change that ends where it started leaves no step behind
    lenet.set_param("fc1", "out_features", 121)
    lenet.set_param("fc1", "out_features", 120)
    assert lenet.undo_stack.index() == steps


def test_analysis_follows_edits(lenet, qtbot):
    assert lenet.analysis.ok
    with qtbot.waitSignal(lenet.analysisChanged, timeout=1000):
        lenet.set_param("fc1", "in_features", 300)
    assert [p.message for p in lenet.analysis.errors] == [
        "linear expects 300 input features but receives 400; input 'x' from 'flatten' [400]"]
    lenet.undo_stack.undo()
    assert lenet.analysis.ok
    lenet.set_param("conv2", "out_channels", 32)
    assert lenet.analysis.nodes["flatten"].shape == (800,)


def test_macro_is_one_step_and_one_analysis(lenet):
    recorder = Recorder(lenet)
    before = snapshot(lenet.graph)
    with lenet.macro("Widen"):
        lenet.set_param("conv1", "out_channels", 12)
        lenet.set_param("conv2", "out_channels", 24)
        assert lenet.analysis.nodes["conv2"].shape == (24, 10, 10)  # fresh inside the macro
    assert recorder.names().count("analysisChanged") == 1
    lenet.undo_stack.undo()
    assert same(lenet.graph, before)
    assert lenet.undo_stack.count() == 1


def test_set_node_block_keeps_id_inputs_and_position(lenet):
    check_undo_redo(lenet, lambda: lenet.set_node_block("act1", "relu"))
    assert lenet.graph.nodes["act1"] == Node("act1", "relu", {}, ["conv1"])


# ------------------------------------------------------------------ rename
def test_rename_rewrites_references_and_layout(seq2seq):
    recorder = Recorder(seq2seq)
    order = list(seq2seq.graph.nodes)
    check_undo_redo(seq2seq, lambda: seq2seq.rename_node("encoder", "enc"))
    graph = seq2seq.graph
    assert graph.nodes["decoder"].inputs == {"x": "target_embed", "state": "enc.hidden"}
    assert graph.nodes["attention"].inputs == {"query": "decoder", "key_value": "enc"}
    assert graph.nodes["enc"].id == "enc" and "encoder" not in graph.nodes
    assert list(graph.nodes) == [("enc" if i == "encoder" else i) for i in order]
    assert "enc" in graph.layout and "encoder" not in graph.layout
    assert recorder.of("nodeRenamed") == [("encoder", "enc"), ("enc", "encoder"), ("encoder", "enc")]
    assert {"decoder", "attention"} <= {args[0] for args in recorder.of("nodeChanged")}
    assert seq2seq.analysis.ok


def test_rename_refuses_bad_ids_with_a_reason(seq2seq):
    steps = seq2seq.undo_stack.count()
    cases = {"decoder": "already a node", "2nd": "letters, digits", "class": "keyword",
             "forward": "reserved", "a-b": "letters, digits"}
    for new, reason in cases.items():
        verdict = seq2seq.rename_node("encoder", new)
        assert not verdict and reason in verdict.reason
    assert "no node" in seq2seq.rename_node("nothing", "x").reason
    assert seq2seq.rename_node("encoder", "encoder")  # nothing to do
    assert seq2seq.undo_stack.count() == steps


def test_rename_rewrites_expose_targets(qapp):
    graph = parse_graph(WIRING)
    graph.expose = {"width": ["conv.out_channels", "fc.out_features"], "k": "conv.kernel_size"}
    document = GraphDocument(graph)
    check_undo_redo(document, lambda: document.rename_node("conv", "stem"))
    assert document.graph.expose == {"width": ["stem.out_channels", "fc.out_features"], "k": "stem.kernel_size"}


# ------------------------------------------------------------------ wires
def test_connect_refusals_name_the_reason(wiring):
    refusals = {
        ("nope", "fc", None): "there is no node 'nope'",
        ("flat", "nope", None): "there is no node 'nope'",
        ("flat", "fc", "y"): "linear has no input port 'y' (its inputs: x)",
        ("flat.bogus", "fc", None): "'flat' (flatten) has no output port 'bogus' (its outputs: out)",
        ("out", "fc", None): "'out' is an output node and has no outputs",
        ("flat", "image", None): "'image' is an input node and takes no inputs",
        ("image", "conv", "x"): "input 'x' of 'conv' is already connected to 'image'",
        ("conv", "conv", "x"): "already connected",
        ("fc", "fc", None): "cannot take its own output",
        ("tokens", "fc", None): "linear takes float values, but 'tokens' gives integer token ids",
        ("flat", "embed", None): "input 'x' of embedding takes integer token ids, but 'flat' gives float values",
    }
    for (source, target, port), reason in refusals.items():
        verdict = wiring.can_connect(source, target, port)
        assert not verdict.ok and reason in verdict.reason, (source, target, verdict)
    assert wiring.can_connect("tokens", "fc").hint == "add an embedding block between them"
    assert wiring.undo_stack.count() == 0


def test_connect_refuses_a_cycle_and_names_the_path(wiring):
    verdict = wiring.can_connect("c", "a")
    assert not verdict
    assert verdict.reason == "the wire would make a cycle: c -> a -> b -> c"
    assert not wiring.connect("c", "a")
    assert wiring.undo_stack.count() == 0


def test_connect_refuses_shapes_with_the_shape_rule_message(wiring):
    verdict = wiring.can_connect("flat", "fc", "x")
    assert not verdict
    assert verdict.reason.startswith("linear expects 400 input features but receives 256")
    # a second add input of another shape
    assert wiring.connect("flat", "sum")  # one input so far: incomplete, not refused
    verdict = wiring.can_connect("conv", "sum")
    assert not verdict and "add expects all inputs to have the same shape" in verdict.reason
    assert wiring.can_connect("flat", "sum")


def test_connect_sets_the_input_and_variadic_ports_append(wiring):
    recorder = Recorder(wiring)
    check_undo_redo(wiring, lambda: wiring.connect("tokens", "embed"))
    assert wiring.graph.nodes["embed"].inputs == ["tokens"]
    assert recorder.of("nodeChanged") == [("embed",)] * 3
    check_undo_redo(wiring, lambda: wiring.connect("flat", "sum", "x"))
    check_undo_redo(wiring, lambda: wiring.connect("flat", "sum", "x"))
    check_undo_redo(wiring, lambda: wiring.connect("flat", "a"))
    assert wiring.graph.nodes["sum"].inputs == ["flat", "flat"]
    assert wiring.graph.nodes["a"].inputs == ["flat", "flat"]
    assert not any(p.node == "sum" for p in wiring.analysis.errors)
    wiring.set_param("fc", "in_features", 256)
    check_undo_redo(wiring, lambda: wiring.connect("flat", "fc"))
    assert wiring.analysis.nodes["fc"].shape == (10,)


def test_disconnect_and_reconnect_a_named_port(seq2seq):
    original = snapshot(seq2seq.graph)
    check_undo_redo(seq2seq, lambda: seq2seq.disconnect("decoder", "state"))
    assert seq2seq.graph.nodes["decoder"].inputs == {"x": "target_embed"}
    assert seq2seq.disconnect("decoder", "state") is False
    assert not seq2seq.can_connect("encoder", "decoder", "x")  # taken
    check_undo_redo(seq2seq, lambda: seq2seq.connect("encoder.hidden", "decoder", "state"))
    assert same(seq2seq.graph, original)
    # the first output is written as the bare id, the way graph files write it
    check_undo_redo(seq2seq, lambda: seq2seq.disconnect("attention", "key_value", "encoder.out"))
    assert seq2seq.graph.nodes["attention"].inputs == {"query": "decoder"}
    check_undo_redo(seq2seq, lambda: seq2seq.connect("encoder.out", "attention", "key_value"))
    assert same(seq2seq.graph, original)
    assert [(w.source, w.source_port, w.target_port, w.ref) for w in seq2seq.wires("decoder")] == [
        ("target_embed", "out", "x", "target_embed"), ("encoder", "hidden", "state", "encoder.hidden")]
    assert {w.target for w in seq2seq.wires_from("encoder")} == {"decoder", "attention"}


def test_disconnect_only_the_named_source_of_a_variadic_port(wiring):
    wiring.connect("flat", "sum")
    wiring.connect("b", "sum")
    check_undo_redo(wiring, lambda: wiring.disconnect("sum", "x", "flat"))
    assert wiring.graph.nodes["sum"].inputs == ["b"]
    assert wiring.disconnect("sum", "x", "flat") is False


def test_disconnect_inputs_that_do_not_fit_the_ports(qapp):
    document = GraphDocument(parse_graph(WIRING + "  two: {block: relu, inputs: [flat, conv]}\n"))
    assert document.bound_inputs("two") is None
    assert [(w.source, w.target_port) for w in document.wires("two")] == [("flat", None), ("conv", None)]
    assert document.disconnect("two", "x") is False
    check_undo_redo(document, lambda: document.disconnect("two", source_ref="conv"))
    assert document.graph.nodes["two"].inputs == ["flat"]


def test_connecting_an_optional_port_alone_uses_a_mapping(qapp):
    document = GraphDocument(parse_graph(WIRING + "  rnn: {block: gru, params: {hidden_size: 8}}\n"))
    document.connect("c", "rnn", "state")
    assert document.graph.nodes["rnn"].inputs == {"state": "c"}


# ------------------------------------------------------------------ positions
def test_moves_of_the_same_nodes_merge_into_one_step(lenet):
    lenet.ensure_layout()
    recorder = Recorder(lenet)
    start = snapshot(lenet.graph)
    for x in (10, 20, 30):
        lenet.move_nodes({"conv1": (x, 500), "act1": (x, 600)})
    assert lenet.undo_stack.count() == 1 and lenet.position("conv1") == (30, 500)
    assert recorder.of("nodeMoved")[:2] == [("conv1",), ("act1",)]
    lenet.move_nodes({"conv1": (0, 0)})  # another set of nodes: another step
    assert lenet.undo_stack.count() == 2
    lenet.undo_stack.undo()
    lenet.undo_stack.undo()
    assert same(lenet.graph, start)
    # a drag that comes back where it started is no step at all
    lenet.move_nodes({"pool1": (1, 1)})
    lenet.move_nodes({"pool1": start.layout["pool1"]})
    assert lenet.undo_stack.count() == 0 and not lenet.is_modified


def test_move_without_a_layout_undoes_to_no_layout(wiring):
    check_undo_redo(wiring, lambda: wiring.move_nodes({"fc": (3, 4)}))
    wiring.undo_stack.undo()
    assert wiring.graph.layout is None


def test_apply_and_auto_layout_are_one_step(lenet):
    before = snapshot(lenet.graph)
    lenet.auto_layout()
    assert lenet.undo_stack.count() == 1
    assert set(lenet.graph.layout) == set(lenet.graph.nodes)
    lenet.undo_stack.undo()
    assert same(lenet.graph, before) and lenet.graph.layout is None
    check_undo_redo(lenet, lambda: lenet.apply_layout({"conv1": (5, 5), "act1": (5, 105)}))


def test_ensure_layout_places_nodes_without_making_the_document_modified(lenet):
    recorder = Recorder(lenet)
    assert lenet.position("conv1") is None
    assert len(lenet.ensure_layout()) == len(lenet.graph.nodes)
    assert not lenet.is_modified and lenet.undo_stack.count() == 0
    assert len(recorder.of("nodeMoved")) == len(lenet.graph.nodes)
    assert lenet.ensure_layout() == []


def overlaps(a: tuple, b: tuple) -> bool:
    return abs(a[0] - b[0]) < NODE_WIDTH and abs(a[1] - b[1]) < NODE_HEIGHT


def check_layout(graph: Graph) -> None:
    layout = graph.layout
    assert set(layout) == set(graph.nodes)
    boxes = sorted((tuple(p), node_id) for node_id, p in layout.items())
    for i, (a, a_id) in enumerate(boxes):
        for b, b_id in boxes[i + 1:]:
            if b[0] - a[0] >= NODE_WIDTH:
                break
            assert not overlaps(a, b), (a_id, b_id)
    for node in graph.nodes.values():
        for ref in node.references():
            assert layout[ref.node][1] < layout[node.id][1], f"{ref.node} -> {node.id} does not go down"


@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.stem)
def test_auto_layout_of_gallery_graphs_has_no_overlaps_and_wires_go_down(qapp, path):
    document = GraphDocument.open(path)
    document.auto_layout()
    check_layout(document.graph)


def synthetic_graph(size: int) -> Graph:
    """A deep, branchy graph: a chain with skip connections and side branches."""
    graph = Graph()
    graph.add(Node("x", "input", {"shape": [8]}))
    previous = "x"
    for i in range(1, size):
        node_id = f"n{i}"
        if i % 7 == 0 and i > 10:
            graph.add(Node(node_id, "add", inputs=[previous, f"n{i - 9}"]))
        elif i % 5 == 0:
            graph.add(Node(node_id, "relu", inputs=[f"n{max(1, i - 3)}"]))
            continue  # a side branch the chain does not continue from
        else:
            graph.add(Node(node_id, "relu", inputs=[previous]))
        previous = node_id
    return graph


def test_auto_layout_of_500_nodes_is_fast(qapp):
    graph = synthetic_graph(500)
    started = time.perf_counter()
    sources = {n.id: [r.node for r in n.references()] for n in graph.nodes.values()}
    positions = layered_layout(list(graph.nodes), sources)
    elapsed = time.perf_counter() - started
    graph.layout = {k: list(v) for k, v in positions.items()}
    check_layout(graph)
    assert elapsed < 0.5, f"{elapsed:.2f} s"
    document = GraphDocument(graph)
    started = time.perf_counter()
    document.auto_layout()
    assert time.perf_counter() - started < 1.0


# ------------------------------------------------------------------ clipboard
def test_copy_paste_keeps_internal_wires_with_fresh_ids(lenet):
    lenet.ensure_layout()
    text = copy_nodes(lenet, ["act2", "conv2", "pool2"])
    assert has_nodes(text) and not has_nodes("just words") and not has_nodes("nodes: [")
    before = snapshot(lenet.graph)
    seen = []

    def on_added(node_id: str) -> None:  # the graph is complete when a signal arrives
        seen.append(node_id)
        assert all(r.node in lenet.graph.nodes for r in lenet.graph.nodes[node_id].references())
        assert lenet.position(node_id) is not None

    lenet.nodeAdded.connect(on_added)
    new = paste_nodes(lenet, text, (600, 40))
    assert seen == new
    assert new == ["conv2_1", "act2_1", "pool2_1"]
    nodes = lenet.graph.nodes
    assert nodes["conv2_1"].inputs == []  # its source pool1 was not copied
    assert nodes["act2_1"].inputs == ["conv2_1"] and nodes["pool2_1"].inputs == ["act2_1"]
    assert nodes["conv2_1"].params == nodes["conv2"].params
    assert [lenet.position(i) for i in new] == [(600, 40), (600, 170), (600, 300)]
    assert lenet.undo_stack.count() == 1
    lenet.undo_stack.undo()
    assert same(lenet.graph, before)


def test_paste_into_another_document_keeps_ids_and_drops_outside_wires(seq2seq, qapp):
    text = copy_nodes(seq2seq, ["encoder", "decoder", "attention"])
    other = GraphDocument()
    assert paste_nodes(other, text) == ["encoder", "decoder", "attention"]
    assert other.graph.nodes["decoder"].inputs == {"state": "encoder.hidden"}
    assert other.graph.nodes["attention"].inputs == {"query": "decoder", "key_value": "encoder"}
    # again into the same document: everything renamed, wires re-pointed
    assert paste_nodes(other, text) == ["encoder_1", "decoder_1", "attention_1"]
    assert other.graph.nodes["attention_1"].inputs == {"query": "decoder_1", "key_value": "encoder_1"}


def test_paste_a_graph_file_without_layout(lenet):
    text = (ROOT / "graphs" / "lstm_classifier.yaml").read_text()
    new = paste_nodes(lenet, text, (1000, 0))
    assert len(new) == 5 and "tokens" in new and "logits_1" in new
    assert lenet.graph.nodes["head"].inputs == ["lstm"]
    assert all(lenet.position(i) is not None for i in new)
    assert lenet.position("tokens") == (1000, 0)


def test_duplicate_offsets_the_copies(lenet):
    lenet.ensure_layout()
    x, y = lenet.position("fc1")
    check_undo_redo(lenet, lambda: duplicate(lenet, ["fc1", "act3"]))
    assert lenet.graph.nodes["act3_1"].inputs == ["fc1_1"]
    assert lenet.position("fc1_1") == (x + 40, y + 40)
    assert lenet.undo_stack.undoText() == "Duplicate 2 nodes"


# ------------------------------------------------------------------ files
def test_save_then_load_gives_the_same_graph_and_keeps_comments(lenet, tmp_path):
    recorder = Recorder(lenet)
    lenet.set_param("fc1", "out_features", 100)
    lenet.rename_node("fc2", "hidden")
    lenet.ensure_layout()
    assert lenet.is_modified
    target = lenet.save(tmp_path / "lenet.yaml")
    assert not lenet.is_modified
    assert recorder.of("modifiedChanged") == [(True,), (False,)]
    assert recorder.of("pathChanged") == [(str(target),)] and lenet.path == str(target)
    assert load_graph(target) == lenet.graph
    text = target.read_text()
    assert "# LeNet-5 (LeCun" in text and "# classifier: 400 -> 120 -> 84 -> 10" in text
    lenet.undo_stack.undo()
    assert lenet.is_modified
    lenet.save()
    assert recorder.of("pathChanged") == [(str(target),)]
    assert load_graph(target) == lenet.graph


def test_saving_a_new_graph_needs_a_path(qapp, tmp_path):
    document = GraphDocument()
    document.add_node("input", {"shape": [4]})
    with pytest.raises(ValueError):
        document.save()
    document.save(tmp_path / "new.yaml")
    assert load_graph(tmp_path / "new.yaml") == document.graph
    assert document.display_name == "new.yaml"
