"""Graph files used as blocks: exposed parameters, shapes from the caller, nested names,
several ports, and clear errors for cycles, missing files and bad exposes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from builder import GraphError, analyze, compile_graph, dump_graph, load_graph, parse_graph

DOUBLE_CONV = """\
format: 1
name: double_conv
description: Two 3x3 convolutions without padding.
expose:
  width: [c1.out_channels, c2.out_channels]
nodes:
  x:
    block: input
    params: {shape: [3, 8, 8]}
  c1:
    block: conv2d
    params: {out_channels: 4, kernel_size: 3}
    inputs: [x]
  c2:
    block: conv2d
    params: {out_channels: 4, kernel_size: 3}
    inputs: [c1]
  out:
    block: output
    inputs: [c2]
"""

PARENT = """\
format: 1
name: parent
nodes:
  img:
    block: input
    params: {shape: [3, 32, 32]}
  down1:
    graph: double_conv.yaml
    params: {width: 8}
    inputs: [img]
  proj:
    block: conv2d
    params: {out_channels: 5, kernel_size: 1}
    inputs: [down1]
  down2:
    graph: double_conv.yaml
    inputs: [proj]
  y:
    block: output
    inputs: [down2]
"""

TWO_PORTS = """\
format: 1
name: two_ports
nodes:
  left:
    block: input
    params: {shape: [3, 8, 8]}
  right:
    block: input
    params: {shape: [1, 8, 8]}
  cl:
    block: conv2d
    params: {out_channels: 2, kernel_size: 3}
    inputs: [left]
  cr:
    block: conv2d
    params: {out_channels: 5, kernel_size: 1}
    inputs: [right]
  small:
    block: output
    inputs: [cl]
  same:
    block: output
    inputs: [cr]
"""


# the start of a graph with two inputs that feeds two_ports.yaml (tests append its uses)
TWO_INPUTS = """\
format: 1
nodes:
  a: {block: input, params: {shape: [3, 9, 9]}}
  b: {block: input, params: {shape: [1, 4, 4]}}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def write_parent(folder: Path, part: str = DOUBLE_CONV, parent: str = PARENT) -> Path:
    """double_conv.yaml (``part``) and parent.yaml (``parent``, which uses it twice)."""
    write(folder, "double_conv.yaml", part)
    return write(folder, "parent.yaml", parent)


def write_two_ports_user(folder: Path, uses: str) -> Path:
    """two_ports.yaml and user.yaml: :data:`TWO_INPUTS` followed by the nodes ``uses``."""
    write(folder, "two_ports.yaml", TWO_PORTS)
    return write(folder, "user.yaml", TWO_INPUTS + textwrap.indent(textwrap.dedent(uses), "  "))


def write_user_of(folder: Path, name: str, node_id: str, graph_file: str) -> Path:
    """``name``: a [3, 8, 8] input into node ``node_id`` using ``graph_file``, into an
    output; the node's ``graph`` key is on line 5, column 5."""
    return write(folder, name, f"""\
        format: 1
        nodes:
          x: {{block: input, params: {{shape: [3, 8, 8]}}}}
          {node_id}:
            graph: {graph_file}
            inputs: [x]
          y: {{block: output, inputs: [{node_id}]}}
        """)


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def check(path: Path):
    graph = load_graph(path)
    return graph, analyze(graph)


@pytest.fixture
def parent(tmp_path) -> Path:
    return write_parent(tmp_path)


def test_exposed_param_and_default(parent):
    graph, result = check(parent)
    assert result.problems == [], "\n".join(map(str, result.problems))
    assert result.nodes["down1"].shape == (8, 28, 28)  # width 8, two unpadded 3x3
    assert result.nodes["proj"].shape == (5, 28, 28)
    assert result.nodes["down2"].shape == (4, 24, 24)  # the file's default width, 4
    assert result.nodes["down1"].block.params["width"].default == 4
    # c1: 3 -> 8, c2: 8 -> 8; then 5 -> 4 and 4 -> 4
    assert result.nodes["down1"].cost.params == (3 * 9 * 8 + 8) + (8 * 9 * 8 + 8)
    assert result.nodes["down2"].cost.params == (5 * 9 * 4 + 4) + (4 * 9 * 4 + 4)


def test_param_counts_and_shapes_match_the_module(parent):
    graph, result = check(parent)
    model = compile_graph(graph, analysis=result)
    for node_id in ("down1", "proj", "down2"):
        assert result.nodes[node_id].cost.params == parameter_count(getattr(model, node_id)), node_id
    assert result.total.params == parameter_count(model)
    out = model(torch.randn(2, 3, 32, 32))
    assert tuple(out.shape) == (2, *result.nodes["down2"].shape)


def test_state_dict_keys_are_nested_under_the_node_id(parent):
    model = compile_graph(load_graph(parent))
    assert list(model.state_dict()) == [
        "down1.c1.weight", "down1.c1.bias", "down1.c2.weight", "down1.c2.bias",
        "proj.weight", "proj.bias",
        "down2.c1.weight", "down2.c1.bias", "down2.c2.weight", "down2.c2.bias",
    ]
    assert list(dict(model.named_children())) == ["down1", "proj", "down2"]
    assert model.down1.c1.weight.shape == (8, 3, 3, 3)
    assert model.down2.c1.weight.shape == (4, 5, 3, 3)
    assert "self.c1(" in model.down1.code


def test_same_file_at_two_input_sizes(tmp_path):
    write(tmp_path, "double_conv.yaml", DOUBLE_CONV)
    path = write(tmp_path, "two_sizes.yaml", """\
        format: 1
        nodes:
          big: {block: input, params: {shape: [3, 32, 32]}}
          small: {block: input, params: {shape: [6, 12, 10]}}
          a: {graph: double_conv.yaml, inputs: [big]}
          b: {graph: double_conv.yaml, params: {width: 2}, inputs: [small]}
          ya: {block: output, inputs: [a]}
          yb: {block: output, inputs: [b]}
        """)
    graph, result = check(path)
    assert result.problems == []
    assert result.nodes["a"].shape == (4, 28, 28)
    assert result.nodes["b"].shape == (2, 8, 6)
    model = compile_graph(graph, analysis=result)
    ya, yb = model(torch.randn(1, 3, 32, 32), torch.randn(1, 6, 12, 10))
    assert (tuple(ya.shape), tuple(yb.shape)) == ((1, 4, 28, 28), (1, 2, 8, 6))
    assert model.b.c1.weight.shape == (2, 6, 3, 3)  # input channels come from the caller
    assert result.nodes["b"].cost.params == parameter_count(model.b)


def test_two_inputs_and_two_outputs(tmp_path):
    write(tmp_path, "two_ports.yaml", TWO_PORTS)
    path = write(tmp_path, "user.yaml", """\
        format: 1
        nodes:
          a: {block: input, params: {shape: [3, 10, 10]}}
          b: {block: input, params: {shape: [1, 6, 6]}}
          t:
            graph: two_ports.yaml
            inputs: {right: b, left: a}
          after: {block: conv2d, params: {out_channels: 1, kernel_size: 1}, inputs: [t.same]}
          o1: {block: output, inputs: [t.small]}
          o2: {block: output, inputs: [after]}
        """)
    graph, result = check(path)
    assert result.problems == [], "\n".join(map(str, result.problems))
    block = result.nodes["t"].block
    assert [p.name for p in block.inputs] == ["left", "right"]
    assert [p.name for p in block.outputs] == ["small", "same"]
    assert result.nodes["t"].outputs == {"small": (2, 8, 8), "same": (5, 6, 6)}
    assert result.nodes["after"].shape == (1, 6, 6)
    model = compile_graph(graph, analysis=result)
    o1, o2 = model(torch.randn(2, 3, 10, 10), torch.randn(2, 1, 6, 6))
    assert tuple(o1.shape) == (2, 2, 8, 8) and tuple(o2.shape) == (2, 1, 6, 6)
    assert result.nodes["t"].cost.params == parameter_count(model.t)


def test_two_inputs_by_position(tmp_path):
    path = write_two_ports_user(tmp_path, """\
          t: {graph: two_ports.yaml, inputs: [a, b]}
          o1: {block: output, inputs: [t.small]}
          o2: {block: output, inputs: [t.same]}
        """)
    graph, result = check(path)
    assert result.ok
    assert result.nodes["t"].outputs == {"small": (2, 7, 7), "same": (5, 4, 4)}


def test_first_output_port_is_the_default(tmp_path):
    path = write_two_ports_user(tmp_path, """\
          t: {graph: two_ports.yaml, inputs: [a, b]}
          o1: {block: output, inputs: [t]}
        """)
    graph, result = check(path)
    assert result.nodes["o1"].shape == (2, 7, 7)


def test_wrong_port_names_on_a_composite(tmp_path):
    path = write_two_ports_user(tmp_path, """\
          t:
            graph: two_ports.yaml
            inputs: {left: a, rigth: b}
          o1: {block: output, inputs: [t.smal]}
        """)
    graph, result = check(path)
    port = next(p for p in result.errors if p.node == "t")
    assert port.message == "two_ports has no input port 'rigth' (its inputs: left, right)"
    assert port.hint == "did you mean 'right'?"
    assert port.line == 7
    [output] = result.problems_for("o1")
    assert output.message == "'t' (two_ports) has no output port 'smal' (its outputs: small, same)"


def test_nested_composites_in_a_subfolder(tmp_path):
    write(tmp_path, "parts/double_conv.yaml", DOUBLE_CONV)
    write(tmp_path, "parts/stage.yaml", """\
        format: 1
        name: stage
        expose:
          width: head.out_channels
        nodes:
          x: {block: input, params: {shape: [3, 16, 16]}}
          inner: {graph: double_conv.yaml, params: {width: 6}, inputs: [x]}
          head: {block: conv2d, params: {out_channels: 6, kernel_size: 1}, inputs: [inner]}
          out: {block: output, inputs: [head]}
        """)
    path = write(tmp_path, "model.yaml", """\
        format: 1
        nodes:
          x: {block: input, params: {shape: [3, 20, 20]}}
          s1: {graph: parts/stage.yaml, inputs: [x]}
          s2: {graph: parts/stage.yaml, params: {width: 2}, inputs: [s1]}
          y: {block: output, inputs: [s2]}
        """)
    graph, result = check(path)
    assert result.problems == [], "\n".join(map(str, result.problems))
    assert result.nodes["s1"].shape == (6, 16, 16)
    assert result.nodes["s2"].shape == (2, 12, 12)
    model = compile_graph(graph, analysis=result)
    assert "s1.inner.c1.weight" in model.state_dict()
    assert model.s2.inner.c1.weight.shape == (6, 6, 3, 3)
    assert model.s2.head.weight.shape == (2, 6, 1, 1)
    assert result.total.params == parameter_count(model)
    assert tuple(model(torch.randn(1, 3, 20, 20)).shape) == (1, 2, 12, 12)


def test_composite_node_round_trips(parent):
    text = parent.read_text(encoding="utf-8")
    graph = load_graph(parent)
    assert graph.nodes["down1"].graph == "double_conv.yaml" and graph.nodes["down1"].block is None
    assert dump_graph(graph) == text
    assert parse_graph(dump_graph(graph)) == graph


def test_composite_compiles_on_meta_and_deterministically(parent):
    graph = load_graph(parent)
    meta = compile_graph(graph, device="meta")
    assert all(p.is_meta for p in meta.parameters())
    assert parameter_count(meta) == analyze(graph).total.params
    first, second = compile_graph(graph, seed=3), compile_graph(graph, seed=3)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name
    # the two uses of the file get their own weights
    assert not torch.equal(first.down1.c2.weight[:4, :4], first.down2.c2.weight[:4, :4])


# ------------------------------------------------------------------ errors
def only_error(path: Path):
    graph, result = check(path)
    assert len(result.errors) == 1, "\n".join(map(str, result.problems))
    return result.errors[0]


def test_cycle_between_two_files_names_both(tmp_path):
    write_user_of(tmp_path, "a.yaml", "uses_b", "b.yaml")
    write_user_of(tmp_path, "b.yaml", "uses_a", "a.yaml")
    problem = only_error(tmp_path / "a.yaml")
    assert problem.message == "graph files use each other in a cycle: a.yaml -> b.yaml -> a.yaml"
    assert (problem.node, problem.line, problem.file) == ("uses_b", 5, str(tmp_path / "a.yaml"))
    assert "cannot contain itself" in problem.hint
    with pytest.raises(GraphError, match="a.yaml -> b.yaml -> a.yaml"):
        compile_graph(load_graph(tmp_path / "a.yaml"))


def test_file_that_uses_itself(tmp_path):
    path = write_user_of(tmp_path, "self.yaml", "me", "self.yaml")
    problem = only_error(path)
    assert problem.message == "graph files use each other in a cycle: self.yaml -> self.yaml"
    assert (problem.node, problem.line) == ("me", 5)


def test_missing_composite_file(tmp_path):
    path = write_user_of(tmp_path, "user.yaml", "part", "parts/missing.yaml")
    graph, result = check(path)
    [problem] = result.errors
    assert problem.message.startswith("cannot use parts/missing.yaml:")
    assert "cannot read the graph file" in problem.message
    assert (problem.node, problem.line, problem.column) == ("part", 5, 5)
    assert result.problems_for("y") == []


def test_composite_file_with_its_own_error(tmp_path):
    write(tmp_path, "broken.yaml", DOUBLE_CONV.replace("nodes:\n", "nodes:\n  x:\n    block: input\n", 1))
    path = write(tmp_path, "user.yaml", PARENT.replace("double_conv.yaml", "broken.yaml"))
    graph, result = check(path)
    problems = {p.node: p for p in result.errors}
    assert set(problems) == {"down1", "down2"}
    assert problems["down1"].message.startswith("cannot use broken.yaml:")
    assert "duplicate key 'x'" in problems["down1"].message
    assert problems["down1"].line == 8


def test_exposed_param_naming_a_missing_node(tmp_path):
    path = write_parent(tmp_path, DOUBLE_CONV.replace("[c1.out_channels, c2.out_channels]", "[c9.out_channels]"))
    graph, result = check(path)
    problem = next(p for p in result.errors if p.node == "down1")
    assert problem.message == "double_conv.yaml exposes 'width' as 'c9.out_channels', but it has no such node"
    assert problem.line == 8


def test_exposed_param_naming_a_missing_param(tmp_path):
    path = write_parent(tmp_path, DOUBLE_CONV.replace("c2.out_channels]", "c2.out_chanels]"))
    graph, result = check(path)
    problem = next(p for p in result.errors if p.node == "down1")
    assert problem.message == "double_conv.yaml exposes 'width' as 'c2.out_chanels', but conv2d has no parameter 'out_chanels'"
    assert problem.line == 8


def test_exposing_a_graph_node_param_is_a_clear_error(tmp_path):
    write(tmp_path, "double_conv.yaml", DOUBLE_CONV)
    write(tmp_path, "stage.yaml", """\
        format: 1
        expose: {width: inner.width}
        nodes:
          x: {block: input, params: {shape: [3, 16, 16]}}
          inner: {graph: double_conv.yaml, inputs: [x]}
          out: {block: output, inputs: [inner]}
        """)
    path = write(tmp_path, "model.yaml", PARENT.replace("double_conv.yaml", "stage.yaml"))
    problem = next(p for p in analyze(load_graph(path)).errors if p.node == "down1")
    assert problem.message.startswith("stage.yaml exposes 'width' as 'inner.width', but it is a graph node")


def test_caller_param_is_checked_like_a_block_param(tmp_path):
    path = write_parent(tmp_path, parent=PARENT.replace("{width: 8}", "{width: 0}"))
    problem = only_error(path)
    assert problem.message == "parameter 'width': expected an integer >= 1, found 0"
    assert (problem.node, problem.param, problem.line) == ("down1", "width", 9)


def test_unknown_caller_param_suggests_the_exposed_one(tmp_path):
    path = write_parent(tmp_path, parent=PARENT.replace("{width: 8}", "{widht: 8}"))
    problem = only_error(path)
    assert "unknown parameter 'widht'" in problem.message and "did you mean 'width'?" in problem.message


def test_shape_error_inside_a_composite_is_reported_at_the_caller(tmp_path):
    path = write_parent(tmp_path, parent=PARENT.replace("shape: [3, 32, 32]", "shape: [3, 4, 4]"))
    problem = only_error(path)
    assert problem.node == "down1" and problem.line == 7
    assert "inside double_conv.yaml, node 'c2'" in problem.message
    assert "[3, 4, 4]" in problem.message  # what the caller fed it
