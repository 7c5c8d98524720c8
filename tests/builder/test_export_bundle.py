"""Bundles: a trained model in a self-contained folder that loads without unpickling."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

import builder
from builder.cli import main
from builder.exporting import bundle as bundle_module
from builder.exporting.api import export
from builder.exporting.bundle import load_bundle, read_bundle, write_bundle
from builder.exporting.errors import ExportError
from builder.exporting.parity import example_inputs
from builder.exporting.source import from_graph, open_trained
from builder.yaml_format import load_graph
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """LeNet-5 trained for one epoch on digits (about two seconds)."""
    out = tmp_path_factory.mktemp("run") / "lenet5"
    assert main(["train", str(ROOT / "graphs/lenet5.yaml"), "--epochs", "1", "--out", str(out), "-q",
                 "--device", "cpu"]) == 0
    return out


@pytest.fixture(scope="module")
def bundle_dir(run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "lenet5_bundle"
    export(run_dir, "bundle", out)
    return out


@pytest.fixture
def bundle_copy(bundle_dir, tmp_path) -> Path:
    """A copy of the bundle that a test may damage."""
    return Path(shutil.copytree(bundle_dir, tmp_path / "copy"))


def outputs_of(model, inputs):
    with torch.no_grad():
        return model(*inputs)


def test_bundle_round_trip_gives_the_runs_outputs(run_dir, tmp_path):
    result = export(run_dir, "bundle", tmp_path / "b")
    assert result.format == "bundle" and result.path == tmp_path / "b"
    assert result.max_difference == 0.0
    names = sorted(p.name for p in result.files)
    assert names == ["graph.yaml", "meta.json", "weights.safetensors"]
    assert all(p.is_file() for p in result.files)

    trained = open_trained(run_dir)
    model = builder.load_bundle(tmp_path / "b")  # the public name
    assert isinstance(model, torch.nn.Module) and not model.training
    batch = example_inputs(trained.inputs, batch=4, seed=3)
    assert torch.equal(outputs_of(model, batch), outputs_of(trained.model, batch))


def test_meta_json_fields(run_dir, bundle_dir):
    meta = json.loads((bundle_dir / "meta.json").read_text())
    data = json.loads((run_dir / "data.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert meta["format"] == "modelbuilder-bundle" and meta["version"] == 1
    assert meta["graph"] == "graph.yaml" and meta["weights"] == "weights.safetensors"
    assert meta["inputs"] == [{"name": "image", "shape": [1, 32, 32], "dtype": "float32"}]
    assert meta["outputs"] == [{"name": "logits", "shape": [10], "dtype": "float32"}]
    assert meta["kind"] == "classification" and meta["num_classes"] == 10
    assert meta["class_names"] == [str(i) for i in range(10)]
    assert meta["normalization"] == data["normalization"]
    assert meta["training"] == summary
    assert meta["created_by"].startswith("modelbuilder ")
    model = load_bundle(bundle_dir)
    assert model.meta == meta


def test_read_bundle_gives_a_trained_model_with_the_data_record(bundle_dir):
    trained = read_bundle(bundle_dir)
    assert trained.class_names == [str(i) for i in range(10)]
    assert trained.normalization["input"] == "image"
    assert trained.weights == bundle_dir / "weights.safetensors"
    assert open_trained(bundle_dir).graph == trained.graph  # open_trained knows bundles


def test_export_a_bundle_from_a_bundle(bundle_dir, tmp_path):
    result = export(bundle_dir, "bundle", tmp_path / "again")
    assert result.max_difference == 0.0
    assert json.loads((tmp_path / "again/meta.json").read_text())["class_names"] == [str(i) for i in range(10)]


def test_bundle_files_are_readable_by_others(bundle_dir):
    assert (bundle_dir / "weights.safetensors").stat().st_mode & 0o044  # not private like a temp file
    assert bundle_dir.stat().st_mode & 0o055


def test_unet_parts_are_copied_and_the_bundle_stands_alone(tmp_path):
    # the graph and its part live in a folder that is gone when the bundle is used
    original = tmp_path / "graphs"
    (original / "parts").mkdir(parents=True)
    shutil.copy(ROOT / "graphs/unet_small.yaml", original)
    shutil.copy(ROOT / "graphs/parts/double_conv.yaml", original / "parts")
    trained = from_graph(load_graph(original / "unet_small.yaml"))
    result = write_bundle(trained, tmp_path / "unet_bundle")
    assert result.max_difference == 0.0
    assert (tmp_path / "unet_bundle/parts/double_conv.yaml").is_file()
    assert "graph: parts/double_conv.yaml" in (tmp_path / "unet_bundle/graph.yaml").read_text()
    assert "# A small U-Net" in (tmp_path / "unet_bundle/graph.yaml").read_text()  # comments kept
    assert trained.graph.nodes["enc1"].graph == "parts/double_conv.yaml"  # the caller's graph untouched

    shutil.rmtree(original)
    moved = Path(shutil.copytree(tmp_path / "unet_bundle", tmp_path / "elsewhere/deeper/unet"))
    shutil.rmtree(tmp_path / "unet_bundle")
    model = load_bundle(moved)
    batch = example_inputs(trained.inputs, batch=1)
    assert torch.equal(outputs_of(model, batch), outputs_of(trained.model, batch))


NESTED_TOP = """\
format: 1
name: nested
nodes:
  x: {block: input, params: {shape: [4]}}
  a: {graph: ../lib/block_a.yaml, inputs: [x]}
  y: {block: output, inputs: [a]}
"""
NESTED_A = """\
format: 1
name: block_a
nodes:
  x: {block: input, params: {shape: [4]}}
  fc: {block: linear, params: {out_features: 4}, inputs: [x]}
  b: {graph: more/block_b.yaml, inputs: [fc]}
  y: {block: output, inputs: [b]}
"""
NESTED_B = """\
format: 1
name: block_b
nodes:
  x: {block: input, params: {shape: [4]}}
  fc: {block: linear, params: {out_features: 3}, inputs: [x]}
  y: {block: output, inputs: [fc]}
"""
SAME_NAME = """\
format: 1
name: block_a_too
nodes:
  x: {block: input, params: {shape: [3]}}
  fc: {block: linear, params: {out_features: 2}, inputs: [x]}
  y: {block: output, inputs: [fc]}
"""


def test_nested_composites_from_other_folders_are_flattened_into_parts(tmp_path):
    (tmp_path / ".git").mkdir()  # one project: composite paths may not leave it (builder/composite.py)
    (tmp_path / "models").mkdir()
    (tmp_path / "lib/more").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "models/top.yaml").write_text(
        NESTED_TOP.replace("  y: {block: output, inputs: [a]}",
                           "  c: {graph: ../other/block_a.yaml, inputs: [a]}\n  y: {block: output, inputs: [c]}"))
    (tmp_path / "lib/block_a.yaml").write_text(NESTED_A)
    (tmp_path / "lib/more/block_b.yaml").write_text(NESTED_B)
    (tmp_path / "other/block_a.yaml").write_text(SAME_NAME)  # same file name, different graph
    trained = from_graph(load_graph(tmp_path / "models/top.yaml"))
    result = write_bundle(trained, tmp_path / "out/b")
    parts = sorted(p.name for p in (tmp_path / "out/b/parts").iterdir())
    assert parts == ["block_a.yaml", "block_a_2.yaml", "block_b.yaml"]
    assert "graph: block_b.yaml" in (tmp_path / "out/b/parts/block_a.yaml").read_text()
    assert result.max_difference == 0.0
    for folder in ("models", "lib", "other"):
        shutil.rmtree(tmp_path / folder)
    model = load_bundle(tmp_path / "out/b")
    assert outputs_of(model, (torch.ones(1, 4),)).shape == (1, 2)


# ---------------------------------------------------------------------------- bad input
def test_export_of_a_run_without_checkpoint(run_dir, tmp_path):
    run = Path(shutil.copytree(run_dir, tmp_path / "run"))
    shutil.rmtree(run / "checkpoints")
    with pytest.raises(ExportError, match="has no checkpoint") as caught:
        export(run, "bundle", tmp_path / "b")
    assert str(run) in str(caught.value)
    assert not (tmp_path / "b").exists()


def test_export_of_something_that_is_not_a_run(tmp_path):
    with pytest.raises(ExportError, match="no such run folder"):
        export(tmp_path / "nothing", "bundle", tmp_path / "b")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="not a run folder"):
        export(tmp_path / "empty", "bundle", tmp_path / "b")


def test_bundle_with_missing_weights(bundle_copy):
    (bundle_copy / "weights.safetensors").unlink()
    with pytest.raises(ExportError, match="weights file is missing") as caught:
        load_bundle(bundle_copy)
    assert str(bundle_copy / "weights.safetensors") in str(caught.value)


def test_bundle_with_truncated_weights(bundle_copy):
    weights = bundle_copy / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ExportError, match="truncated") as caught:
        load_bundle(bundle_copy)
    assert str(weights) in str(caught.value)


def test_weights_that_do_not_fit_the_graph(bundle_copy):
    graph = bundle_copy / "graph.yaml"
    text = graph.read_text()
    assert "out_channels: 6" in text
    graph.write_text(text.replace("out_channels: 6", "out_channels: 8", 1))
    with pytest.raises(ExportError, match="does not fit the graph") as caught:
        load_bundle(bundle_copy)
    message = str(caught.value)
    assert "weights.safetensors" in message and "conv1.weight" in message and "[6, 1, 5, 5]" in message


def test_graph_that_changed_its_input_shape_is_caught(bundle_copy):
    meta_path = bundle_copy / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["inputs"][0]["shape"] = [3, 32, 32]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ExportError, match="does not match"):
        load_bundle(bundle_copy)


def touch(path: str) -> None:
    Path(path).touch()


class Marker:
    """Unpickling this creates a file: proof that something was unpickled."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (touch, (self.path,))


@pytest.mark.parametrize("how", ["torch.save", "torch.save-legacy", "pickle"])
def test_pickled_weights_are_refused_and_never_unpickled(bundle_copy, tmp_path, how):
    marker = tmp_path / "unpickled.txt"
    weights = bundle_copy / "weights.safetensors"
    payload = {"conv1.weight": torch.zeros(6, 1, 5, 5), "evil": Marker(marker)}
    if how == "pickle":
        weights.write_bytes(pickle.dumps(payload, protocol=5))
    else:
        torch.save(payload, weights, _use_new_zipfile_serialization=how == "torch.save")
    with pytest.raises(ExportError, match="pickle") as caught:
        load_bundle(bundle_copy)
    assert str(weights) in str(caught.value)
    assert not marker.exists()


def test_pt_weights_named_in_meta_are_refused(bundle_copy, tmp_path):
    marker = tmp_path / "unpickled.txt"
    torch.save({"evil": Marker(marker)}, bundle_copy / "weights.pt")
    meta = json.loads((bundle_copy / "meta.json").read_text())
    meta["weights"] = "weights.pt"
    (bundle_copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ExportError, match=r"must be a \.safetensors file"):
        load_bundle(bundle_copy)
    assert not marker.exists()


@pytest.mark.parametrize("change, message", [
    (None, "has no meta.json"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ({"format": "something-else"}, "format is 'something-else'"),
    ({"version": 99}, "bundle version 99"),
    ({"version": "1"}, "expected a whole number"),
    ({"weights": "../../outside.safetensors"}, "points outside the bundle"),
    ({"graph": "nowhere.yaml"}, "graph file is missing"),
])
def test_bad_meta_json(bundle_copy, change, message):
    meta_path = bundle_copy / "meta.json"
    if change is None:
        meta_path.unlink()
    elif isinstance(change, str):
        meta_path.write_text(change)
    else:
        meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), **change}))
    with pytest.raises(ExportError, match=message) as caught:
        load_bundle(bundle_copy)
    assert str(bundle_copy) in str(caught.value)


def test_bundle_is_not_written_over_a_folder_that_is_no_bundle(run_dir, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not a bundle"):
        export(run_dir, "bundle", tmp_path / "mine")
    assert (tmp_path / "mine/notes.txt").read_text() == "keep me"


def test_interrupted_export_leaves_no_half_written_bundle(run_dir, tmp_path, monkeypatch):
    def crash(path, model):
        Path(path).write_bytes(b"half")  # a partial file, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle_module, "save_weights", crash)
    with pytest.raises(KeyboardInterrupt):
        export(run_dir, "bundle", tmp_path / "b")
    assert not (tmp_path / "b").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left either


def test_interrupted_re_export_keeps_the_older_bundle(run_dir, bundle_copy, monkeypatch):
    before = {p.name: p.read_bytes() for p in bundle_copy.iterdir()}

    def crash(path, model):
        raise OSError("disk full")

    monkeypatch.setattr(bundle_module, "save_weights", crash)
    with pytest.raises(OSError):
        export(run_dir, "bundle", bundle_copy)
    assert {p.name: p.read_bytes() for p in bundle_copy.iterdir()} == before
    assert sorted(p.name for p in bundle_copy.parent.iterdir()) == ["copy"]


def test_safetensors_whose_first_bytes_look_like_a_pickle_are_not_refused(tmp_path):
    """A 640-byte safetensors header starts 80 02, like a protocol-2 pickle."""
    from safetensors.torch import save

    from builder.exporting.bundle import _refuse_pickles

    raw = next(data for n in range(1, 700)
               if (data := save({"w" * n: torch.zeros(1)}))[:2] == b"\x80\x02")
    (tmp_path / "w.safetensors").write_bytes(raw)
    _refuse_pickles(tmp_path / "w.safetensors")  # no error: left to the safetensors reader
