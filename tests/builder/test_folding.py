"""Folding repeated structure: runs of identical copies are found in flat graphs (ResNet-18/50
expanded to primitive blocks, DenseNet-121, a hand-written chain), folded into composites,
and the folded graph computes the same function as the flat one; where parameters differ
nothing is folded; ``modelbuilder fold`` lists, writes and proves, with clear errors."""

from __future__ import annotations

import pytest
import torch

from builder import analyze, compile_graph, dump_graph, load_graph, parse_graph
from builder.cli import main
from builder.folding import TOLERANCE, check_fold, fold, fold_all
from builder.graph import Graph, Node
from builder.repeats import find_repeats
from tests.builder.flat_nets import chain, densenet121, flatten, with_input_shape
from tests.conftest import ROOT

CHAIN = """\
# six hand-written layers of the same width
format: 1
name: chain
nodes:
  x:
    block: input
    params: {shape: [8]}
  fc1: {block: linear, params: {out_features: 16}, inputs: [x]}
  act1: {block: relu, inputs: [fc1]}
  fc2: {block: linear, params: {out_features: 16}, inputs: [act1]}
  act2: {block: relu, inputs: [fc2]}
  fc3: {block: linear, params: {out_features: 16}, inputs: [act2]}
  act3: {block: relu, inputs: [fc3]}
  fc4: {block: linear, params: {out_features: 16}, inputs: [act3]}
  act4: {block: relu, inputs: [fc4]}
  fc5: {block: linear, params: {out_features: 16}, inputs: [act4]}
  act5: {block: relu, inputs: [fc5]}
  fc6: {block: linear, params: {out_features: 16}, inputs: [act5]}
  act6: {block: relu, inputs: [fc6]}
  # the classifier stays as written
  head: {block: linear, params: {out_features: 3}, inputs: [act6]}
  y: {block: output, inputs: [head]}
layout: {fc1: [0, 40], head: [0, 600]}
"""


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small forward passes of many differently shaped layers: one thread is several times
    faster than two fighting over a busy machine's cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def flat(name: str, shape=(3, 64, 64)) -> Graph:
    return with_input_shape(flatten(load_graph(ROOT / f"graphs/{name}.yaml")), list(shape))


def folded_and_checked(graph: Graph, tmp_path, repeats=None):
    graph.path = str(tmp_path / "flat.yaml")
    repeats = find_repeats(graph) if repeats is None else repeats
    result = fold_all(graph, repeats, tmp_path / "parts", graph_path=tmp_path / "folded.yaml")
    assert result.analyze().ok, result.analyze().errors
    assert check_fold(graph, result) <= TOLERANCE
    assert len(result.graph.nodes) == len(graph.nodes) - sum(r.count * (r.size - 1) for r in repeats)
    return result


def starts(repeats):
    return [[copy[0] for copy in r.copies] for r in repeats]


# ------------------------------------------------------------------ the networks of the issue
def test_resnet18_folds_the_blocks_of_stage_1(tmp_path):
    graph = flat("resnet18")
    repeats = find_repeats(graph)
    # stages 2-4 start with a strided block with a projection: each has one block like the next
    assert starts(repeats) == [["layer1_0_conv1", "layer1_1_conv1"]]
    assert repeats[0].blocks == ["conv2d", "batch_norm2d", "relu", "conv2d", "batch_norm2d", "add", "relu"]
    result = folded_and_checked(graph, tmp_path, repeats)
    assert (len(graph.nodes), len(result.graph.nodes)) == (70, 58)
    assert result.composites == ["layer1_0", "layer1_1"]
    assert result.mapping["layer1_1_conv2"] == ("layer1_1", "conv2")


def test_resnet50_folds_blocks_2_to_n_of_every_stage(tmp_path):
    graph = flat("resnet50")
    repeats = find_repeats(graph)
    assert [r.count for r in repeats] == [2, 3, 5, 2] and {r.size for r in repeats} == {10}
    assert starts(repeats)[2][0] == "layer3_1_conv1"
    assert not any(n.startswith(f"layer{s}_0_") for r in repeats for n in r.nodes for s in range(1, 5))
    result = folded_and_checked(graph, tmp_path, repeats)
    assert (len(graph.nodes), len(result.graph.nodes)) == (176, 68)
    assert sorted(p.name for p in result.parts) == [f"resnet50_layer{s}.yaml" for s in range(1, 5)]


def test_densenet121_dense_layers_share_one_part(tmp_path):
    graph = densenet121((3, 32, 32))
    assert analyze(graph).total.params == 7_978_856  # torchvision's densenet121
    repeats = find_repeats(graph)
    assert [r.count for r in repeats] == [6, 12, 24, 16] and {r.size for r in repeats} == {7}
    result = folded_and_checked(graph, tmp_path, repeats)
    assert (len(graph.nodes), len(result.graph.nodes)) == (428, 80)
    assert [p.name for p in result.parts] == ["densenet121_denseblock.yaml"]  # one layer, at growing widths


def test_dense_block_that_concatenates_every_earlier_output_is_not_offered():
    graph = Graph(name="dense")
    graph.add(Node("x", "input", {"shape": [4, 8, 8]}))
    features = ["x"]
    for i in range(1, 5):
        joined = features[0] if len(features) == 1 else graph.add(Node(f"cat{i}", "concat", {}, list(features))).id
        graph.add(Node(f"bn{i}", "batch_norm2d", {}, [joined]))
        graph.add(Node(f"relu{i}", "relu", {}, [f"bn{i}"]))
        graph.add(Node(f"conv{i}", "conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, [f"relu{i}"]))
        features.append(f"conv{i}")
    graph.add(Node("all", "concat", {}, list(features)))
    graph.add(Node("y", "output", {}, ["all"]))
    # every earlier output is waited for until the end: no copy has a single entry
    assert find_repeats(graph) == []


def test_hand_written_chain_folds_and_keeps_comments_and_layout(tmp_path):
    graph = parse_graph(CHAIN, str(tmp_path / "chain.yaml"))
    repeats = find_repeats(graph)
    assert starts(repeats) == [[f"fc{i}" for i in range(1, 7)]]  # copies start at the layer, not the relu
    result = folded_and_checked(graph, tmp_path, repeats)
    assert list(result.graph.nodes) == ["x", "fc1", "fc2", "fc3", "fc4", "fc5", "fc6", "head", "y"]
    assert result.graph.nodes["fc2"].inputs == ["fc1"] and result.graph.nodes["head"].inputs == ["fc6"]
    assert result.graph.layout == {"fc1": [0, 40], "head": [0, 600]}
    text = dump_graph(result.graph)
    assert "# the classifier stays as written" in text and "graph: parts/chain_linear_relu.yaml" in text


def test_counterparts_follow_the_wiring_not_the_file_order(tmp_path):
    graph = Graph(name="pairs")
    graph.add(Node("x", "input", {"shape": [6]}))
    last = "x"
    for i in range(1, 4):
        left, right = (f"a{i}", f"b{i}") if i != 2 else (f"b{i}", f"a{i}")  # copy 2 written the other way round
        graph.add(Node(left, "linear", {"out_features": 6}, [last]))
        graph.add(Node(right, "linear", {"out_features": 6}, [last]))
        graph.add(Node(f"m{i}", "multiply", {}, [f"a{i}", f"b{i}"]))
        graph.add(Node(f"s{i}", "sigmoid", {}, [f"m{i}"]))
        graph.add(Node(f"add{i}", "add", {}, [f"s{i}", f"a{i}"]))
        last = f"add{i}"
    graph.add(Node("y", "output", {}, [last]))
    repeats = find_repeats(graph)
    assert [r.count for r in repeats] == [3]
    assert repeats[0].counterparts[1]["a2"] == "a1"  # the one feeding add, wherever it is written
    folded_and_checked(graph, tmp_path, repeats)


def test_gallery_resnet_blocks_fold_one_node_per_copy(tmp_path):
    graph = with_input_shape(load_graph(ROOT / "graphs/resnet18.yaml"), [3, 64, 64])
    assert find_repeats(graph) == []  # a residual node is one node: nothing to fold at the default size
    repeats = find_repeats(graph, min_size=1)
    assert starts(repeats) == [["layer1_0", "layer1_1"]]
    folded_and_checked(graph, tmp_path, repeats)


# ------------------------------------------------------------------ into repeated nodes (`repeat: N`)
def test_runs_fold_into_one_repeated_node_each(tmp_path):
    graph = densenet121((3, 32, 32))
    graph.path = str(tmp_path / "flat.yaml")
    result = fold_all(graph, find_repeats(graph), tmp_path / "parts", graph_path=tmp_path / "folded.yaml",
                      repeat=True)
    assert result.composites == [f"denseblock{b}" for b in range(1, 5)]
    assert [result.graph.nodes[n].repeat for n in result.composites] == [6, 12, 24, 16]
    assert len(result.graph.nodes) == 428 - 58 * 7 + 4
    assert result.mapping["denseblock2_denselayer3_conv1"] == ("denseblock2.2", "conv1")
    assert check_fold(graph, result) <= TOLERANCE


def test_a_run_of_one_block_folds_into_that_block_repeated(tmp_path):
    graph = with_input_shape(load_graph(ROOT / "graphs/resnet50.yaml"), [3, 64, 64])
    graph.path = str(tmp_path / "r50.yaml")
    result = fold_all(graph, find_repeats(graph, min_size=1), tmp_path / "parts", repeat=True)
    assert result.parts == {}  # no part file: the residual block itself is repeated
    assert {n: (result.graph.nodes[n].block, result.graph.nodes[n].repeat) for n in result.composites} == {
        "layer1": ("residual", 3), "layer2": ("residual", 3), "layer3": ("residual", 5), "layer4": ("residual", 2)}
    assert check_fold(graph, result) <= TOLERANCE


# ------------------------------------------------------------------ parameters that differ
def test_no_fold_where_parameters_differ():
    graph = chain(6)
    graph.nodes["fc3"].params["out_features"] = 17
    repeats = find_repeats(graph)
    assert starts(repeats) == [["fc1", "fc2"], ["fc4", "fc5", "fc6"]]
    assert "fc3" not in {n for r in repeats for n in r.nodes}
    graph.nodes["fc5"].params["bias"] = False
    assert starts(find_repeats(graph)) == [["fc1", "fc2"]]


def test_changed_block_splits_the_resnet50_stage(tmp_path):
    graph = flat("resnet50")
    graph.nodes["layer3_3_conv2"].params["bias"] = True
    repeats = find_repeats(graph)
    assert [r.count for r in repeats] == [2, 3, 2, 2, 2]
    assert not any(n.startswith("layer3_3_") for r in repeats for n in r.nodes)


def test_exposed_nodes_end_runs():
    graph = chain(6)
    graph.expose = {"width": "fc3.out_features"}  # a part file's public parameter: keep fc3 a node
    assert starts(find_repeats(graph)) == [["fc1", "fc2"], ["fc4", "fc5", "fc6"]]


def test_defaults_written_or_not_are_the_same_parameters():
    graph = chain(4)
    graph.nodes["fc2"].params["bias"] = True  # the default, spelled out
    assert [r.count for r in find_repeats(graph)] == [4]


def test_one_repeat_into_a_named_part(tmp_path):
    graph = chain(4)
    graph.path = str(tmp_path / "chain.yaml")
    repeat = find_repeats(graph)[0]
    result = fold(graph, repeat, tmp_path / "blocks" / "layer.yaml")
    assert result.graph.nodes["fc1"].graph == "blocks/layer.yaml"
    part = result.parts[tmp_path / "blocks" / "layer.yaml"]
    assert list(part.nodes) == ["x", "fc1", "act1", "y"] and part.nodes["x"].params == {"shape": [8]}
    assert check_fold(graph, result) <= TOLERANCE
    written = result.write()
    assert analyze(load_graph(written[0])).ok and analyze(load_graph(written[-1])).ok
    compile_graph(load_graph(written[-1]))


# ------------------------------------------------------------------ the command line
@pytest.fixture
def chain_file(tmp_path):
    path = tmp_path / "chain.yaml"
    path.write_text(CHAIN)
    return path


def test_cli_lists_repeats(chain_file, capsys):
    assert main(["fold", str(chain_file)]) == 0
    out = capsys.readouterr().out
    assert "1 run of repeated structure" in out and "15 nodes to 4" in out
    assert "6 copies x 2 nodes, fc1 .. act6" in out and "blocks: linear relu" in out
    assert not (chain_file.parent / "parts").exists()  # listing writes nothing


def test_cli_writes_folded_graph_and_part_that_check(chain_file, capsys):
    out = chain_file.parent / "out" / "folded.yaml"
    assert main(["fold", str(chain_file), "--write", str(out)]) == 0
    text = capsys.readouterr().out
    assert "same function: max |difference| 0" in text and "15 nodes -> 4" in text
    part = out.parent / "parts" / "chain_linear_relu.yaml"
    assert part.is_file() and load_graph(part).nodes["fc1"].block == "linear"
    folded = load_graph(out)
    assert list(folded.nodes) == ["x", "linear_relu", "head", "y"] and folded.nodes["linear_relu"].repeat == 6
    assert main(["check", "-q", str(out)]) == 0
    assert main(["fold", str(chain_file), "--write", str(out)]) == 0  # again: the same part is reused
    assert sorted(p.name for p in part.parent.iterdir()) == ["chain_linear_relu.yaml"]


def test_cli_only_parts_folder_and_each(tmp_path, capsys):
    graph = chain(3)
    graph.nodes["fc3"].params["out_features"] = 17
    graph.add(Node("more1", "linear", {"out_features": 5}, ["act3"]))
    graph.nodes["head"].inputs = ["more1"]
    path = tmp_path / "two.yaml"
    path.write_text(dump_graph(graph))
    assert main(["fold", str(path), "--only", "1", "--write", str(tmp_path / "f.yaml"),
                 "--parts", str(tmp_path / "p"), "--each"]) == 0
    assert (tmp_path / "p" / "chain_linear_relu.yaml").is_file()
    assert [n.id for n in load_graph(tmp_path / "f.yaml").nodes.values() if n.graph] == ["fc1", "fc2"]


@pytest.mark.parametrize("args, text, code", [
    (["--min-count", "1"], "--min-count at least 2", 2),
    (["--write", "out.txt"], "written as a .yaml file", 2),
    (["--only", "7", "--write", "o.yaml"], "'7' is not a run number from 1 to 1", 2),
])
def test_cli_bad_options(chain_file, capsys, args, text, code):
    assert main(["fold", str(chain_file), *args]) == code
    assert text in capsys.readouterr().err


def test_cli_errors_are_messages(tmp_path, capsys):
    assert main(["fold", str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert "cannot read" in err and "missing.yaml" in err and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: 1\nnodes:\n  x: {block: input, params: {shape: [4]}}\n  y: {block: nope, inputs: [x]}\n")
    assert main(["fold", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "does not check" in err and "nope" in err and "Traceback" not in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("format: 1\nnodes: [\n")
    assert main(["fold", str(broken)]) == 1
    assert "broken.yaml" in capsys.readouterr().err


def test_cli_nothing_to_fold(capsys, tmp_path):
    lenet = str(ROOT / "graphs/lenet5.yaml")
    assert main(["fold", lenet]) == 0
    assert "no repeated structure found" in capsys.readouterr().out
    assert main(["fold", lenet, "--write", str(tmp_path / "x.yaml")]) == 1
    assert not (tmp_path / "x.yaml").exists()


def test_cli_parts_outside_the_project_are_refused(chain_file, capsys, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (chain_file.parent / ".git").mkdir()  # the project is chain_file's folder
    assert main(["fold", str(chain_file), "--write", str(chain_file.parent / "f.yaml"),
                 "--parts", str(elsewhere)]) == 1
    err = capsys.readouterr().err
    assert "outside the project folder" in err and "nothing was written" in err
    assert not (chain_file.parent / "f.yaml").exists() and not list(elsewhere.iterdir())


def test_docs_describe_folding():
    text = (ROOT / "docs/format.md").read_text()
    assert "## Folding repeated structure" in text and "modelbuilder fold" in text
    assert text.count("## Folding repeated structure") == 1
