"""Every kind of bad graph gets a clear problem: message, node id, file, line and column.
Never a raw traceback."""

from __future__ import annotations

import os
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import blocks.registry
from blocks import Block, Port, get_block
from builder import GraphError, Problem, analyze, compile_graph, load_graph, parse_graph

FILE = "g.yaml"

# Line numbers in the tests below refer to this file (edits keep lines where they are).
BASE = """\
format: 1
nodes:
  x:
    block: input
    params: {shape: [3, 16, 16]}
  conv1:
    block: conv2d
    params:
      out_channels: 8
      kernel_size: 3
    inputs: [x]
  y:
    block: output
    inputs: [conv1]
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def load(text: str):
    return parse_graph(textwrap.dedent(text), FILE)


def load_problems(text: str) -> list[Problem]:
    """The problems that stop ``text`` from loading at all."""
    with pytest.raises(GraphError) as caught:
        load(text)
    assert caught.value.problems, "GraphError without problems"
    return caught.value.problems


def analysis_of(text: str):
    return analyze(load(text))


def only_error(text: str) -> Problem:
    result = analysis_of(text)
    assert len(result.errors) == 1, "\n".join(map(str, result.problems))
    return result.errors[0]


def where(problem: Problem) -> tuple:
    return problem.node, problem.line, problem.column


def test_base_graph_is_clean():
    result = analysis_of(BASE)
    assert result.problems == []
    assert result.nodes["conv1"].shape == (8, 14, 14)


# ------------------------------------------------------------------ YAML itself
def test_unclosed_bracket():
    [problem] = load_problems(edit("{shape: [3, 16, 16]}", "{shape: [3, 16, 16}"))
    assert problem.message.startswith("malformed YAML")
    assert "']'" in problem.message
    assert (problem.file, problem.line) == (FILE, 5)
    assert problem.column is not None
    assert "brackets" in problem.hint


def test_bad_indentation():
    [problem] = load_problems(edit("      kernel_size: 3\n", "     kernel_size: 3\n"))
    assert problem.message.startswith("malformed YAML")
    assert problem.line == 10
    assert "indentation" in problem.hint


def test_tab_indentation():
    [problem] = load_problems(edit("    inputs: [x]\n", "\tinputs: [x]\n"))
    assert problem.message.startswith("malformed YAML")
    assert problem.line == 11


def test_duplicate_node_id():
    [problem] = load_problems(BASE + "  conv1:\n    block: output\n    inputs: [x]\n")
    assert problem.message == "duplicate key 'conv1': it is already defined above (line 6)"
    assert (problem.file, problem.line, problem.column) == (FILE, 15, 3)
    assert "once" in problem.hint


def test_duplicate_param_key():
    [problem] = load_problems(edit("      kernel_size: 3\n", "      kernel_size: 3\n      out_channels: 4\n"))
    assert problem.message == "duplicate key 'out_channels': it is already defined above (line 9)"
    assert (problem.line, problem.column) == (11, 7)


def test_duplicate_key_in_flow_mapping():
    [problem] = load_problems(edit("{shape: [3, 16, 16]}", "{shape: [3, 16, 16], shape: [1]}"))
    assert problem.message == "duplicate key 'shape': it is defined twice in the mapping that starts on line 5"
    assert (problem.line, problem.column) == (5, 34)


def test_duplicate_top_level_key():
    [problem] = load_problems(BASE + "format: 1\n")
    assert problem.message == "duplicate key 'format': it is already defined above (line 1)"
    assert (problem.line, problem.column) == (15, 1)


@pytest.mark.parametrize("tagged", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system",
    "!custom 3",
])
def test_yaml_tags_are_refused_and_nothing_runs(tagged, tmp_path, monkeypatch):
    marker = tmp_path / "executed"
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    text = edit("{shape: [3, 16, 16]}", "{shape: " + tagged.format(marker=marker) + " }")
    [problem] = load_problems(text)
    assert "is not allowed in graph files" in problem.message
    assert tagged.split()[0] in problem.message
    assert problem.line == 5
    assert "remove the tag" in problem.hint
    assert not marker.exists() and calls == []


def test_tag_on_a_whole_section_is_refused(tmp_path):
    marker = tmp_path / "executed"
    [problem] = load_problems(f"format: 1\nnodes: !!python/object/apply:os.system ['touch {marker}']\n")
    assert "!!python/object/apply:os.system" in problem.message
    assert problem.line == 2
    assert not marker.exists()


def test_stray_question_mark_gives_a_problem_not_a_traceback():
    broken = BASE.replace("  y:\n", "?  y:\n")
    [problem] = load_problems(broken)
    assert problem.message.startswith("malformed YAML")
    assert "'?'" in problem.hint


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "", "42\n", "~\n"])
def test_not_a_mapping(text):
    [problem] = load_problems(text)
    assert "must be a mapping with a 'nodes' section" in problem.message
    assert problem.line == 1


@pytest.mark.parametrize("text, line", [
    ("format: 1\nname: empty\n", 1),
    ("format: 1\nnodes:\n", 2),
    ("format: 1\nnodes: {}\n", 2),
    ("format: 1\nnodes: [x, y]\n", 2),
])
def test_missing_or_empty_nodes(text, line):
    [problem] = load_problems(text)
    assert problem.message == "the graph has no 'nodes' mapping"
    assert problem.line == line


def test_unknown_top_level_key_suggests_the_right_one():
    [problem] = load_problems(BASE + "trainig:\n  epochs: 3\n")
    assert problem.message == "unknown top-level key 'trainig'"
    assert problem.hint == "did you mean 'training'?"
    assert (problem.line, problem.column) == (15, 1)


def test_unknown_top_level_key_without_a_close_match_lists_the_keys():
    [problem] = load_problems(BASE + "zzz: 1\n")
    assert "nodes" in problem.hint and "training" in problem.hint


@pytest.mark.parametrize("bad_id, words", [
    ("1conv", "do not start with a digit"),
    ("class", "Python keyword"),
    ("forward", "reserved"),
    ("state_dict", "reserved"),
    ("conv-1", "letters, digits and '_'"),
])
def test_invalid_node_ids(bad_id, words):
    [problem] = load_problems(edit("  conv1:\n", f"  {bad_id}:\n"))
    assert problem.message.startswith(f"invalid node id {bad_id!r}")
    assert words in problem.message
    assert where(problem) == (bad_id, 6, 3)
    assert "submodule" in problem.hint


def test_unknown_node_key_suggests_the_right_one():
    [problem] = load_problems(edit("    inputs: [x]\n", "    input: [x]\n"))
    assert problem.message == "unknown node key 'input'"
    assert problem.hint == "did you mean 'inputs'?"
    assert where(problem) == ("conv1", 11, 5)


def test_parameter_outside_params_is_pointed_there():
    [problem] = load_problems(edit("    inputs: [x]\n", "    stride: 2\n"))
    assert problem.message == "unknown node key 'stride'"
    assert "params" in problem.hint


@pytest.mark.parametrize("body", [
    "    block: conv2d\n    graph: other.yaml\n",  # both
    "",  # neither
])
def test_node_needs_exactly_one_of_block_or_graph(body):
    text = BASE.replace("    block: conv2d\n", body, 1)
    problems = load_problems(text)
    [problem] = [p for p in problems if p.node == "conv1"]
    assert "exactly one of 'block'" in problem.message
    assert (problem.line, problem.column) == (6, 3)


@pytest.mark.parametrize("old, new, words, line", [
    ("    block: conv2d\n", "    block: [conv2d]\n", "'block' must be text", 7),
    ("    params:\n      out_channels: 8\n      kernel_size: 3\n", "    params: [8, 3]\n\n\n", "'params' must be a mapping", 8),
    ("    inputs: [x]\n", "    inputs: 3\n", "'inputs' must be", 11),
    ("  conv1:\n", "  conv1: conv2d\n", "a node must be a mapping", 6),
])
def test_malformed_node_bodies(old, new, words, line):
    text = edit(old, new)
    if "conv1: conv2d" in text:  # the whole body replaced by text
        text = text.replace("    block: conv2d\n    params:\n      out_channels: 8\n      kernel_size: 3\n"
                            "    inputs: [x]\n", "")
    problems = load_problems(text)
    [problem] = [p for p in problems if p.node == "conv1"]
    assert words in problem.message
    assert problem.line == line


def test_name_must_be_text():
    [problem] = load_problems("format: 1\nname: [a]\n" + BASE.split("\n", 1)[1])
    assert problem.message == "'name' must be text"
    assert problem.line == 2


def test_all_load_problems_are_reported_together():
    text = edit("  conv1:\n", "  1conv:\n", BASE + "trainig: {}\nlayuot: {}\n")
    problems = load_problems(text)
    messages = [p.message for p in problems]
    assert any("'trainig'" in m for m in messages)
    assert any("'layuot'" in m for m in messages)
    assert any("invalid node id '1conv'" in m for m in messages)


# ------------------------------------------------------------------ blocks and parameters
def test_unknown_block_suggests_the_right_one():
    problem = only_error(edit("block: conv2d", "block: conv2"))
    assert problem.message == "unknown block 'conv2'"
    assert problem.hint == "did you mean 'conv2d'?"
    assert where(problem) == ("conv1", 7, 5)
    assert problem.file == FILE


def test_unknown_block_without_a_close_match():
    problem = only_error(edit("block: conv2d", "block: frobnicator"))
    assert problem.message == "unknown block 'frobnicator'"
    assert "modelbuilder blocks" in problem.hint


def test_unknown_param_suggests_the_right_one():
    result = analysis_of(edit("      out_channels: 8\n", "      out_chanels: 8\n"))
    problem = next(p for p in result.errors if p.param == "out_chanels")
    assert problem.message == "unknown parameter 'out_chanels' for block 'conv2d'; did you mean 'out_channels'?"
    assert where(problem) == ("conv1", 9, 7)
    # the real name is then missing, and said so
    assert any(p.param == "out_channels" and "missing required parameter" in p.message for p in result.errors)


def test_missing_required_param():
    problem = only_error(edit("      out_channels: 8\n", ""))
    assert problem.message == "missing required parameter 'out_channels' (int >= 1)"
    assert problem.node == "conv1" and problem.param == "out_channels"
    assert problem.line in (6, 8)  # the node, or its params section


def test_out_of_range_param():
    problem = only_error(edit("out_channels: 8", "out_channels: 0"))
    assert problem.message == "parameter 'out_channels': expected an integer >= 1, found 0"
    assert where(problem) == ("conv1", 9, 7)
    assert problem.param == "out_channels"
    assert "modelbuilder blocks conv2d" in problem.hint


@pytest.mark.parametrize("value, found", [
    ("eight", "found the text 'eight'"),
    ("8.5", "found a number"),
    ("true", "found a boolean"),
    ("[8]", "found a list"),
    ("null", "found null"),
])
def test_wrong_type_param(value, found):
    problem = only_error(edit("out_channels: 8", f"out_channels: {value}"))
    assert problem.message.startswith("parameter 'out_channels': expected an integer")
    assert problem.message.endswith(found)
    assert where(problem) == ("conv1", 9, 7)


def test_wrong_choice_param():
    problem = only_error(edit("      kernel_size: 3\n", "      kernel_size: 3\n      padding_mode: mirror\n"))
    assert problem.message == ("parameter 'padding_mode': expected one of 'zeros', 'reflect', 'replicate', "
                               "'circular', found the text 'mirror'")
    assert where(problem) == ("conv1", 11, 7)


def test_constraint_between_params():
    problem = only_error(edit("      kernel_size: 3\n", "      kernel_size: 3\n      groups: 3\n"))
    assert "divisible by groups" in problem.message
    assert problem.node == "conv1"


# ------------------------------------------------------------------ references
def test_unknown_input_reference_suggests_the_right_one():
    result = analysis_of(edit("inputs: [x]", "inputs: [xx]"))
    [problem] = result.errors
    assert problem.message == "input 'xx' refers to no node"
    assert problem.hint == "did you mean 'x'?"
    assert where(problem) == ("conv1", 11, 5)
    # downstream of a broken node: no second report
    assert result.problems_for("y") == []


def test_unknown_output_port():
    text = edit("inputs: [conv1]", "inputs: [conv1.foo]")
    problem = only_error(text)
    assert problem.message == "'conv1' (conv2d) has no output port 'foo' (its outputs: out)"
    assert where(problem) == ("y", 14, 5)


def test_explicit_port_reference_is_fine():
    assert analysis_of(edit("inputs: [conv1]", "inputs: [conv1.out]")).problems == []


def test_too_many_inputs():
    problem = only_error(edit("inputs: [x]", "inputs: [x, x]"))
    assert problem.message == "too many inputs: conv2d takes x, found 2 references"
    assert where(problem) == ("conv1", 11, 5)


def test_unknown_input_port_name():
    result = analysis_of(edit("inputs: [x]", "inputs: {input: x}"))
    problem = result.errors[0]
    assert problem.message == "conv2d has no input port 'input' (its inputs: x)"
    assert problem.node == "conv1" and problem.line == 11
    assert {p.node for p in result.problems} == {"conv1"}


def test_unconnected_input():
    result = analysis_of(edit("    inputs: [x]\n", ""))
    [problem] = result.errors
    assert problem.message == "input port 'x' of conv2d is not connected"
    assert problem.node == "conv1" and problem.line == 6
    assert "inputs:" in problem.hint


def test_taking_from_an_output_node():
    text = BASE + "  z:\n    block: output\n    inputs: [y]\n"
    problem = only_error(text)
    assert problem.message == "'y' is an output node and has no outputs to take"
    assert where(problem) == ("z", 17, 5)


def cycle_text(message: str) -> list[str]:
    return message.split(": ", 1)[1].split(" -> ")


def is_rotation(path: list[str], flow: list[str]) -> bool:
    """``path`` (a -> b -> c -> a) is the data-flow cycle ``flow`` started anywhere."""
    if path[0] != path[-1]:
        return False
    ring = path[:-1]
    return len(ring) == len(flow) and any(ring == flow[i:] + flow[:i] for i in range(len(flow)))


def test_cycle_names_the_path():
    text = """\
    format: 1
    nodes:
      x: {block: input, params: {shape: [3, 8, 8]}}
      a:
        block: conv2d
        params: {out_channels: 3, kernel_size: 1}
        inputs: [c]
      b:
        block: conv2d
        params: {out_channels: 3, kernel_size: 1}
        inputs: [a]
      c:
        block: conv2d
        params: {out_channels: 3, kernel_size: 1}
        inputs: [b]
      after:
        block: conv2d
        params: {out_channels: 3, kernel_size: 1}
        inputs: [c]
      y: {block: output, inputs: [x]}
    """
    result = analysis_of(text)
    [problem] = result.problems  # nothing downstream of the cycle is reported again
    assert problem.message.startswith("the graph has a cycle: ")
    assert is_rotation(cycle_text(problem.message), ["a", "b", "c"]), problem.message
    line_of = {"a": 7, "b": 11, "c": 15}
    assert problem.line == line_of[problem.node]
    assert "rnn, lstm or gru" in problem.hint
    assert "after" not in problem.message


def test_self_loop_is_a_cycle():
    problem = only_error(edit("inputs: [x]", "inputs: [conv1]"))
    assert problem.message == "the graph has a cycle: conv1 -> conv1"
    assert problem.node == "conv1" and problem.line == 11


def test_unused_node_is_a_warning_and_the_graph_compiles():
    text = BASE + "  spare:\n    block: conv2d\n    params: {out_channels: 2, kernel_size: 1}\n    inputs: [x]\n"
    result = analysis_of(text)
    assert result.ok
    [problem] = result.problems
    assert problem.severity == "warning" and not problem.is_error
    assert problem.message == "its output is not used by any node"
    assert where(problem) == ("spare", 15, 3)
    assert str(problem).startswith(f"{FILE}:15:3: warning: node 'spare': ")
    model = compile_graph(load(text))
    assert "spare" in dict(model.named_children())


def test_unused_input_is_a_warning():
    text = BASE + "  extra:\n    block: input\n    params: {shape: [1]}\n"
    result = analysis_of(text)
    assert result.ok
    assert [(p.node, p.severity) for p in result.problems] == [("extra", "warning")]


class _Source(Block):
    """A test block with no inputs: a learned constant image."""

    name = "test_source"
    inputs = ()
    params = {}

    def infer(self, p):
        return (3, 4, 4)

    def build(self, p):
        import torch

        class Constant(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.value = torch.nn.Parameter(torch.zeros(1, 3, 4, 4))

            def forward(self):
                return self.value

        return Constant()


def test_node_no_input_reaches_is_a_warning_and_the_graph_compiles(monkeypatch):
    monkeypatch.setitem(blocks.registry._REGISTRY, "test_source", _Source())
    text = BASE + """\
  const:
    block: test_source
  shift:
    block: conv2d
    params: {out_channels: 2, kernel_size: 1}
    inputs: [const]
  z:
    block: output
    inputs: [shift]
"""
    result = analysis_of(text)
    assert result.ok, result.errors
    warned = {p.node: p for p in result.problems}
    assert set(warned) == {"shift", "z"}
    assert all(p.severity == "warning" and p.message == "no input reaches this node" for p in warned.values())
    assert (warned["shift"].line, warned["z"].line) == (17, 21)
    compile_graph(load(text))


# ------------------------------------------------------------------ shapes
def test_shape_mismatch_names_node_source_and_shape():
    text = edit("shape: [3, 16, 16]", "shape: [3, 5, 5]")
    text = edit("kernel_size: 3", "kernel_size: 7", text)
    problem = only_error(text)
    assert problem.node == "conv1" and problem.line == 6
    assert problem.message.startswith("conv2d input [3, 5, 5] is smaller than the kernel [7, 7]")
    assert "'x' [3, 5, 5]" in problem.message  # the source node and its shape
    assert "shapes" in problem.hint


def test_declared_feature_count_mismatch_names_both_nodes_and_shapes():
    text = """\
    format: 1
    nodes:
      image: {block: input, params: {shape: [16, 4, 4]}}
      flatten: {block: flatten, inputs: [image]}
      fc1: {block: linear, params: {in_features: 400, out_features: 120}, inputs: [flatten]}
      out: {block: output, inputs: [fc1]}
    """
    problem = only_error(textwrap.dedent(text))
    assert problem.node == "fc1" and problem.line == 5
    assert problem.message == ("linear expects 400 input features but receives 256; "
                               "input 'x' from 'flatten' [256]")


def test_wrong_rank_names_expected_and_found():
    problem = only_error(edit("shape: [3, 16, 16]", "shape: [3, 16]"))
    assert problem.node == "conv1"
    assert "expects 3 dimensions per sample (channels, height, width), found [3, 16]" in problem.message
    assert "'x' [3, 16]" in problem.message


def test_shape_error_deep_in_a_chain_is_reported_once():
    text = """\
    format: 1
    nodes:
      x: {block: input, params: {shape: [1, 8, 8]}}
      c1: {block: conv2d, params: {out_channels: 4, kernel_size: 5}, inputs: [x]}
      c2: {block: conv2d, params: {out_channels: 4, kernel_size: 5}, inputs: [c1]}
      c3: {block: conv2d, params: {out_channels: 4, kernel_size: 5}, inputs: [c2]}
      c4: {block: conv2d, params: {out_channels: 4, kernel_size: 1}, inputs: [c3]}
      y: {block: output, inputs: [c4]}
    """
    result = analysis_of(text)
    [problem] = result.problems
    assert problem.node == "c2" and problem.line == 5
    assert "'c1' [4, 4, 4]" in problem.message
    assert result.nodes["c1"].shape == (4, 4, 4)
    assert not result.nodes["c3"].ok and not result.nodes["c4"].ok


def test_no_input_node():
    text = """\
    format: 1
    nodes:
      y: {block: output}
    """
    result = analysis_of(text)
    problem = next(p for p in result.errors if p.node is None)
    assert problem.message == "the graph has no input node"
    assert problem.file == FILE
    assert "block: input" in problem.hint


def test_no_output_node():
    result = analysis_of(BASE.split("  y:")[0])
    problem = next(p for p in result.errors if p.node is None)
    assert problem.message == "the graph has no output node"
    assert "block: output" in problem.hint


def test_token_ids_into_a_float_block_and_floats_into_embedding():
    try:
        get_block("embedding")
    except KeyError:
        pytest.skip("no embedding block")
    text = """\
    format: 1
    nodes:
      feats: {block: input, params: {shape: [3, 8]}}
      embed:
        block: embedding
        params: {num_embeddings: 10, embedding_dim: 4}
        inputs: [feats]
      tokens: {block: input, params: {shape: [5], dtype: int64}}
      conv:
        block: conv1d
        params: {out_channels: 2, kernel_size: 1}
        inputs: [tokens]
      y1: {block: output, inputs: [embed]}
      y2: {block: output, inputs: [conv]}
    """
    result = analysis_of(text)
    by_node = {p.node: p for p in result.errors}
    assert set(by_node) == {"embed", "conv"}
    assert "takes integer token ids" in by_node["embed"].message and "'feats'" in by_node["embed"].message
    assert by_node["embed"].line == 7 and "int64" in by_node["embed"].hint
    assert "takes float values" in by_node["conv"].message and "'tokens'" in by_node["conv"].message
    assert by_node["conv"].line == 12 and "embedding" in by_node["conv"].hint
    good = """\
    format: 1
    nodes:
      tokens: {block: input, params: {shape: [5], dtype: int64}}
      embed:
        block: embedding
        params: {num_embeddings: 10, embedding_dim: 4}
        inputs: [tokens]
      conv: {block: conv1d, params: {out_channels: 2, kernel_size: 1}, inputs: [embed]}
      y: {block: output, inputs: [conv]}
    """
    assert analysis_of(good).errors == []


# ------------------------------------------------------------------ many at once
SEVERAL = """\
format: 1
nodes:
  x:
    block: input
    params: {shape: [3, 16, 16]}
  conv1:
    block: conv2
    params: {out_channels: 4, kernel_size: 3}
    inputs: [x]
  conv2:
    block: conv2d
    params: {out_channels: 4, kernel_size: 3}
    inputs: [conv1]
  conv3:
    block: conv2d
    params: {out_channels: -1, kernel_size: 3}
    inputs: [conv2]
  conv4:
    block: conv2d
    params: {out_channels: 4, kernel_size: 30}
    inputs: [x]
  conv5:
    block: conv2d
    params: {out_channels: 4, kernel_size: 3}
    inputs: [conv4, x]
  conv6:
    block: conv2d
    params: {out_channels: 4, kernel_size: 3}
    inputs: [conv44]
  y:
    block: output
    inputs: [conv3]
  y2:
    block: output
    inputs: [conv5]
  y3:
    block: output
    inputs: [conv6]
"""


def test_several_errors_are_all_reported_once():
    result = analysis_of(SEVERAL)
    found = sorted((p.node, p.line) for p in result.errors)
    assert found == [("conv1", 7), ("conv3", 16), ("conv4", 18), ("conv5", 25), ("conv6", 29)], \
        "\n".join(map(str, result.problems))
    # conv2 and y follow broken conv1, y2 broken conv5, y3 broken conv6: nothing more about them
    for node in ("conv2", "y", "y2", "y3"):
        assert result.problems_for(node) == []
    assert result.warnings == []


def test_compiling_a_broken_graph_lists_every_problem():
    with pytest.raises(GraphError) as caught:
        compile_graph(load(SEVERAL))
    text = str(caught.value)
    assert len(caught.value.errors) == 5
    for expected in ("g.yaml:7:5: error: node 'conv1': unknown block 'conv2'", "hint: did you mean 'conv2d'?",
                     "node 'conv3'", "node 'conv4'", "node 'conv5'", "input 'conv44' refers to no node"):
        assert expected in text


def test_problem_text_and_dict():
    problem = only_error(edit("block: conv2d", "block: conv2"))
    assert str(problem) == "g.yaml:7:5: error: node 'conv1': unknown block 'conv2'\n    hint: did you mean 'conv2d'?"
    assert problem.as_dict() == {"message": "unknown block 'conv2'", "severity": "error", "file": FILE,
                                 "line": 7, "column": 5, "node": "conv1", "hint": "did you mean 'conv2d'?"}


def test_analysis_of_a_graph_built_in_code_has_no_locations():
    from builder import Graph, Node

    graph = Graph()
    graph.add(Node("x", "input", {"shape": [3, 4, 4]}))
    graph.add(Node("c", "conv2", {"out_channels": 1, "kernel_size": 1}, ["x"]))
    graph.add(Node("y", "output", {}, ["c"]))
    [problem] = analyze(graph).errors
    assert (problem.node, problem.line, problem.file) == ("c", None, None)
    assert str(problem).startswith("<graph>: error: node 'c': unknown block 'conv2'")


# ------------------------------------------------------------------ files
def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(GraphError) as caught:
        load_graph(path)
    [problem] = caught.value.problems
    assert problem.file == str(path)
    assert "cannot read the graph file" in problem.message and "No such file" in problem.message


def test_binary_file(tmp_path):
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\x00")
    with pytest.raises(GraphError) as caught:
        load_graph(path)
    [problem] = caught.value.problems
    assert problem.file == str(path)
    assert "cannot read the graph file" in problem.message


def test_directory_instead_of_a_file(tmp_path):
    with pytest.raises(GraphError) as caught:
        load_graph(tmp_path)
    assert "cannot read the graph file" in caught.value.problems[0].message


def test_file_with_nul_bytes(tmp_path):
    path = tmp_path / "nul.yaml"
    path.write_bytes(b"format: 1\nnodes:\x00\n")
    with pytest.raises(GraphError) as caught:
        load_graph(path)
    assert caught.value.problems[0].file == str(path)


def test_problems_carry_the_file_path(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(edit("block: conv2d", "block: conv2"), encoding="utf-8")
    [problem] = analyze(load_graph(path)).errors
    assert str(problem).startswith(f"{path}:7:5: error: node 'conv1'")


# ------------------------------------------------------------------ never a traceback
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mangled_files_give_problems_not_tracebacks(data):
    """Delete, duplicate or insert characters anywhere in a valid file: loading and
    checking it either works or raises GraphError, nothing else."""
    text = BASE
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if action == "delete":
            text = text[:position] + text[position + data.draw(st.integers(1, 8)):]
        elif action == "insert":
            text = text[:position] + data.draw(st.sampled_from(
                list(":-[]{}#&*!|>'\"%@`,? \n\t") + ["0", "-1", "1e9", "null", "x", "conv1", "block: ", "\n  z:\n"])) + text[position:]
        else:
            line_start = text.rfind("\n", 0, position) + 1
            line_end = text.find("\n", position)
            text = text[:line_end + 1] + text[line_start:line_end + 1] + text[line_end + 1:]
    try:
        graph = parse_graph(text, FILE)
    except GraphError as err:
        assert all(isinstance(p, Problem) and p.message for p in err.problems)
        return
    result = analyze(graph)
    for problem in result.problems:
        assert problem.message and problem.file == FILE
    if result.ok:
        compile_graph(graph, device="meta")
