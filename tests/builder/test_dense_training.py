"""Dense prediction: per-pixel classes on the channel axis, the shape_masks source, mean IoU,
and the gallery's segmentation graphs (U-Net, FCN, PSPNet) training to an asserted mean IoU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from builder import load_graph
from builder.data import DataError, InputSpec, load_data
from builder.data.shapes import generate_masks
from builder.training.engine import Trainer
from builder.training.events import EventBus
from builder.training.metrics import mean_iou
from builder.training.optimization import Loss
from builder.training.runs import RunFolder
from builder.training.settings import resolve_settings
from tests.conftest import ROOT

IMAGE = InputSpec("image", (1, 32, 32))
QUICK = {"threads": 1, "estimate": False, "tensorboard": False, "diagnostics_every": 0, "log_every": 5}


def test_shape_masks_follow_the_graph_and_the_seed():
    task = load_data({"name": "shape_masks", "samples": 40}, [InputSpec("image", (3, 32, 32))], (4, 16, 16), seed=3)
    assert task.kind == "segmentation" and task.num_classes == 4
    assert task.class_names == ["background", "square", "disc", "triangle"]
    assert tuple(task.train.inputs[0].shape[1:]) == (3, 32, 32)
    assert tuple(task.train.targets.shape[1:]) == (16, 16)  # masks shrunk to the output's size
    assert set(task.train.targets.unique().tolist()) <= {0, 1, 2, 3}
    again = load_data({"name": "shape_masks", "samples": 40}, [InputSpec("image", (3, 32, 32))], (4, 16, 16), seed=3)
    assert torch.equal(again.train.targets, task.train.targets)
    other = load_data({"name": "shape_masks", "samples": 40}, [InputSpec("image", (3, 32, 32))], (4, 16, 16), seed=4)
    assert not torch.equal(other.train.targets, task.train.targets)
    images, masks = generate_masks(6, 24, 40, 2, seed=0)  # any size; two classes: every kind is "shape"
    assert images.shape == (6, 1, 24, 40) and masks.shape == (6, 24, 40) and int(masks.max()) == 1


def test_shape_masks_refuse_an_output_without_pixels():
    with pytest.raises(DataError, match=r"gives masks, one class id per pixel, but the graph's output is \[10\]") as err:
        load_data({"name": "shape_masks", "samples": 8}, [IMAGE], (10,))
    assert "[C, H, W]" in err.value.hint


def test_npz_masks_are_classes_on_the_channel_axis(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "m.npz", x=rng.random((10, 1, 32, 32), dtype=np.float32),
             y=rng.integers(0, 3, (10, 32, 32)))
    task = load_data({"name": "npz", "path": "m.npz"}, [IMAGE], (3, 32, 32), base_dir=tmp_path)
    assert task.kind == "segmentation" and task.num_classes == 3
    np.savez(tmp_path / "bad.npz", x=rng.random((10, 1, 32, 32), dtype=np.float32),
             y=rng.integers(0, 3, (10, 16, 16)))
    with pytest.raises(DataError) as err:
        load_data({"name": "npz", "path": "bad.npz", "task": "classification"}, [IMAGE], (3, 32, 32),
                  base_dir=tmp_path)
    message = str(err.value)
    assert "labels have per-sample shape [16, 16]" in message
    assert "[32, 32] with the 3 classes on the channel axis" in message  # the hint names what fits
    with pytest.raises(DataError, match=r"labels go up to 2 .* has 2 values per position") as err:
        load_data({"name": "npz", "path": "m.npz"}, [IMAGE], (2, 32, 32), base_dir=tmp_path)
    assert "conv2d out_channels: 3" in err.value.hint


def test_the_loss_and_mean_iou_read_classes_on_the_channel_axis():
    out, y = torch.randn(2, 3, 4, 5), torch.randint(0, 3, (2, 4, 5))
    assert torch.allclose(Loss("segmentation", "auto")(out, y), F.cross_entropy(out, y))
    sequence = torch.randn(2, 4, 3)  # per-step labels keep the classes on the last axis
    assert torch.allclose(Loss("classification", "auto")(sequence, y[:, :, 0]),
                          F.cross_entropy(sequence.reshape(-1, 3), y[:, :, 0].reshape(-1)))
    confusion = torch.tensor([[8.0, 2.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, 0.0]])  # class 2 never seen
    assert mean_iou(confusion) == pytest.approx((8 / 11 + 3 / 6) / 2)


def train(tmp_path, name, **overrides):
    graph = load_graph(ROOT / "graphs" / f"{name}.yaml")
    settings = resolve_settings(graph.training, {**QUICK, **overrides})
    events = []
    bus = EventBus()
    bus.subscribe(events.append)
    run = RunFolder.at(tmp_path / name)
    trainer = Trainer(graph, settings, run, bus=bus)
    return trainer.run(), events, run, trainer


def test_unet_small_trains_as_shipped(tmp_path):
    # the graph's own training section, with fewer samples and epochs so that it takes seconds
    summary, events, run, trainer = train(tmp_path, "unet_small", epochs=2,
                                          data={"name": "shape_masks", "samples": 160})
    assert summary["status"] == "completed" and summary["task"] == "segmentation"
    assert summary["best"]["val_mean_iou"] > 0.8, summary
    assert summary["final"]["val_accuracy"] > 0.9  # pixel accuracy
    started = next(e for e in events if e["event"] == "run_started")
    assert started["task"] == "segmentation"
    epochs = [e for e in events if e["event"] == "epoch"]
    assert all(0 <= e["val_mean_iou"] <= 1 and 0 <= e["train_mean_iou"] <= 1 for e in epochs)
    assert json.loads(run.data.read_text())["kind"] == "segmentation"
    assert {"masks.png", "iou.png", "accuracy.png"} <= {p.name for p in trainer.plots}
    history = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    assert [e["val_mean_iou"] for e in history if e["event"] == "epoch"] == [e["val_mean_iou"] for e in epochs]


@pytest.mark.parametrize("name, epochs, floor", [("fcn_small", 5, 0.65), ("pspnet_small", 3, 0.65)])
def test_fcn_and_pspnet_segment_the_shapes(tmp_path, name, epochs, floor):
    summary, events, _, _ = train(tmp_path, name, epochs=epochs, data={"name": "shape_masks", "samples": 200})
    assert summary["task"] == "segmentation"
    # chance is below 0.25; labelling everything background scores about 0.22
    assert summary["best"]["val_mean_iou"] > floor, summary
