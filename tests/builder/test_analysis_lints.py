"""The lint warnings of the analysis: a conv1d that an embedding feeds without a transpose
slides along the features instead of time. A warning names the node and gives the fix; it
never stops compilation, and a graph that transposes first gets none."""

from __future__ import annotations

import pytest

from builder.analysis import analyze
from builder.compiler import compile_graph
from builder.yaml_format import parse_graph

TEXT_CNN = """\
format: 1
name: text_cnn
nodes:
  tokens: {block: input, params: {shape: [50], dtype: int64}}
  embed: {block: embedding, params: {num_embeddings: 100, embedding_dim: 32}, inputs: [tokens]}
%s
  conv:
    block: conv1d
    params: {out_channels: 8, kernel_size: 3}
    inputs: [%s]
  pool: {block: global_avg_pool, inputs: [conv]}
  out: {block: output, inputs: [pool]}
"""


def lints(between: str, feeder: str):
    graph = parse_graph(TEXT_CNN % (between, feeder), path="text_cnn.yaml")
    analysis = analyze(graph)
    assert analysis.ok, analysis.errors
    return [p for p in analysis.warnings if "conv1d" in p.message], graph


def test_conv1d_right_after_an_embedding_is_warned_about_with_the_fix():
    found, graph = lints("", "embed")
    assert len(found) == 1
    warning = found[0]
    assert warning.severity == "warning" and warning.node == "conv" and warning.file == "text_cnn.yaml"
    assert warning.line == 10  # the conv's inputs line (line 6 is the empty "between")
    assert "'embed' gives [T, E] = [50, 32]" in warning.message
    assert "50 time steps as channels" in warning.message
    assert warning.hint == ("insert a transpose (dim0: 0, dim1: 1) between 'embed' and 'conv' so that conv1d gets"
                            " [32, 50]: 32 channels over 50 time steps")
    compile_graph(graph)  # a warning, never an error


@pytest.mark.parametrize("between, feeder", [
    ("  drop: {block: dropout, params: {p: 0.1}, inputs: [embed]}\n"
     "  act: {block: relu, inputs: [drop]}", "act"),
    ("  pos: {block: positional_encoding, inputs: [embed]}\n"
     "  mixed: {block: add, inputs: [embed, pos]}\n"
     "  norm: {block: layer_norm, inputs: [mixed]}", "norm"),
])
def test_shape_keeping_blocks_in_between_still_warn(between, feeder):
    found, _ = lints(between, feeder)
    assert [w.node for w in found] == ["conv"]
    assert f"between '{feeder}' and 'conv'" in found[0].hint and f"(through '{feeder}')" in found[0].message


@pytest.mark.parametrize("between, feeder", [
    ("  swap: {block: transpose, inputs: [embed]}", "swap"),
    ("  swap: {block: permute, params: {dims: [1, 0]}, inputs: [embed]}\n"
     "  drop: {block: dropout, inputs: [swap]}", "drop"),
])
def test_a_transpose_or_permute_in_between_silences_it(between, feeder):
    found, _ = lints(between, feeder)
    assert found == []


def test_conv1d_on_a_plain_signal_is_not_warned_about():
    graph = parse_graph("format: 1\nnodes:\n  x: {block: input, params: {shape: [4, 20]}}\n"
                        "  conv: {block: conv1d, params: {out_channels: 2, kernel_size: 3}, inputs: [x]}\n"
                        "  out: {block: output, inputs: [conv]}\n")
    assert analyze(graph).problems == []
