"""The insides of the built-in composite blocks (residual, inception, squeeze_excitation)
are faithful: each parses and checks as a graph of primitive blocks, has the block's output
shape, parameters and MACs, and, compiled with the block module's weights copied in by
name, computes the same outputs."""

from __future__ import annotations

import json
import re

import pytest
import torch

from blocks import ShapeError, all_blocks, get_block
from builder import analyze, compile_graph, parse_graph

COMPOSITES = ("residual", "inception", "squeeze_excitation")
CASES = [
    pytest.param(name, example["params"], example["inputs"]["x"], id=f"{name}-{i}")
    for name in COMPOSITES
    for i, example in enumerate(get_block(name).examples)
] + [  # what the examples leave out: gelu, SE on an identity shortcut, a wide bottleneck
    pytest.param("residual", {"channels": 8, "activation": "gelu", "se_reduction": 2}, [8, 6, 6], id="residual-gelu-se"),
    pytest.param("residual", {"kind": "bottleneck", "channels": 4}, [6, 5, 5], id="residual-bottleneck-project"),
]


def inside_of(name: str, raw: dict, x: list[int]):
    block = get_block(name)
    params, problems = block.check_params(raw)
    assert not problems, problems
    mapping = block.inside(params, x=tuple(x))
    return block, params, parse_graph(json.dumps(mapping))


def node_key(module_key: str) -> str:
    """The block module's state_dict key -> the compiled inside's: submodule path with '_'
    for '.', and a conv-norm-act group's ``conv`` named after the group."""
    path, _, leaf = module_key.rpartition(".")
    return re.sub(r"\.conv$", "", path).replace(".", "_") + "." + leaf


@pytest.mark.parametrize("name,raw,x", CASES)
def test_inside_checks_with_the_blocks_shape_parameters_and_macs(name, raw, x):
    block, params, graph = inside_of(name, raw, x)
    analysis = analyze(graph)
    assert analysis.ok, [str(p) for p in analysis.problems]
    assert not analysis.problems
    assert {analysis.nodes[i].block.category for i in graph.nodes} <= {
        "Input/Output", "Convolution", "Normalization", "Activation", "Pooling", "Merge"}  # primitives only
    out = block.infer(params, x=tuple(x))
    assert analysis.nodes["out"].shape == out
    assert analysis.total == block.cost(params, out, x=tuple(x))


@pytest.mark.parametrize("name,raw,x", CASES)
def test_inside_computes_what_the_block_computes(name, raw, x):
    block, params, graph = inside_of(name, raw, x)
    torch.manual_seed(1)
    module = block.build(params, x=tuple(x))
    for buffer_name, buffer in module.named_buffers():  # BN statistics that are not 0 and 1
        if buffer_name.endswith("running_mean"):
            buffer.normal_()
        elif buffer_name.endswith("running_var"):
            buffer.uniform_(0.5, 2.0)
    for parameter in module.parameters():
        parameter.data.normal_(0, 0.3)
    inside = compile_graph(graph, seed=7)
    state = {node_key(k): v for k, v in module.state_dict().items()}
    inside.load_state_dict(state, strict=True)  # the same weights, name for name, none left over
    module.eval()
    inside.eval()
    batch = torch.randn(3, *x)
    with torch.no_grad():
        torch.testing.assert_close(inside(batch), module(batch), rtol=1e-5, atol=1e-5)


def test_the_skip_connection_and_branches_are_wires():
    _, _, basic = inside_of("residual", {"channels": 8}, [8, 10, 10])
    assert basic.nodes["add"].inputs == ["bn2", "x"]  # identity shortcut: the input itself
    assert "shortcut" not in basic.nodes
    _, _, projected = inside_of("residual", {"kind": "bottleneck", "channels": 4, "stride": 2, "se_reduction": 4},
                                [8, 11, 11])
    assert projected.nodes["add"].inputs == ["se_scale", "shortcut_bn"]
    assert projected.nodes["se_scale"].inputs == ["bn3", "se_gate"]
    _, _, inception = inside_of("inception", get_block("inception").examples[0]["params"], [8, 9, 9])
    assert inception.nodes["concat"].inputs == ["branch1x1_relu", "branch3x3_conv_relu", "branch5x5_conv_relu",
                                                "branch_pool_proj_relu"]


def test_only_composite_blocks_have_an_inside():
    with_inside = {b.name for b in all_blocks() if b.has_inside()}
    assert with_inside == {b.name for b in all_blocks() if b.category == "Composite"} >= set(COMPOSITES)
    conv = get_block("conv2d")
    assert conv.inside(conv.check_params({"out_channels": 2, "kernel_size": 1})[0], x=(1, 4, 4)) is None


def test_an_inside_for_a_shape_the_block_refuses_says_why():
    block = get_block("residual")
    with pytest.raises(ShapeError, match="3 dimensions"):
        block.inside(block.check_params({"channels": 4})[0], x=(4, 10))


# --- multiply's broadcast option: the scale step of squeeze-and-excitation ---------------
def _multiply(broadcast: bool, *shapes):
    block = get_block("multiply")
    return block.infer(block.check_params({"broadcast": broadcast})[0], x=[tuple(s) for s in shapes])


def test_multiply_broadcasts_axes_of_size_one_only_when_asked():
    assert _multiply(True, (8, 5, 6), (8, 1, 1)) == (8, 5, 6)
    assert _multiply(True, (1, 5, 1), (8, 1, 6)) == (8, 5, 6)
    with pytest.raises(ShapeError, match="set broadcast: true"):
        _multiply(False, (8, 5, 6), (8, 1, 1))
    with pytest.raises(ShapeError, match=r"cannot broadcast dim 0.*\[4, 1, 1\]"):
        _multiply(True, (8, 5, 6), (4, 1, 1))
    with pytest.raises(ShapeError, match="same number of dimensions"):
        _multiply(True, (8, 5, 6), (8,))  # [N, 8] would stretch along the wrong axes of [N, 8, 5, 6]
