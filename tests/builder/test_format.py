"""The graph file format: versioned, round-trips exactly, keeps comments, saves atomically,
and upgrades older formats on load."""

from __future__ import annotations

import difflib
import keyword
import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import builder.graph
import builder.upgrade
import builder.yaml_format
import builder.yaml_writer
from builder import FORMAT_VERSION, Graph, GraphError, Node, dump_graph, load_graph, parse_graph, save_graph
from builder.graph import RESERVED_IDS, id_problem
from tests.conftest import GALLERY

HAND_WRITTEN = """\
# A small CNN, written by hand.
format: 1
name: small_cnn
description: Two convolutions.

nodes:
  # the image
  image:
    block: input
    params: {shape: [3, 16, 16]}

  conv1:
    block: conv2d   # first layer
    params:
      out_channels: 8   # width of the first layer
      kernel_size: 3
      padding: 1
    inputs: [image]

  # a second layer, narrower
  conv2:
    block: conv2d
    params:
      out_channels: 4
      kernel_size: [3, 3]
    inputs: [conv1]

  logits:
    block: output
    inputs: [conv2]

training:
  epochs: 2   # quick
  optimizer:
    name: sgd
    lr: 0.1
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def changed_lines(before: str, after: str) -> list[str]:
    """The lines removed and added between two texts, as difflib shows them."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def comment_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "#" in line]


# ------------------------------------------------------------------ generated graphs
def valid_id(text: str) -> bool:
    return id_problem(text) is None


IDS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True).filter(valid_id)
# Text as people write it (any printable character, including YAML's special ones).
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
KEYS = st.one_of(IDS, TEXT.filter(bool))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=False, allow_infinity=False), TEXT,
)
NESTED = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)
COORD = st.one_of(st.integers(-5000, 5000), st.floats(-1e6, 1e6, allow_nan=False))


@st.composite
def conv_params(draw) -> dict:
    params = {"out_channels": draw(st.integers(1, 512)),
              "kernel_size": draw(st.one_of(st.integers(1, 7), st.lists(st.integers(1, 7), min_size=2, max_size=2)))}
    if draw(st.booleans()):
        params["stride"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        params["padding"] = draw(st.one_of(st.integers(0, 3), st.sampled_from(["same", "valid"]),
                                           st.lists(st.integers(0, 3), min_size=2, max_size=2)))
    if draw(st.booleans()):
        params["bias"] = draw(st.booleans())
    return params


@st.composite
def graphs(draw) -> Graph:
    """Random DAGs: input nodes, conv2d nodes each fed by earlier nodes, output nodes."""
    ids = draw(st.lists(IDS, min_size=3, max_size=10, unique=True))
    n_inputs = draw(st.integers(1, min(2, len(ids) - 2)))
    n_outputs = draw(st.integers(1, min(2, len(ids) - n_inputs)))
    inner = ids[n_inputs:len(ids) - n_outputs]
    graph = Graph(name=draw(st.one_of(IDS, TEXT)))
    if draw(st.booleans()):
        graph.description = draw(TEXT)
    for node_id in ids[:n_inputs]:
        shape = draw(st.lists(st.integers(1, 64), min_size=1, max_size=3))
        params = {"shape": shape}
        if draw(st.booleans()):
            params["dtype"] = draw(st.sampled_from(["float32", "int64"]))
        graph.add(Node(node_id, "input", params))
    for node_id in inner:
        sources = list(graph.nodes)
        kind = draw(st.sampled_from(["conv2d", "conv1d", "conv_transpose2d"]))
        source = draw(st.sampled_from(sources))
        inputs = draw(st.sampled_from([[source], {"x": source}]))
        graph.add(Node(node_id, kind, draw(conv_params()), inputs))
    producers = list(graph.nodes)
    for node_id in ids[len(ids) - n_outputs:]:
        graph.add(Node(node_id, "output", {}, [draw(st.sampled_from(producers))]))
    if draw(st.booleans()):
        graph.training = draw(st.dictionaries(KEYS, NESTED, min_size=1, max_size=5))
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(ids), unique=True, min_size=1))
        graph.layout = {node_id: [draw(COORD), draw(COORD)] for node_id in chosen}
    return graph


PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(graphs())
def test_generated_graphs_round_trip(graph):
    text = dump_graph(graph)
    loaded = parse_graph(text)
    assert loaded == graph, text
    # a freshly written file is in canonical style: saving it again gives the same bytes
    assert dump_graph(loaded) == text
    assert text.startswith(f"format: {FORMAT_VERSION}\n")


@PROPERTY
@given(graphs(), st.data())
def test_generated_graphs_survive_edits(graph, data):
    """Load, edit in the ways the editor does, save: what loads back is what was edited."""
    loaded = parse_graph(dump_graph(graph))
    conv_ids = [n.id for n in loaded.nodes.values() if n.block not in ("input", "output")]
    edit = data.draw(st.sampled_from(["param", "add", "delete", "inputs", "layout", "training", "description"]))
    if edit == "param" and conv_ids:
        loaded.nodes[data.draw(st.sampled_from(conv_ids))].params["out_channels"] = data.draw(st.integers(1, 99))
    elif edit == "add":
        new_id = data.draw(IDS.filter(lambda i: i not in loaded.nodes))
        loaded.add(Node(new_id, "conv2d", data.draw(conv_params()), [next(iter(loaded.nodes))]))
    elif edit == "delete" and conv_ids:
        del loaded.nodes[data.draw(st.sampled_from(conv_ids))]
    elif edit == "inputs" and conv_ids:
        loaded.nodes[conv_ids[-1]].inputs = [next(iter(loaded.nodes))]
    elif edit == "layout":
        loaded.layout = {node_id: [data.draw(COORD), data.draw(COORD)] for node_id in loaded.nodes}
    elif edit == "training":
        loaded.training = data.draw(st.dictionaries(KEYS, NESTED, min_size=1, max_size=3))
    elif edit == "description":
        loaded.description = data.draw(TEXT)
    text = dump_graph(loaded)
    again = parse_graph(text)
    assert again == loaded, text
    assert dump_graph(again) == text


def test_generated_graph_saves_and_loads_from_disk(tmp_path):
    graph = Graph(name="disk", description="saved by the test", training={"epochs": 1, "lr": 0.5},
                  layout={"x": [0, 0], "c": [120.5, -3]})
    graph.add(Node("x", "input", {"shape": [3, 8, 8]}))
    graph.add(Node("c", "conv2d", {"out_channels": 4, "kernel_size": 3}, ["x"]))
    graph.add(Node("y", "output", {}, ["c"]))
    path = save_graph(graph, tmp_path / "disk.yaml")
    assert graph.path == str(path)
    loaded = load_graph(path)
    assert loaded == graph
    assert loaded.path == str(path)


@pytest.mark.parametrize("value", [
    2.2441512217299184e-102, 8.362209798600736e-175, 1 / 30000, 5e-324, 1e16, 0.1, -0.0, float("inf"),
])
def test_floats_survive_two_round_trips_exactly(value):
    graph = Graph(training={"lr": value, "list": [value, 1.5]}, layout={"x": [value, 0.25]})
    graph.add(Node("x", "input", {"shape": [1]}))
    graph.add(Node("y", "output", {}, ["x"]))
    text = dump_graph(graph)
    again = parse_graph(text)
    assert again == graph
    assert dump_graph(again) == text
    assert dump_graph(parse_graph(dump_graph(again))) == text


@pytest.mark.parametrize("written", ["1e-3", "1.0e-3", "5E-4", "0.50", "1.", ".5", "3.0e+10", "1.23456789012345678901e-5",
                                     "-.inf", ".nan", "2.2441512217299184e-102"])
def test_hand_written_floats_keep_their_spelling(written):
    text = HAND_WRITTEN.replace("lr: 0.1", f"lr: {written}")
    assert dump_graph(parse_graph(text)) == text


@pytest.mark.parametrize("text", ["?0", "? a", ": a", ":x", "a\x85b", "line\u2028sep", "#", "- a", "yes", "null", "1",
                                  "'quoted'", '"dq"', "a: b", "[x]", "{y}", "&anchor", "*alias", "!tag", "%", "@", "`"])
def test_awkward_text_round_trips_everywhere(text):
    graph = Graph(name=text, description=text, training={text: [text, {text: text}], "k": text})
    graph.add(Node("x", "input", {"shape": [1]}))
    graph.add(Node("y", "output", {}, ["x"]))
    dumped = dump_graph(graph)
    again = parse_graph(dumped)
    assert again == graph, dumped
    assert dump_graph(again) == dumped


def test_a_file_without_a_name_saves_without_one():
    text = HAND_WRITTEN.replace("name: small_cnn\n", "")
    graph = parse_graph(text)
    assert graph.name == "model"
    assert dump_graph(graph) == text
    graph.name = "named"
    assert "name: named\n" in dump_graph(graph)


def test_an_explicit_default_name_is_kept():
    text = HAND_WRITTEN.replace("name: small_cnn", "name: model")
    assert dump_graph(parse_graph(text)) == text


# ------------------------------------------------------------------ files on disk
def self_written(tmp_dir: Path) -> list[Path]:
    """Files the test writes itself, so the parametrized tests run even with no gallery."""
    return [write(tmp_dir / "hand_written.yaml", HAND_WRITTEN)]


@pytest.fixture(params=["hand_written"] + [p.stem for p in GALLERY])
def graph_file(request, tmp_path) -> Path:
    if request.param == "hand_written":
        return self_written(tmp_path)[0]
    return next(p for p in GALLERY if p.stem == request.param)


def test_file_saves_to_the_same_bytes(graph_file, tmp_path):
    original = graph_file.read_bytes()
    graph = load_graph(graph_file)
    out = save_graph(graph, tmp_path / "copy.yaml")
    assert out.read_bytes() == original


def test_file_load_save_load_is_equal(graph_file, tmp_path):
    graph = load_graph(graph_file)
    saved = save_graph(graph, tmp_path / "copy.yaml")
    assert load_graph(saved) == graph


def test_save_defaults_to_the_loaded_path(tmp_path):
    path = write(tmp_path / "g.yaml", HAND_WRITTEN)
    graph = load_graph(path)
    graph.nodes["conv2"].params["out_channels"] = 6
    assert save_graph(graph) == path
    assert load_graph(path).nodes["conv2"].params["out_channels"] == 6


def test_save_without_a_path_is_refused():
    graph = Graph()
    graph.add(Node("x", "input", {"shape": [1]}))
    with pytest.raises(ValueError, match="path"):
        save_graph(graph)


def test_format_version_is_written_first():
    graph = Graph(name="v")
    graph.add(Node("x", "input", {"shape": [4]}))
    graph.add(Node("y", "output", {}, ["x"]))
    assert dump_graph(graph).splitlines()[0] == f"format: {FORMAT_VERSION}"


def test_missing_format_key_means_the_current_format():
    graph = parse_graph("nodes:\n  x: {block: input, params: {shape: [2]}}\n  y: {block: output, inputs: [x]}\n")
    assert list(graph.nodes) == ["x", "y"]
    assert dump_graph(graph).startswith(f"format: {FORMAT_VERSION}\n")


# ------------------------------------------------------------------ comments and order
def test_changing_a_parameter_changes_only_its_line(tmp_path):
    path = write(tmp_path / "g.yaml", HAND_WRITTEN)
    graph = load_graph(path)
    graph.nodes["conv1"].params["out_channels"] = 16
    save_graph(graph)
    after = path.read_text(encoding="utf-8")
    assert comment_lines(after) == [line.replace("out_channels: 8 ", "out_channels: 16") if "out_channels: 8" in line
                                    else line for line in comment_lines(HAND_WRITTEN)]
    diff = changed_lines(HAND_WRITTEN, after)
    assert len(diff) == 2, diff
    assert diff[0].startswith("-      out_channels: 8") and diff[1].startswith("+      out_channels: 16")
    assert "# width of the first layer" in diff[1]
    # the blank lines between nodes and every key stay where they were
    assert len(after.splitlines()) == len(HAND_WRITTEN.splitlines())


def test_changing_a_nested_training_value_keeps_comments(tmp_path):
    path = write(tmp_path / "g.yaml", HAND_WRITTEN)
    graph = load_graph(path)
    graph.training["epochs"] = 5
    save_graph(graph)
    after = path.read_text(encoding="utf-8")
    assert load_graph(path).training == {"epochs": 5, "optimizer": {"name": "sgd", "lr": 0.1}}
    for line in comment_lines(HAND_WRITTEN):
        if "quick" not in line:
            assert line in after.splitlines()


def test_key_order_of_a_hand_written_node_is_kept(tmp_path):
    text = textwrap.dedent("""\
        format: 1
        nodes:
          x:
            params: {shape: [3, 8, 8]}
            block: input
          c:
            inputs: [x]   # inputs first, by taste
            params: {kernel_size: 3, out_channels: 2}
            block: conv2d
          y:
            inputs: [c]
            block: output
        """)
    path = write(tmp_path / "g.yaml", text)
    graph = load_graph(path)
    graph.nodes["c"].params["kernel_size"] = 5
    after = dump_graph(graph)
    diff = changed_lines(text, after)
    assert diff == ["-    params: {kernel_size: 3, out_channels: 2}", "+    params: {kernel_size: 5, out_channels: 2}"]


def test_adding_a_node_keeps_comments_and_loads_back(tmp_path):
    path = write(tmp_path / "g.yaml", HAND_WRITTEN)
    graph = load_graph(path)
    graph.add(Node("extra", "conv2d", {"out_channels": 2, "kernel_size": 1}, ["conv2"]))
    graph.nodes["logits"].inputs = ["extra"]
    save_graph(graph)
    after = path.read_text(encoding="utf-8")
    assert load_graph(path) == graph
    for line in comment_lines(HAND_WRITTEN):
        assert line in after.splitlines()
    assert "extra:" in after


def test_deleting_a_node_loads_back(tmp_path):
    path = write(tmp_path / "g.yaml", HAND_WRITTEN)
    graph = load_graph(path)
    del graph.nodes["conv2"]
    graph.nodes["logits"].inputs = ["conv1"]
    save_graph(graph)
    loaded = load_graph(path)
    assert loaded == graph
    assert list(loaded.nodes) == ["image", "conv1", "logits"]
    assert "  conv2:" not in path.read_text(encoding="utf-8")
    assert "# A small CNN, written by hand." in path.read_text(encoding="utf-8")


def test_renaming_a_node_loads_back(tmp_path):
    path = write(tmp_path / "g.yaml", HAND_WRITTEN)
    graph = load_graph(path)
    old = graph.nodes.pop("conv2")
    graph.add(Node("narrow", old.block, dict(old.params), list(old.inputs)))
    graph.nodes["logits"].inputs = ["narrow"]
    save_graph(graph)
    loaded = load_graph(path)
    assert loaded == graph
    assert "narrow" in loaded.nodes and "conv2" not in loaded.nodes


def test_changing_inputs_loads_back(tmp_path):
    path = write(tmp_path / "g.yaml", HAND_WRITTEN)
    graph = load_graph(path)
    graph.nodes["logits"].inputs = ["conv1"]
    graph.nodes["conv2"].inputs = {"x": "image"}
    save_graph(graph)
    assert load_graph(path) == graph


def test_adding_layout_and_training_sections_loads_back(tmp_path):
    text = HAND_WRITTEN.split("training:")[0]
    path = write(tmp_path / "g.yaml", text)
    graph = load_graph(path)
    assert graph.training is None and graph.layout is None
    graph.layout = {"image": [0, 0], "conv1": [150.0, 20.25], "conv2": [300, -40], "logits": [450, 1e-3]}
    graph.training = {"epochs": 3, "schedule": {"steps": [10, 20], "gamma": 0.5}, "tags": ["a", "b"], "amp": True}
    save_graph(graph)
    after = path.read_text(encoding="utf-8")
    loaded = load_graph(path)
    assert loaded == graph
    assert after.index("training:") < after.index("layout:")
    assert dump_graph(loaded) == after
    # removing them again gives back the original file
    loaded.layout = None
    loaded.training = None
    assert dump_graph(loaded) == text


def test_removing_the_description_drops_the_key(tmp_path):
    path = write(tmp_path / "g.yaml", HAND_WRITTEN)
    graph = load_graph(path)
    graph.description = ""
    after = dump_graph(graph)
    assert "description" not in after
    assert parse_graph(after) == graph


def test_mapping_inputs_round_trip(tmp_path):
    text = textwrap.dedent("""\
        format: 1
        nodes:
          dec:
            block: input
            params: {shape: [5, 8]}
          enc:
            block: input
            params: {shape: [7, 6]}
          attn:
            block: multi_head_attention
            params: {num_heads: 2}
            inputs: {query: dec, key_value: enc}
          y:
            block: output
            inputs: [attn.out]
          w:
            block: output
            inputs: [attn.weights]
        """)
    path = write(tmp_path / "g.yaml", text)
    graph = load_graph(path)
    assert graph.nodes["attn"].inputs == {"query": "dec", "key_value": "enc"}
    assert [str(r) for r in graph.nodes["attn"].references()] == ["dec", "enc"]
    assert dump_graph(graph) == text
    graph.nodes["attn"].inputs = {"query": "enc", "key_value": "dec"}
    again = parse_graph(dump_graph(graph))
    assert again == graph
    assert again.nodes["attn"].inputs == {"query": "enc", "key_value": "dec"}


def test_variadic_mapping_inputs_round_trip():
    graph = Graph(name="lists")
    graph.add(Node("a", "input", {"shape": [4]}))
    graph.add(Node("b", "input", {"shape": [4]}))
    graph.add(Node("s", "add", {}, {"x": ["a", "b"]}))
    graph.add(Node("y", "output", {}, ["s"]))
    assert parse_graph(dump_graph(graph)) == graph


def test_single_reference_inputs_are_read_as_a_list():
    graph = parse_graph("format: 1\nnodes:\n  x: {block: input, params: {shape: [2]}}\n  y: {block: output, inputs: x}\n")
    assert graph.nodes["y"].inputs == ["x"]


# ------------------------------------------------------------------ atomic save
def test_failed_save_leaves_the_original_file_and_no_temp_file(tmp_path, monkeypatch):
    path = write(tmp_path / "g.yaml", HAND_WRITTEN)
    graph = load_graph(path)
    graph.nodes["conv1"].params["out_channels"] = 99

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_graph(graph)
    assert path.read_text(encoding="utf-8") == HAND_WRITTEN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.yaml"]


def test_interrupted_save_leaves_no_temp_file(tmp_path, monkeypatch):
    path = write(tmp_path / "g.yaml", HAND_WRITTEN)
    graph = load_graph(path)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_graph(graph, path)
    assert path.read_text(encoding="utf-8") == HAND_WRITTEN
    assert [p.name for p in tmp_path.iterdir()] == ["g.yaml"]


def test_save_creates_missing_folders(tmp_path):
    graph = parse_graph(HAND_WRITTEN)
    target = save_graph(graph, tmp_path / "a" / "b" / "g.yaml")
    assert target.read_text(encoding="utf-8") == HAND_WRITTEN


# ------------------------------------------------------------------ versions
def rename_kernel(document) -> None:
    """The simulated format change 1 -> 2: conv parameter 'kernel' became 'kernel_size'."""
    for body in document["nodes"].values():
        params = body.get("params")
        if params is not None and "kernel" in params:
            position = list(params).index("kernel")
            comment = params.ca.items.pop("kernel", None)  # the comment travels with the key
            params.insert(position, "kernel_size", params.pop("kernel"))
            if comment is not None:
                params.ca.items["kernel_size"] = comment


@pytest.fixture
def format_2(monkeypatch):
    for module in (builder.graph, builder.yaml_format, builder.yaml_writer, builder.upgrade):
        if hasattr(module, "FORMAT_VERSION"):
            monkeypatch.setattr(module, "FORMAT_VERSION", 2)
    monkeypatch.setattr(builder.upgrade, "UPGRADES", {1: rename_kernel})
    return 2


OLD_FILE = textwrap.dedent("""\
    format: 1
    nodes:
      x:
        block: input
        params: {shape: [3, 8, 8]}
      c:
        block: conv2d
        params:
          out_channels: 4
          kernel: 3   # the old name
        inputs: [x]
      y:
        block: output
        inputs: [c]
    """)


def test_older_format_is_upgraded_on_load(format_2, tmp_path):
    path = write(tmp_path / "old.yaml", OLD_FILE)
    graph = load_graph(path)
    assert graph.nodes["c"].params == {"out_channels": 4, "kernel_size": 3}
    text = dump_graph(graph)
    assert text.startswith("format: 2\n")
    [line] = [line for line in text.splitlines() if "kernel" in line]
    assert line.split() == ["kernel_size:", "3", "#", "the", "old", "name"]
    assert parse_graph(text) == graph
    # the file on disk is untouched until the user saves
    assert path.read_text(encoding="utf-8") == OLD_FILE


def test_upgrades_chain_through_every_version(monkeypatch, tmp_path):
    seen = []

    def one_to_two(document):
        seen.append(1)
        document["name"] = "upgraded"

    def two_to_three(document):
        seen.append(2)
        document["description"] = f"was {document['name']}"

    for module in (builder.graph, builder.yaml_format, builder.yaml_writer, builder.upgrade):
        if hasattr(module, "FORMAT_VERSION"):
            monkeypatch.setattr(module, "FORMAT_VERSION", 3)
    monkeypatch.setattr(builder.upgrade, "UPGRADES", {1: one_to_two, 2: two_to_three})
    graph = load_graph(write(tmp_path / "old.yaml", OLD_FILE.replace("kernel:", "kernel_size:")))
    assert seen == [1, 2]
    assert (graph.name, graph.description) == ("upgraded", "was upgraded")
    assert dump_graph(graph).startswith("format: 3\n")


def test_current_format_is_not_upgraded(format_2):
    graph = parse_graph(OLD_FILE.replace("format: 1", "format: 2").replace("kernel:", "kernel_size:"))
    assert graph.nodes["c"].params["kernel_size"] == 3


def test_newer_format_is_a_clear_error(tmp_path):
    path = write(tmp_path / "new.yaml", OLD_FILE.replace("format: 1", f"format: {FORMAT_VERSION + 1}"))
    with pytest.raises(GraphError) as caught:
        load_graph(path)
    [problem] = caught.value.problems
    assert f"format {FORMAT_VERSION + 1}" in problem.message and "newer" in problem.message
    assert (problem.file, problem.line) == (str(path), 1)
    assert "upgrade Model Builder" in problem.hint


def test_version_without_an_upgrade_is_a_clear_error(monkeypatch):
    for module in (builder.graph, builder.yaml_format, builder.yaml_writer, builder.upgrade):
        if hasattr(module, "FORMAT_VERSION"):
            monkeypatch.setattr(module, "FORMAT_VERSION", 3)
    monkeypatch.setattr(builder.upgrade, "UPGRADES", {2: rename_kernel})  # nothing from 1
    with pytest.raises(GraphError) as caught:
        parse_graph(OLD_FILE, "old.yaml")
    [problem] = caught.value.problems
    assert "format 1 cannot be upgraded" in problem.message
    assert problem.line == 1


@pytest.mark.parametrize("value, words", [
    ("0", "format 0"), ("-3", "format -3"), ("'one'", "whole number"), ("1.5", "whole number"), ("true", "whole number"),
])
def test_invalid_format_values_are_clear_errors(value, words):
    with pytest.raises(GraphError) as caught:
        parse_graph(OLD_FILE.replace("format: 1", f"format: {value}"), "v.yaml")
    [problem] = caught.value.problems
    assert words in problem.message
    assert problem.line == 1 and problem.column == 9


def test_format_constant_is_exported():
    assert FORMAT_VERSION == builder.graph.FORMAT_VERSION >= 1


# ------------------------------------------------------------------ ids
@pytest.mark.parametrize("node_id", ["conv1", "_private", "Block2_a", "x"])
def test_valid_ids(node_id):
    assert id_problem(node_id) is None


@pytest.mark.parametrize("node_id", ["1conv", "conv-1", "conv.1", "", "class", "lambda", *sorted(RESERVED_IDS)])
def test_invalid_ids(node_id):
    assert id_problem(node_id)
    assert keyword.iskeyword(node_id) or node_id in RESERVED_IDS or not node_id.isidentifier() or node_id == ""
