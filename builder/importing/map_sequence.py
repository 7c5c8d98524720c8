"""Mappers for the sequence layers: LSTM, GRU and RNN (with their tuple results), multi-head
attention and transformer encoder layers.

The blocks take batch-first sequences ``[T, F]`` per sample and give the top layer's final
state as one vector per sample (``hidden``), where PyTorch's layers give ``h_n`` as
``[layers*directions, batch, hidden]``. So ``out``, ``h_n[-1]`` (one direction) and
``out[:, -1]`` (one direction) map to ports; other uses of ``h_n`` are listed as unmapped.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.nn import functional as F

from builder.importing.errors import Unmappable
from builder.importing.mapping import (
    Call,
    FinalStates,
    Multi,
    StatePair,
    Tensor,
    TensorInfo,
    TopState,
    WeightSource,
    block_params,
    on_module,
)

_KINDS = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}


def _batch_first(flag: bool) -> None:
    if not flag:
        raise Unmappable("batch_first=False: graph tensors put the batch first")


@on_module(*_KINDS)
def recurrent(call: Call) -> Multi:
    m = call.module
    _batch_first(m.batch_first)
    if getattr(m, "proj_size", 0):
        raise Unmappable("proj_size is set (LSTM with projections)")
    if len(call.args) > 1 and call.args[1] is not None or call.kwargs.get("hx") is not None:
        raise Unmappable("an initial state (hx) is given; the block takes one vector per sample for every layer")
    x = call.tensor(call.args[0])
    kind = _KINDS[type(m)]
    extra = {"nonlinearity": m.nonlinearity} if kind == "rnn" else {}
    params = block_params(kind, m, output="sequence", **extra)
    node = call.emit(kind, params, [x.ref], weights=WeightSource(m))
    return Multi(node, kind, m.num_layers, 2 if m.bidirectional else 1)


def _attention_weights(m: nn.MultiheadAttention) -> dict[str, Any]:
    """nn.MultiheadAttention's packed projections as the block's q/k/v/out projections."""
    if m._qkv_same_embed_dim:
        wq, wk, wv = m.in_proj_weight.chunk(3)
    else:
        wq, wk, wv = m.q_proj_weight, m.k_proj_weight, m.v_proj_weight
    tensors = {"q_proj.weight": wq, "k_proj.weight": wk, "v_proj.weight": wv,
               "out_proj.weight": m.out_proj.weight}
    if m.in_proj_bias is not None:
        bq, bk, bv = m.in_proj_bias.chunk(3)
        tensors.update({"q_proj.bias": bq, "k_proj.bias": bk, "v_proj.bias": bv, "out_proj.bias": m.out_proj.bias})
    return tensors


@on_module(nn.MultiheadAttention)
def attention(call: Call) -> Multi:
    m = call.module
    _batch_first(m.batch_first)
    if m.bias_k is not None or m.add_zero_attn:
        raise Unmappable("add_bias_kv or add_zero_attn is set")
    if m.kdim != m.vdim:
        raise Unmappable(f"keys and values of different sizes (kdim {m.kdim}, vdim {m.vdim})")
    for name, position in (("key_padding_mask", 3), ("attn_mask", 5)):
        if call.arg(name, position, None) is not None:
            raise Unmappable(f"a {name} is given; the block masks only causally")
    if call.arg("is_causal", 7, False):
        raise Unmappable("is_causal=True with nn.MultiheadAttention (it needs attn_mask as well)")
    query, key, value = (call.tensor(call.arg(n, i), n) for i, n in enumerate(("query", "key", "value")))
    if key.ref != value.ref:
        raise Unmappable("key and value are different tensors; the block looks up one key_value sequence")
    inputs: list | dict = [query.ref] if key.ref == query.ref else {"query": query.ref, "key_value": key.ref}
    params = block_params("multi_head_attention", m, skip=("causal",), bias=m.in_proj_bias is not None)
    node = call.emit("multi_head_attention", params, inputs, weights=WeightSource(m, _attention_weights))
    return Multi(node, "attention")


def _encoder_layer_params(layer: nn.TransformerEncoderLayer) -> dict:
    _batch_first(layer.self_attn.batch_first)
    if layer.activation_relu_or_gelu == 1 or layer.activation in (F.relu,):
        activation = "relu"
    elif layer.activation_relu_or_gelu == 2 or layer.activation in (F.gelu,):
        activation = "gelu"
    else:
        raise Unmappable(f"activation {getattr(layer.activation, '__name__', layer.activation)!r} (relu or gelu)")
    if layer.norm1.eps != layer.norm2.eps:
        raise Unmappable(f"its two layer norms have different eps ({layer.norm1.eps}, {layer.norm2.eps})")
    return block_params("transformer_encoder_layer", num_heads=layer.self_attn.num_heads,
                        dim_feedforward=layer.linear1.out_features, dropout=layer.dropout.p,
                        activation=activation, norm_first=layer.norm_first,
                        bias=layer.linear1.bias is not None, layer_norm_eps=layer.norm1.eps)


def _no_masks(call: Call, names: tuple[str, ...]) -> None:
    for position, name in enumerate(names, start=1):
        if call.arg(name, position, None) is not None:
            raise Unmappable(f"a {name} is given")


@on_module(nn.TransformerEncoderLayer)
def encoder_layer(call: Call) -> Tensor:
    _no_masks(call, ("src_mask", "src_key_padding_mask"))
    x = call.tensor(call.arg("src", 0))
    params = _encoder_layer_params(call.module)
    return call.single("transformer_encoder_layer", params, x, weights=WeightSource(call.module))


@on_module(nn.TransformerEncoder)
def encoder(call: Call) -> Tensor:
    """The stack becomes one node per layer (``encoder_layers_0`` ...) and its final norm."""
    _no_masks(call, ("mask", "src_key_padding_mask"))
    x = call.tensor(call.arg("src", 0))
    m = call.module
    layers = [(layer, _encoder_layer_params(layer)) for layer in m.layers]  # all checked before emitting
    current = x
    for i, (layer, params) in enumerate(layers):
        node = call.emit("transformer_encoder_layer", params, [current.ref], hint=f"{call.path}.layers.{i}",
                         weights=WeightSource(layer, path=f"{call.path}.layers.{i}"))
        current = Tensor(node, x.shape, x.dtype)
    if m.norm is not None:
        norm = m.norm
        if not isinstance(norm, nn.LayerNorm):
            raise Unmappable(f"its final norm is {type(norm).__name__} (LayerNorm maps)")
        params = block_params("layer_norm", norm, dims=len(norm.normalized_shape), affine=norm.elementwise_affine,
                              bias=norm.bias is not None)
        node = call.emit("layer_norm", params, [current.ref], hint=f"{call.path}.norm",
                         weights=WeightSource(norm, path=f"{call.path}.norm"))
        current = Tensor(node, x.shape, x.dtype)
    return call.result(current.ref)


# --- indexing the results ------------------------------------------------------------------------
def index_result(call: Call, value: Any, index: Any) -> Any:
    """``getitem`` on a recurrent layer's or attention's result, or on ``h_n``/``c_n``;
    None when ``value`` is none of those."""
    if isinstance(value, Multi):
        if index == 0:
            return call.result(value.node, sequence_of=(value.node, value.directions)
                               if value.kind != "attention" else None)
        if index == 1 and value.kind == "lstm":
            return StatePair(value)
        if index == 1 and value.kind in ("gru", "rnn"):
            return FinalStates(value, "hidden")
        if index == 1 and value.kind == "attention":  # (None with need_weights=False: never mapped)
            raise Unmappable("it uses nn.MultiheadAttention's weights averaged over heads; the block gives "
                             "each head's weights [num_heads, Tq, Tk]")
        raise Unmappable(f"index {index!r} of a {value.kind} result")
    if isinstance(value, StatePair):
        if index in (0, 1):
            return FinalStates(value.of, "hidden" if index == 0 else "cell")
        raise Unmappable(f"index {index!r} of an LSTM's (h_n, c_n)")
    if isinstance(value, FinalStates):
        return top_state(call, value, index)
    return None


def top_state(call: Call, value: FinalStates, index: Any) -> Tensor | TopState:
    """``h_n[-1]``: the top layer's final state, the block's ``hidden`` (or ``cell``) port,
    when the layer runs one way; for a bidirectional layer ``h_n[-2]`` and ``h_n[-1]`` are
    its two halves (see :func:`join_directions`)."""
    rnn = value.of
    count = rnn.layers * rnn.directions
    top = (-1, count - 1) if rnn.directions == 1 else (-2, count - 2, -1, count - 1)
    if not isinstance(index, int) or isinstance(index, bool) or index not in top:
        raise Unmappable(f"it takes h_n[{index!r}]; only the top layer's state (h_n[-1]) maps to a block port")
    if rnn.directions == 1:
        return call.result(rnn.node, value.port)
    return TopState(rnn, value.port, "backward" if index in (-1, count - 1) else "forward")


def join_directions(call: Call, parts: list, dim: Any) -> Tensor | None:
    """``torch.cat((h_n[-2], h_n[-1]), dim=1)``: a bidirectional layer's ``hidden`` port."""
    if not parts or not all(isinstance(p, TopState) for p in parts):
        return None
    first = parts[0]
    if ([p.direction for p in parts] != ["forward", "backward"] or any(p.of != first.of or p.port != first.port
                                                                        for p in parts) or dim not in (1, -1)):
        raise Unmappable("it joins final states other than torch.cat((h_n[-2], h_n[-1]), dim=1)")
    return call.result(first.of.node, first.port)


def last_step(call: Call, value: Tensor, index: Any) -> Tensor | None:
    """``out[:, -1]`` of a one-way recurrent layer's output sequence: its ``hidden`` port."""
    if value.sequence_of is None or value.sequence_of[1] != 1:
        return None
    full = slice(None)
    if isinstance(index, tuple) and index in ((full, -1), (full, -1, full)):
        out = call.out
        if isinstance(out, TensorInfo):
            return call.result(value.sequence_of[0], "hidden")
    return None
