"""Memory estimates from the analysis: `check` reports them and warns, training refuses a
graph that cannot fit (two 200,000-wide linear layers: 320 GB of weights) in a sentence."""

from __future__ import annotations

import json

import pytest

from builder import analyze, load_graph, parse_graph
from builder.cli import main
from builder.memory import estimate, too_large
from builder.training.engine import Trainer, TrainingError
from builder.training.runs import RunFolder
from builder.training.settings import resolve_settings
from tests.conftest import ROOT

HUGE = """format: 1
name: huge
nodes:
  x: {block: input, params: {shape: [200000]}}
  a: {block: linear, params: {out_features: 200000}, inputs: [x]}
  b: {block: linear, params: {out_features: 200000}, inputs: [a]}
  y: {block: output, inputs: [b]}
"""


def test_estimate_counts_weights_gradients_optimizer_state_and_activations():
    analysis = analyze(load_graph(ROOT / "graphs" / "lenet5.yaml"))
    memory = estimate(analysis, batch_size=10, optimizer="adam")
    assert memory.weights == 61_706 * 4
    outputs = sum(4 * __import__("math").prod(s) for i in analysis.nodes.values() for s in i.outputs.values())
    assert memory.activations_per_sample == outputs
    assert memory.training == memory.weights * 4 + outputs * 10
    assert estimate(analysis, 10, "sgd").training == memory.weights * 3 + outputs * 10
    assert too_large(memory, available=10**12) is None
    assert "more than the 1.0 KB" in too_large(memory, available=1000)


def test_check_warns_about_a_graph_that_cannot_fit(tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    path.write_text(HUGE)
    assert main(["check", "--quiet", str(path)]) == 0  # valid, with a warning
    out, err = capsys.readouterr()
    assert "memory: weights 320.0 GB" in out
    assert "cannot be trained on this machine" in err and "more than the" in err and "Traceback" not in err
    main(["check", "--json", str(path)])
    report = json.loads(capsys.readouterr().out)
    assert report["memory"]["weights_bytes"] == 80_000_400_000 * 4
    assert any("cannot be trained" in p["message"] for p in report["problems"])


def test_check_takes_a_batch_size(capsys):
    main(["check", "--quiet", "--batch-size", "8", str(ROOT / "graphs" / "lenet5.yaml")])
    assert "training at batch 8 (adam)" in capsys.readouterr().out


def test_training_refuses_before_allocating(tmp_path):
    graph = parse_graph(HUGE, str(tmp_path / "huge.yaml"))
    trainer = Trainer(graph, resolve_settings({"data": {"name": "digits"}}), RunFolder.at(tmp_path / "run"))
    with pytest.raises(TrainingError) as caught:
        trainer.run()
    assert "cannot be trained on this cpu" in str(caught.value) and "320.0 GB" in str(caught.value)
