"""Truncated backpropagation through time (``tbptt: K``): the values of a chunked forward
pass, where the gradient stops, graphs it refuses, and exact resumption."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from builder import load_graph, parse_graph
from builder.analysis import analyze
from builder.compiler import compile_graph
from builder.errors import GraphError
from builder.training.checkpoint_store import checkpoints_in
from builder.training.engine import Trainer
from builder.training.events import EventBus
from builder.training.runs import RunFolder
from builder.training.settings import resolve_settings
from builder.training.tbptt import TruncatedBPTT, check_graph
from tests.conftest import ROOT

GRAPH = """
format: 1
name: tiny_rnn
nodes:
  x: {{block: input, params: {{shape: [10, 4]}}}}
  rnn: {{block: {kind}, params: {{hidden_size: 8, output: {output}, num_layers: 2}}, inputs: [x]}}
  head: {{block: linear, params: {{out_features: 3}}, inputs: [rnn]}}
  y: {{block: output, inputs: [head]}}
"""


def chunked(kind="lstm", output="sequence", chunk=4):
    graph = parse_graph(GRAPH.format(kind=kind, output=output), "tiny.yaml")
    analysis = analyze(graph)
    model = compile_graph(graph, seed=0, device="cpu", analysis=analysis)
    steps, per_step = check_graph(analysis, chunk)
    assert steps == 10 and per_step == (output == "sequence")
    return model, TruncatedBPTT(model, model, chunk, steps, per_step).train()


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("output", ["sequence", "last"])
def test_chunks_carry_the_state_so_the_values_are_those_of_the_whole_sequence(kind, output):
    model, wrapper = chunked(kind, output)
    x = torch.randn(5, 10, 4)
    torch.testing.assert_close(wrapper(x), model(x))


def input_gradient(wrapper, x, pick):
    x = x.clone().requires_grad_()
    pick(wrapper(x)).sum().backward()
    return x.grad.abs().sum(dim=(0, 2))  # per time step


def test_the_gradient_stops_at_the_chunk_boundary():
    x = torch.randn(3, 10, 4)
    model, wrapper = chunked(output="sequence")  # chunks [0, 4), [4, 8), [8, 10)
    assert wrapper.bounds() == [(0, 4), (4, 8), (8, 10)]
    reached = input_gradient(wrapper, x, lambda out: out[:, 5])
    assert reached[4:6].gt(0).all() and reached[:4].eq(0).all() and reached[6:].eq(0).all()
    full = input_gradient(model, x, lambda out: out[:, 5])
    assert full[:6].gt(0).all()  # full backpropagation through time reaches the first step
    _, summary = chunked(output="last")  # one loss at the end: chunks [0, 2), [2, 6), [6, 10)
    assert summary.bounds() == [(0, 2), (2, 6), (6, 10)]
    reached = input_gradient(summary, x, lambda out: out)
    assert reached[6:].gt(0).all() and reached[:6].eq(0).all()


def test_graphs_that_cannot_run_in_chunks_are_refused():
    def problem(text, chunk):
        with pytest.raises(GraphError) as caught:
            check_graph(analyze(parse_graph(text, "g.yaml")), chunk)
        return caught.value.problems[0]

    seq2seq = (ROOT / "graphs/seq2seq_attention.yaml").read_text()
    assert problem(seq2seq, 5).node == "attention"
    assert "mixes time steps" in problem(seq2seq, 5).message
    assert "do not split sequences of 10" in problem(GRAPH.format(kind="lstm", output="sequence"), 10).message
    bidirectional = GRAPH.format(kind="gru", output="last").replace("num_layers: 2", "bidirectional: true")
    assert problem(bidirectional, 4).node == "rnn"
    with pytest.raises(GraphError, match="no recurrent layer"):
        check_graph(analyze(parse_graph(GRAPH.replace("block: {kind}, params: {{hidden_size: 8, output: {output}, "
                                                      "num_layers: 2}}", "block: linear, params: {{out_features: 8}}")
                                        .format(), "g.yaml")), 4)


def train(tmp_path, name, resume=False, stop_at=None, **overrides):
    graph = load_graph(ROOT / "graphs/char_lstm.yaml")
    settings = resolve_settings(graph.training, {"data": {"name": "text", "samples": 240}, "epochs": 2,
                                                 "batch_size": 32, "tbptt": 16, "threads": 1, "log_every": 1,
                                                 "tensorboard": False, "estimate": False, "device": "cpu",
                                                 **overrides})
    bus = EventBus()
    trainer = Trainer(graph, settings, RunFolder.at(tmp_path / name), bus=bus, resume=resume)
    if stop_at is not None:
        bus.subscribe(lambda e: trainer.request_stop() if e["event"] == "step" and e["step"] >= stop_at else None)
    return trainer.run(), trainer


def test_resuming_a_truncated_bptt_run_mid_epoch_is_exact(tmp_path):
    summary, trainer = train(tmp_path, "whole")
    assert summary["status"] == "completed" and isinstance(trainer.net, TruncatedBPTT)
    assert train(tmp_path, "cut", stop_at=11)[0]["status"] == "stopped"  # mid-epoch 2 (8 steps an epoch)
    assert train(tmp_path, "cut", resume=True)[0]["status"] == "completed"
    whole, cut = (load_file(str(checkpoints_in(RunFolder(tmp_path / n).checkpoints)[0].weights)) for n in ("whole", "cut"))
    assert all(torch.equal(whole[k], cut[k]) for k in whole)
