"""The exploding-gradient pair of the gallery: graphs/rnn_explode.yaml diverges, with a
warning naming the node, and the same graph with clip_norm (rnn_explode_clipped.yaml) learns."""

from __future__ import annotations

from builder import load_graph
from builder.training.engine import Trainer
from builder.training.events import EventBus
from builder.training.runs import RunFolder
from builder.training.settings import resolve_settings
from tests.conftest import ROOT


def train(tmp_path, name, epochs):
    graph = load_graph(ROOT / f"graphs/{name}.yaml")
    settings = resolve_settings(graph.training, {"epochs": epochs, "threads": 1, "device": "cpu",
                                                 "tensorboard": False, "estimate": False})
    events = []
    bus = EventBus()
    bus.subscribe(events.append)
    summary = Trainer(graph, settings, RunFolder.at(tmp_path / name), bus=bus).run()
    return summary, events


def test_clipping_turns_a_diverging_rnn_into_one_that_learns(tmp_path):
    summary, events = train(tmp_path, "rnn_explode", 1)
    warnings = [e for e in events if e["event"] == "warning"]
    assert summary["status"] == "failed" and summary["epochs"] == 0
    assert any(w["node"] == "rnn" and w["message"].startswith("exploding gradient in 'rnn'") for w in warnings)
    assert any(e["event"] == "error" and "NaN or infinite" in e["message"] for e in events)
    # the gradient reaching the first time step is far larger than at the last one
    first = next(e for e in events if e["event"] == "timestep_gradients")
    assert first["norms"][0] > 20 * first["norms"][-1]  # measured 250 times

    summary, events = train(tmp_path, "rnn_explode_clipped", 2)
    assert summary["status"] == "completed" and summary["best"]["val_accuracy"] >= 0.9  # measured 98.5%
