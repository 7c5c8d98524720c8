"""Modules for the sequence blocks: recurrent layers, attention, transformer layers, positions.

All of them take batch-first tensors (``[batch, time, features]``) and work with
``torch.jit.script`` and ``torch.fx``.

* ``RecurrentLayer`` (vanilla RNN and GRU) and ``LSTMLayer`` wrap ``nn.RNN``/``nn.GRU``/
  ``nn.LSTM`` with ``batch_first=True``, so that PyTorch's fused kernels (cuDNN on GPU,
  oneDNN on CPU) do the work. They add what the plain layers leave to the user: an
  optional initial state given as one vector per sample, the final state of the top layer
  as one vector per sample (both directions concatenated), and the choice between the
  whole output sequence and only that summary.
* ``MultiHeadAttention`` is written out step by step (projections, scaled dot products,
  softmax, weighted sum) rather than calling ``nn.MultiheadAttention``: it is the formula a
  student reads in the docs, it returns the attention maps of every head, and every
  multiplication is visible to PyTorch's FLOP counter.
* ``TransformerEncoderLayer`` wraps ``nn.TransformerEncoderLayer`` and adds the causal mask.
* ``SinusoidalPositionalEncoding`` and ``LearnedPositionalEncoding`` add position
  information to a sequence of vectors; ``SequencePool`` averages (or maxes) over time.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from blocks.modules.arguments import keeps_arguments


# --- recurrent layers -------------------------------------------------------------------
def initial_state(state: Tensor, num_layers: int, directions: int, hidden_size: int) -> Tensor:
    """A ``[batch, directions*hidden]`` vector -> PyTorch's ``[layers*directions, batch, hidden]``.

    The vector is split into one part per direction (forward first), and every layer starts
    from the same state. The layout matches :func:`final_state`, so an encoder's ``hidden``
    can start a decoder of the same ``hidden_size`` and direction count.
    """
    batch = state.size(0)
    per_direction = state.reshape(batch, directions, hidden_size).transpose(0, 1)  # [D, B, H]
    return per_direction.repeat(num_layers, 1, 1).contiguous()  # index = layer*D + direction


def final_state(h_n: Tensor, directions: int) -> Tensor:
    """PyTorch's ``[layers*directions, batch, hidden]`` -> the top layer's ``[batch, directions*hidden]``.

    For a bidirectional layer this joins the forward direction's state after the last step
    with the backward direction's state after the *first* step (where it has read the whole
    sequence), the right summary of the sequence; ``out[:, -1]`` would instead hold a
    backward state that has seen only one element.
    """
    top = h_n[h_n.size(0) - directions:]  # [D, B, H]
    return top.transpose(0, 1).reshape(h_n.size(1), -1)


@keeps_arguments
class RecurrentLayer(nn.Module):
    """A vanilla RNN or a GRU (``kind`` "rnn" or "gru"); returns ``(out, hidden)``.

    ``out`` is the top layer's output sequence ``[B, T, D*H]``, or the final state
    ``[B, D*H]`` when ``last`` is set; ``hidden`` is always the final state.
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, bias: bool = True,
                 last: bool = False, nonlinearity: str = "tanh", recurrent_scale: Optional[float] = None):
        super().__init__()
        if kind == "rnn":
            self.rnn = nn.RNN(input_size, hidden_size, num_layers, nonlinearity=nonlinearity, bias=bias,
                              batch_first=True, dropout=dropout, bidirectional=bidirectional)
        elif kind == "gru":
            self.rnn = nn.GRU(input_size, hidden_size, num_layers, bias=bias, batch_first=True,
                              dropout=dropout, bidirectional=bidirectional)
        else:
            raise ValueError(f"unknown recurrent layer {kind!r}; expected 'rnn' or 'gru'")
        if recurrent_scale is not None:
            set_recurrent_scale(self.rnn, recurrent_scale)
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.directions = 2 if bidirectional else 1
        self.last = last

    def forward(self, x: Tensor, state: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        h0: Optional[Tensor] = None
        if state is not None:
            h0 = initial_state(state, self.num_layers, self.directions, self.hidden_size)
        out, h_n = self.rnn(x, h0)
        hidden = final_state(h_n, self.directions)
        if self.last:
            return hidden, hidden
        return out, hidden


@keeps_arguments
class LSTMLayer(nn.Module):
    """An LSTM; returns ``(out, hidden, cell)``.

    ``forget_bias`` sets every forget gate's total bias (``b_ih + b_hh``) to that value at
    initialization (PyTorch orders the gate biases input, forget, cell, output). The
    optional ``state`` sets the initial hidden state of every layer; cells start at zero.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, bias: bool = True,
                 last: bool = False, forget_bias: float = 1.0):
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, num_layers, bias=bias, batch_first=True,
                           dropout=dropout, bidirectional=bidirectional)
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.directions = 2 if bidirectional else 1
        self.last = last
        if bias:
            set_forget_bias(self.rnn, forget_bias)

    def forward(self, x: Tensor, state: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
        hx: Optional[Tuple[Tensor, Tensor]] = None
        if state is not None:
            h0 = initial_state(state, self.num_layers, self.directions, self.hidden_size)
            hx = (h0, torch.zeros_like(h0))
        out, (h_n, c_n) = self.rnn(x, hx)
        hidden = final_state(h_n, self.directions)
        cell = final_state(c_n, self.directions)
        if self.last:
            return hidden, hidden, cell
        return out, hidden, cell


@torch.no_grad()
def set_recurrent_scale(rnn: nn.RNNBase, scale: float) -> None:
    """Every ``W_hh`` a random orthogonal matrix times ``scale``: all its singular values,
    and so its spectral radius, equal ``scale`` (Saxe et al. 2014; Le et al. 2015)."""
    for name, param in rnn.named_parameters():
        if name.startswith("weight_hh"):
            nn.init.orthogonal_(param, gain=scale)


@torch.no_grad()
def set_forget_bias(lstm: nn.LSTM, value: float) -> None:
    """Make ``b_ih + b_hh`` of every forget gate equal ``value`` (gate order i, f, g, o)."""
    h = lstm.hidden_size
    for name, param in lstm.named_parameters():
        if name.startswith("bias_ih"):
            param[h:2 * h].fill_(value)
        elif name.startswith("bias_hh"):
            param[h:2 * h].zero_()


# --- attention -----------------------------------------------------------------------------
@keeps_arguments
class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention with several heads; returns ``(out, weights)``.

    ``forward(query, key_value=None)``: query ``[B, Tq, E]``, key_value ``[B, Tk, Ekv]``
    (``None`` = self-attention on ``query``). ``out`` is ``[B, Tq, E]``, ``weights`` the
    attention maps ``[B, heads, Tq, Tk]`` (before dropout: each row sums to one).
    """

    def __init__(self, embed_dim: int, num_heads: int, kv_dim: Optional[int] = None,
                 causal: bool = False, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        kv_dim = embed_dim if kv_dim is None else kv_dim
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(kv_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(kv_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.causal = causal

    def _split_heads(self, x: Tensor) -> Tensor:
        batch, length = x.size(0), x.size(1)
        return x.reshape(batch, length, self.num_heads, self.head_dim).transpose(1, 2)  # [B, h, T, d]

    def forward(self, query: Tensor, key_value: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        source = query if key_value is None else key_value
        q = self._split_heads(self.q_proj(query))
        k = self._split_heads(self.k_proj(source))
        v = self._split_heads(self.v_proj(source))
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)  # [B, h, Tq, Tk]
        if self.causal:
            # position i may look at positions j <= i only: mask the upper triangle
            future = torch.ones_like(scores[0, 0], dtype=torch.bool).triu(1)  # [Tq, Tk]
            scores = scores.masked_fill(future, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        mixed = torch.matmul(self.dropout(weights), v)  # [B, h, Tq, d]
        batch, length = mixed.size(0), mixed.size(2)
        out = self.out_proj(mixed.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim))
        return out, weights


@keeps_arguments
class TransformerEncoderLayer(nn.Module):
    """``nn.TransformerEncoderLayer`` (batch first) with an optional causal mask."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, bias: bool = True,
                 causal: bool = False, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                                layer_norm_eps=layer_norm_eps, batch_first=True,
                                                norm_first=norm_first, bias=bias)
        self.causal = causal

    def forward(self, x: Tensor) -> Tensor:
        if self.causal:
            length = x.size(1)
            mask = torch.full((length, length), float("-inf"), dtype=x.dtype, device=x.device).triu(1)
            return self.layer(x, src_mask=mask, is_causal=True)
        return self.layer(x)


# --- positions ---------------------------------------------------------------------------
def sinusoidal_table(length: int, dim: int) -> Tensor:
    """``PE[t, 2i] = sin(t / 10000^(2i/dim))``, ``PE[t, 2i+1] = cos(t / 10000^(2i/dim))``."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


@keeps_arguments
class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal table (a buffer, not saved in the state dict) to ``[B, T, E]``."""

    def __init__(self, length: int, dim: int, dropout: float = 0.0):
        super().__init__()
        self.register_buffer("table", sinusoidal_table(length, dim), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(x + self.table.narrow(0, 0, x.size(1)))


@keeps_arguments
class LearnedPositionalEncoding(nn.Module):
    """Adds a trained vector per position (``max_len x E`` parameters) to ``[B, T, E]``."""

    def __init__(self, max_len: int, dim: int, dropout: float = 0.0):
        super().__init__()
        self.table = nn.Parameter(torch.empty(max_len, dim))
        nn.init.normal_(self.table, std=0.02)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(x + self.table.narrow(0, 0, x.size(1)))


@keeps_arguments
class ClassToken(nn.Module):
    """Prepends ``count`` trained vectors to every sequence: ``[B, T, E] -> [B, count+T, E]``.

    Initialized as timm's VisionTransformer does (``init_weights``): normal with std 1e-6,
    in effect zeros (the original ViT code starts from zeros) that are not all equal.
    """

    def __init__(self, dim: int, count: int = 1):
        super().__init__()
        self.token = nn.Parameter(torch.empty(count, dim))
        nn.init.normal_(self.token, std=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.token.unsqueeze(0).expand(x.size(0), -1, -1), x], dim=1)


@keeps_arguments
class PositionEmbedding(nn.Module):
    """Adds one trained tensor of the per-sample ``shape`` to every sample.

    Initialized as timm's ``pos_embed``: truncated normal with std 0.02.
    """

    def __init__(self, shape: List[int]):
        super().__init__()
        self.table = nn.Parameter(torch.empty([int(d) for d in shape]))
        nn.init.trunc_normal_(self.table, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.table


# --- pooling over time --------------------------------------------------------------------
@keeps_arguments
class SequencePool(nn.Module):
    """Mean or maximum over the time axis: ``[B, T, E] -> [B, E]``."""

    def __init__(self, mode: str = "mean"):
        super().__init__()
        if mode not in ("mean", "max"):
            raise ValueError(f"unknown sequence pooling {mode!r}; expected 'mean' or 'max'")
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "max":
            return x.amax(dim=1)
        return x.mean(dim=1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
