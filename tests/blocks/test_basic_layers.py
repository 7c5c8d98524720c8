"""Targeted checks of the basic layers: shape arithmetic against the real modules, error
messages a user will read, axis mapping, and that the merge modules script and trace."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import torch.fx
from torch import nn

from blocks import ShapeError, get_block

# torch 2.13 deprecates TorchScript; the modules must keep scripting while it exists.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

ROOT = Path(__file__).resolve().parents[2]


def params(block, **raw):
    values, problems = get_block(block).check_params(raw)
    assert not problems, problems
    return values


def infer(block, raw, **inputs):
    return get_block(block).infer(params(block, **raw), **inputs)


def run(block, raw, *shapes, batch=2):
    """Build the block for ``shapes`` and return the per-sample output shape of the module."""
    decl = get_block(block)
    p = params(block, **raw)
    port = decl.inputs[0].name
    inputs = {port: list(shapes)} if decl.inputs[0].variadic else {port: shapes[0]}
    module = decl.build(p, **inputs).eval()
    tensors = [torch.randn(batch, *s) for s in shapes]
    with torch.no_grad():
        out = module(tensors) if decl.inputs[0].variadic else module(*tensors)
    return tuple(out.shape[1:])


# --- merge ------------------------------------------------------------------------------
@pytest.mark.parametrize("block", ["add", "multiply"])
def test_elementwise_merge_names_both_shapes(block):
    with pytest.raises(ShapeError) as err:
        infer(block, {}, x=[(64, 56, 56), (64, 56, 56), (128, 28, 28)])
    msg = str(err.value)
    assert "[64, 56, 56]" in msg and "[128, 28, 28]" in msg
    assert "input 3" in msg and "broadcast" in msg


def test_elementwise_merge_refuses_broadcastable_shapes():
    with pytest.raises(ShapeError, match=r"\[8, 1, 1\].*\[8, 4, 4\]|\[8, 4, 4\].*\[8, 1, 1\]"):
        infer("add", {}, x=[(8, 4, 4), (8, 1, 1)])


def test_merge_needs_two_inputs():
    with pytest.raises(ShapeError, match="at least 2 inputs, found 1"):
        infer("add", {}, x=[(3,)])
    with pytest.raises(ShapeError, match="at least 2 inputs"):
        infer("concat", {}, x=[(3,)])


def test_add_and_multiply_compute():
    a, b, c = (torch.randn(2, 3, 4) for _ in range(3))
    add = get_block("add").build(params("add"), x=[(3, 4)] * 3)
    mul = get_block("multiply").build(params("multiply"), x=[(3, 4)] * 2)
    torch.testing.assert_close(add([a, b, c]), a + b + c)
    torch.testing.assert_close(mul([a, b]), a * b)


def test_concat_shapes():
    assert infer("concat", {}, x=[(64, 28, 28), (32, 28, 28), (16, 28, 28)]) == (112, 28, 28)
    assert infer("concat", {"dim": -1}, x=[(5, 3), (5, 4)]) == (5, 7)
    assert infer("concat", {"dim": 1}, x=[(2, 3, 4), (2, 5, 4)]) == (2, 8, 4)
    assert run("concat", {"dim": 1}, (2, 3, 4), (2, 5, 4)) == (2, 8, 4)
    assert run("concat", {"dim": -2}, (2, 3, 4), (2, 5, 4)) == (2, 8, 4)


def test_concat_mismatch_says_which_dim():
    with pytest.raises(ShapeError) as err:
        infer("concat", {}, x=[(64, 28, 28), (32, 14, 28)])
    msg = str(err.value)
    assert "dim 1 differs" in msg and "[64, 28, 28]" in msg and "[32, 14, 28]" in msg
    with pytest.raises(ShapeError, match="same number of dimensions"):
        infer("concat", {}, x=[(64, 28, 28), (64, 28)])
    with pytest.raises(ShapeError, match=r"dim 2 expects at least 3 dimensions per sample, found \[4, 5\]"):
        infer("concat", {"dim": 2}, x=[(4, 5), (4, 5)])


@pytest.mark.parametrize("name,expected", [
    ("add", lambda xs: xs[0] + xs[1] + xs[2]),
    ("multiply", lambda xs: xs[0] * xs[1] * xs[2]),
    ("concat", lambda xs: torch.cat(xs, 1)),
])
def test_merge_modules_take_a_list_and_script(name, expected):
    module = get_block(name).build(params(name), x=[(3, 4)] * 3)
    xs = [torch.randn(2, 3, 4) for _ in range(3)]
    torch.testing.assert_close(module(xs), expected(xs))
    torch.testing.assert_close(torch.jit.script(module)(xs), expected(xs))


@pytest.mark.filterwarnings("ignore:The TorchScript type system:UserWarning")  # from torch's own GraphModule
def test_merge_module_as_fx_call_module():
    """The compiler passes a variadic port to the submodule as one list from a torch.fx
    graph; that graph must run and script too."""
    root = nn.Module()
    root.cat = get_block("concat").build(params("concat"), x=[(3, 4, 4), (5, 4, 4)])
    root.add = get_block("add").build(params("add"), x=[(8, 4, 4)] * 2)
    graph = torch.fx.Graph()
    a, b = graph.placeholder("a"), graph.placeholder("b")
    cat = graph.call_module("cat", ([a, b],))
    graph.output(graph.call_module("add", ([cat, cat],)))
    gm = torch.fx.GraphModule(root, graph)
    x, y = torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4)
    expected = 2 * torch.cat([x, y], 1)
    torch.testing.assert_close(gm(x, y), expected)
    torch.testing.assert_close(torch.jit.script(gm)(x, y), expected)


# --- pooling ----------------------------------------------------------------------------
def _pool_grid(dims, with_dilation):
    for n, k, s, ceil in itertools.product((1, 2, 5, 7, 8, 13), (1, 2, 3), (1, 2, 3), (False, True)):
        for pad in range(k // 2 + 1):
            for d in ((1, 2) if with_dilation else (1,)):
                yield n, k, s, pad, d, ceil


@pytest.mark.parametrize("block,dims,dilation", [
    ("max_pool1d", 1, True), ("max_pool2d", 2, True), ("avg_pool1d", 1, False), ("avg_pool2d", 2, False),
])
def test_pool_arithmetic_matches_pytorch(block, dims, dilation):
    decl = get_block(block)
    checked = 0
    for n, k, s, pad, d, ceil in _pool_grid(dims, dilation):
        raw = {"kernel_size": k, "stride": s, "padding": pad, "ceil_mode": ceil}
        if dilation:
            raw["dilation"] = d
        p = params(block, **raw)
        shape = (2, n) if dims == 1 else (2, n, n + 1)
        module = decl.build(p, x=shape)
        try:
            real = tuple(module(torch.randn(1, *shape)).shape[1:])
        except RuntimeError:
            real = None
        try:
            declared = decl.infer(p, x=shape)
        except ShapeError:
            declared = None
        assert declared == real, (raw, shape)
        checked += real is not None
    assert checked > 100


@pytest.mark.parametrize("size,raw,expected", [
    (112, {"kernel_size": 3, "stride": 2, "padding": 1}, 56),        # ResNet stem
    (112, {"kernel_size": 3, "stride": 2, "ceil_mode": True}, 56),   # GoogLeNet: floor would give 55
    (112, {"kernel_size": 3, "stride": 2}, 55),
    (56, {"kernel_size": 3, "stride": 2, "ceil_mode": True}, 28),
    (28, {"kernel_size": 3, "stride": 2, "ceil_mode": True}, 14),
    (14, {"kernel_size": 3, "stride": 2, "ceil_mode": True}, 7),
    (13, {"kernel_size": 2, "ceil_mode": True}, 7),
    (13, {"kernel_size": 2}, 6),
    (14, {"kernel_size": 2, "ceil_mode": True}, 7),
    (5, {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}, 3),  # a last window in the padding is dropped
])
def test_pool_known_sizes(size, raw, expected):
    for block in ("max_pool2d", "avg_pool2d"):
        assert infer(block, raw, x=(3, size, size)) == (3, expected, expected)
        assert run(block, raw, (3, size, size), batch=1) == (3, expected, expected)


def test_pool_stride_defaults_to_kernel():
    p = params("max_pool2d", kernel_size=2)
    assert p.stride is None
    assert get_block("max_pool2d").infer(p, x=(8, 28, 28)) == (8, 14, 14)
    module = get_block("max_pool2d").build(p, x=(8, 28, 28))
    assert module.stride == (2, 2)


def test_pool_padding_limit_and_small_input():
    _, problems = get_block("max_pool2d").check_params({"kernel_size": 3, "padding": 2})
    assert "at most half the kernel size" in problems[None]
    with pytest.raises(ShapeError, match=r"input \[3, 2, 2\] is smaller than the pooling window \[3, 3\]"):
        infer("avg_pool2d", {"kernel_size": 3}, x=(3, 2, 2))
    with pytest.raises(ShapeError, match=r"expects 3 dimensions per sample \(channels, height, width\), found \[256\]"):
        infer("max_pool2d", {"kernel_size": 2}, x=(256,))


def test_adaptive_and_global_pooling():
    assert infer("adaptive_avg_pool2d", {"output_size": 7}, x=(512, 13, 13)) == (512, 7, 7)
    assert infer("adaptive_avg_pool1d", {"output_size": 3}, x=(4, 10)) == (4, 3)
    for shape in ((5, 11), (16, 7, 7), (4, 3, 5, 6)):
        assert infer("global_avg_pool", {}, x=shape) == (shape[0],)
        module = get_block("global_avg_pool").build(params("global_avg_pool"), x=shape)
        x = torch.randn(2, *shape)
        expected = x.reshape(2, shape[0], -1).mean(-1)
        torch.testing.assert_close(module(x), expected)
        torch.testing.assert_close(torch.jit.script(module)(x), expected)
    with pytest.raises(ShapeError, match=r"at least 2 dimensions per sample.*found \[16\]"):
        infer("global_avg_pool", {}, x=(16,))


# --- activations ------------------------------------------------------------------------
@pytest.mark.parametrize("dim,batch_dim", [(0, 1), (1, 2), (2, 3), (-1, -1), (-2, -2), (-3, -3)])
def test_softmax_dim_maps_past_the_batch_axis(dim, batch_dim):
    shape = (3, 4, 5)
    module = get_block("softmax").build(params("softmax", dim=dim), x=shape)
    assert module.dim == batch_dim
    out = module(torch.randn(2, *shape))
    torch.testing.assert_close(out.sum(batch_dim), torch.ones(2, *(s for i, s in enumerate(shape) if i != dim % 3)))


def test_softmax_default_is_last_axis_and_checks_range():
    out = get_block("softmax").build(params("softmax"), x=(10,))(torch.randn(4, 10))
    torch.testing.assert_close(out.sum(-1), torch.ones(4))
    with pytest.raises(ShapeError, match=r"softmax over dim 1 expects at least 2 dimensions per sample, found \[10\]"):
        infer("softmax", {"dim": 1}, x=(10,))
    with pytest.raises(ShapeError, match="found \\[10\\]"):
        infer("softmax", {"dim": -2}, x=(10,))


def test_activations_use_torch_modules():
    assert isinstance(get_block("relu").build(params("relu", inplace=True), x=(3,)), nn.ReLU)
    assert get_block("gelu").build(params("gelu", approximate="tanh"), x=(3,)).approximate == "tanh"
    assert get_block("leaky_relu").build(params("leaky_relu", negative_slope=0.2), x=(3,)).negative_slope == 0.2
    _, problems = get_block("gelu").check_params({"approximate": "erf"})
    assert "'none', 'tanh'" in problems["approximate"]


# --- flatten, linear, embedding -----------------------------------------------------------
@pytest.mark.parametrize("raw,shape,expected", [
    ({}, (16, 5, 5), (400,)),
    ({}, (10,), (10,)),
    ({"start_dim": 1}, (8, 4, 6), (8, 24)),
    ({"end_dim": 1}, (8, 4, 6), (32, 6)),
    ({"start_dim": -2}, (2, 3, 4, 5), (2, 3, 20)),
    ({"start_dim": -4, "end_dim": 1}, (2, 3, 4, 5), (6, 4, 5)),
    ({"start_dim": -3, "end_dim": 2}, (2, 3, 4, 5), (2, 12, 5)),
    ({"start_dim": 1, "end_dim": 1}, (2, 3, 4), (2, 3, 4)),
])
def test_flatten_shapes(raw, shape, expected):
    assert infer("flatten", raw, x=shape) == expected
    assert run("flatten", raw, shape) == expected


def test_flatten_errors():
    with pytest.raises(ShapeError, match=r"start_dim 2 .* after end_dim 1|comes after"):
        infer("flatten", {"start_dim": 2, "end_dim": 1}, x=(2, 3, 4))
    with pytest.raises(ShapeError, match=r"start_dim 3 expects at least 4 dimensions per sample, found \[2, 3, 4\]"):
        infer("flatten", {"start_dim": 3}, x=(2, 3, 4))


def test_linear_acts_on_last_axis():
    decl = get_block("linear")
    p = params("linear", out_features=7)
    assert decl.infer(p, x=(12, 32)) == (12, 7)
    cost = decl.cost(p, (12, 7), x=(12, 32))
    assert cost.params == 32 * 7 + 7 and cost.macs == 12 * 32 * 7
    assert run("linear", {"out_features": 7}, (12, 32)) == (12, 7)


def test_embedding():
    decl = get_block("embedding")
    assert decl.inputs[0].dtype == "int64"
    p = params("embedding", num_embeddings=50, embedding_dim=8, padding_idx=0)
    assert decl.infer(p, x=(20,)) == (20, 8)
    module = decl.build(p, x=(20,))
    out = module(torch.zeros(3, 20, dtype=torch.long))
    assert out.shape == (3, 20, 8) and not out.any()  # the padding row is zero
    _, problems = decl.check_params({"num_embeddings": 10, "embedding_dim": 4, "padding_idx": 10})
    assert "padding_idx" in problems[None] and "found 10" in problems[None]


# --- normalization, dropout, upsample --------------------------------------------------------
def test_batch_norm_stats_are_buffers_not_params():
    decl = get_block("batch_norm2d")
    p = params("batch_norm2d")
    module = decl.build(p, x=(16, 4, 4))
    assert decl.cost(p, (16, 4, 4), x=(16, 4, 4)).params == 32
    assert {name for name, _ in module.named_buffers()} >= {"running_mean", "running_var"}
    with pytest.raises(ShapeError, match=r"expects 3 dimensions per sample \(channels, height, width\), found \[256\]"):
        decl.infer(p, x=(256,))
    with pytest.raises(ShapeError, match=r"expects 1 or 2 dimensions.*found \[2, 3, 4\]"):
        infer("batch_norm1d", {}, x=(2, 3, 4))


def test_layer_norm_dims():
    assert run("layer_norm", {"dims": 2}, (3, 4, 5)) == (3, 4, 5)
    module = get_block("layer_norm").build(params("layer_norm", dims=2), x=(3, 4, 5))
    assert module.normalized_shape == (4, 5)
    with pytest.raises(ShapeError, match=r"last 3 dimensions.*found \[4, 5\]"):
        infer("layer_norm", {"dims": 3}, x=(4, 5))


def test_dropout_p_below_one():
    _, problems = get_block("dropout").check_params({"p": 1.0})
    assert "below 1" in problems[None]
    _, problems = get_block("dropout").check_params({"p": 1.5})
    assert "found 1.5" in problems["p"]


@pytest.mark.parametrize("mode,shape", [("nearest", (2, 7)), ("nearest", (2, 5, 7)), ("linear", (3, 9)),
                                        ("bilinear", (2, 5, 6)), ("bicubic", (1, 4, 3))])
@pytest.mark.parametrize("scale", [2, 3, 1.5, 0.5, 2.7])
def test_upsample_sizes_match_pytorch(mode, shape, scale):
    assert infer("upsample", {"mode": mode, "scale_factor": scale}, x=shape) == \
        run("upsample", {"mode": mode, "scale_factor": scale}, shape)


def test_upsample_checks():
    with pytest.raises(ShapeError, match=r"expects 3 dimensions per sample.*bilinear.*found \[4, 10\]"):
        infer("upsample", {"mode": "bilinear"}, x=(4, 10))
    _, problems = get_block("upsample").check_params({"align_corners": True})
    assert "nearest" in problems[None]
    _, problems = get_block("upsample").check_params({"scale_factor": 0})
    assert "above 0" in problems[None]
    with pytest.raises(ShapeError, match="shrinks"):
        infer("upsample", {"scale_factor": 0.1}, x=(3, 4, 4))
