"""Memory estimates from the analysis: `check` reports them and warns, training refuses a
graph that cannot fit (two 200,000-wide linear layers: 320 GB of weights) in a sentence."""

from __future__ import annotations

import json
import math

import pytest
import yaml

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
    outputs = sum(4 * math.prod(s) for i in analysis.nodes.values() for s in i.outputs.values())
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


def _activations(path) -> int:
    analysis = analyze(load_graph(path))
    assert analysis.ok, analysis.errors
    return estimate(analysis).activations_per_sample


def _counted_once(path) -> int:
    """The activations with every node's outputs counted once (as before repetitions counted)."""
    analysis = analyze(load_graph(path))
    return 4 * sum(math.prod(s) for info in analysis.nodes.values() for s in info.outputs.values())


def test_a_repeated_node_counts_the_activations_of_every_repetition(tmp_path):
    """ViT's 12 layers in one `repeat: 12` node hold as much as the 12 nodes written out."""
    doc = yaml.safe_load((ROOT / "graphs" / "vit_tiny.yaml").read_text())
    layer = doc["nodes"].pop("blocks")
    count, previous = layer.pop("repeat"), layer.pop("inputs")[0]
    nodes = {}
    for node_id, node in doc["nodes"].items():
        if node_id == "norm":  # the layers go where the repeated node was
            for i in range(count):
                nodes[f"layer{i}"] = {**layer, "inputs": [previous]}
                previous = f"layer{i}"
            node = {**node, "inputs": [previous]}
        nodes[node_id] = node
    unrolled = tmp_path / "vit_unrolled.yaml"
    unrolled.write_text(yaml.safe_dump({**doc, "nodes": nodes}, sort_keys=False))
    repeated = _activations(ROOT / "graphs" / "vit_tiny.yaml")
    assert repeated == _activations(unrolled)
    one_layer = 197 * 192 * 4  # each layer's output: 197 tokens of 192 float32 values
    assert repeated - one_layer * (count - 1) == _counted_once(ROOT / "graphs" / "vit_tiny.yaml")


def test_a_graph_file_used_as_a_block_counts_the_nodes_inside_it(tmp_path):
    """A composite repeated twice holds what the same nodes written out hold: each inner
    node's output once per repetition, its input (the caller's output) not twice."""
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "double_conv.yaml").write_text((ROOT / "graphs" / "parts" / "double_conv.yaml").read_text())
    head = "format: 1\nname: g\nnodes:\n  x: {block: input, params: {shape: [3, 8, 8]}}\n"
    (tmp_path / "composite.yaml").write_text(
        head + "  d: {graph: parts/double_conv.yaml, params: {width: 4}, repeat: 2, inputs: [x]}\n"
        "  y: {block: output, inputs: [d]}\n")
    flat, previous = head, "x"
    for i in range(2):
        for name, node in (("conv1", "block: conv2d, params: {out_channels: 4, kernel_size: 3, padding: same, "
                                     "bias: false}"), ("bn1", "block: batch_norm2d"), ("relu1", "block: relu"),
                           ("conv2", "block: conv2d, params: {out_channels: 4, kernel_size: 3, padding: same, "
                                     "bias: false}"), ("bn2", "block: batch_norm2d"), ("relu2", "block: relu")):
            flat += f"  {name}_{i}: {{{node}, inputs: [{previous}]}}\n"
            previous = f"{name}_{i}"
    (tmp_path / "flat.yaml").write_text(flat + f"  y: {{block: output, inputs: [{previous}]}}\n")
    assert _activations(tmp_path / "composite.yaml") == _activations(tmp_path / "flat.yaml") == 4 * (3 + 12 * 4) * 64
