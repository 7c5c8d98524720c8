"""Repeated nodes (``repeat``, ``vary``) and optional nodes (``enabled``, exposed switches):
files keep their exact text through a load-save round trip, a repeated node computes what
the same graph unrolled by hand computes, and bad counts, lists and expressions are
problems naming file, line and node."""

from __future__ import annotations

import pytest
import torch

from builder import analyze, compile_graph, dump_graph, load_graph, parse_graph
from builder.cli import main
from builder.repeat_expr import ExpressionError, evaluate, parse
from tests.builder.flat_nets import densenet121, with_input_shape
from tests.conftest import ROOT

STACK = """\
# three layers, each wider, then two activations
format: 1
name: stack
nodes:
  x: {block: input, params: {shape: [6]}}
  layers:
    block: linear
    repeat: 3          # how many
    params: {bias: false}
    vary: {out_features: "8 + 4 * i"}
  # unrolled by hand below
    inputs: [x]
  acts: {block: tanh, repeat: 2, inputs: [layers]}
  y: {block: output, inputs: [acts]}
"""

UNROLLED = """\
format: 1
name: stack
nodes:
  x: {block: input, params: {shape: [6]}}
  layers_0: {block: linear, params: {out_features: 8, bias: false}, inputs: [x]}
  layers_1: {block: linear, params: {out_features: 12, bias: false}, inputs: [layers_0]}
  layers_2: {block: linear, params: {out_features: 16, bias: false}, inputs: [layers_1]}
  acts_0: {block: tanh, inputs: [layers_2]}
  acts_1: {block: tanh, inputs: [acts_0]}
  y: {block: output, inputs: [acts_1]}
"""

PART = """\
# a residual step whose projection is optional
format: 1
name: step
expose:
  width: [conv.out_features, proj.out_features]
  project: [proj.enabled]   # a switch
nodes:
  x: {block: input, params: {shape: [8]}}
  conv: {block: linear, params: {out_features: 8}, inputs: [x]}
  proj: {block: linear, params: {out_features: 8}, inputs: [x], enabled: false}
  sum: {block: add, inputs: [conv, proj]}
  y: {block: output, inputs: [sum]}
"""

USES_PART = """\
format: 1
name: steps
nodes:
  x: {block: input, params: {shape: [8]}}
  stage:
    graph: parts/step.yaml
    repeat: 3
    vary:
      width: [16, 16, 32]
      project: "i != 1"   # the middle step keeps its width: no projection
    inputs: [x]
  y: {block: output, inputs: [stage]}
"""

UNROLLED_PART = """\
format: 1
name: steps
nodes:
  x: {block: input, params: {shape: [8]}}
  s0_conv: {block: linear, params: {out_features: 16}, inputs: [x]}
  s0_proj: {block: linear, params: {out_features: 16}, inputs: [x]}
  s0: {block: add, inputs: [s0_conv, s0_proj]}
  s1_conv: {block: linear, params: {out_features: 16}, inputs: [s0]}
  s1: {block: add, inputs: [s1_conv, s0]}
  s2_conv: {block: linear, params: {out_features: 32}, inputs: [s1]}
  s2_proj: {block: linear, params: {out_features: 32}, inputs: [s1]}
  s2: {block: add, inputs: [s2_conv, s2_proj]}
  y: {block: output, inputs: [s2]}
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "step.yaml").write_text(PART)
    (tmp_path / "steps.yaml").write_text(USES_PART)
    return tmp_path


def same_outputs(graph, reference, rename) -> float:
    """Largest |difference| of the two compiled graphs on one input, ``graph``'s weights
    given to ``reference`` under the names ``rename`` gives them."""
    model, other = compile_graph(graph, seed=1).eval(), compile_graph(reference, seed=2).eval()
    other.load_state_dict({rename(k): v for k, v in model.state_dict().items()})
    analysis = analyze(graph)
    shape = analysis.nodes[analysis.input_ids[0]].shape
    inputs = torch.randn(3, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return (model(inputs) - other(inputs)).abs().max().item()


# ------------------------------------------------------------------ round trip
def test_round_trip_keeps_repeated_and_optional_nodes_exactly(project):
    for text, path in ((STACK, project / "stack.yaml"), (PART, project / "parts/step.yaml"),
                       (USES_PART, project / "steps.yaml")):
        assert dump_graph(parse_graph(text, str(path))) == text
    graph = parse_graph(STACK)
    graph.nodes["layers"].repeat = 4
    graph.nodes["layers"].vary["out_features"] = [8, 8, 8, 8]
    graph.nodes["acts"].enabled = False
    assert dump_graph(graph) == STACK.replace("repeat: 3 ", "repeat: 4 ").replace(
        '"8 + 4 * i"', "[8, 8, 8, 8]").replace("inputs: [layers]}", "inputs: [layers], enabled: false}")
    graph.nodes["layers"].repeat = graph.nodes["layers"].vary = None
    graph.nodes["layers"].params["out_features"] = 8
    assert "repeat" not in dump_graph(graph).split("acts")[0] and "vary" not in dump_graph(graph)


# ------------------------------------------------------------------ expansion
def test_repeated_block_equals_the_graph_unrolled_by_hand():
    graph, unrolled = parse_graph(STACK), parse_graph(UNROLLED)
    a, b = analyze(graph), analyze(unrolled)
    assert a.problems == [] and a.total == b.total and a.nodes["acts"].shape == (16,)
    assert [s.outputs["out"] for s in a.nodes["layers"].block.steps(a.nodes["layers"].params, {"x": (6,)})] == \
        [(8,), (12,), (16,)]
    assert same_outputs(graph, unrolled, lambda k: k.replace("layers.", "layers_")) == 0.0


def test_repeated_part_with_a_switch_per_repetition_equals_the_unrolled_graph(project):
    graph, unrolled = load_graph(project / "steps.yaml"), parse_graph(UNROLLED_PART)
    a = analyze(graph)
    assert a.problems == [] and a.total == analyze(unrolled).total  # the middle step has no projection
    names = {"stage.0.": "s0_", "stage.1.": "s1_", "stage.2.": "s2_"}

    def rename(key: str) -> str:
        prefix = key[:8]
        return names[prefix] + key[8:]

    assert same_outputs(graph, unrolled, rename) < 1e-6
    part = analyze(load_graph(project / "parts/step.yaml"))  # on its own: the switch's default
    assert part.problems == [] and "proj" not in part.order and part.nodes["proj"].shape == (8,)


def test_densenet121_gallery_graph_equals_the_flat_one_output_for_output():
    graph = with_input_shape(load_graph(ROOT / "graphs/densenet121.yaml"), [3, 32, 32])
    flat = densenet121((3, 32, 32))
    assert analyze(graph).total.params == analyze(flat).total.params == 7_978_856

    def rename(key: str) -> str:  # denseblock2.3.conv1.weight -> denseblock2_denselayer4_conv1.weight
        parts = key.split(".")
        if parts[0].startswith("denseblock"):
            return f"{parts[0]}_denselayer{int(parts[1]) + 1}_{parts[2]}.{'.'.join(parts[3:])}"
        if parts[0].startswith("transition"):
            return f"{parts[0]}_{parts[1]}.{'.'.join(parts[2:])}"
        return key

    assert same_outputs(graph, flat, rename) < 1e-4


def test_compiled_repeated_node_scripts_and_names_its_repetitions():
    model = compile_graph(parse_graph(STACK))
    assert [k for k in model.state_dict()] == ["layers.0.weight", "layers.1.weight", "layers.2.weight"]
    scripted = torch.jit.script(model)
    x = torch.randn(2, 6)
    assert torch.equal(scripted(x), model(x))


# ------------------------------------------------------------------ problems
@pytest.mark.parametrize("node, message, line", [
    ("  a: {block: linear, repeat: 0, params: {out_features: 4}, inputs: [x]}",
     "repeat 0 is out of range: a node is repeated 1 to 10,000 times", 4),
    ("  a: {block: linear, repeat: 10001, params: {out_features: 4}, inputs: [x]}", "repeat 10,001 is out of range", 4),
    ("  a: {block: linear, repeat: six, params: {out_features: 4}, inputs: [x]}", "repeat must be a whole number", 4),
    ("  a:\n    block: linear\n    repeat: 3\n    vary: {out_features: [4, 4]}\n    inputs: [x]",
     "vary.out_features lists 2 values for 3 repetitions", 7),
    ("  a:\n    block: linear\n    repeat: 2\n    vary: {out_features: \"4 + j\"}\n    inputs: [x]",
     "vary.out_features = '4 + j': for i=0: unknown name 'j' (names here: i, n)", 7),
    ("  a:\n    block: linear\n    repeat: 2\n    vary: {out_features: \"x.__class__\"}\n    inputs: [x]",
     "'attribute' is not allowed in an expression", 7),
    ("  a:\n    block: linear\n    repeat: 2\n    vary: {out_features: \"4 - 4 * i\"}\n    inputs: [x]",
     "vary.out_features, repetition i=1: parameter 'out_features'", 7),
    ("  a:\n    block: linear\n    repeat: 2\n    vary: {out_feature: [4, 4]}\n    inputs: [x]",
     "vary: linear has no parameter 'out_feature'", 7),
    ("  a: {block: linear, vary: {out_features: [4]}, inputs: [x]}", "'vary' sets parameters per repetition, but", 4),
    ("  a: {block: concat, repeat: 2, inputs: [x, x]}", "its first input 'x' takes several tensors", 4),
    ("  a: {block: relu, inputs: [x]}\n  z: {block: input, params: {shape: [4]}, enabled: false}",
     "an input node cannot be switched off", 5),
])
def test_problems_name_file_line_and_node(node, message, line, tmp_path):
    text = f"format: 1\nnodes:\n  x: {{block: input, params: {{shape: [4]}}}}\n{node}\n  y: {{block: output, inputs: [a]}}\n"
    analysis = analyze(parse_graph(text, str(tmp_path / "bad.yaml")))
    found = [p for p in analysis.errors if message in p.message]
    assert found, [str(p) for p in analysis.problems]
    assert (found[0].file, found[0].line) == (str(tmp_path / "bad.yaml"), line)
    assert found[0].node == ("z" if "input node" in message else "a") and found[0].hint


def test_switches_that_cannot_work_are_problems(project):
    (project / "parts" / "step.yaml").write_text(PART.replace("project: [proj.enabled]",
                                                              "project: [proj.enabled, conv.out_features]"))
    problem = analyze(load_graph(project / "steps.yaml")).errors[0]
    assert problem.node == "stage" and "as both a switch (node.enabled) and a parameter" in problem.message
    text = ("format: 1\nnodes:\n  x: {block: input, params: {shape: [5, 4]}}\n"
            "  r: {block: lstm, params: {hidden_size: 4}, inputs: [x], enabled: false}\n"
            "  y: {block: output, inputs: [r.hidden]}\n")
    problem = analyze(parse_graph(text)).errors[0]
    assert (problem.node, problem.line) == ("y", 5) and "'r' is switched off and only its first output" in problem.message


def test_a_shape_problem_says_which_repetition_met_it():
    text = STACK.replace("shape: [6]", "shape: [6, 3, 3]").replace("block: tanh", "block: flatten")
    text = text.replace("block: linear", "block: conv2d").replace("bias: false", "kernel_size: 2")
    text = text.replace("out_features", "out_channels")
    problem = analyze(parse_graph(text)).errors[0]
    assert problem.node == "layers" and "conv2d in repetition i=2 of 3:" in problem.message


def test_expressions_allow_arithmetic_and_nothing_else():
    assert evaluate(parse("min(64 + 32 * i, 100) // 2 if i > 0 else 2 ** 3"), {"i": 2}) == 50
    assert evaluate(parse("i % 2 == 0 and n > 1"), {"i": 4, "n": 3}) is True
    for bad in ("__import__('os')", "().__class__", "'a' * 3", "lambda: 1", "[1, 2]", "x[0]", "9 ** 999",
                "1 << 80", "open"):
        with pytest.raises(ExpressionError):
            evaluate(parse(bad), {"x": 1})
    with pytest.raises(ExpressionError, match="divides by zero"):
        evaluate(parse("1 // i"), {"i": 0})


def test_repeat_and_vary_may_use_the_files_exposed_parameters():
    text = ("format: 1\nexpose: {width: [a.out_features]}\nnodes:\n  x: {block: input, params: {shape: [4]}}\n"
            "  a: {block: linear, params: {out_features: 3}, inputs: [x]}\n"
            "  b: {block: linear, repeat: width, vary: {out_features: \"width + i\"}, inputs: [a]}\n"
            "  y: {block: output, inputs: [b]}\n")
    analysis = analyze(parse_graph(text))
    assert analysis.problems == [] and analysis.nodes["b"].block.count == 3 and analysis.nodes["b"].shape == (5,)


# ------------------------------------------------------------------ the command line
def test_check_prints_a_row_per_repetition_on_request(project, capsys):
    assert main(["check", str(project / "steps.yaml")]) == 0
    out = capsys.readouterr().out
    assert "graph:parts/step.yaml x3" in out and "stage[1]" not in out
    assert main(["check", "--expand-repeats", str(project / "steps.yaml")]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("stage[")]
    assert [r[0] for r in rows] == ["stage[0]", "stage[1]", "stage[2]"]
    assert rows[1][:3] == ["stage[1]", "width=16,", "project=False"] and rows[2][-2] == "1,088"
