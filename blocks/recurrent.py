"""Recurrent layers: vanilla RNN, LSTM and GRU over sequences of vectors ``[T, F]``.

All three share their parameters, ports, shape rule and cost rule; they differ in the
number of gates ``G`` (RNN 1, GRU 3, LSTM 4), each gate being one affine map of the input
and one of the previous hidden state:

* parameters per layer and direction: ``G*H*(I + H)`` weights ``+ 2*G*H`` biases, where
  ``I`` is the layer's input size (``F`` for the first layer, ``D*H`` above it);
* multiply-accumulates: ``T * G*H*(I + H)`` per layer and direction. The element-wise
  gate products and the nonlinearities are not counted, as everywhere in this project.
"""

from __future__ import annotations

from blocks.lazy import lazy_class, nn

from blocks.params import Bool, Choice, Float, Int, ParamError, Port
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, ShapeError, expect_rank, format_shape

LSTMLayer = lazy_class("blocks.modules.sequence", "LSTMLayer")
RecurrentLayer = lazy_class("blocks.modules.sequence", "RecurrentLayer")


def recurrent_params() -> dict:
    return {
        "hidden_size": Int(min=1, doc="size H of the hidden state (memory) of each direction"),
        "num_layers": Int(1, min=1, max=16, doc="stacked layers; each reads the output sequence of the one below"),
        "bidirectional": Bool(False, doc="add a second layer reading the sequence backwards; outputs are 2*H wide"),
        "dropout": Float(0.0, min=0.0, max=1.0,
                         doc="dropout on the outputs of every layer except the last (needs num_layers >= 2)"),
        "output": Choice("sequence", choices=("sequence", "last"),
                         doc="'sequence': the output at every step [T, D*H]; 'last': the final state [D*H]"),
        "bias": Bool(True, doc="learn bias vectors for every gate"),
    }


RECURRENT_INPUTS = (
    Port("x", "sequence of vectors [T, F]"),
    Port("state", "initial hidden state [D*H] for every layer (e.g. an encoder's hidden); zeros when absent",
         optional=True),
)
OUTPUT_DOC = "[T, D*H] output sequence of the top layer ('sequence'), or the final state [D*H] ('last')"
HIDDEN_DOC = "final hidden state of the top layer [D*H], both directions concatenated"


class _Recurrent(Block):
    """Shared rules; subclasses set ``gates`` and ``build``."""

    category = "Recurrent"
    gates = 1
    inputs = RECURRENT_INPUTS
    outputs = (Port("out", OUTPUT_DOC), Port("hidden", HIDDEN_DOC))
    key_params = ("hidden_size", "num_layers", "bidirectional", "output")

    def check(self, p: Params) -> None:
        if p.dropout > 0 and p.num_layers == 1:
            raise ParamError("dropout acts between stacked layers, so it needs num_layers >= 2;"
                             " with one layer put a dropout block after this one instead")

    def width(self, p: Params) -> int:
        """``D*H``: the size of one output vector."""
        return (2 if p.bidirectional else 1) * p.hidden_size

    def infer(self, p: Params, x: Shape, state: Shape | None = None) -> dict[str, Shape]:
        expect_rank(x, 2, "time, features")
        width = self.width(p)
        if state is not None and tuple(state) != (width,):
            raise ShapeError(
                f"initial state must be [{width}] (directions x hidden_size), found {format_shape(state)};"
                f" connect the hidden output of a recurrent layer with the same hidden_size and directions")
        shapes = {"out": (x[0], width) if p.output == "sequence" else (width,), "hidden": (width,)}
        if self.port("cell", output=True):
            shapes["cell"] = (width,)
        return shapes

    def cost(self, p: Params, out: dict, x: Shape, state: Shape | None = None) -> Cost:
        directions = 2 if p.bidirectional else 1
        params = macs = 0
        size_in = x[1]
        for _ in range(p.num_layers):
            weights = self.gates * p.hidden_size * (size_in + p.hidden_size)
            params += directions * (weights + (2 * self.gates * p.hidden_size if p.bias else 0))
            macs += directions * x[0] * weights
            size_in = directions * p.hidden_size
        return Cost(params, macs)


@register
class RNN(_Recurrent):
    """Vanilla (Elman) recurrent layer: a memory vector updated at every time step.

    At each step ``t`` the new hidden state mixes the current input with the previous state:
    ``h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)`` (``nonlinearity: relu`` uses ReLU).
    The same weights are reused at every step, so the layer handles any sequence length.

    Why it is rarely used alone: the gradient that flows back from step ``t`` to step
    ``t-k`` is multiplied ``k`` times by ``W_hh`` and the tanh slope, so it shrinks (or
    explodes) exponentially: the *vanishing gradient* problem. A vanilla RNN therefore
    struggles to learn dependencies more than ~10-20 steps apart; the LSTM and GRU add
    gates to fix this. It remains the best block to understand recurrence.
    ``recurrent_scale`` sets the size of ``W_hh`` at the start (an orthogonal matrix times
    the scale) to show both ways: with ``nonlinearity: relu`` and a scale above 1 the
    gradient *explodes* instead (graphs/rnn_explode.yaml).

    Shape: ``[T, F] -> out [T, D*H]`` (``output: sequence``, the default: one vector per
    step, what a stacked layer or attention needs) or ``[D*H]`` (``output: last``, the
    final state, what a classifier needs), where ``D`` is 2 if bidirectional and ``H`` is
    ``hidden_size``. ``hidden`` is always the final state ``[D*H]``; for a bidirectional
    layer it joins the forward direction's last state with the backward direction's state
    after reading back to the first step (not ``out[-1]``, whose backward half has only
    seen the last element). The optional ``state`` input ``[D*H]`` starts every layer
    from a given hidden state instead of zeros, e.g. a decoder started by an encoder.
    Parameters per layer and direction: ``H*(I + H) + 2*H``, with ``I = F`` for the first
    layer and ``D*H`` above; multiply-accumulates: ``T*H*(I + H)`` per layer and direction.
    """

    name = "rnn"
    gates = 1
    params = {
        **recurrent_params(),
        "nonlinearity": Choice("tanh", choices=("tanh", "relu"),
                               doc="squashing function of the update; relu can explode without care"),
        "recurrent_scale": Float(None, optional=True, min=0.0,
                                 doc="initialize W_hh as a random orthogonal matrix times this (its spectral "
                                     "radius): above 1 gradients explode through time, below 1 they vanish; "
                                     "null: PyTorch's uniform initialization"),
    }
    examples = (
        {"params": {"hidden_size": 16}, "inputs": {"x": [12, 5]}},
        {"params": {"hidden_size": 8, "num_layers": 2, "bidirectional": True, "output": "last",
                    "nonlinearity": "relu", "dropout": 0.2}, "inputs": {"x": [10, 6]}},
        {"params": {"hidden_size": 8, "bias": False}, "inputs": {"x": [7, 4], "state": [8]}},
        {"params": {"hidden_size": 8, "nonlinearity": "relu", "recurrent_scale": 1.5}, "inputs": {"x": [6, 3]}},
    )

    def build(self, p: Params, x: Shape, state: Shape | None = None) -> nn.Module:
        return RecurrentLayer("rnn", x[1], p.hidden_size, p.num_layers, p.bidirectional, p.dropout,
                              p.bias, p.output == "last", p.nonlinearity, p.recurrent_scale)


@register
class LSTM(_Recurrent):
    """Long short-term memory: a recurrent layer with gates that learns long-range memory.

    Besides the hidden state ``h`` an LSTM carries a *cell* ``c``, updated additively:
    ``c_t = f_t * c_(t-1) + i_t * g_t`` and ``h_t = o_t * tanh(c_t)``, where the gates
    ``i`` (input), ``f`` (forget), ``o`` (output) are sigmoids in (0, 1) and ``g`` is a
    tanh candidate, each computed as ``W_i x_t + W_h h_(t-1) + b``. Because the cell is
    carried forward by multiplying with ``f`` (not by a weight matrix and a tanh slope),
    the gradient can travel many steps without vanishing as long as the forget gate stays
    near 1: this is why LSTMs learn dependencies hundreds of steps apart.

    ``forget_bias`` (default 1.0) initializes every forget gate's bias to that value
    (``b_ih_f + b_hh_f``, the second quarter of PyTorch's i, f, g, o bias layout), so that
    ``f = sigmoid(1) = 0.73`` at the start instead of 0.5: the layer begins by remembering
    and learns to forget, a classic trick (Gers et al. 2000; Jozefowicz et al. 2015).

    Shape: ``[T, F] -> out [T, D*H]`` (``output: sequence``, the default) or ``[D*H]``
    (``output: last``); ``hidden`` and ``cell`` are the top layer's final hidden and cell
    states ``[D*H]``, both directions concatenated (for a bidirectional layer this is the
    proper summary, not ``out[-1]``). The optional ``state`` input ``[D*H]`` sets the
    initial hidden state of every layer (cells start at zero): connect an encoder's
    ``hidden`` to start a decoder. Parameters per layer and direction: ``4*H*(I + H) + 8*H``;
    multiply-accumulates ``4*T*H*(I + H)``, with ``I = F`` for the first layer, ``D*H`` above.
    """

    name = "lstm"
    gates = 4
    params = {
        **recurrent_params(),
        "forget_bias": Float(1.0, doc="initial total bias of the forget gates (ignored without bias)"),
    }
    outputs = (Port("out", OUTPUT_DOC), Port("hidden", HIDDEN_DOC),
               Port("cell", "final cell state of the top layer [D*H], both directions concatenated"))
    # On CPU PyTorch runs nn.LSTM in one oneDNN kernel (cuDNN on GPU) that the FLOP counter
    # cannot see; tests/blocks/test_sequence_blocks.py checks the formula with oneDNN off.
    macs_exact = False
    examples = (
        {"params": {"hidden_size": 16}, "inputs": {"x": [12, 5]}},
        {"params": {"hidden_size": 8, "num_layers": 2, "bidirectional": True, "output": "last", "dropout": 0.1},
         "inputs": {"x": [10, 6]}},
        {"params": {"hidden_size": 6, "bidirectional": True, "forget_bias": 2.0},
         "inputs": {"x": [9, 4], "state": [12]}},
    )

    def build(self, p: Params, x: Shape, state: Shape | None = None) -> nn.Module:
        return LSTMLayer(x[1], p.hidden_size, p.num_layers, p.bidirectional, p.dropout, p.bias,
                         p.output == "last", p.forget_bias)


@register
class GRU(_Recurrent):
    """Gated recurrent unit: a lighter gated RNN with LSTM-like memory and no separate cell.

    Two gates decide how much of the old state to keep: the update gate
    ``z_t = sigmoid(W_z x_t + U_z h_(t-1))`` and the reset gate ``r_t`` (same form). The
    candidate ``n_t = tanh(W_n x_t + r_t * (U_n h_(t-1)))`` is blended in with
    ``h_t = (1 - z_t) * n_t + z_t * h_(t-1)``. When ``z`` is near 1 the state is copied
    unchanged, which, like the LSTM's cell, lets gradients flow over long distances
    without vanishing. With three gates instead of four it has 25% fewer parameters than an
    LSTM of the same size and often trains just as well.

    Shape: ``[T, F] -> out [T, D*H]`` (``output: sequence``, the default) or ``[D*H]``
    (``output: last``); ``hidden`` is the top layer's final state ``[D*H]``, both
    directions concatenated. The optional ``state`` input ``[D*H]`` sets the initial
    hidden state of every layer. Parameters per layer and direction: ``3*H*(I + H) + 6*H``;
    multiply-accumulates ``3*T*H*(I + H)``, with ``I = F`` for the first layer, ``D*H`` above.
    """

    name = "gru"
    gates = 3
    params = recurrent_params()
    examples = (
        {"params": {"hidden_size": 16}, "inputs": {"x": [12, 5]}},
        {"params": {"hidden_size": 8, "num_layers": 3, "bidirectional": True, "output": "last"},
         "inputs": {"x": [10, 6]}},
        {"params": {"hidden_size": 10}, "inputs": {"x": [6, 3], "state": [10]}},
    )

    def build(self, p: Params, x: Shape, state: Shape | None = None) -> nn.Module:
        return RecurrentLayer("gru", x[1], p.hidden_size, p.num_layers, p.bidirectional, p.dropout,
                              p.bias, p.output == "last")
