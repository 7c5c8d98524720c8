"""Transfer learning in a run: frozen nodes (no gradient, fixed batch-norm statistics),
per-node learning rates, the fine-tune schedule, ``--init`` and ``check`` on the command
line, and the letters demo's asserted gap."""

from __future__ import annotations

import copy
import importlib.util
import json

import pytest
import torch
from safetensors.torch import load_file

from builder import analyze, compile_graph, load_graph, parse_graph
from builder.cli import main
from builder.training.checkpoint_store import checkpoints_in
from builder.training.engine import Trainer
from builder.training.events import EventBus
from builder.training.freezing import parameter_split, select_nodes, toggled
from builder.training.runs import RunFolder
from builder.training.settings import SettingsError, resolve_settings
from builder.training.transfer import Transfer
from builder.training.typed_settings import TrainingSettings
from builder.training.weight_sources import TransferError
from tests.conftest import ROOT

DEMO = ROOT / "graphs" / "digits_transfer.yaml"
BACKBONE = ["conv1", "bn1", "conv2", "bn2"]
DATA = {"name": "digits", "classes": [0, 1, 2, 3, 4], "limit": 120}


def run_settings(**overrides):
    base = {"data": DATA, "epochs": 1, "batch_size": 20, "threads": 1, "tensorboard": False, "estimate": False,
            "diagnostics_every": 0}
    return resolve_settings(load_graph(DEMO).training, {**base, **overrides})


def train(tmp_path, name="run", **overrides):
    events = []
    bus = EventBus()
    bus.subscribe(events.append)
    trainer = Trainer(load_graph(DEMO), run_settings(**overrides), RunFolder.at(tmp_path / name), bus=bus)
    trainer.run()
    return trainer, events


def checkpoint_weights(trainer):
    """The weights of each checkpoint the run kept, oldest first."""
    return [load_file(str(c.weights)) for c in reversed(checkpoints_in(trainer.run_folder.checkpoints))]


def backbone_unchanged(before, after) -> list[str]:
    return [k for k in before if k.split(".")[0] in BACKBONE and not torch.equal(before[k], after[k])]


def test_frozen_nodes_keep_their_weights_and_batch_norm_statistics(tmp_path):
    initial = compile_graph(load_graph(DEMO), seed=0).state_dict()  # what the run starts from
    trainer, events = train(tmp_path, freeze={"up_to": "pool2"})
    after = checkpoint_weights(trainer)[-1]
    assert backbone_unchanged(initial, after) == []  # running_mean, running_var and the counter too
    assert {"bn1.running_mean", "bn2.running_var", "bn2.num_batches_tracked"} <= set(initial)
    assert not torch.equal(initial["fc.weight"], after["fc.weight"])
    assert trainer.transfer.frozen == ["conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2"]
    model = trainer.model
    assert not any(p.requires_grad for p in model.conv1.parameters()) and model.fc.weight.requires_grad
    model.train()  # what Keras and Lightning users trip over: train() must not wake the statistics up
    assert not model.bn1.training and not model.bn2.training and model.fc.training
    twin = copy.deepcopy(model)  # the run's estimate times a copy: it must stay frozen too
    twin.train()
    assert not twin.bn1.training and twin.bn1.train.__self__ is twin.bn1
    # without freezing, the same run moves them all
    unfrozen, _ = train(tmp_path, "unfrozen")
    moved = checkpoint_weights(unfrozen)[-1]
    assert len(backbone_unchanged(initial, moved)) == 14  # every tensor of the 4 nodes


def test_per_node_learning_rates_reach_the_optimizer(tmp_path):
    trainer, events = train(tmp_path, lr_mult={"fc": 10, "conv*": 0.5}, lr=0.002)
    groups = {tuple(g["nodes"]): g["lr"] for g in trainer.optimizer.param_groups}
    assert groups == {("bn1", "bn2"): 0.002, ("conv1", "conv2"): 0.001, ("fc",): 0.02}
    assert next(e for e in events if e["event"] == "epoch")["lr"] == 0.002  # the base rate's group comes first
    onecycle, _ = train(tmp_path, "onecycle", lr_mult={"fc": 10}, schedule="onecycle", lr=0.002)
    peaks = {tuple(g["nodes"]): g["max_lr"] for g in onecycle.optimizer.param_groups}
    assert peaks == {("conv1", "bn1", "conv2", "bn2"): 0.002, ("fc",): 0.02}


def test_the_fine_tune_schedule_unfreezes_at_a_lower_rate(tmp_path):
    initial = compile_graph(load_graph(DEMO), seed=0).state_dict()
    trainer, events = train(tmp_path, freeze=BACKBONE, unfreeze_after=1, unfreeze_lr=0.1, epochs=2, lr=0.01)
    first, second = checkpoint_weights(trainer)[-2:]
    assert backbone_unchanged(initial, first) == []  # epoch 1: frozen
    assert len(backbone_unchanged(first, second)) == 14  # epoch 2: the backbone trains, its statistics move
    groups = {tuple(g["nodes"]): g["lr"] for g in trainer.optimizer.param_groups}
    assert groups == {("fc",): 0.01, ("conv1", "bn1", "conv2", "bn2"): pytest.approx(0.001)}
    assert trainer.model.bn1.training and "train" not in vars(trainer.model.bn1)


def test_freeze_and_lr_mult_name_nodes_that_exist(tmp_path, capsys):
    with pytest.raises(TransferError, match="training setting 'freeze': the graph has no node 'conv3'") as caught:
        train(tmp_path, freeze=["conv1", "conv3"])
    assert caught.value.hint == "did you mean 'conv2'?"
    with pytest.raises(TransferError, match="'layer\\*' matches no node id"):
        train(tmp_path, "b", lr_mult={"layer*": 2})
    with pytest.raises(SettingsError, match="the factor must be above 0"):
        run_settings(lr_mult={"fc": 0})
    with pytest.raises(SettingsError, match=r"expected a list of node ids or \{up_to: NODE\}"):
        run_settings(freeze={"upto": "pool2"})
    graph = tmp_path / "g.yaml"
    graph.write_text(DEMO.read_text().replace("  lr: 0.003", "  lr: 0.003\n  freeze: [conv9]"))
    assert main(["train", str(graph), "--epochs", "1", "--out", str(tmp_path / "cli"), "--threads", "1"]) == 1
    err = capsys.readouterr().err
    assert "error: training setting 'freeze': the graph has no node 'conv9'\n    hint: did you mean" in err
    assert "Traceback" not in err


def test_selection_counts_and_the_inspector_toggle():
    graph = load_graph(DEMO)
    assert select_nodes(graph, {"up_to": "bn1"})[0] == ["image", "conv1", "bn1"]
    assert select_nodes(graph, ["bn*", "fc"])[0] == ["bn1", "bn2", "fc"]
    split, problems = parameter_split(analyze(graph), {"freeze": {"up_to": "pool2"}})
    assert (split.trainable, split.frozen, problems) == (645, 4896, [])
    assert parameter_split(analyze(graph))[0].frozen == 0
    assert toggled(graph, ["bn*"], "fc") == ["bn*", "fc"]  # a written list keeps its globs
    assert toggled(graph, ["bn*"], "bn1") == ["bn2"]
    assert toggled(graph, {"up_to": "conv1"}, "image") == ["conv1"]
    assert toggled(graph, ["fc"], "fc") is None


def test_transfer_leaves_a_model_without_such_settings_alone():
    model = compile_graph(load_graph(DEMO), seed=0)
    transfer = Transfer(model, load_graph(DEMO), TrainingSettings.from_dict(run_settings()))
    assert transfer.frozen == [] and transfer.plan is None
    assert len(transfer.param_groups()) == 1 and all(p.requires_grad for p in model.parameters())


def test_check_shows_frozen_parameters_and_what_init_would_load(tmp_path, capsys):
    graph = tmp_path / "g.yaml"
    graph.write_text(DEMO.read_text().replace("  lr: 0.003", "  lr: 0.003\n  freeze: {up_to: pool2}"))
    assert main(["check", "-q", str(graph)]) == 0
    assert "parameters: 645 trainable, 4,896 frozen (conv1, bn1, conv2, bn2)\n" in capsys.readouterr().out
    source = tmp_path / "source"
    assert main(["train", str(DEMO), "--epochs", "1", "--out", str(source), "--threads", "1", "-q"]) == 0
    capsys.readouterr()
    assert main(["check", "-q", str(graph), "--init", str(source)]) == 0
    out = capsys.readouterr().out
    assert f"init from run folder {source.resolve()}: 16 of 16 tensors into 5 of 5 nodes" in out
    assert "fc     loaded  2/2" in out
    ten = tmp_path / "ten.yaml"
    ten.write_text(DEMO.read_text().replace("out_features: 5", "out_features: 10"))
    assert main(["check", "--json", str(ten), "--init", str(source)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["init"]["nodes"][-1] == {"node": "fc", "status": "mismatch", "tensors": 0, "total": 2, "values": 0,
                                           "detail": "fc.weight: file [5, 128], graph [10, 128]; fc.bias: file [5], "
                                                     "graph [10]"}
    assert report["parameters"]["frozen"] == 0 and not report["ok"]
    # --init on train: the new head is skipped when the section asks for it
    section = "  lr: 0.003\n  init: {from: nowhere, skip_mismatched: [fc]}"
    ten.write_text(ten.read_text().replace("  lr: 0.003", section))
    assert main(["train", str(ten), "--init", str(source), "--epochs", "1", "--out", str(tmp_path / "t"),
                 "--threads", "1", "-q", "--data", "digits"]) == 0
    err = capsys.readouterr().err
    assert "init: node fc keeps its initialization (fc.weight: file [5, 128], graph [10, 128]" in err
    saved = json.loads((tmp_path / "t" / "settings.json").read_text())["settings"]["init"]
    assert saved["from"] == str(source.resolve()) and saved["skip_mismatched"] == ["fc"]


def test_the_transfer_demo_shows_the_gap(tmp_path):
    """Ten new letters from 3 images each (docs/transfer.md), in the demo's quick form: the
    head on the source run's frozen features beats the whole CNN trained from scratch on
    the same 30 images by far (quick form, seeds 0-4: 19 to 30 points; this seed: 25)."""
    spec = importlib.util.spec_from_file_location("transfer_letters", ROOT / "docs/examples/transfer_letters.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    runs = demo.run_demo(tmp_path, threads=1, quick=True)
    accuracy = {name: summary["final"]["val_accuracy"] for name, summary in runs.items()}
    assert accuracy["source"] >= 0.9, accuracy
    assert accuracy["finetune"] - accuracy["scratch"] >= 0.15, accuracy
    assert accuracy["finetune"] - accuracy["random_frozen"] >= 0.25, accuracy  # it is the features that carry
    assert runs["scratch"]["final"]["train_accuracy"] >= 0.95  # scratch learnt its 30 images by heart
    settings = json.loads((tmp_path / "finetune" / "settings.json").read_text())["settings"]
    assert settings["freeze"] == {"up_to": "pool3"} and settings["init"]["from"] == str((tmp_path / "source").resolve())
    figure = demo.write_comparison(tmp_path, ["finetune", "random_frozen", "scratch"])
    assert figure == tmp_path / "compare.png" and figure.read_bytes()[:4] == b"\x89PNG"


def test_a_graph_reads_init_relative_to_its_own_folder(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    model = compile_graph(load_graph(DEMO), seed=7)
    from builder.training.checkpoint import save_weights

    save_weights(folder / "start.safetensors", model)
    graph = parse_graph(DEMO.read_text().replace("  lr: 0.003", "  lr: 0.003\n  init: start.safetensors"),
                        str(folder / "g.yaml"))
    trainer = Trainer(graph, resolve_settings(graph.training, {"data": DATA, "epochs": 1, "threads": 1,
                                                                "tensorboard": False, "estimate": False,
                                                                "freeze": ["conv1"]}),
                      RunFolder.at(tmp_path / "run"))
    trainer.run()
    assert torch.equal(trainer.model.conv1.weight, model.conv1.weight)  # loaded, then frozen


def test_the_digits_class_filter_relabels_in_the_order_given():
    from builder.data import DataError, InputSpec, load_data

    inputs = [InputSpec("image", (1, 8, 8), "float32")]
    data = load_data({"name": "digits", "classes": [7, 3], "val_split": 0}, inputs, (2,), seed=0)
    assert data.class_names == ["7", "3"] and set(data.train.targets.tolist()) == {0, 1}
    assert len(data.train) == 179 + 183  # every 7 and every 3 of the 1,797
    with pytest.raises(DataError, match="names a digit twice"):
        load_data({"name": "digits", "classes": [5, 5]}, inputs, (2,), seed=0)
