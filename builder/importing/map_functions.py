"""Mappers for functions and tensor methods: ``x + y``, ``torch.cat``, ``torch.flatten``,
``x.view(x.size(0), -1)``, ``F.relu``, ``F.max_pool2d``, ``x.mean((2, 3))``, indexing.

Arguments come normalized by name where torch.fx can (``call.arg(name, position)``).
Axes count the batch axis in PyTorch and not in blocks, so every axis is converted with
:meth:`Call.sample_dim`, and an operation along the batch axis is reported.
"""

from __future__ import annotations

import math
import operator

import torch
from torch.nn import functional as F

from builder.importing.errors import Unmappable
from builder.importing.map_sequence import index_result, join_directions, last_step, top_state
from builder.importing.mapping import Call, FinalStates, Tensor, block_params, on_function, on_method


def _self(call: Call) -> Tensor:
    return call.tensor(call.arg("input", 0))


def _rank(x: Tensor) -> int:
    return len(x.shape) + 1


# --- merging ---------------------------------------------------------------------------------
def _pair(call: Call) -> tuple[Tensor, Tensor]:
    if len(call.args) != 2:
        raise Unmappable("it takes other than two operands")
    return call.tensor(call.args[0], "first operand"), call.tensor(call.args[1], "second operand")


@on_function(operator.add, operator.iadd, torch.add)
@on_method("add", "add_")
def add(call: Call) -> Tensor:
    if call.kwargs.get("alpha", 1) != 1:
        raise Unmappable("alpha is not 1")
    a, b = _pair(call)
    if a.shape != b.shape:
        raise Unmappable(f"it broadcasts {list(a.shape)} + {list(b.shape)}; the add block takes equal shapes")
    return call.result(call.emit("add", {}, [a.ref, b.ref]))


@on_function(operator.mul, operator.imul, torch.mul)
@on_method("mul", "mul_")
def multiply(call: Call) -> Tensor:
    a, b = _pair(call)
    params = {}
    if a.shape != b.shape:
        if len(a.shape) != len(b.shape):
            raise Unmappable(f"it broadcasts {list(a.shape)} * {list(b.shape)} across different ranks")
        params = block_params("multiply", broadcast=True)
    return call.result(call.emit("multiply", params, [a.ref, b.ref]))


@on_function(torch.cat, torch.concat)
def concat(call: Call) -> Tensor:
    dim = call.static(call.arg("dim", 1, 0), "dim")
    joined = join_directions(call, list(call.arg("tensors", 0)), dim)
    if joined is not None:
        return joined
    tensors = [call.tensor(t) for t in call.arg("tensors", 0)]
    dim = call.sample_dim(dim, _rank(tensors[0]))
    if len(tensors) == 1:
        return tensors[0]
    return call.result(call.emit("concat", block_params("concat", dim=dim), [t.ref for t in tensors]))


# --- reshaping -----------------------------------------------------------------------------------
def _flatten_node(call: Call, x: Tensor, start: int, end: int) -> Tensor:
    return call.single("flatten", block_params("flatten", start_dim=start, end_dim=end), x)


@on_function(torch.flatten)
@on_method("flatten")
def flatten(call: Call) -> Tensor:
    x = _self(call)
    start = call.static(call.arg("start_dim", 1, 0), "start_dim")
    end = call.static(call.arg("end_dim", 2, -1), "end_dim")
    rank = _rank(x)
    return _flatten_node(call, x, call.sample_dim(start, rank, "start_dim"), call.sample_dim(end, rank, "end_dim"))


def merged_range(before: tuple[int, ...], after: tuple[int, ...]) -> tuple[int, int] | None:
    """The axes ``start..end`` of ``before`` that a reshape to ``after`` merges into one,
    when that is all it does."""
    for start in range(len(before)):
        for end in range(start, len(before)):
            if before[:start] + (math.prod(before[start:end + 1]),) + before[end + 1:] == after:
                return start, end
    return None


@on_function(torch.reshape)
@on_method("view", "reshape")
def reshape(call: Call) -> Tensor:
    x = call.tensor(call.args[0])
    out = call.returned().shape
    if out == x.shape:
        return x
    merged = merged_range(x.shape, out)
    if merged is not None and len(x.shape) > 1:
        start, end = merged
        return _flatten_node(call, x, start, -1 if end == len(x.shape) - 1 else end)
    return call.single("reshape", block_params("reshape", shape=list(out)), x)


@on_method("contiguous", "clone", "detach")
def same(call: Call) -> Tensor:
    return _self(call)


@on_method("float", "to", "type")
def conversion(call: Call) -> Tensor:
    x = _self(call)
    result = call.returned()
    if result.dtype != x.dtype:
        raise Unmappable(f"it converts {x.dtype} to {result.dtype}")
    return x


# --- activations -------------------------------------------------------------------------------------
_ACTIVATIONS = {
    F.relu: "relu", torch.relu: "relu", F.gelu: "gelu", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
    torch.tanh: "tanh", F.tanh: "tanh", F.silu: "silu", F.hardsigmoid: "hard_sigmoid",
    F.leaky_relu: "leaky_relu", F.relu6: "relu6", F.hardswish: "hard_swish",
}
_METHOD_ACTIVATIONS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
_ACTIVATION_ARGS = {"gelu": (("approximate", 1, "none"),), "leaky_relu": (("negative_slope", 1, 0.01),)}


@on_function(*_ACTIVATIONS)
@on_method(*_METHOD_ACTIVATIONS)
def activation(call: Call) -> Tensor:
    block = _METHOD_ACTIVATIONS[call.op] if call.op in _METHOD_ACTIVATIONS else _ACTIVATIONS[call.target]
    values = {name: call.static(call.arg(name, position, default), name)
              for name, position, default in _ACTIVATION_ARGS.get(block, ())}
    return call.single(block, block_params(block, **values), _self(call))


@on_function(F.softmax, torch.softmax)
@on_method("softmax")
def softmax(call: Call) -> Tensor:
    x = _self(call)
    dim = call.static(call.arg("dim", 1, None), "dim")
    if dim is None:
        raise Unmappable("softmax without dim (PyTorch guesses the axis); give dim")
    if call.arg("dtype", 3, None) is not None:
        raise Unmappable("softmax with a dtype")
    return call.single("softmax", block_params("softmax", dim=call.sample_dim(dim, _rank(x))), x)


@on_function(F.dropout)
def dropout(call: Call) -> Tensor:
    return call.single("dropout", block_params("dropout", p=call.static(call.arg("p", 1, 0.5), "p")), _self(call))


# --- pooling -------------------------------------------------------------------------------------------
_POOLS = {F.max_pool1d: "max_pool1d", F.max_pool2d: "max_pool2d", F.avg_pool1d: "avg_pool1d",
          F.avg_pool2d: "avg_pool2d"}


@on_function(*_POOLS)
def pool(call: Call) -> Tensor:
    block = _POOLS[call.target]
    if block.startswith("max"):
        names = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")  # their positions after input
        if call.arg("return_indices", 6, False):
            raise Unmappable("return_indices=True (the indices are not a block output)")
    else:
        names = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
        if call.arg("divisor_override", 6, None) is not None:
            raise Unmappable("divisor_override is set")
    values = {}
    for position, name in enumerate(names, start=1):
        value = call.static(call.arg(name, position, None), name)
        if value is not None and value != []:  # stride None (or []) means the kernel size
            values[name] = value
    return call.single(block, block_params(block, **values), _self(call))


@on_function(F.adaptive_avg_pool1d, F.adaptive_avg_pool2d)
def adaptive_pool(call: Call) -> Tensor:
    block = "adaptive_avg_pool1d" if call.target is F.adaptive_avg_pool1d else "adaptive_avg_pool2d"
    size = call.static(call.arg("output_size", 1), "output_size")
    if isinstance(size, (list, tuple)) and None in size:
        raise Unmappable("an output_size that keeps an input size (None)")
    if block == "adaptive_avg_pool1d" and isinstance(size, (list, tuple)):
        size = size[0]
    return call.single(block, block_params(block, output_size=size), _self(call))


@on_function(torch.mean)
@on_method("mean")
def mean(call: Call) -> Tensor:
    """Means over every spatial axis (global average pooling) or over time (sequence pooling)."""
    x = _self(call)
    dims = call.static(call.arg("dim", 1, None), "dim")
    keep = call.static(call.arg("keepdim", 2, False), "keepdim")
    if dims is None or call.arg("dtype", 3, None) is not None:
        raise Unmappable("a mean over every axis (or with a dtype)")
    rank = _rank(x)
    axes = sorted(call.sample_dim(d, rank) for d in (dims if isinstance(dims, (list, tuple)) else [dims]))
    spatial = list(range(1, len(x.shape)))
    if axes == spatial and len(x.shape) >= 2:
        if not keep:
            return call.single("global_avg_pool", {}, x)
        if len(x.shape) in (2, 3):
            block = "adaptive_avg_pool1d" if len(x.shape) == 2 else "adaptive_avg_pool2d"
            return call.single(block, block_params(block, output_size=1), x)
    if axes == [0] and len(x.shape) == 2 and not keep:
        return call.single("sequence_pool", {}, x)
    raise Unmappable(f"a mean over axes {dims} of {list(x.shape)} per sample (keepdim={keep}); global average "
                     "pooling (every spatial axis) and pooling over time map")


# --- indexing -------------------------------------------------------------------------------------
@on_function(operator.getitem)
def getitem(call: Call):
    value, index = call.args[0], call.static(call.args[1], "index")
    found = index_result(call, value, index)
    if found is not None:
        return found
    if isinstance(value, Tensor):
        step = last_step(call, value, index)
        if step is not None:
            return step
        return _select(call, value, index)
    raise Unmappable(f"it indexes a {type(value).__name__} with {index!r}")


def _select(call: Call, x: Tensor, index) -> Tensor:
    """``x[:, i]`` or ``x[:, :, a:b]``: one position or one range along one axis (the
    ``select`` and ``slice`` blocks)."""
    index = index if isinstance(index, tuple) else (index,)
    full = slice(None)
    while index and index[-1] == full:
        index = index[:-1]
    if len(index) >= 2 and all(i == full for i in index[:-1]):
        dim, last = len(index) - 2, index[-1]  # the first entry is the batch axis
        if isinstance(last, int) and not isinstance(last, bool):
            return call.single("select", block_params("select", dim=dim, index=last), x)
        if isinstance(last, slice) and all(v is None or isinstance(v, int) for v in (last.start, last.stop, last.step)):
            params = block_params("slice", dim=dim, start=last.start or 0, stop=last.stop, step=last.step or 1)
            return call.single("slice", params, x)
    raise Unmappable(f"indexing with {index!r}; one position or one range along one axis (x[:, i], x[:, a:b]) maps")


@on_function(torch.squeeze)
@on_method("squeeze")
def squeeze(call: Call):
    value = call.arg("input", 0)
    dim = call.static(call.arg("dim", 1, None), "dim")
    if isinstance(value, FinalStates):
        if value.of.layers * value.of.directions == 1 and dim in (0, None):
            return top_state(call, value, -1)
        raise Unmappable("it squeezes a recurrent layer's final states of several layers or directions")
    x = call.tensor(value)
    if dim is None:
        raise Unmappable("squeeze without dim (it would also drop a batch of 1)")
    return call.single("squeeze", block_params("squeeze", dim=call.sample_dim(dim, _rank(x))), x)


@on_function(torch.unsqueeze)
@on_method("unsqueeze")
def unsqueeze(call: Call) -> Tensor:
    x = _self(call)
    dim = call.static(call.arg("dim", 1), "dim")
    return call.single("unsqueeze", block_params("unsqueeze", dim=call.sample_dim(dim, _rank(x) + 1)), x)


@on_function(torch.transpose)
@on_method("transpose")
def transpose(call: Call) -> Tensor:
    x = _self(call)
    rank = _rank(x)
    dims = [call.sample_dim(call.static(call.arg(n, i), n), rank, n) for i, n in ((1, "dim0"), (2, "dim1"))]
    return call.single("transpose", block_params("transpose", dim0=dims[0], dim1=dims[1]), x)


@on_function(torch.permute)
@on_method("permute")
def permute(call: Call) -> Tensor:
    x = _self(call)
    dims = call.static(list(call.args[1:]) if call.named is None else call.arg("dims", 1), "dims")
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = list(dims[0])
    rank = _rank(x)
    dims = [d % rank for d in dims]
    if not dims or dims[0] != 0:
        raise Unmappable(f"permute {dims} moves the batch axis")
    return call.single("permute", block_params("permute", dims=[d - 1 for d in dims[1:]]), x)
