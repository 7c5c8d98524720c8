"""Every block declaration is complete, and its shape and cost rules agree with its module.

Each block's ``examples`` are built for real: the module runs on a random batch, and the
declared output shapes, parameter count and multiply-accumulates must equal what it does.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from blocks import all_blocks, get_block

BATCH = 2
ALL = all_blocks()
EXAMPLES = [
    pytest.param(block, example, id=f"{block.name}-{i}")
    for block in ALL
    for i, example in enumerate(block.examples)
]


@pytest.mark.parametrize("block", ALL, ids=lambda b: b.name)
def test_declaration_is_complete(block):
    assert block.summary(), f"{block.name} needs a docstring summary"
    assert len(block.doc()) > 80, f"{block.name}'s docstring should teach what it computes and its shape rule"
    assert block.category and block.category != "Other"
    assert block.examples, f"{block.name} needs at least one example"
    for name, decl in block.params.items():
        assert name.isidentifier()
        assert decl.describe()
    for key in block.key_params:
        assert key in block.params


def _random_input(port, shape):
    if port.dtype == "int64":
        return torch.randint(0, 3, (BATCH, *shape))
    return torch.randn(BATCH, *shape)


def _call(block, module, inputs):
    args = []
    for port in block.inputs:
        if port.name not in inputs:
            continue
        value = inputs[port.name]
        if port.variadic:
            args.append([_random_input(port, s) for s in value])
        else:
            args.append(_random_input(port, value))
    return module(*args)


@pytest.mark.parametrize("block,example", EXAMPLES)
def test_example_rules_agree_with_module(block, example):
    params, problems = block.check_params(example["params"])
    assert not problems, problems
    inputs = {
        k: [tuple(s) for s in v] if block.port(k, output=False).variadic else tuple(v)
        for k, v in example["inputs"].items()
    }
    shapes = block.infer_ports(params, inputs)
    if block.name in ("input", "output"):
        return  # the compiler handles these itself; covered by the builder tests
    cost = block.cost(params, shapes if block.multi_output else shapes[block.outputs[0].name], **inputs)
    torch.manual_seed(0)
    module = block.build(params, **inputs)
    module.eval()
    with FlopCounterMode(display=False) as counter:
        result = _call(block, module, inputs)
    results = result if block.multi_output else (result,)
    assert len(results) == len(block.outputs)
    for port, tensor in zip(block.outputs, results):
        assert tuple(tensor.shape) == (BATCH, *shapes[port.name]), f"port {port.name}"
    n_params = sum(p.numel() for p in module.parameters() if p.requires_grad)
    assert cost.params == n_params
    if getattr(block, "macs_exact", True):
        assert cost.macs == counter.get_total_flops() // 2 // BATCH


def test_unknown_param_suggests_the_closest():
    _, problems = get_block("conv2d").check_params({"out_channels": 3, "kernel_sise": 3})
    assert "did you mean 'kernel_size'" in problems["kernel_sise"]


def test_out_of_range_and_wrong_type_and_missing():
    _, problems = get_block("conv2d").check_params({"kernel_size": 0, "stride": "two"})
    assert "missing required parameter 'out_channels'" in problems["out_channels"]
    assert ">= 1" in problems["kernel_size"] and "found 0" in problems["kernel_size"]
    assert "the text 'two'" in problems["stride"]


def test_cross_parameter_rule():
    _, problems = get_block("conv2d").check_params({"out_channels": 8, "kernel_size": 3, "padding": "same", "stride": 2})
    assert "stride 1" in problems[None]


def test_defaults_are_normalized():
    params, _ = get_block("conv2d").check_params({"out_channels": 8, "kernel_size": 3})
    assert params.stride == (1, 1) and params.kernel_size == (3, 3)
