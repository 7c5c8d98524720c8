"""ONNX operators as PyTorch layers and functions (see :mod:`builder.importing.onnx_source`).

Each converter gets the converter state, the node, its attributes and its scope, and
returns the node's outputs. Weights must be constants of the file (initializers);
anything a layer cannot express raises Unmappable with the reason.
"""

from __future__ import annotations

import operator
from typing import Callable

import numpy as np
import torch
from torch import nn

from builder.importing.errors import Unmappable

OPS: dict[str, Callable[..., list]] = {}


def op(*names: str):
    def register(function):
        for name in names:
            OPS[name] = function
        return function
    return register


def _set(parameter: torch.Tensor, data: np.ndarray) -> None:
    with torch.no_grad():
        parameter.copy_(torch.from_numpy(np.array(data, copy=True)).to(parameter.dtype))


def _number(value: float) -> float:
    """An ONNX float attribute (stored as float32) as the number it was written as:
    1e-05, not 9.999999747378752e-06."""
    return float(str(np.float32(value)))


def _padding(attrs: dict, dims: int, kernel: list[int], strides: list[int], dilations: list[int]) -> list[int]:
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto == "VALID":
        return [0] * dims
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        if any(s != 1 for s in strides) or any((d * (k - 1)) % 2 for k, d in zip(kernel, dilations)):
            raise Unmappable(f"auto_pad {auto} with uneven padding")
        return [d * (k - 1) // 2 for k, d in zip(kernel, dilations)]
    pads = list(attrs.get("pads", [0] * (2 * dims)))
    if pads[:dims] != pads[dims:]:
        raise Unmappable(f"uneven padding {pads} (begin and end differ)")
    return pads[:dims]


@op("Conv")
def conv(c, node, attrs, scope):
    x = c.tensor(node.input[0])
    weight = c.const(node.input[1], "weight")
    dims = weight.ndim - 2
    if dims not in (1, 2):
        raise Unmappable(f"a {dims}-D convolution (1-D and 2-D map)")
    kernel = list(weight.shape[2:])
    strides = list(attrs.get("strides", [1] * dims))
    dilations = list(attrs.get("dilations", [1] * dims))
    padding = _padding(attrs, dims, kernel, strides, dilations)
    group = attrs.get("group", 1)
    bias = c.const(node.input[2], "bias") if len(node.input) > 2 and node.input[2] else None
    layer = (nn.Conv1d if dims == 1 else nn.Conv2d)(weight.shape[1] * group, weight.shape[0], kernel, strides,
                                                    padding, dilations, group, bias is not None)
    _set(layer.weight, weight)
    if bias is not None:
        _set(layer.bias, bias)
    return [c.module(node, layer, x, scope)]


def _linear(weight: np.ndarray, bias: np.ndarray | None) -> nn.Linear:
    """``weight`` as PyTorch stores it: [out, in]."""
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    _set(layer.weight, weight)
    if bias is not None:
        _set(layer.bias, np.broadcast_to(bias, (weight.shape[0],)))
    return layer


@op("Gemm")
def gemm(c, node, attrs, scope):
    if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or attrs.get("transA", 0):
        raise Unmappable("alpha, beta or transA other than Gemm's defaults")
    x = c.tensor(node.input[0])
    weight = c.const(node.input[1], "weight")
    weight = weight if attrs.get("transB", 0) else weight.T
    bias = c.const(node.input[2], "bias") if len(node.input) > 2 and node.input[2] else None
    return [c.module(node, _linear(weight, bias), x, scope)]


@op("MatMul")
def matmul(c, node, attrs, scope):
    """``x @ W`` with a constant W, and a following ``+ b`` folded in: a linear layer."""
    x = c.tensor(node.input[0])
    weight = c.const(node.input[1], "weight")
    if weight.ndim != 2:
        raise Unmappable("a product with something other than a constant matrix")
    bias = None
    users = c.users.get(node.output[0], [])
    if len(users) == 1 and users[0].op_type == "Add":
        other = [n for n in users[0].input if n != node.output[0]]
        value = c.values.get(other[0]) if len(other) == 1 else None
        if value is not None and value.constant and np.asarray(value.data).size == weight.shape[1]:
            bias = np.asarray(value.data).reshape(-1)
            c.skip.add(users[0].name)
            result = c.module(node, _linear(weight.T, bias), x, scope)
            c.values[users[0].output[0]] = result  # the Add's output is the linear layer's
            return [result]
    return [c.module(node, _linear(weight.T, None), x, scope)]


@op("Add", "Mul", "Sum")
def arithmetic(c, node, attrs, scope):
    values = [c.tensor(name) for name in node.input]  # a constant operand has no block
    function = operator.mul if node.op_type == "Mul" else operator.add
    result = values[0]
    for value in values[1:]:
        result = c.function(function, (result.node, value.node), scope, (result.data, value.data))
    return [result]


_ACTIVATIONS = {"Relu": nn.ReLU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh, "HardSwish": nn.Hardswish}


@op(*_ACTIVATIONS)
def activation(c, node, attrs, scope):
    return [c.module(node, _ACTIVATIONS[node.op_type](), c.tensor(node.input[0]), scope)]


@op("LeakyRelu")
def leaky_relu(c, node, attrs, scope):
    return [c.module(node, nn.LeakyReLU(_number(attrs.get("alpha", 0.01))), c.tensor(node.input[0]), scope)]


@op("Gelu")
def gelu(c, node, attrs, scope):
    approximate = attrs.get("approximate", b"none")
    approximate = approximate.decode() if isinstance(approximate, bytes) else approximate
    return [c.module(node, nn.GELU(approximate=approximate), c.tensor(node.input[0]), scope)]


@op("HardSigmoid")
def hard_sigmoid(c, node, attrs, scope):
    if not np.isclose(attrs.get("alpha", 0.2), 1 / 6) or attrs.get("beta", 0.5) != 0.5:
        raise Unmappable("alpha and beta other than PyTorch's hardsigmoid (1/6, 0.5)")
    return [c.module(node, nn.Hardsigmoid(), c.tensor(node.input[0]), scope)]


@op("Clip")
def clip(c, node, attrs, scope):
    low = c.const(node.input[1], "min") if len(node.input) > 1 and node.input[1] else attrs.get("min")
    high = c.const(node.input[2], "max") if len(node.input) > 2 and node.input[2] else attrs.get("max")
    if low is None or high is None or float(low) != 0.0 or float(high) != 6.0:
        raise Unmappable("a clip other than relu6 (0 to 6)")
    return [c.module(node, nn.ReLU6(), c.tensor(node.input[0]), scope)]


@op("Softmax")
def softmax(c, node, attrs, scope):
    x = c.tensor(node.input[0])
    opset = max((o.version for o in c.model.opset_import if o.domain in ("", "ai.onnx")), default=13)
    axis = attrs.get("axis", -1 if opset >= 13 else 1)
    if opset < 13 and axis % x.data.dim() != x.data.dim() - 1:
        raise Unmappable("softmax over several flattened axes (opset < 13)")
    return [c.module(node, nn.Softmax(dim=axis), x, scope)]


@op("MaxPool", "AveragePool")
def pool(c, node, attrs, scope):
    if len([o for o in node.output if o]) > 1:
        raise Unmappable("pooling that also returns indices")
    x = c.tensor(node.input[0])
    kernel = list(attrs["kernel_shape"])
    dims = len(kernel)
    if dims not in (1, 2):
        raise Unmappable(f"{dims}-D pooling (1-D and 2-D map)")
    strides = list(attrs.get("strides", [1] * dims))
    dilations = list(attrs.get("dilations", [1] * dims))
    padding = _padding(attrs, dims, kernel, strides, dilations)
    ceil = bool(attrs.get("ceil_mode", 0))
    if node.op_type == "MaxPool":
        layer = (nn.MaxPool1d if dims == 1 else nn.MaxPool2d)(kernel, strides, padding, dilations, ceil_mode=ceil)
    else:
        if any(d != 1 for d in dilations):
            raise Unmappable("dilated average pooling")
        layer = (nn.AvgPool1d if dims == 1 else nn.AvgPool2d)(kernel, strides, padding, ceil_mode=ceil,
                                                              count_include_pad=bool(attrs.get("count_include_pad", 0)))
    return [c.module(node, layer, x, scope)]


@op("GlobalAveragePool")
def global_pool(c, node, attrs, scope):
    x = c.tensor(node.input[0])
    dims = x.data.dim() - 2
    if dims not in (1, 2):
        raise Unmappable(f"{dims}-D global pooling")
    return [c.module(node, (nn.AdaptiveAvgPool1d if dims == 1 else nn.AdaptiveAvgPool2d)(1), x, scope)]


@op("BatchNormalization")
def batch_norm(c, node, attrs, scope):
    if attrs.get("training_mode", 0):
        raise Unmappable("batch normalization in training mode")
    x = c.tensor(node.input[0])
    scale, shift, mean, var = (c.const(n, what) for n, what in zip(node.input[1:5], ("scale", "B", "mean", "var")))
    rank = x.data.dim()
    if rank not in (2, 3, 4):
        raise Unmappable(f"batch normalization of {rank}-D tensors")
    momentum = round(1.0 - _number(attrs.get("momentum", 0.9)), 6)  # ONNX weighs the running value, PyTorch the new
    layer = (nn.BatchNorm2d if rank == 4 else nn.BatchNorm1d)(scale.shape[0], eps=_number(attrs.get("epsilon", 1e-5)),
                                                              momentum=momentum)
    for parameter, data in ((layer.weight, scale), (layer.bias, shift), (layer.running_mean, mean),
                            (layer.running_var, var)):
        _set(parameter, data)
    return [c.module(node, layer, x, scope)]


@op("Flatten")
def flatten(c, node, attrs, scope):
    x = c.tensor(node.input[0])
    axis = attrs.get("axis", 1)
    if axis % max(x.data.dim(), 1) != 1:
        raise Unmappable(f"flatten at axis {axis} merges the batch axis with others")
    return [c.function(torch.flatten, (x.node, 1), scope, (x.data, 1))]


@op("Reshape")
def reshape(c, node, attrs, scope):
    x = c.tensor(node.input[0])
    shape = [int(s) for s in c.const(node.input[1], "shape")]
    if not attrs.get("allowzero", 0):
        shape = [x.data.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return [c.function(torch.reshape, (x.node, tuple(shape)), scope, (x.data, tuple(shape)))]


@op("Transpose")
def transpose(c, node, attrs, scope):
    x = c.tensor(node.input[0])
    perm = tuple(attrs.get("perm", reversed(range(x.data.dim()))))
    return [c.function(torch.permute, (x.node, perm), scope, (x.data, perm))]


def _axes(c, node, attrs) -> list[int]:
    if "axes" in attrs:
        return list(attrs["axes"])
    if len(node.input) > 1 and node.input[1]:
        return [int(a) for a in c.const(node.input[1], "axes").reshape(-1)]
    return []


@op("Squeeze", "Unsqueeze")
def squeeze(c, node, attrs, scope):
    x = c.tensor(node.input[0])
    axes = _axes(c, node, attrs)
    if len(axes) != 1:
        raise Unmappable(f"{node.op_type} of {len(axes) or 'every'} axes (one axis maps)")
    function = torch.squeeze if node.op_type == "Squeeze" else torch.unsqueeze
    return [c.function(function, (x.node, axes[0]), scope, (x.data, axes[0]))]


@op("Concat")
def concat(c, node, attrs, scope):
    values = [c.tensor(name) for name in node.input]
    axis = attrs["axis"]
    return [c.function(torch.cat, ([v.node for v in values], axis), scope, ([v.data for v in values], axis))]


@op("ReduceMean")
def reduce_mean(c, node, attrs, scope):
    x = c.tensor(node.input[0])
    axes = _axes(c, node, attrs)
    if not axes:
        raise Unmappable("a mean over every axis")
    keep = bool(attrs.get("keepdims", 1))
    return [c.function(torch.mean, (x.node, tuple(axes), keep), scope, (x.data, tuple(axes), keep))]


@op("Dropout")
def dropout(c, node, attrs, scope):
    ratio = _number(attrs.get("ratio", 0.5))
    if len(node.input) > 1 and node.input[1]:
        ratio = _number(c.const(node.input[1], "ratio"))
    return [c.module(node, nn.Dropout(ratio), c.tensor(node.input[0]), scope)]


@op("Identity")
def identity(c, node, attrs, scope):
    return [c.tensor(node.input[0])]
