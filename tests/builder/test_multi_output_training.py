"""Graphs with several outputs: a loss, weight and metrics per output (or none: watched
only), GoogLeNet's auxiliary heads, classification plus localization, the mistakes a loss
setting or the labels can make, and run folders that hold the graph files they use."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from builder import analyze, compile_graph, load_graph
from builder.cli import main
from builder.data import DataError, InputSpec, load_data
from builder.data.targets import OutputSpec
from builder.errors import GraphError
from builder.exporting.predict import predict
from builder.exporting.source import open_trained
from builder.graph import Node
from builder.inspecting.errors import InspectError
from builder.inspecting.explain import explain
from builder.inspecting.subject import open_subject
from builder.training.engine import Trainer
from builder.training.events import EventBus
from builder.training.metrics import box_iou
from builder.training.run_files import write_graph_files
from builder.training.runs import RunFolder
from builder.training.settings import SettingsError, resolve_settings
from tests.conftest import ROOT

GRAPHS = ROOT / "graphs"
QUICK = {"threads": 1, "estimate": False, "tensorboard": False, "diagnostics_every": 0, "log_every": 5}


def train(graph, tmp_path, name="run", **overrides):
    settings = resolve_settings(graph.training, {**QUICK, **overrides})
    events = []
    bus = EventBus()
    bus.subscribe(events.append)
    run = RunFolder.at(tmp_path / name)
    trainer = Trainer(graph, settings, run, bus=bus)
    summary = trainer.run()
    return summary, [e for e in events if e["event"] == "epoch"], run, trainer


def test_googlenet_aux_is_torchvisions_with_aux_logits():
    graph = load_graph(GRAPHS / "googlenet_aux.yaml")
    analysis = analyze(graph)
    assert analysis.problems == [], "\n".join(map(str, analysis.problems))
    assert analysis.total.params == 13_004_888  # torchvision googlenet(aux_logits=True)
    assert analysis.total.params - analyze(load_graph(GRAPHS / "googlenet.yaml")).total.params == 6_379_984
    assert analysis.output_ids == ["aux1", "aux2", "logits"]
    assert [analysis.nodes[o].shape for o in analysis.output_ids] == [(1000,)] * 3
    assert sum(p.numel() for p in compile_graph(graph, device="meta").parameters()) == 13_004_888


def test_googlenet_trains_with_its_auxiliary_heads(tmp_path):
    graph = load_graph(GRAPHS / "googlenet_aux.yaml")
    graph.nodes["image"].params["shape"] = [3, 48, 48]  # the same network on smaller images: seconds
    summary, epochs, run, trainer = train(graph, tmp_path, epochs=2, batch_size=16,
                                          data={"name": "digits", "limit": 32})
    assert summary["task"] == "multi_output" and summary["status"] == "completed"
    last = epochs[-1]["outputs"]
    assert {n: (o["loss"], o["weight"]) for n, o in last.items()} == {
        "aux1": ("cross_entropy", 0.3), "aux2": ("cross_entropy", 0.3), "logits": ("cross_entropy", 1.0)}
    for epoch in epochs:  # the loss trained is the weighted sum of the three
        parts = epoch["outputs"]
        total = parts["logits"]["train_loss"] + 0.3 * (parts["aux1"]["train_loss"] + parts["aux2"]["train_loss"])
        assert epoch["train_loss"] == pytest.approx(total, rel=1e-4)
        assert all(0 <= parts[n]["val_accuracy"] <= 1 for n in parts)
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    assert epochs[-1]["train_accuracy"] == last["logits"]["train_accuracy"]  # the main output's
    data = json.loads(run.data.read_text())
    assert data["kind"] == "multi_output" and data["primary"] == "logits"
    assert data["outputs"]["aux2"]["weight"] == 0.3
    assert "outputs.png" in {p.name for p in trainer.plots}
    assert (run.root / "parts" / "inception_aux.yaml").is_file()  # the part the heads use


def test_classification_and_localization_reach_a_box_iou(tmp_path):
    graph = load_graph(GRAPHS / "localize_small.yaml")
    data = {"name": "shape_boxes", "samples": 600}
    summary, epochs, run, trainer = train(graph, tmp_path, epochs=4, data=data)
    task = load_data(data, [InputSpec("image", (1, 48, 48))], [OutputSpec("logits", (6,)), OutputSpec("box", (4,))])
    boxes = task.val.targets.get("box")
    always_the_mean_box = float(box_iou(task.train.targets.get("box").mean(0).expand_as(boxes), boxes).mean())
    final = summary["final"]
    assert summary["best"]["val_accuracy"] > 0.8
    assert summary["best"]["val_box_iou"] > always_the_mean_box + 0.2, (summary, always_the_mean_box)
    assert epochs[-1]["outputs"]["box"]["val_box_iou"] == final["val_box_iou"]
    assert {"boxes.png", "iou.png"} <= {p.name for p in trainer.plots}
    trained = open_trained(run.root)
    result = predict(trained, [task.val.inputs[0][:2]])
    assert result["outputs"] == ["logits", "box"] and len(result["samples"][0]["outputs"]["box"]) == 4
    subject = open_subject(run.root)
    samples = subject.samples("val:0")  # labelled with the primary output's target: the class
    assert samples.labels.shape == (1,) and int(samples.labels[0]) == int(task.val.targets.get("class")[0])
    with pytest.raises(InspectError, match="not a classifier"):
        explain(subject, samples, "saliency")  # which of the outputs? --target says
    assert explain(subject, samples, "saliency", target=int(samples.labels[0])).maps.shape[-2:] == (48, 48)


def lenet_with_features():
    graph = load_graph(GRAPHS / "lenet5.yaml")
    graph.add(Node("features", "output", inputs=["fc1"]))  # a second output, watched only
    return graph


def test_a_watched_output_is_recorded_but_not_trained(tmp_path):
    graph = lenet_with_features()
    summary, epochs, run, trainer = train(graph, tmp_path, epochs=1, batch_size=32,
                                          data={"name": "digits", "limit": 200}, loss={"logits": "cross_entropy"})
    watched = epochs[-1]["outputs"]["features"]
    assert watched["loss"] is None and watched["val_loss"] is None
    assert watched["val_std"] > 0 and "val_mean" in watched
    assert epochs[-1]["train_loss"] == pytest.approx(epochs[-1]["outputs"]["logits"]["train_loss"], rel=1e-5)
    result = predict(open_trained(run.root), [torch.zeros(1, 1, 32, 32)])
    assert len(result["samples"][0]["outputs"]["features"]) == 120  # exported and predicted like any output


def loss_error(tmp_path, loss, data=None):
    text = (GRAPHS / "lenet5.yaml").read_text().replace("training:\n", f"training:\n  loss: {loss}\n", 1)
    path = tmp_path / "net.yaml"
    path.write_text(text)
    graph = load_graph(path)
    settings = resolve_settings(graph.training, {**QUICK, "data": data or {"name": "digits", "limit": 50}})
    with pytest.raises(GraphError) as caught:
        Trainer(graph, settings, RunFolder.at(tmp_path / "run")).run()
    problem = caught.value.problems[0]
    line = next(i for i, text in enumerate(text.splitlines(), 1) if text.startswith("  loss:"))
    return problem, line


def test_a_loss_for_an_output_that_does_not_exist_names_the_line(tmp_path):
    problem, line = loss_error(tmp_path, "{logitz: cross_entropy}")
    assert problem.message == "the loss setting names 'logitz', but the graph has no output 'logitz'"
    assert problem.file.endswith("net.yaml") and problem.line == line and problem.node == "logitz"
    assert "the outputs are: logits" in problem.hint
    problem, _ = loss_error(tmp_path, "{fc1: cross_entropy}")
    assert "'fc1' is a linear node, not an output" in problem.message
    problem, _ = loss_error(tmp_path, "{logits: none}")
    assert "trains no output" in problem.message
    problem, _ = loss_error(tmp_path, "{logits: mse}")
    assert problem.message == "output 'logits' learns class ids but its loss is mse" and problem.node == "logits"
    problem, _ = loss_error(tmp_path, "{logits: {loss: cross_entropy, metrics: [box_iou]}}")
    assert "box_iou cannot measure" in problem.message or "box_iou" in problem.message
    with pytest.raises(SettingsError, match="output 'logits': unknown key 'wieght'; did you mean 'weight'"):
        resolve_settings({"loss": {"logits": {"loss": "cross_entropy", "wieght": 2}}})


def test_labels_that_fit_no_output_say_what_would(tmp_path):
    images = [InputSpec("image", (1, 32, 32))]
    with pytest.raises(DataError) as caught:
        load_data({"name": "shape_boxes", "samples": 8}, images, [OutputSpec("logits", (6,)), OutputSpec("map", (3, 3))])
    assert "do not fit the graph's output 'map' [3, 3]" in str(caught.value)
    with pytest.raises(DataError) as caught:
        load_data({"name": "digits", "limit": 20}, images, [OutputSpec("scores", (4, 4))])
    assert "does not score classes per sample" in caught.value.message
    assert "labels that fit [4, 4]" in caught.value.hint
    # a plain loss on a graph whose labels fit two of its outputs: say which to train
    graph = lenet_with_features()
    settings = resolve_settings(graph.training, {**QUICK, "data": {"name": "digits", "limit": 50}})
    with pytest.raises(DataError, match=r"the labels fit 2 of the graph's outputs \(logits, features\)") as caught:
        Trainer(graph, settings, RunFolder.at(tmp_path / "run")).run()
    assert "weight: 0.3" in caught.value.hint


def test_a_run_folder_reloads_and_resumes_after_its_graph_files_moved(tmp_path):
    project = tmp_path / "project"
    (project / "graphs" / "parts").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    text = (GRAPHS / "unet_small.yaml").read_text().replace("samples: 600}", "samples: 40}\n  estimate: false\n  diagnostics_every: 0")
    (project / "graphs" / "unet_small.yaml").write_text(text)
    shutil.copy(GRAPHS / "parts" / "double_conv.yaml", project / "graphs" / "parts")
    run = project / "runs" / "unet"
    assert main(["train", str(project / "graphs" / "unet_small.yaml"), "--epochs", "1", "--out", str(run),
                 "--threads", "1", "--no-tensorboard", "-q"]) == 0
    moved = tmp_path / "elsewhere"
    project.rename(moved)
    run = moved / "runs" / "unet"
    assert (run / "parts" / "double_conv.yaml").read_text() == (GRAPHS / "parts" / "double_conv.yaml").read_text()
    assert json.loads((run / "settings.json").read_text())["parts"] == ["parts/double_conv.yaml"]
    analysis = analyze(load_graph(run / "graph.yaml"))  # from the run folder alone
    assert analysis.ok and analysis.total.params == 117_090
    assert main(["train", "--resume", str(run), "--epochs", "2", "--threads", "1", "-q"]) == 0
    assert json.loads((run / "summary.json").read_text())["epochs"] == 2
    assert open_trained(run).graph.name == "unet_small"


def test_parts_from_above_the_graphs_folder_are_kept_together(tmp_path):
    project = tmp_path / "project"
    (project / "nets").mkdir(parents=True)
    (project / "shared").mkdir()
    (project / "pyproject.toml").write_text("")
    shutil.copy(GRAPHS / "parts" / "double_conv.yaml", project / "shared" / "inner.yaml")
    block = (GRAPHS / "parts" / "double_conv.yaml").read_text()
    block = block.replace("  conv1:\n    block: conv2d", "  pre:\n    graph: inner.yaml\n    inputs: [x]\n"
                                                        "  conv1:\n    block: conv2d").replace(
        "params: {out_channels: 16, kernel_size: 3, padding: same, bias: false}\n    inputs: [x]",
        "params: {out_channels: 16, kernel_size: 3, padding: same, bias: false}\n    inputs: [pre]", 1)
    (project / "shared" / "block.yaml").write_text(block)
    (project / "nets" / "net.yaml").write_text(
        "format: 1\nname: net\nnodes:\n  image: {block: input, params: {shape: [1, 16, 16]}}\n"
        "  body: {graph: ../shared/block.yaml, inputs: [image]}\n  out: {block: output, inputs: [body]}\n")
    graph = load_graph(project / "nets" / "net.yaml")
    run = RunFolder.at(tmp_path / "run")
    parts = write_graph_files(run, graph)
    assert sorted(parts) == ["graph_files/shared/block.yaml", "graph_files/shared/inner.yaml"]
    copied = load_graph(run.graph)
    assert copied.nodes["body"].graph == "graph_files/shared/block.yaml"
    assert analyze(copied).total.params == analyze(graph).total.params > 0


def test_a_run_stopped_mid_epoch_resumes_every_outputs_sums(tmp_path):
    graph = load_graph(GRAPHS / "localize_small.yaml")
    quick = {**QUICK, "log_every": 1, "epochs": 1, "batch_size": 16, "data": {"name": "shape_boxes", "samples": 80}}
    _, whole, _, _ = train(graph, tmp_path, "whole", **quick)

    settings = resolve_settings(graph.training, quick)
    run = RunFolder.at(tmp_path / "parts")
    bus = EventBus()
    first = Trainer(graph, settings, run, bus=bus)
    bus.subscribe(lambda e: first.request_stop() if e["event"] == "step" and e["step"] == 2 else None)
    assert first.run()["status"] == "stopped"
    events = []
    bus = EventBus()
    bus.subscribe(events.append)
    assert Trainer(graph, settings, run, bus=bus, resume=True).run()["status"] == "completed"
    resumed = [e for e in events if e["event"] == "epoch"]
    for node in ("logits", "box"):  # the sums of the steps before the stop came back with the checkpoint
        for key in ("train_loss", "train_accuracy", "train_box_iou"):
            if key in whole[-1]["outputs"][node]:
                assert resumed[-1]["outputs"][node][key] == pytest.approx(whole[-1]["outputs"][node][key], rel=1e-6)
    assert resumed[-1]["train_box_iou"] == pytest.approx(whole[-1]["train_box_iou"], rel=1e-6)
