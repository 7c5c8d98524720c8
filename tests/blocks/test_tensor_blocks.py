"""The tensor blocks (permute, transpose, reshape, squeeze, unsqueeze, select, slice), the
added activations and their aliases, learned tokens and positions, upsampling to a size or
to another tensor, local response normalization and max-unpooling: each compared with the
PyTorch operation or the paper's formula it stands for, and the errors a user will read."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from blocks import ShapeError, get_block
from blocks.registry import UnknownBlockError
from builder.analysis import analyze
from builder.compiler import compile_graph
from builder.yaml_format import parse_graph

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def params(block, **raw):
    values, problems = get_block(block).check_params(raw)
    assert not problems, problems
    return values


def problems(block, **raw):
    return get_block(block).check_params(raw)[1]


def build(block, raw, **shapes):
    """The module, checked to script, and the declared output shape(s)."""
    decl = get_block(block)
    p = params(block, **raw)
    module = decl.build(p, **shapes).eval()
    torch.jit.script(module)
    return module, decl.infer(p, **shapes)


def run(block, raw, x, **more):
    module, shape = build(block, raw, x=tuple(x.shape[1:]), **{k: tuple(v.shape[1:]) for k, v in more.items()})
    out = module(x, *more.values())
    assert tuple(out.shape[1:]) == shape
    return out


X = torch.randn(2, 3, 4, 5)


# --- activations ----------------------------------------------------------------------
def test_relu6_and_hard_swish_compute_their_formulas():
    x = torch.linspace(-9, 9, 37).reshape(1, 37)
    assert torch.equal(run("relu6", {}, x), x.clamp(0, 6))
    torch.testing.assert_close(run("hard_swish", {}, x), x * (x + 3).clamp(0, 6) / 6)
    torch.testing.assert_close(run("hard_sigmoid", {}, x), (x / 6 + 0.5).clamp(0, 1))


@pytest.mark.parametrize("alias, name", [("swish", "silu"), ("hardswish", "hard_swish"),
                                         ("hardsigmoid", "hard_sigmoid")])
def test_aliases_name_the_same_block(alias, name):
    assert get_block(alias) is get_block(name)
    graph = parse_graph(f"format: 1\nnodes:\n  x: {{block: input, params: {{shape: [4]}}}}\n"
                        f"  a: {{block: {alias}, inputs: [x]}}\n  out: {{block: output, inputs: [a]}}\n")
    analysis = analyze(graph)
    assert analysis.ok and analysis.nodes["a"].block.name == name


def test_a_misspelt_alias_suggests_the_block_name():
    with pytest.raises(UnknownBlockError) as err:
        get_block("hardswsh")
    assert err.value.suggestion == "hard_swish"


# --- axes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dims", [[0, 1, 2], [2, 0, 1], [-1, 0, 1], [1, 2, 0]])
def test_permute_is_torch_permute_past_the_batch_axis(dims):
    order = [0] + [d % 3 + 1 for d in dims]
    assert torch.equal(run("permute", {"dims": dims}, X), X.permute(order))


def test_permute_must_list_every_axis_once():
    with pytest.raises(ShapeError, match=r"lists 2 axes.*has 3"):
        build("permute", {"dims": [1, 0]}, x=(3, 4, 5))
    with pytest.raises(ShapeError, match="exactly once"):
        build("permute", {"dims": [0, 0, 1]}, x=(3, 4, 5))
    with pytest.raises(ShapeError, match="permute axis 3"):
        build("permute", {"dims": [0, 1, 3]}, x=(3, 4, 5))


@pytest.mark.parametrize("dim0, dim1", [(0, 1), (0, -1), (2, 1), (-2, -3)])
def test_transpose_swaps_two_axes(dim0, dim1):
    expected = X.transpose(dim0 + 1 if dim0 >= 0 else dim0, dim1 + 1 if dim1 >= 0 else dim1)
    assert torch.equal(run("transpose", {"dim0": dim0, "dim1": dim1}, X), expected)


def test_transpose_defaults_turn_time_features_into_channels_length():
    x = torch.randn(2, 7, 16)
    assert torch.equal(run("transpose", {}, x), x.transpose(1, 2))


@pytest.mark.parametrize("shape", [[60], [-1], [5, -1], [-1, 2, 6], [3, 4, 5]])
def test_reshape_keeps_the_batch_axis_and_infers_minus_one(shape):
    assert torch.equal(run("reshape", {"shape": shape}, X), X.reshape(2, *shape))


def test_reshape_errors():
    assert "more than one -1" in problems("reshape", shape=[-1, -1])[None]
    assert "size 0" in problems("reshape", shape=[0, 4])[None]
    with pytest.raises(ShapeError, match=r"60 values.*\[7, -1\].*not a multiple of 7"):
        build("reshape", {"shape": [7, -1]}, x=(3, 4, 5))
    with pytest.raises(ShapeError, match=r"\[3, 4, 5\] \(60 values\) to \[6, 11\] \(66 values\)"):
        build("reshape", {"shape": [6, 11]}, x=(3, 4, 5))


def test_squeeze_and_unsqueeze():
    x = torch.randn(2, 3, 1, 5)
    assert torch.equal(run("squeeze", {"dim": 1}, x), x.squeeze(2))
    assert torch.equal(run("squeeze", {"dim": -2}, x), x.squeeze(2))
    for dim in (0, 1, 3, -1, -4):
        expected = X.unsqueeze(dim + 1 if dim >= 0 else dim)
        assert torch.equal(run("unsqueeze", {"dim": dim}, X), expected)
    with pytest.raises(ShapeError, match=r"expects size 1 there, found 4 in \[3, 4, 5\]"):
        build("squeeze", {"dim": 1}, x=(3, 4, 5))
    with pytest.raises(ShapeError, match="unsqueeze dim 4"):
        build("unsqueeze", {"dim": 4}, x=(3, 4, 5))
    assert "missing required parameter 'dim'" in problems("squeeze")["dim"]


# --- indexing ------------------------------------------------------------------------------
@pytest.mark.parametrize("dim, index", [(0, 0), (0, -1), (1, 2), (-1, 4), (2, -5)])
def test_select_is_torch_select(dim, index):
    assert torch.equal(run("select", {"dim": dim, "index": index}, X), X.select(dim + 1 if dim >= 0 else dim, index))


def test_select_out_of_range_names_the_positions():
    with pytest.raises(ShapeError, match=r"index 3 is outside axis 0 of \[3, 4, 5\].*0 to 2"):
        build("select", {"index": 3}, x=(3, 4, 5))


@pytest.mark.parametrize("start, stop, step", [(0, None, 1), (1, None, 1), (1, 4, 2), (-3, -1, 1), (-9, 99, 3),
                                               (2, 3, 5), (0, None, 2)])
def test_slice_is_python_slicing(start, stop, step):
    x = torch.randn(2, 3, 5, 4)
    raw = {"dim": 1, "start": start, "stop": stop, "step": step}
    assert torch.equal(run("slice", raw, x), x[:, :, start:stop:step])
    assert torch.equal(run("slice", {**raw, "dim": -3}, x.transpose(1, 2)), x.transpose(1, 2)[:, start:stop:step])


def test_an_empty_slice_is_an_error():
    with pytest.raises(ShapeError, match=r"slice 4:2:1 of axis 0 of \[5, 3\] keeps nothing"):
        build("slice", {"start": 4, "stop": 2}, x=(5, 3))
    assert ">= 1" in problems("slice", step=0)["step"]


# --- learned tokens and positions ----------------------------------------------------------
def test_class_token_is_prepended_and_position_embedding_added():
    x = torch.randn(2, 5, 6)
    module, shape = build("class_token", {"count": 2}, x=(5, 6))
    out = module(x)
    assert shape == (7, 6) and out.shape == (2, 7, 6)
    assert torch.equal(out[:, 2:], x) and torch.equal(out[0, :2], module.token) and torch.equal(out[1, :2], module.token)
    module, _ = build("position_embedding", {}, x=(5, 6))
    assert torch.equal(module(x), x + module.table)
    assert module.table.requires_grad and module.table.shape == (5, 6)
    with pytest.raises(ShapeError, match="time, embedding"):
        build("class_token", {}, x=(3, 4, 5))


# --- upsampling ---------------------------------------------------------------------------------
def test_upsample_to_a_size_and_to_the_size_of_another_input():
    x = torch.randn(2, 4, 3, 5)
    out = run("upsample", {"size": [7, 9], "mode": "bilinear"}, x)
    assert torch.equal(out, F.interpolate(x, size=(7, 9), mode="bilinear"))
    like = torch.randn(2, 1, 11, 6)
    out = run("upsample", {"mode": "bilinear", "align_corners": True}, x, like=like)
    assert torch.equal(out, F.interpolate(x, size=(11, 6), mode="bilinear", align_corners=True))
    assert out.shape == (2, 4, 11, 6)
    assert torch.equal(run("upsample", {}, x), F.interpolate(x, scale_factor=2.0))  # the default factor


def test_upsample_size_errors():
    assert "not both" in problems("upsample", scale_factor=2, size=[4, 4])[None]
    with pytest.raises(ShapeError, match="scale_factor and size must stay null"):
        build("upsample", {"size": [4, 4]}, x=(2, 3, 3), like=(1, 5, 5))
    with pytest.raises(ShapeError, match=r"'like' must have as many dimensions.*\[2, 3, 3\].*\[5, 5\]"):
        build("upsample", {}, x=(2, 3, 3), like=(5, 5))
    with pytest.raises(ShapeError, match=r"size \[4\] gives 1 spatial sizes.*2 spatial axes"):
        build("upsample", {"size": [4]}, x=(2, 3, 3))


# --- local response normalization -------------------------------------------------------------
def test_local_response_norm_is_the_alexnet_formula():
    x = torch.randn(2, 9, 4, 4) * 20
    out = run("local_response_norm", {}, x)
    squares = F.pad(x.pow(2), (0, 0, 0, 0, 2, 2))  # n = 5: two channels on each side, zeros beyond
    window = sum(squares[:, i:i + 9] for i in range(5))
    expected = x / (2.0 + 1e-4 * window) ** 0.75  # Krizhevsky et al. 2012, section 3.3
    torch.testing.assert_close(out, expected)
    assert (out - x / 2.0 ** 0.75).abs().max() > 1e-3  # the neighbours' squares matter at this scale


# --- max pooling with indices, max-unpooling ---------------------------------------------------
@pytest.mark.parametrize("kernel, stride, padding, size, output_size", [
    (2, None, 0, (6, 8), None), (3, 2, 1, (9, 7), [9, 7]), (3, 1, 1, (5, 5), None), (2, None, 0, (7, 9), [7, 9])])
def test_unpooling_puts_the_maxima_back_like_torch(kernel, stride, padding, size, output_size):
    x = torch.randn(2, 3, *size)
    pool, shapes = build("max_pool2d_with_indices", {"kernel_size": kernel, "stride": stride, "padding": padding},
                         x=(3, *size))
    pooled, indices = pool(x)
    assert torch.equal(pooled, F.max_pool2d(x, kernel, stride, padding))
    assert indices.dtype == torch.int64 and shapes == {"out": tuple(pooled.shape[1:]), "indices": shapes["out"]}
    raw = {"kernel_size": kernel, "stride": stride, "padding": padding, "output_size": output_size}
    unpool, shape = build("max_unpool2d", raw, x=shapes["out"], indices=shapes["out"])
    reference = nn.MaxUnpool2d(kernel, stride, padding)
    expected = reference(pooled, indices, output_size=output_size)
    assert torch.equal(unpool(pooled, indices), expected) and shape == tuple(expected.shape[1:])


def test_unpooling_errors():
    with pytest.raises(ShapeError, match=r"indices \[3, 4, 4\] must have the shape of x \[3, 5, 5\]"):
        build("max_unpool2d", {"kernel_size": 2}, x=(3, 5, 5), indices=(3, 4, 4))
    with pytest.raises(ShapeError, match=r"output_size \[12, 10\] does not fit.*from \[10, 10\] up to stride - 1"):
        build("max_unpool2d", {"kernel_size": 2, "output_size": [12, 10]}, x=(3, 5, 5), indices=(3, 5, 5))


POOL_GRAPH = """
format: 1
nodes:
  x: {block: input, params: {shape: [2, 8, 8]}}
  pool: {block: max_pool2d_with_indices, params: {kernel_size: 2}, inputs: [x]}
  use: {block: %s, inputs: %s}
  out: {block: output, inputs: [use]}
"""
UNPOOL = "max_unpool2d, params: {kernel_size: 2}"


def test_indices_are_referenced_as_a_second_port_and_are_integers():
    model = compile_graph(parse_graph(POOL_GRAPH % (UNPOOL, "{x: pool, indices: pool.indices}")))
    x = torch.randn(3, 2, 8, 8)
    expected = F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2)
    assert torch.equal(model(x), expected)

    wrong = analyze(parse_graph(POOL_GRAPH % ("relu", "[pool.indices]")))
    assert [p.message for p in wrong.errors] == ["relu takes float values, but 'pool.indices' gives integers"]
    assert "float output" in wrong.errors[0].hint
    swapped = analyze(parse_graph(POOL_GRAPH % (UNPOOL, "{x: pool.indices, indices: pool}")))
    assert [p.message for p in swapped.errors] == [
        "max_unpool2d takes float values, but 'pool.indices' gives integers"]
    floats = analyze(parse_graph(POOL_GRAPH % (UNPOOL, "{x: pool, indices: x}")))
    assert [p.message for p in floats.errors] == [
        "input 'indices' of max_unpool2d takes integers (where each value goes: the 'indices' output of"
        " max_pool2d_with_indices), but 'x' gives float values"]


# --- transformer layer norm eps ---------------------------------------------------------------
def test_transformer_layer_norm_eps_default_and_set():
    module, _ = build("transformer_encoder_layer", {"num_heads": 2}, x=(4, 8))
    assert module.layer.norm1.eps == module.layer.norm2.eps == 1e-5
    module, _ = build("transformer_encoder_layer", {"num_heads": 2, "layer_norm_eps": 1e-6}, x=(4, 8))
    assert module.layer.norm1.eps == module.layer.norm2.eps == 1e-6


def test_a_registered_name_wins_over_an_alias(monkeypatch):
    from blocks import registry

    plugin = get_block("relu")  # stands for a plug-in that registers the name "swish" itself
    monkeypatch.setitem(registry._REGISTRY, "swish", plugin)
    assert get_block("swish") is plugin
    monkeypatch.undo()
    assert get_block("swish") is get_block("silu")
