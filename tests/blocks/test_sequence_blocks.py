"""Recurrent, attention, transformer and positional blocks: behaviour beyond shapes.

The generic test (test_declarations.py) checks shapes, parameter counts and, where the
FLOP counter can see the work, MACs. Here: forget-gate initialization, what ``last`` and
``hidden`` really hold, the ``state`` input, causal masks, cross-attention, TorchScript,
and the MAC formulas of the blocks whose fused kernels hide their work from the counter.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.fx
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from blocks import ShapeError, get_block

B = 3


def build(name, params, **inputs):
    """Check params, infer shapes and build the module like the compiler would."""
    block = get_block(name)
    p, problems = block.check_params(params)
    assert not problems, problems
    shapes = {k: tuple(v) for k, v in inputs.items()}
    out = block.infer_ports(p, shapes)
    torch.manual_seed(0)
    module = block.build(p, **shapes)
    module.eval()
    return block, p, out, module


def counted_macs(fn, *args):
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops() // 2


# --- LSTM forget gate ------------------------------------------------------------------------
@pytest.mark.parametrize("forget_bias", [1.0, 2.5, 0.0])
def test_lstm_forget_bias_is_set_in_every_layer_and_direction(forget_bias):
    _, _, _, m = build("lstm", {"hidden_size": 5, "num_layers": 2, "bidirectional": True,
                                "forget_bias": forget_bias}, x=[4, 3])
    lstm = m.rnn
    h = lstm.hidden_size
    suffixes = [f"l{layer}{rev}" for layer in range(2) for rev in ("", "_reverse")]
    for s in suffixes:
        b_ih, b_hh = getattr(lstm, f"bias_ih_{s}"), getattr(lstm, f"bias_hh_{s}")
        total = b_ih + b_hh
        # gate order i, f, g, o: only the second quarter is the forget gate
        assert torch.allclose(total[h:2 * h], torch.full((h,), forget_bias))
        for other in (slice(0, h), slice(2 * h, 3 * h), slice(3 * h, 4 * h)):
            assert not torch.allclose(total[other], torch.full((h,), forget_bias))
            assert total[other].abs().max() <= 2 / math.sqrt(h)  # PyTorch's default init, untouched


def test_lstm_forget_bias_makes_the_forget_gate_open_at_start():
    # with zero weights the forget gate is sigmoid(bias): 0.73 for the default bias 1.0
    _, _, _, m = build("lstm", {"hidden_size": 4}, x=[1, 2])
    h = 4
    with torch.no_grad():
        for name, param in m.rnn.named_parameters():
            if name.startswith("weight"):
                param.zero_()
        gates = m.rnn.bias_ih_l0 + m.rnn.bias_hh_l0
    assert torch.allclose(torch.sigmoid(gates[h:2 * h]), torch.full((h,), 1 / (1 + math.exp(-1))))


def test_lstm_without_bias_builds_and_ignores_forget_bias():
    _, _, _, m = build("lstm", {"hidden_size": 4, "bias": False, "forget_bias": 3.0}, x=[5, 2])
    assert not any("bias" in name for name, _ in m.rnn.named_parameters())


# --- last, sequence, hidden -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_bidirectional_last_is_the_concatenated_final_states(name):
    params = {"hidden_size": 6, "num_layers": 2, "bidirectional": True}
    x = torch.randn(B, 9, 4)
    _, _, shapes, seq = build(name, params, x=[9, 4])
    _, _, last_shapes, last = build(name, {**params, "output": "last"}, x=[9, 4])
    assert shapes["out"] == (9, 12) and last_shapes["out"] == (12,) and shapes["hidden"] == (12,)

    raw = seq.rnn(x)
    out_ref, h_n = raw[0], raw[1][0] if name == "lstm" else raw[1]
    expected = torch.cat([h_n[-2], h_n[-1]], dim=1)  # top layer: forward, then backward
    seq_res, last_res = seq(x), last(x)
    assert torch.allclose(seq_res[0], out_ref)
    assert torch.allclose(seq_res[1], expected)
    assert torch.allclose(last_res[0], expected) and torch.allclose(last_res[1], expected)
    # forward half = output at the last step; backward half = output at the FIRST step
    assert torch.allclose(expected[:, :6], out_ref[:, -1, :6])
    assert torch.allclose(expected[:, 6:], out_ref[:, 0, 6:])
    assert not torch.allclose(expected, out_ref[:, -1])  # the naive out[-1] is wrong
    if name == "lstm":
        c_n = raw[1][1]
        assert torch.allclose(seq_res[2], torch.cat([c_n[-2], c_n[-1]], dim=1))


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_unidirectional_last_equals_the_last_output(name):
    x = torch.randn(B, 7, 3)
    _, _, _, seq = build(name, {"hidden_size": 5, "num_layers": 3}, x=[7, 3])
    _, _, _, last = build(name, {"hidden_size": 5, "num_layers": 3, "output": "last"}, x=[7, 3])
    out = seq(x)[0]
    assert torch.allclose(last(x)[0], out[:, -1])
    assert torch.allclose(seq(x)[1], out[:, -1])


# --- state input -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_state_sets_the_initial_hidden_state_of_every_layer(name, bidirectional):
    d = 2 if bidirectional else 1
    params = {"hidden_size": 4, "num_layers": 2, "bidirectional": bidirectional}
    _, _, shapes, m = build(name, params, x=[6, 3], state=[d * 4])
    assert shapes["out"] == (6, d * 4)
    x, state = torch.randn(B, 6, 3), torch.randn(B, d * 4)
    # expected layout: h0[layer*D + direction] = the direction's part of the state
    h0 = torch.stack([state[:, k * 4:(k + 1) * 4] for _layer in range(2) for k in range(d)])
    hx = (h0, torch.zeros_like(h0)) if name == "lstm" else h0
    expected = m.rnn(x, hx)[0]
    result = m(x, state)[0]
    assert torch.allclose(result, expected)
    assert not torch.allclose(result, m(x)[0])  # the state matters
    assert torch.allclose(m(x, torch.zeros(B, d * 4))[0], m(x)[0])  # zeros = no state


def test_encoder_hidden_starts_a_decoder():
    # the state layout is the hidden layout: a decoder can pick up an encoder's summary
    _, _, enc_shapes, enc = build("gru", {"hidden_size": 4, "bidirectional": True}, x=[5, 3])
    _, _, _, dec = build("gru", {"hidden_size": 4, "bidirectional": True}, x=[1, 3], state=list(enc_shapes["hidden"]))
    dec.load_state_dict(enc.state_dict())
    x = torch.randn(B, 6, 3)
    whole = enc.rnn(x[:, :6])[0]
    # forward direction: running the first 5 steps, then the 6th from the hidden, equals the whole run
    _, hidden = enc(x[:, :5])
    step = dec(x[:, 5:6], hidden)[0]
    assert torch.allclose(step[:, 0, :4], whole[:, 5, :4], atol=1e-6)


def test_state_shape_is_checked():
    block = get_block("lstm")
    p, _ = block.check_params({"hidden_size": 8, "bidirectional": True})
    with pytest.raises(ShapeError, match=r"must be \[16\]"):
        block.infer(p, x=(5, 3), state=(8,))


def test_dropout_needs_stacked_layers():
    _, problems = get_block("gru").check_params({"hidden_size": 8, "dropout": 0.3})
    assert "num_layers >= 2" in problems[None]


# --- attention ---------------------------------------------------------------------------------
def test_causal_attention_does_not_look_ahead():
    _, _, _, m = build("multi_head_attention", {"num_heads": 2, "causal": True}, query=[8, 6])
    x = torch.randn(B, 8, 6)
    out, weights = m(x)
    assert torch.all(weights.triu(1) == 0)
    assert torch.allclose(weights.sum(-1), torch.ones(B, 2, 8))
    changed = x.clone()
    changed[:, 5] += torch.randn(B, 6)
    out2, _ = m(changed)
    assert torch.allclose(out[:, :5], out2[:, :5])  # the past cannot see position 5
    assert not torch.allclose(out[:, 5:], out2[:, 5:])


def test_non_causal_attention_looks_everywhere():
    _, _, _, m = build("multi_head_attention", {"num_heads": 2}, query=[8, 6])
    x = torch.randn(B, 8, 6)
    changed = x.clone()
    changed[:, 5] += torch.randn(B, 6)
    assert not torch.allclose(m(x)[0][:, 0], m(changed)[0][:, 0])


def test_causal_transformer_layer_does_not_look_ahead():
    _, _, _, m = build("transformer_encoder_layer", {"num_heads": 2, "causal": True, "dim_feedforward": 16},
                       x=[8, 6])
    x = torch.randn(B, 8, 6)
    changed = x.clone()
    changed[:, 5] += torch.randn(B, 6)
    out, out2 = m(x), m(changed)
    assert torch.allclose(out[:, :5], out2[:, :5], atol=1e-6)
    assert not torch.allclose(out[:, 5:], out2[:, 5:])
    with torch.no_grad():  # the fused inference path must honour the mask too
        assert torch.allclose(m(x)[:, :5], m(changed)[:, :5], atol=1e-5)


def test_cross_attention_shapes():
    block, p, shapes, m = build("multi_head_attention", {"num_heads": 4}, query=[7, 8], key_value=[12, 6])
    assert shapes == {"out": (7, 8), "weights": (4, 7, 12)}
    out, weights = m(torch.randn(B, 7, 8), torch.randn(B, 12, 6))
    assert out.shape == (B, 7, 8) and weights.shape == (B, 4, 7, 12)
    assert torch.allclose(weights.sum(-1), torch.ones(B, 4, 7))
    with pytest.raises(ShapeError, match="causal"):
        p2, _ = block.check_params({"num_heads": 4, "causal": True})
        block.infer(p2, query=(7, 8), key_value=(12, 6))


def test_heads_must_divide_the_embedding():
    block = get_block("multi_head_attention")
    p, _ = block.check_params({"num_heads": 3})
    with pytest.raises(ShapeError, match="divisible by num_heads"):
        block.infer(p, query=(5, 16))
    layer = get_block("transformer_encoder_layer")
    p, _ = layer.check_params({"num_heads": 5})
    with pytest.raises(ShapeError, match="possible num_heads: 1, 2, 4, 8, 16"):
        layer.infer(p, x=(5, 16))


def test_attention_matches_torch_multihead_attention():
    _, _, _, m = build("multi_head_attention", {"num_heads": 4}, query=[6, 8])
    ref = nn.MultiheadAttention(8, 4, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([m.q_proj.weight, m.k_proj.weight, m.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([m.q_proj.bias, m.k_proj.bias, m.v_proj.bias]))
        ref.out_proj.weight.copy_(m.out_proj.weight)
        ref.out_proj.bias.copy_(m.out_proj.bias)
    ref.eval()
    x = torch.randn(B, 6, 8)
    out, weights = m(x)
    ref_out, ref_weights = ref(x, x, x, average_attn_weights=False)
    assert torch.allclose(out, ref_out, atol=1e-6)
    assert torch.allclose(weights, ref_weights, atol=1e-6)


# --- positions and pooling ----------------------------------------------------------------------
def test_sinusoidal_table():
    _, _, _, m = build("positional_encoding", {}, x=[10, 7])  # odd width works too
    x = torch.zeros(1, 10, 7)
    pe = m(x)[0]
    t = torch.arange(10.0)
    assert torch.allclose(pe[:, 0], torch.sin(t)) and torch.allclose(pe[:, 1], torch.cos(t))
    assert torch.allclose(pe[:, 2], torch.sin(t / 10000 ** (2 / 7)))
    assert torch.allclose(pe[:, 6], torch.sin(t / 10000 ** (6 / 7)))
    assert not list(m.state_dict())  # a fixed table is not saved


def test_learned_positions_are_trained_and_limited():
    block, p, _, m = build("positional_encoding", {"kind": "learned", "max_len": 12}, x=[10, 4])
    assert [n for n, _ in m.named_parameters()] == ["table"]
    x = torch.randn(B, 10, 4)
    assert torch.allclose(m(x), x + m.table[:10])
    with pytest.raises(ShapeError, match="max_len"):
        block.infer(p, x=(13, 4))


def test_sequence_pool():
    x = torch.randn(B, 5, 3)
    assert torch.allclose(build("sequence_pool", {}, x=[5, 3])[3](x), x.mean(1))
    assert torch.allclose(build("sequence_pool", {"mode": "max"}, x=[5, 3])[3](x), x.max(1).values)


# --- TorchScript -----------------------------------------------------------------------------------
SCRIPTED = [
    ("rnn", {"hidden_size": 4, "num_layers": 2, "bidirectional": True, "nonlinearity": "relu"}, {"x": [6, 3]}),
    ("gru", {"hidden_size": 4, "output": "last"}, {"x": [6, 3]}),
    ("lstm", {"hidden_size": 4, "bidirectional": True}, {"x": [6, 3]}),
    ("multi_head_attention", {"num_heads": 2}, {"query": [5, 4]}),
    ("multi_head_attention", {"num_heads": 2, "causal": True}, {"query": [5, 4]}),
    ("multi_head_attention", {"num_heads": 2}, {"query": [5, 4], "key_value": [7, 3]}),
    ("transformer_encoder_layer", {"num_heads": 2}, {"x": [5, 4]}),
    ("transformer_encoder_layer", {"num_heads": 2, "causal": True, "norm_first": True}, {"x": [5, 4]}),
    ("positional_encoding", {}, {"x": [5, 4]}),
    ("positional_encoding", {"kind": "learned", "max_len": 8}, {"x": [5, 4]}),
    ("sequence_pool", {"mode": "max"}, {"x": [5, 4]}),
]


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize("name,params,inputs", SCRIPTED, ids=[f"{s[0]}-{i}" for i, s in enumerate(SCRIPTED)])
def test_modules_script(name, params, inputs):
    _, _, _, m = build(name, params, **inputs)
    scripted = torch.jit.script(m)
    args = [torch.randn(B, *shape) for shape in inputs.values()]
    for got, want in zip(_as_tuple(scripted(*args)), _as_tuple(m(*args))):
        assert torch.allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_recurrent_modules_script_with_state(name):
    _, _, _, m = build(name, {"hidden_size": 4, "num_layers": 2}, x=[6, 3], state=[4])
    scripted = torch.jit.script(m)
    x, state = torch.randn(B, 6, 3), torch.randn(B, 4)
    for got, want in zip(scripted(x, state), m(x, state)):
        assert torch.allclose(got, want, atol=1e-6)
    for got, want in zip(scripted(x), m(x)):
        assert torch.allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("name,params,inputs", SCRIPTED, ids=[f"{s[0]}-{i}" for i, s in enumerate(SCRIPTED)])
def test_modules_trace_with_fx(name, params, inputs):
    # an unconnected optional input is a constant None for the tracer, as in a compiled graph
    block, _, _, m = build(name, params, **inputs)
    absent = {port.name: None for port in block.inputs if port.optional and port.name not in inputs}
    traced = torch.fx.symbolic_trace(m, concrete_args=absent or None)
    args = [torch.randn(B, *shape) for shape in inputs.values()]
    for got, want in zip(_as_tuple(traced(*args)), _as_tuple(m(*args))):
        assert torch.allclose(got, want, atol=1e-6)


def test_recurrent_module_traces_with_fx_given_a_state():
    _, _, _, m = build("lstm", {"hidden_size": 4, "bidirectional": True}, x=[6, 3], state=[8])
    traced = torch.fx.symbolic_trace(m)
    x, state = torch.randn(B, 6, 3), torch.randn(B, 8)
    for got, want in zip(traced(x, state), m(x, state)):
        assert torch.allclose(got, want)


# --- MAC formulas --------------------------------------------------------------------------------
def unrolled(kind, rnn, x):
    """A step-by-step reimplementation of nn.RNN/GRU/LSTM (batch first, zero initial state).

    Written from the textbook equations, it serves two purposes: its outputs must equal
    PyTorch's (so it computes the same thing), and its matrix products, one per gate
    group, input and step, are what the MAC formula claims to count.
    """
    directions = 2 if rnn.bidirectional else 1
    layer_in = x
    h_size = rnn.hidden_size
    for layer in range(rnn.num_layers):
        outs = []
        for d in range(directions):
            sfx = f"l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = getattr(rnn, f"weight_ih_{sfx}"), getattr(rnn, f"weight_hh_{sfx}")
            b_ih = getattr(rnn, f"bias_ih_{sfx}", None)
            b_hh = getattr(rnn, f"bias_hh_{sfx}", None)
            h = x.new_zeros(x.size(0), h_size)
            c = x.new_zeros(x.size(0), h_size)
            steps = range(layer_in.size(1))
            out = [None] * layer_in.size(1)
            for t in reversed(steps) if d else steps:
                gi = layer_in[:, t] @ w_ih.T + (b_ih if b_ih is not None else 0)
                gh = h @ w_hh.T + (b_hh if b_hh is not None else 0)
                if kind == "rnn":
                    h = torch.tanh(gi + gh) if rnn.nonlinearity == "tanh" else torch.relu(gi + gh)
                elif kind == "gru":
                    (ir, iz, in_), (hr, hz, hn) = gi.chunk(3, 1), gh.chunk(3, 1)
                    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
                    n = torch.tanh(in_ + r * hn)
                    h = (1 - z) * n + z * h
                else:
                    i, f, g, o = (gi + gh).chunk(4, 1)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(c)
                out[t] = h
            outs.append(torch.stack(out, 1))
        layer_in = torch.cat(outs, 2)
    return layer_in


RECURRENT_CASES = [
    ("rnn", {"hidden_size": 5}, [7, 3]),
    ("rnn", {"hidden_size": 4, "num_layers": 2, "bidirectional": True, "bias": False}, [6, 3]),
    ("gru", {"hidden_size": 5, "num_layers": 2}, [7, 3]),
    ("gru", {"hidden_size": 3, "bidirectional": True}, [4, 2]),
    ("lstm", {"hidden_size": 5}, [7, 3]),
    ("lstm", {"hidden_size": 4, "num_layers": 3, "bidirectional": True}, [6, 3]),
]


@pytest.mark.parametrize("name,params,x", RECURRENT_CASES)
def test_recurrent_macs_match_an_unrolled_reference(name, params, x):
    block, p, shapes, m = build(name, params, x=x)
    cost = block.cost(p, shapes, x=tuple(x))
    inp = torch.randn(1, *x)
    ref = unrolled(name, m.rnn, inp)
    assert torch.allclose(ref, m(inp)[0], atol=1e-5)  # same computation...
    assert counted_macs(unrolled, name, m.rnn, inp) == cost.macs  # ...and the formula counts it


@pytest.mark.filterwarnings("ignore:TF32 acceleration")
@pytest.mark.parametrize("name,params,x", RECURRENT_CASES)
def test_recurrent_macs_match_pytorch_without_fused_kernels(name, params, x):
    # without oneDNN, PyTorch's CPU recurrent layers run as visible matrix products
    block, p, shapes, m = build(name, params, x=x)
    with torch.backends.mkldnn.flags(enabled=False):
        assert counted_macs(m, torch.randn(B, *x)) // B == block.cost(p, shapes, x=tuple(x)).macs


def test_recurrent_macs_by_hand():
    def macs(name, params, x):
        block = get_block(name)
        p, _ = block.check_params(params)
        return block.cost(p, block.infer_ports(p, {"x": x}), x=x).macs

    # one layer: T steps x gates x H x (F + H)
    assert macs("rnn", {"hidden_size": 2}, (5, 3)) == 5 * 1 * 2 * (3 + 2) == 50
    assert macs("gru", {"hidden_size": 2}, (5, 3)) == 5 * 3 * 2 * (3 + 2) == 150
    assert macs("lstm", {"hidden_size": 2}, (5, 3)) == 5 * 4 * 2 * (3 + 2) == 200
    # two bidirectional layers: the second reads 2*H features; two directions each
    assert macs("lstm", {"hidden_size": 2, "num_layers": 2, "bidirectional": True}, (5, 3)) == (
        2 * 5 * 4 * 2 * (3 + 2) + 2 * 5 * 4 * 2 * (4 + 2)) == 880
    # the output mode does not change the work
    assert macs("gru", {"hidden_size": 2, "output": "last"}, (5, 3)) == 150


@pytest.mark.parametrize("params,x", [
    ({"num_heads": 4}, [10, 16]),
    ({"num_heads": 2, "dim_feedforward": 24, "activation": "gelu", "norm_first": True, "causal": True}, [8, 12]),
])
def test_transformer_macs_on_the_math_attention_path(params, x):
    # the "math" attention backend is plain matmul + softmax, which the counter sees
    attention = pytest.importorskip("torch.nn.attention")
    if not hasattr(attention, "sdpa_kernel"):
        pytest.skip("torch.nn.attention.sdpa_kernel needs PyTorch 2.3")
    block, p, shapes, m = build("transformer_encoder_layer", params, x=x)
    t, e = x
    f = params.get("dim_feedforward", 4 * e)
    expected = t * (4 * e * e + 2 * e * f) + 2 * t * t * e  # projections, feed-forward, QK^T and AV
    assert block.cost(p, shapes["out"], x=tuple(x)).macs == expected
    with attention.sdpa_kernel(attention.SDPBackend.MATH):
        assert counted_macs(m, torch.randn(B, *x)) // B == expected
