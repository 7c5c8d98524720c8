"""LSTM and GRU gates, recomputed step by step from the layer's weights.

``nn.LSTM`` and ``nn.GRU`` run as one fused kernel and return only hidden (and cell)
states, never the gates. This module replays the same equations in plain tensor code, for
every layer and direction, with PyTorch's weight layout:

* LSTM, gate rows ``i, f, g, o``: ``i = sigma(.)``, ``f = sigma(.)``, ``g = tanh(.)``,
  ``o = sigma(.)`` of ``W_ih x_t + b_ih + W_hh h_(t-1) + b_hh``; ``c_t = f * c_(t-1) + i * g``,
  ``h_t = o * tanh(c_t)``.
* GRU, gate rows ``r, z, n``: ``r, z = sigma(W_i x_t + b_i + W_h h_(t-1) + b_h)``,
  ``n = tanh(W_in x_t + b_in + r * (W_hn h_(t-1) + b_hn))``, ``h_t = (1 - z) * n + z * h_(t-1)``.

The replay's top-layer outputs are compared with the module's own, so a view never shows
gates that do not belong to the numbers the model computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from blocks.modules.sequence import initial_state


@dataclass
class Trace:
    """One layer and direction over time: each gate ``[B, T, H]``, hidden (and cell) states
    ``[B, T, H]`` in the order of the input sequence (a reverse direction is flipped back)."""

    layer: int
    reverse: bool
    gates: dict[str, torch.Tensor]
    hidden: torch.Tensor
    cell: Optional[torch.Tensor] = None


LSTM_GATES = ("input", "forget", "candidate", "output")
GRU_GATES = ("reset", "update", "candidate")


def _in_order(steps: list[torch.Tensor], reverse: bool) -> torch.Tensor:
    """``[B, T, H]`` in the input's time order (a reverse direction computed them backwards)."""
    return torch.stack(steps[::-1] if reverse else steps, dim=1)


def _weights(rnn: nn.Module, layer: int, reverse: bool) -> tuple[torch.Tensor, ...]:
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    w_ih, w_hh = getattr(rnn, "weight_ih" + suffix), getattr(rnn, "weight_hh" + suffix)
    b_ih = getattr(rnn, "bias_ih" + suffix, None) if rnn.bias else None
    b_hh = getattr(rnn, "bias_hh" + suffix, None) if rnn.bias else None
    zeros = torch.zeros(w_ih.shape[0], dtype=w_ih.dtype)
    return w_ih, w_hh, zeros if b_ih is None else b_ih, zeros if b_hh is None else b_hh


def _lstm_direction(rnn: nn.LSTM, x: torch.Tensor, h: torch.Tensor, layer: int, reverse: bool) -> Trace:
    w_ih, w_hh, b_ih, b_hh = _weights(rnn, layer, reverse)
    c = torch.zeros_like(h)
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    names = {name: [] for name in LSTM_GATES}
    hs, cs = [], []
    projected = x @ w_ih.T + b_ih  # the input part of every gate, all steps at once
    for t in steps:
        i, f, g, o = (projected[:, t] + h @ w_hh.T + b_hh).chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        for name, value in zip(LSTM_GATES, (i, f, g, o)):
            names[name].append(value)
        hs.append(h)
        cs.append(c)
    return Trace(layer, reverse, {n: _in_order(v, reverse) for n, v in names.items()}, _in_order(hs, reverse),
                 _in_order(cs, reverse))


def _gru_direction(rnn: nn.GRU, x: torch.Tensor, h: torch.Tensor, layer: int, reverse: bool) -> Trace:
    w_ih, w_hh, b_ih, b_hh = _weights(rnn, layer, reverse)
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    names = {name: [] for name in GRU_GATES}
    hs = []
    projected = x @ w_ih.T + b_ih
    for t in steps:
        xr, xz, xn = projected[:, t].chunk(3, dim=1)
        hr, hz, hn = (h @ w_hh.T + b_hh).chunk(3, dim=1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = (1 - z) * n + z * h
        for name, value in zip(GRU_GATES, (r, z, n)):
            names[name].append(value)
        hs.append(h)
    return Trace(layer, reverse, {n: _in_order(v, reverse) for n, v in names.items()}, _in_order(hs, reverse))


@torch.no_grad()
def replay(wrapper: nn.Module, x: torch.Tensor, state: Optional[torch.Tensor] = None) -> list[Trace]:
    """Every layer's and direction's gates for input ``x`` ``[B, T, F]`` of an ``LSTMLayer``
    or GRU ``RecurrentLayer`` (blocks/modules/sequence.py), started from ``state``
    ``[B, D*H]`` (zeros when None) as the module starts. Layer ``l`` reads both directions'
    outputs of layer ``l-1`` (dropout between layers is off in eval mode)."""
    rnn = wrapper.rnn
    lstm = isinstance(rnn, nn.LSTM)
    directions = 2 if rnn.bidirectional else 1
    size = rnn.hidden_size
    batch = x.shape[0]
    if state is not None:
        h0 = initial_state(state, rnn.num_layers, directions, size)  # [L*D, B, H]
    else:
        h0 = torch.zeros(rnn.num_layers * directions, batch, size, dtype=x.dtype)
    traces: list[Trace] = []
    layer_input = x.float()
    for layer in range(rnn.num_layers):
        outputs = []
        for d in range(directions):
            start = h0[layer * directions + d].float()
            run = _lstm_direction if lstm else _gru_direction
            trace = run(rnn, layer_input, start, layer, d == 1)
            traces.append(trace)
            outputs.append(trace.hidden)
        layer_input = torch.cat(outputs, dim=2)
    return traces


def top_output(traces: list[Trace], last: bool) -> torch.Tensor:
    """What the module returns as ``out`` from the replay: the top layer's sequence
    ``[B, T, D*H]``, or with ``last`` the final state ``[B, D*H]`` (forward direction after
    the last step, backward direction after the first)."""
    top = max(t.layer for t in traces)
    mine = [t for t in traces if t.layer == top]
    if last:
        return torch.cat([t.hidden[:, 0] if t.reverse else t.hidden[:, -1] for t in mine], dim=1)
    return torch.cat([t.hidden for t in mine], dim=2)
