"""The app's words for the engine's problems: palette, wires and inspector, not YAML keys
and commands; the node named, not its block type; no raw reStructuredText."""

from __future__ import annotations

from builder import Problem, analyze, parse_graph
from gui.wording import app_hint, count_text, for_app, plain

BROKEN = """
format: 1
name: broken
nodes:
  img: {block: input, params: {shape: [3, 32, 32]}}
  c1: {block: conv2d, params: {out_channels: 0, kernel_size: 3}, inputs: [img]}
  lone: {block: relu}
  z: {block: conv2dd}
  o: {block: output, inputs: [c1]}
"""


def test_every_problem_of_a_broken_graph_speaks_of_the_app():
    shown = [for_app(p) for p in analyze(parse_graph(BROKEN, "broken.yaml")).problems]
    text = "\n".join(f"{p.message} {p.hint or ''}" for p in shown)
    for engine_word in ("inputs:", "params:", "modelbuilder", "block: ", "``"):
        assert engine_word not in text, engine_word
    unconnected = next(p for p in shown if p.node == "lone" and "not connected" in p.message)
    assert unconnected.message == "input 'x' of 'lone' is not connected"
    assert unconnected.hint.startswith("drag a wire")
    bad = next(p for p in shown if p.node == "c1" and p.param == "out_channels")
    assert "inspector" in bad.hint


def test_no_input_or_output_hints_name_the_palette():
    problems = analyze(parse_graph("format: 1\nname: bare\nnodes:\n  a: {block: relu}\n", "e.yaml")).problems
    hints = [for_app(p).hint for p in problems]
    assert any("'input' block from the palette" in h for h in hints)
    assert any("'output' block from the palette" in h for h in hints)


def test_plain_text_and_counts():
    assert plain("Shape: ``[C, L] -> [out_channels, L']`` and `x`") == "Shape: [C, L] -> [out_channels, L'] and x"
    assert app_hint("check the shapes on the wires into this node") == "check the shapes on the wires into this node"
    assert app_hint(None) is None
    assert for_app(Problem("a ``b``")).message == "a b"
    assert count_text(0, 0) == "No problems"
    assert count_text(1, 0) == "1 error" and count_text(2, 1) == "2 errors, 1 warning"
