"""Mappers for ``torch.nn`` layers that become one block each: convolutions, norms,
activations, pooling, linear, dropout, flatten, embedding, upsampling."""

from __future__ import annotations

from torch import nn

from builder.importing.errors import Unmappable
from builder.importing.mapping import Call, WeightSource, block_params, on_module


def _only_input(call: Call):
    if len(call.args) != 1 or call.kwargs:
        raise Unmappable("it is called with more than one argument")
    return call.tensor(call.args[0])


def _weighted(call: Call, block: str, params: dict):
    return call.single(block, params, _only_input(call), weights=WeightSource(call.module))


@on_module(nn.Conv1d, nn.Conv2d)
def conv(call: Call):
    block = "conv1d" if isinstance(call.module, nn.Conv1d) else "conv2d"
    return _weighted(call, block, block_params(block, call.module, skip=("in_channels",)))


@on_module(nn.ConvTranspose2d)
def conv_transpose(call: Call):
    if call.module.padding_mode != "zeros":
        raise Unmappable(f"padding_mode {call.module.padding_mode!r} (only zeros)")
    return _weighted(call, "conv_transpose2d", block_params("conv_transpose2d", call.module))


@on_module(nn.BatchNorm1d, nn.BatchNorm2d)
def batch_norm(call: Call):
    block = "batch_norm1d" if isinstance(call.module, nn.BatchNorm1d) else "batch_norm2d"
    return _weighted(call, block, block_params(block, call.module))


@on_module(nn.LayerNorm)
def layer_norm(call: Call):
    m = call.module
    x = _only_input(call)
    dims = len(m.normalized_shape)
    if tuple(x.shape[len(x.shape) - dims:]) != tuple(m.normalized_shape):
        raise Unmappable(f"it normalizes {list(m.normalized_shape)}, which are not the last axes of the input "
                         f"{list(x.shape)}")
    params = block_params("layer_norm", m, dims=dims, affine=m.elementwise_affine, bias=m.bias is not None)
    return call.single("layer_norm", params, x, weights=WeightSource(m))


# activations: the block of the same meaning; ``inplace`` is not carried over, since an
# edited graph may read the tensor an in-place activation would overwrite
_ACTIVATIONS = {
    nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.GELU: "gelu", nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh", nn.SiLU: "silu", nn.Hardsigmoid: "hard_sigmoid", nn.ReLU6: "relu6",
    nn.Hardswish: "hard_swish",
}


@on_module(*_ACTIVATIONS)
def activation(call: Call):
    block = _ACTIVATIONS[type(call.module)]
    return call.single(block, block_params(block, call.module, skip=("inplace",)), _only_input(call))


@on_module(nn.Softmax)
def softmax(call: Call):
    x = _only_input(call)
    if call.module.dim is None:
        raise Unmappable("softmax without dim (PyTorch guesses the axis); give dim")
    dim = call.sample_dim(call.module.dim, len(x.shape) + 1)
    return call.single("softmax", block_params("softmax", dim=dim), x)


@on_module(nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)
def pool(call: Call):
    m = call.module
    if getattr(m, "return_indices", False):
        raise Unmappable("return_indices=True (the indices are not a block output)")
    if getattr(m, "divisor_override", None) is not None:
        raise Unmappable("divisor_override is set")
    kind = "max" if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)) else "avg"
    block = f"{kind}_pool{'1d' if isinstance(m, (nn.MaxPool1d, nn.AvgPool1d)) else '2d'}"
    return call.single(block, block_params(block, m), _only_input(call))


@on_module(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
def adaptive_pool(call: Call):
    m = call.module
    size = m.output_size
    if size is None or (isinstance(size, tuple) and None in size):
        raise Unmappable("an output_size that keeps an input size (None)")
    block = "adaptive_avg_pool1d" if isinstance(m, nn.AdaptiveAvgPool1d) else "adaptive_avg_pool2d"
    if block == "adaptive_avg_pool1d" and isinstance(size, tuple):
        size = size[0]
    return call.single(block, block_params(block, m, output_size=size), _only_input(call))


@on_module(nn.Linear)
def linear(call: Call):
    return _weighted(call, "linear", block_params("linear", call.module, skip=("in_features",)))


@on_module(nn.Dropout)
def dropout(call: Call):
    return call.single("dropout", block_params("dropout", call.module), _only_input(call))


@on_module(nn.Flatten)
def flatten(call: Call):
    x = _only_input(call)
    rank = len(x.shape) + 1
    params = block_params("flatten", start_dim=call.sample_dim(call.module.start_dim, rank, "start_dim"),
                          end_dim=call.sample_dim(call.module.end_dim, rank, "end_dim"))
    return call.single("flatten", params, x)


@on_module(nn.Identity)
def identity(call: Call):
    return _only_input(call)


@on_module(nn.Embedding)
def embedding(call: Call):
    m = call.module
    if m.max_norm is not None:
        raise Unmappable("max_norm is set (it rescales the table while looking up)")
    return _weighted(call, "embedding", block_params("embedding", m))


@on_module(nn.Upsample)
def upsample(call: Call):
    m = call.module
    if m.size is not None or m.scale_factor is None:
        raise Unmappable("a target size instead of a scale_factor")
    factor = m.scale_factor
    if isinstance(factor, tuple):
        if len(set(factor)) != 1:
            raise Unmappable(f"a different scale_factor per axis {list(factor)}")
        factor = factor[0]
    return call.single("upsample", block_params("upsample", m, scale_factor=float(factor)), _only_input(call))
