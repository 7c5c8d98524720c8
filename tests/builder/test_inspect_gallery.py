"""Every inspect view on every gallery graph it applies to (untrained models, random inputs),
the same sentence from applicable() and from the refusing view, and the recomputed gates
checked against nn.LSTM / nn.GRU."""

from __future__ import annotations

import math

import pytest
import torch

from builder.exporting.source import from_graph
from builder.inspecting import views
from builder.inspecting.errors import InspectError
from builder.inspecting.subject import Samples, from_trained
from builder.inspecting.views.base import capture_arguments
from builder.inspecting.views.recurrence import replay, top_output
from builder.yaml_format import load_graph
from tests.conftest import GALLERY

LIGHT_VALUES = 64 * 64 * 3  # inputs up to this size run the views on many nodes
# how many nodes each view runs on per graph (None: all); refusals are checked on every node
LIGHT_BUDGET = {"maximize": 3, "embedding": 4}
HEAVY_BUDGET = {"activations": 1, "maximize": 1, "embedding": 0}  # 224x224: a full pass takes ~1 s


def subject_of(path):
    return from_trained(from_graph(load_graph(path)))


def random_samples(subject, count: int = 12) -> Samples:
    generator = torch.Generator().manual_seed(0)
    inputs = []
    for port in subject.trained.inputs:
        if port.dtype == "int64":  # token ids within every gallery embedding's vocabulary
            inputs.append(torch.randint(0, 8, (count, *port.shape), generator=generator))
        else:
            inputs.append(torch.randn((count, *port.shape), generator=generator))
    return Samples(inputs, None, [f"random #{i}" for i in range(count)])


def run(subject, view: str, node: str, samples: Samples, light: bool):
    if view == "filters":
        return views.filters(subject, node)
    if view == "embedding":
        return views.embedding(subject, node, "pca", samples=samples)
    if view == "maximize":
        return views.maximize(subject, node, 0, steps=3 if light else 1)
    return getattr(views, view)(subject, samples, node, len(samples) - 1)


@pytest.mark.parametrize("path", GALLERY, ids=[p.stem for p in GALLERY])
def test_every_view_runs_where_it_applies_and_refuses_with_its_reason(path):
    subject = subject_of(path)
    light = sum(math.prod(p.shape) for p in subject.trained.inputs) <= LIGHT_VALUES
    samples = random_samples(subject, 12 if light else 1)
    ran = set()
    budget = dict(LIGHT_BUDGET if light else HEAVY_BUDGET)
    for node in subject.analysis.order:
        for view, reason in views.applicable(subject, node).items():
            if reason is not None:  # refused with the same sentence, before computing anything
                assert node in reason
                with pytest.raises(InspectError) as refused:
                    if view == "embedding":  # applicable() asks about the validation split
                        views.embedding(subject, node, "pca")
                    else:
                        run(subject, view, node, samples, light)
                assert str(refused.value).split("\n")[0] == reason
                continue
            if budget.get(view, 1) == 0:
                continue
            if view in budget:
                budget[view] -= 1
            shown = run(subject, view, node, samples, light)
            assert shown.arrays() and shown.summary()
            shown.figure()
            ran.add(view)
    assert "activations" in ran  # every graph has layers to look at


def test_views_apply_where_the_architecture_says():
    lenet = subject_of(GALLERY[0].parent / "lenet5.yaml")
    assert views.applicable(lenet, "conv1")["filters"] is None
    assert views.applicable(lenet, "logits")["maximize"] is None  # the class model
    s2s = subject_of(GALLERY[0].parent / "seq2seq_attention.yaml")
    reasons = views.applicable(s2s, "attention")
    assert reasons["attention"] is None and reasons["activations"] is None
    assert "has 2 inputs" in reasons["maximize"]
    assert views.applicable(s2s, "encoder")["gates"] is None
    rnn = subject_of(GALLERY[0].parent / "rnn_memory.yaml")
    assert "vanilla RNN: it has no gates" in views.applicable(rnn, "rnn")["gates"]
    assert "token ids" in views.applicable(rnn, "rnn")["maximize"]
    transformer = subject_of(GALLERY[0].parent / "transformer_classifier.yaml")
    assert views.applicable(transformer, "encoder1")["attention"] is None
    unet = subject_of(GALLERY[0].parent / "unet_small.yaml")
    assert "holding several convolutions" in views.applicable(unet, "enc1")["filters"]
    assert views.applicable(unet, "up1")["filters"] is None


def test_unknown_nodes_and_ports_are_named_with_a_suggestion():
    lenet = subject_of(GALLERY[0].parent / "lenet5.yaml")
    with pytest.raises(InspectError, match="no node 'conv3'; did you mean"):
        views.applicable(lenet, "conv3")
    with pytest.raises(InspectError, match="no node 'fc9'"):
        views.filters(lenet, "fc9")
    with pytest.raises(InspectError, match="has no output port 'cell'"):
        views.activations(lenet, random_samples(lenet, 1), "conv1.cell")
    with pytest.raises(InspectError, match="embedding method 'umap'"):
        views.embedding(lenet, "fc1", "umap")


@pytest.mark.parametrize("name, node", [("lstm_memory", "lstm"), ("bilstm_stacked", "bilstm"),
                                        ("gru_classifier", "gru"), ("seq2seq_attention", "decoder")])
def test_recomputed_gates_reproduce_the_layer_outputs(name, node):
    """Gates come from a step-by-step replay of the weights; every layer and direction of the
    replay must give the hidden states nn.LSTM / nn.GRU computed (the decoder also starts
    from the encoder's state)."""
    subject = subject_of(GALLERY[0].parent / f"{name}.yaml")
    samples = random_samples(subject, 4)
    module = subject.module(node)
    args, kwargs, output = capture_arguments(subject, samples.inputs, node)  # what the layer saw and returned
    traces = replay(module, *args, **kwargs)
    rnn = module.rnn
    assert len(traces) == rnn.num_layers * (2 if rnn.bidirectional else 1)
    torch.testing.assert_close(top_output(traces, module.last), output[0], atol=1e-5, rtol=0)
    if len(args) == 1 and not kwargs:  # started from zeros: compare every layer's final state too
        with torch.no_grad():
            _, final = rnn(args[0])
        h_n = final[0] if isinstance(rnn, torch.nn.LSTM) else final  # [layers * directions, B, H]
        for i, trace in enumerate(traces):
            last = trace.hidden[:, 0] if trace.reverse else trace.hidden[:, -1]
            torch.testing.assert_close(last, h_n[i], atol=1e-5, rtol=0)
    for layer in range(rnn.num_layers):
        for reverse in ([False, True] if rnn.bidirectional else [False]):
            view = views.gates(subject, samples, node, 2, layer=layer, reverse=reverse)
            assert view.max_error <= 1e-5
            assert set(view.gates) == ({"input", "forget", "candidate", "output"} if name != "gru_classifier"
                                       else {"reset", "update", "candidate"})


def test_gates_refuse_a_layer_or_direction_the_node_lacks():
    subject = subject_of(GALLERY[0].parent / "lstm_memory.yaml")
    samples = random_samples(subject, 1)
    with pytest.raises(InspectError, match="layer 1 is out of range: node 'lstm' has 1 layer"):
        views.gates(subject, samples, "lstm", layer=1)
    with pytest.raises(InspectError, match="not bidirectional"):
        views.gates(subject, samples, "lstm", reverse=True)


def test_transformer_attention_is_the_weights_the_layer_used():
    """nn.TransformerEncoderLayer does not return its attention maps; the view recomputes
    them. Rebuilding the layer's output from those maps (values mixed by them, output
    projection, residual, norm, feed-forward) must give what the layer returned."""
    subject = subject_of(GALLERY[0].parent / "transformer_classifier.yaml")
    samples = random_samples(subject, 2)
    view = views.attention(subject, samples, "encoder1", 0)
    heads, length = 4, 32
    assert view.weights.shape == (heads, length, length)
    assert view.query_tokens == view.key_tokens and len(view.query_tokens) == length
    (x,), _, returned = capture_arguments(subject, [t[:1] for t in samples.inputs], "encoder1")
    layer = subject.module("encoder1").layer
    assert not layer.norm_first  # the gallery graph is post-norm; the rebuild below follows it
    attn = layer.self_attn
    e = x.shape[-1]
    with torch.no_grad():
        v = torch.nn.functional.linear(x, attn.in_proj_weight[2 * e:], attn.in_proj_bias[2 * e:])[0]
        v = v.reshape(length, heads, e // heads).transpose(0, 1)  # [h, T, d]
        mixed = torch.from_numpy(view.weights) @ v  # [h, T, d]
        attended = attn.out_proj(mixed.transpose(0, 1).reshape(1, length, e))
        y = layer.norm1(x + attended)
        y = layer.norm2(y + layer.linear2(layer.activation(layer.linear1(y))))
    torch.testing.assert_close(y, returned, atol=1e-5, rtol=1e-5)
