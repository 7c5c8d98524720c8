"""TensorBoard event files (and MLflow) written by the training engine, read back."""

from __future__ import annotations

import sys

import pytest

from builder import load_graph
from builder.cli import main
from builder.training.engine import Trainer
from builder.training.events import EventBus, read_events
from builder.training.runs import RunFolder
from builder.training.settings import resolve_settings
from tests.conftest import ROOT

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

LENET = ROOT / "graphs/lenet5.yaml"
PARAMETRIC = ("conv1", "conv2", "fc1", "fc2", "fc3")


def settings(**overrides):
    base = {"data": {"name": "digits", "limit": 200}, "epochs": 2, "batch_size": 32, "log_every": 2,
            "diagnostics_every": 3, "threads": 1}
    base.update(overrides)
    return resolve_settings(load_graph(LENET).training, base)


def train(folder, resume=False, checkpoint=None, **overrides):
    bus = EventBus()
    events = []
    bus.subscribe(events.append)
    trainer = Trainer(load_graph(LENET), settings(**overrides), RunFolder.at(folder), bus=bus, resume=resume,
                      checkpoint=checkpoint)
    return trainer.run(), events


def read(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "images": 0,
                                                                "tensors": 0})
    accumulator.Reload()
    return accumulator


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tb") / "run"
    summary, events = train(folder)
    return folder, summary, events, read(folder)


def test_scalars_equal_the_event_stream(trained):
    folder, _, _, acc = trained
    events = read_events(str(folder / "metrics.jsonl"))
    steps = [e for e in events if e["event"] == "step"]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert steps and len(epochs) == 2
    assert scalars(acc, "train/loss") == [(e["step"], pytest.approx(e["loss"], rel=1e-6)) for e in steps]
    assert scalars(acc, "train/lr") == [(e["step"], pytest.approx(e["lr"], rel=1e-6)) for e in steps]
    for key in ("train_loss", "val_loss", "val_accuracy", "lr"):
        assert scalars(acc, f"epoch/{key}") == [(e["step"], pytest.approx(e[key], rel=1e-6)) for e in epochs]
    gradients = [e for e in events if e["event"] == "gradients"]
    assert gradients
    assert scalars(acc, "gradients/fc1/norm") == [
        (e["step"], pytest.approx(e["nodes"]["fc1"]["norm"], rel=1e-6)) for e in gradients if "fc1" in e["nodes"]]


def test_histograms_for_every_node_with_parameters(trained):
    _, _, events, acc = trained
    tags = set(acc.Tags()["histograms"])
    assert {f"weights/{n}" for n in PARAMETRIC} | {f"grads/{n}" for n in PARAMETRIC} <= tags
    assert not {t for t in tags if t.split("/")[1] not in PARAMETRIC}  # no parameterless nodes
    diagnostic_steps = [e["step"] for e in events if e["event"] == "gradients"]  # the frequency
    assert [h.step for h in acc.Histograms("weights/conv1")] == diagnostic_steps
    assert [h.step for h in acc.Histograms("grads/fc3")] == diagnostic_steps
    conv1 = acc.Histograms("weights/conv1")[-1].histogram_value
    assert conv1.num == 156 and sum(conv1.bucket) == 156  # conv1's 150 weights and 6 biases, all counted


def test_hparams_hold_the_settings_and_final_metrics(trained):
    _, summary, _, acc = trained
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    hparams = {k: v for k, v in start.hparams.items()}
    assert hparams["lr"].number_value == pytest.approx(1e-3)
    assert hparams["batch_size"].number_value == 32 and hparams["optimizer"].string_value == "adam"
    assert hparams["data.name"].string_value == "digits" and hparams["epochs"].number_value == 2
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    metrics = {m.name.tag for m in experiment.metric_infos}
    assert {"epoch/val_loss", "epoch/val_accuracy", "epoch/train_loss"} <= metrics
    final_val = scalars(acc, "epoch/val_loss")[-1][1]
    assert final_val == pytest.approx(summary["final"]["val_loss"], rel=1e-6)
    assert scalars(acc, "hparam/val_loss")[-1][1] == pytest.approx(summary["final"]["val_loss"], rel=1e-6)


def test_graph_and_plots(trained):
    _, _, _, acc = trained
    graph = acc.Graph()
    analysis_nodes = list(load_graph(LENET).nodes)
    assert [n.name for n in graph.node] == analysis_nodes or sorted(n.name for n in graph.node) == sorted(
        analysis_nodes)
    conv1 = next(n for n in graph.node if n.name == "conv1")
    assert conv1.op == "conv2d" and list(conv1.input) == ["image"]
    assert [d.size for d in conv1.attr["_output_shapes"].list.shape[0].dim] == [-1, 6, 28, 28]
    assert {"plots/loss", "plots/accuracy"} <= set(acc.Tags()["images"])


def test_resume_appends_each_step_once(tmp_path):
    folder = tmp_path / "run"
    train(folder, epochs=1)
    train(folder, resume=True, epochs=2)
    acc = read(folder)
    logged = [s for s, _ in scalars(acc, "train/loss")]
    events = [e for e in read_events(str(folder / "metrics.jsonl")) if e["event"] == "step"]
    assert logged == sorted(set(logged)) == [e["step"] for e in events]
    assert [s for s, _ in scalars(acc, "epoch/val_loss")] == [
        e["step"] for e in read_events(str(folder / "metrics.jsonl")) if e["event"] == "epoch"]


def test_resume_from_an_older_checkpoint_drops_the_abandoned_steps(tmp_path):
    """An attempt that went on past the checkpoint (a crash, or --checkpoint naming an older
    one): its later steps are dropped from the files, not shown twice."""
    from builder.training.checkpoint_store import checkpoints_in

    folder = tmp_path / "run"
    train(folder, epochs=2)
    first_epoch = min(checkpoints_in(RunFolder(folder).checkpoints), key=lambda c: c.step)
    _, events = train(folder, resume=True, checkpoint=first_epoch.name, epochs=2, lr=5e-4)
    acc = read(folder)
    logged = scalars(acc, "train/loss")
    steps = [s for s, _ in logged]
    assert steps == sorted(set(steps))
    again = {e["step"]: e["loss"] for e in events if e["event"] == "step"}
    assert again and all(value == pytest.approx(again[s], rel=1e-6) for s, value in logged if s in again)


def test_no_tensorboard_writes_none(tmp_path):
    assert main(["train", str(LENET), "--data", "digits", "--epochs", "1", "--threads", "1", "-q",
                 "--out", str(tmp_path / "off"), "--no-tensorboard"]) == 0
    assert not list((tmp_path / "off").glob("events.out.tfevents.*"))
    assert (tmp_path / "off" / "metrics.jsonl").is_file()
    folder = tmp_path / "setting"
    train(folder, epochs=1, tensorboard=False)
    assert not list(folder.glob("events.out.tfevents.*"))


def test_without_the_package_the_run_goes_on_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    summary, events = train(tmp_path / "run", epochs=1)
    assert summary["status"] == "completed"
    assert not list((tmp_path / "run").glob("events.out.tfevents.*"))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started"
    warnings = [e["message"] for e in events if e["event"] == "warning"]
    assert any("tensorboard package is not installed" in m for m in warnings)


def test_mlflow_logs_params_metrics_and_artifacts(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)  # the artifacts go to ./mlartifacts
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    out = tmp_path / "run"
    assert main(["train", str(LENET), "--data", "digits", "--epochs", "1", "--threads", "1", "-q",
                 "--out", str(out), "--no-tensorboard"]) == 0
    client = mlflow.tracking.MlflowClient(uri)
    run_id = __import__("json").loads((out / "mlflow.json").read_text())["run_id"]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["data.name"] == "digits" and run.data.params["epochs"] == "1"
    assert "epoch/val_loss" in run.data.metrics and "train/loss" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"graph.yaml", "settings.json", "summary.json", "plots", "bundle"} <= artifacts
    bundle = {a.path for a in client.list_artifacts(run_id, "bundle")}
    assert {"bundle/meta.json", "bundle/graph.yaml"} <= bundle and any(p.endswith(".safetensors") for p in bundle)


def test_explanations_join_the_runs_tensorboard_images(trained, tmp_path, capsys):
    pytest.importorskip("captum")
    from builder.cli import main

    folder = trained[0]
    assert main(["explain", str(folder), "val:0", "--method", "saliency", "--out", str(tmp_path / "x")]) == 0
    assert "TensorBoard" in capsys.readouterr().out
    images = read(folder).Tags()["images"]
    assert "explain/val-0_saliency" in images and {"plots/loss", "plots/accuracy"} <= set(images)


def test_without_diagnostics_histograms_come_once_an_epoch(tmp_path):
    _, events = train(tmp_path / "run", diagnostics_every=0)
    epoch_steps = [e["step"] for e in events if e["event"] == "epoch"]
    assert [h.step for h in read(tmp_path / "run").Histograms("weights/fc1")] == epoch_steps
