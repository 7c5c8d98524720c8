"""The compiler: flat submodules named by node id, generated forward code, deterministic
initialization, meta-device builds, inputs/outputs in file order, and agreement between
the declared shape/parameter rules and the real modules."""

from __future__ import annotations

import inspect
import textwrap
import warnings

import pytest
import torch
from torch import fx

from blocks import get_block
from builder import GraphError, analyze, compile_graph, parse_graph, resolve_device
from builder.compiler import class_name

CNN = """\
format: 1
name: small_cnn
nodes:
  image:
    block: input
    params: {shape: [3, 16, 16]}
  conv1:
    block: conv2d
    params: {out_channels: 8, kernel_size: 3, padding: 1}
    inputs: [image]
  conv2:
    block: conv2d
    params: {out_channels: 4, kernel_size: 3, stride: 2}
    inputs: [conv1]
  up:
    block: conv_transpose2d
    params: {out_channels: 2, kernel_size: 2, stride: 2}
    inputs: [conv2]
  logits:
    block: output
    inputs: [up]
"""

TWO_IN_TWO_OUT = """\
format: 1
name: two_in_two_out
nodes:
  first:
    block: input
    params: {shape: [3, 8, 8]}
  c:
    block: conv2d
    params: {out_channels: 2, kernel_size: 3}
    inputs: [first]
  second:
    block: input
    params: {shape: [1, 6, 6]}
  d:
    block: conv2d
    params: {out_channels: 5, kernel_size: 1}
    inputs: [second]
  out_d:
    block: output
    inputs: [d]
  out_c:
    block: output
    inputs: [c]
"""


def load(text: str):
    return parse_graph(textwrap.dedent(text), "g.yaml")


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def module_ids(graph) -> list[str]:
    return [n.id for n in graph.nodes.values() if n.block not in ("input", "output")]


def state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------ structure
def test_returns_a_graph_module_with_flat_children_named_by_node_id():
    graph = load(CNN)
    model = compile_graph(graph)
    assert isinstance(model, fx.GraphModule)
    assert isinstance(model, torch.nn.Module)
    assert list(dict(model.named_children())) == module_ids(graph) == ["conv1", "conv2", "up"]
    assert isinstance(model.conv1, torch.nn.Conv2d) and isinstance(model.up, torch.nn.ConvTranspose2d)
    assert list(model.state_dict()) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                        "up.weight", "up.bias"]
    assert type(model).__name__ == "SmallCnn"


def test_code_is_readable():
    model = compile_graph(load(CNN))
    code = model.code
    assert "def forward(self, image)" in code
    assert "conv1 = self.conv1(image)" in code
    assert "self.conv2(conv1)" in code and "self.up(conv2)" in code
    assert "return up" in code


def test_runs_and_matches_the_declared_shape():
    graph = load(CNN)
    result = analyze(graph)
    model = compile_graph(graph, analysis=result)
    for batch in (1, 3):
        out = model(torch.randn(batch, 3, 16, 16))
        assert isinstance(out, torch.Tensor)
        assert tuple(out.shape) == (batch, *result.nodes["logits"].shape) == (batch, 2, 14, 14)


def test_inputs_are_forward_args_and_outputs_a_tuple_in_file_order():
    graph = load(TWO_IN_TWO_OUT)
    model = compile_graph(graph)
    assert list(inspect.signature(model.forward).parameters) == ["first", "second"]
    out_d, out_c = model(torch.randn(2, 3, 8, 8), torch.randn(2, 1, 6, 6))
    assert tuple(out_d.shape) == (2, 5, 6, 6)
    assert tuple(out_c.shape) == (2, 2, 6, 6)
    # by keyword too
    again = model(second=torch.randn(1, 1, 6, 6), first=torch.randn(1, 3, 8, 8))
    assert isinstance(again, tuple) and len(again) == 2


def test_input_returned_directly_and_one_node_feeding_two_outputs():
    model = compile_graph(load("""\
        format: 1
        nodes:
          x: {block: input, params: {shape: [2, 4, 4]}}
          c: {block: conv2d, params: {out_channels: 1, kernel_size: 1}, inputs: [x]}
          same: {block: output, inputs: [x]}
          a: {block: output, inputs: [c]}
          b: {block: output, inputs: [c]}
        """))
    x = torch.randn(1, 2, 4, 4)
    same, a, b = model(x)
    assert torch.equal(same, x)
    assert torch.equal(a, b)


def test_multi_output_block_ports():
    try:
        get_block("multi_head_attention")
    except KeyError:
        pytest.skip("no multi_head_attention block")
    graph = load("""\
        format: 1
        nodes:
          dec: {block: input, params: {shape: [5, 8]}}
          enc: {block: input, params: {shape: [7, 6]}}
          attn:
            block: multi_head_attention
            params: {num_heads: 2}
            inputs: {query: dec, key_value: enc}
          y: {block: output, inputs: [attn]}
          w: {block: output, inputs: [attn.weights]}
        """)
    result = analyze(graph)
    assert result.ok, result.errors
    model = compile_graph(graph, analysis=result)
    y, w = model(torch.randn(3, 5, 8), torch.randn(3, 7, 6))
    assert tuple(y.shape) == (3, *result.nodes["attn"].outputs["out"]) == (3, 5, 8)
    assert tuple(w.shape) == (3, *result.nodes["attn"].outputs["weights"]) == (3, 2, 5, 7)
    assert result.nodes["attn"].cost.params == parameter_count(model.attn)


def test_unused_node_still_compiles():
    text = CNN + "  spare:\n    block: conv2d\n    params: {out_channels: 1, kernel_size: 1}\n    inputs: [conv1]\n"
    graph = load(text)
    model = compile_graph(graph)
    assert "spare" in dict(model.named_children())
    assert tuple(model(torch.randn(1, 3, 16, 16)).shape) == (1, 2, 14, 14)


def test_graph_with_errors_raises_with_every_problem():
    text = CNN.replace("out_channels: 8", "out_channels: 0").replace("inputs: [conv2]", "inputs: [conv3]")
    with pytest.raises(GraphError) as caught:
        compile_graph(load(text))
    messages = [p.message for p in caught.value.errors]
    assert len(messages) == 2, messages
    assert any("out_channels" in m for m in messages)
    assert any("'conv3' refers to no node" in m for m in messages)
    assert "g.yaml:" in str(caught.value)


def test_warnings_do_not_stop_compilation():
    text = CNN + "  extra:\n    block: input\n    params: {shape: [1]}\n"
    result = analyze(load(text))
    assert result.warnings and result.ok
    model = compile_graph(load(text))
    assert list(inspect.signature(model.forward).parameters) == ["image", "extra"]


# ------------------------------------------------------------------ initialization
def test_same_seed_same_weights_different_seed_different_weights():
    graph = load(CNN)
    assert state_equal(compile_graph(graph, seed=7), compile_graph(graph, seed=7))
    assert not state_equal(compile_graph(graph, seed=7), compile_graph(graph, seed=8))
    assert state_equal(compile_graph(graph), compile_graph(graph))  # the default seed is fixed too


def test_compiling_leaves_the_global_random_state_alone():
    graph = load(CNN)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    compile_graph(graph, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    expected = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), expected)


def test_seed_none_uses_the_global_random_state():
    graph = load(CNN)
    torch.manual_seed(11)
    first = compile_graph(graph, seed=None)
    torch.manual_seed(11)
    second = compile_graph(graph, seed=None)
    assert state_equal(first, second)
    assert not state_equal(compile_graph(graph, seed=None), first)


def test_weights_use_pytorch_default_initialization():
    model = compile_graph(load(CNN), seed=0)
    bound = 1 / (3 * 3 * 3) ** 0.5  # kaiming_uniform(a=sqrt(5)) over fan_in = 3 x 3 x 3
    assert 0.5 * bound < model.conv1.weight.abs().max() <= bound


# ------------------------------------------------------------------ devices
def test_meta_device_builds_without_memory():
    graph = load(CNN)
    meta = compile_graph(graph, device="meta")
    real = compile_graph(graph)
    assert all(p.is_meta for p in meta.parameters())
    assert [(n, p.shape) for n, p in meta.named_parameters()] == [(n, p.shape) for n, p in real.named_parameters()]
    assert parameter_count(meta) == parameter_count(real) == analyze(graph).total.params
    out = meta(torch.empty(2, 3, 16, 16, device="meta"))
    assert out.is_meta and tuple(out.shape) == (2, 2, 14, 14)


def test_meta_compile_does_not_change_the_default_device():
    compile_graph(load(CNN), device="meta")
    assert torch.empty(1).device.type == "cpu"


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("meta") == torch.device("meta")
    auto = resolve_device("auto")
    assert auto.type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        assert resolve_device(None).type in ("cpu", "mps")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_device():
    model = compile_graph(load(CNN), device="cuda")
    assert all(p.is_cuda for p in model.parameters())
    assert model(torch.randn(1, 3, 16, 16, device="cuda")).is_cuda
    assert state_equal(model.cpu(), compile_graph(load(CNN)))


@pytest.mark.parametrize("name, expected", [
    ("small_cnn", "SmallCnn"), ("resnet18", "Resnet18"), ("my-model v2", "MyModelV2"), ("3d", "Model3d"), ("", "Model"),
])
def test_class_name(name, expected):
    assert class_name(name) == expected


# ------------------------------------------------------------------ export paths
def test_torch_jit_trace():
    graph = load(CNN)
    model = compile_graph(graph).eval()
    x = torch.randn(2, 3, 16, 16)
    traced = torch.jit.trace(model, (x,))
    assert torch.allclose(traced(x), model(x))


def test_torch_jit_script():
    model = compile_graph(load(TWO_IN_TWO_OUT)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(model)
    a, b = torch.randn(1, 3, 8, 8), torch.randn(1, 1, 6, 6)
    for got, want in zip(scripted(a, b), model(a, b)):
        assert torch.allclose(got, want)


def test_torch_compile_fullgraph():
    model = compile_graph(load(TWO_IN_TWO_OUT)).eval()
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    a, b = torch.randn(1, 3, 8, 8), torch.randn(1, 1, 6, 6)
    for got, want in zip(compiled(a, b), model(a, b)):
        assert torch.allclose(got, want)


def test_backward_reaches_every_parameter():
    model = compile_graph(load(CNN))
    model(torch.randn(2, 3, 16, 16)).square().mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


# ------------------------------------------------------------------ rules agree with modules
AGREEMENT = {
    "cnn": CNN,
    "two_in_two_out": TWO_IN_TWO_OUT,
    "conv_variety": """\
        format: 1
        nodes:
          img: {block: input, params: {shape: [4, 17, 20]}}
          a: {block: conv2d, params: {out_channels: 8, kernel_size: [3, 5], stride: 2, padding: 1, bias: false}, inputs: [img]}
          b: {block: conv2d, params: {out_channels: 8, kernel_size: 3, padding: same, dilation: 2, groups: 4}, inputs: [a]}
          c: {block: conv2d, params: {out_channels: 6, kernel_size: 3, padding: valid, padding_mode: reflect}, inputs: [b]}
          d: {block: conv_transpose2d, params: {out_channels: 4, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}, inputs: [c]}
          e: {block: conv_transpose2d, params: {out_channels: 2, kernel_size: 2, stride: 2, groups: 2}, inputs: [d]}
          y: {block: output, inputs: [e]}
        """,
    "conv1d": """\
        format: 1
        nodes:
          signal: {block: input, params: {shape: [4, 31]}}
          a: {block: conv1d, params: {out_channels: 6, kernel_size: 5, stride: 2, groups: 2}, inputs: [signal]}
          b: {block: conv1d, params: {out_channels: 8, kernel_size: 3, padding: same}, inputs: [a]}
          c: {block: conv1d, params: {out_channels: 3, kernel_size: 4, dilation: 3, padding: 2}, inputs: [b]}
          y: {block: output, inputs: [c]}
          side: {block: output, inputs: [a]}
        """,
}


@pytest.mark.parametrize("name", sorted(AGREEMENT))
def test_declared_shapes_and_parameter_counts_match_the_module(name):
    graph = load(AGREEMENT[name])
    result = analyze(graph)
    assert result.problems == [], "\n".join(map(str, result.problems))
    model = compile_graph(graph, analysis=result)
    seen: dict[str, tuple] = {}
    for node_id in module_ids(graph):
        module = getattr(model, node_id)
        module.register_forward_hook(lambda mod, args, out, node_id=node_id: seen.__setitem__(node_id, tuple(out.shape)))
        assert result.nodes[node_id].cost.params == parameter_count(module), node_id
    batch = 2
    inputs = [torch.randn(batch, *result.nodes[i].shape) for i in result.input_ids]
    outputs = model(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    for node_id in module_ids(graph):
        assert seen[node_id] == (batch, *result.nodes[node_id].shape), node_id
    for node_id, out in zip(result.output_ids, outputs):
        assert tuple(out.shape) == (batch, *result.nodes[node_id].shape), node_id
    assert result.total.params == parameter_count(model)


def test_analysis_order_is_topological_and_follows_the_file():
    graph = load(TWO_IN_TWO_OUT)
    assert analyze(graph).order == ["first", "c", "second", "d", "out_d", "out_c"]
    graph = load("""\
        format: 1
        nodes:
          y: {block: output, inputs: [b]}
          b: {block: conv2d, params: {out_channels: 1, kernel_size: 1}, inputs: [a]}
          a: {block: conv2d, params: {out_channels: 1, kernel_size: 1}, inputs: [x]}
          x: {block: input, params: {shape: [1, 2, 2]}}
        """)
    result = analyze(graph)
    assert result.order == ["x", "a", "b", "y"]
    model = compile_graph(graph, analysis=result)
    assert tuple(model(torch.randn(1, 1, 2, 2)).shape) == (1, 1, 2, 2)
