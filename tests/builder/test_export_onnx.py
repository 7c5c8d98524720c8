"""ONNX export (builder/exporting/onnx_export.py): every gallery graph exports, and
onnxruntime computes what the compiled model does at batch 2 and at other batch sizes
(the batch dimension is dynamic); files are named after the graph's ports, written
atomically, and failures are clear ExportErrors that leave nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

from builder import load_graph
from builder.exporting import onnx_export
from builder.exporting.api import export
from builder.exporting.errors import ExportError
from builder.exporting.parity import TOLERANCE, example_inputs, max_difference
from builder.exporting.source import from_graph
from tests.conftest import GALLERY, ROOT

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

# Gallery graphs that ONNX cannot express, with the start of their ExportError message;
# docs/export.md ("ONNX") says why. None today: every gallery graph exports.
NOT_EXPORTABLE: dict[str, str] = {}
# Gallery graphs that only the torch.export-based exporter (opset 18) writes, and why.
DYNAMO_ONLY = {"googlenet_aux": "torchvision's InceptionAux pools 14x14 adaptively to 4x4, which the TorchScript "
                                "exporter cannot express (the output size does not divide the input's)"}

# The families of networks the issue asks to cover, and a block that marks each.
FAMILIES = {"convolutional": "conv2d", "vanilla RNN": "rnn", "LSTM": "lstm", "GRU": "gru",
            "attention": "multi_head_attention", "transformer": "transformer_encoder_layer"}


def graph(name: str):
    return load_graph(ROOT / "graphs" / f"{name}.yaml")


def session(path: Path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def ort_difference(sess, trained, batch: int) -> float:
    """Largest difference between onnxruntime (``sess``) and the compiled model on a
    random batch of ``batch`` (another seed than the export's own check)."""
    tensors = example_inputs(trained.inputs, batch=batch, seed=7)
    with torch.no_grad():
        expected = trained.model(*tensors)
    found = sess.run(None, {p.name: t.numpy() for p, t in zip(trained.inputs, tensors, strict=True)})
    assert [f.shape[0] for f in found] == [batch] * len(found)
    return max_difference(expected, [torch.from_numpy(a) for a in found])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------------ the gallery
def test_gallery_covers_every_family_the_issue_names():
    blocks: dict[str, set[str]] = {}
    bidirectional = []
    for path in GALLERY:
        for node in load_graph(path).nodes.values():
            blocks.setdefault(node.block or "", set()).add(path.stem)
            if node.params.get("bidirectional"):
                bidirectional.append(path.stem)
    missing = [family for family, block in FAMILIES.items() if block not in blocks]
    assert not missing, f"no gallery graph for {missing}"
    assert bidirectional, "no bidirectional recurrent graph in the gallery"


@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.stem)
def test_gallery_graph_exports_and_onnxruntime_agrees(path, tmp_path):
    trained = from_graph(load_graph(path))
    out = tmp_path / f"{path.stem}.onnx"
    if path.stem in NOT_EXPORTABLE:
        with pytest.raises(ExportError, match=NOT_EXPORTABLE[path.stem]):
            onnx_export.write_onnx(trained, out)
        assert not out.exists() and leftovers(tmp_path) == []
        return

    result = onnx_export.write_onnx(trained, out)
    assert result.format == "onnx" and result.path == out and result.files == [out]
    assert result.max_difference is not None and result.max_difference <= TOLERANCE
    opset = onnx_export.DYNAMO_OPSET if path.stem in DYNAMO_ONLY else onnx_export.OPSET
    assert any(f"opset {opset}" in note for note in result.notes), result.notes
    assert leftovers(tmp_path) == []

    model = onnx.load(str(out), load_external_data=False)
    onnx.checker.check_model(str(out))
    assert [i.name for i in model.graph.input] == [p.name for p in trained.inputs]
    assert [o.name for o in model.graph.output] == [p.name for p in trained.outputs]
    for value in [*model.graph.input, *model.graph.output]:  # batch symbolic, the rest fixed
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param and not dims[0].HasField("dim_value"), value.name
        assert all(d.HasField("dim_value") for d in dims[1:]), value.name
    assert {p.key for p in model.metadata_props} >= {"modelbuilder.graph", "modelbuilder.inputs"}

    sess = session(out)
    for batch in (2, 3):  # the batch the export checked, and one it did not see
        difference = ort_difference(sess, trained, batch)
        assert difference <= TOLERANCE, f"{path.stem}: batch {batch} differs by {difference:.3g}"


# ------------------------------------------------------------------- the other exporter
def test_dynamo_exporter_on_a_recurrent_graph(tmp_path):
    pytest.importorskip("onnxscript")
    trained = from_graph(graph("lstm_classifier"))
    result = onnx_export.write_onnx(trained, tmp_path / "lstm.onnx", exporter="dynamo")
    assert f"opset {onnx_export.DYNAMO_OPSET}" in result.notes[0]
    sess = session(result.path)
    assert ort_difference(sess, trained, 2) <= TOLERANCE
    assert ort_difference(sess, trained, 5) <= TOLERANCE


def test_falls_back_to_the_dynamo_exporter(tmp_path, monkeypatch):
    pytest.importorskip("onnxscript")

    def unsupported(*args, **kwargs):
        raise RuntimeError("Exporting the operator 'aten::imaginary' to ONNX opset version 17 is not supported.")

    monkeypatch.setitem(onnx_export._EXPORT, "torchscript", (unsupported, onnx_export.OPSET))
    trained = from_graph(graph("lenet5"))
    result = onnx_export.write_onnx(trained, tmp_path / "lenet5.onnx")
    assert "dynamo=True" in result.notes[0]
    assert any(note.startswith("not used: torchscript exporter: RuntimeError: Exporting the operator")
               for note in result.notes), result.notes
    assert ort_difference(session(result.path), trained, 4) <= TOLERANCE


def test_no_exporter_can_express_it(tmp_path, monkeypatch):
    def unsupported(*args, **kwargs):
        raise RuntimeError("Unsupported: aten::imaginary")

    for name, (_, opset) in list(onnx_export._EXPORT.items()):
        monkeypatch.setitem(onnx_export._EXPORT, name, (unsupported, opset))
    out = tmp_path / "lenet5.onnx"
    with pytest.raises(ExportError) as info:
        onnx_export.write_onnx(from_graph(graph("lenet5")), out)
    text = str(info.value)
    assert f"{out}: cannot export lenet5 to ONNX" in text
    assert "torchscript exporter: RuntimeError: Unsupported: aten::imaginary" in text
    assert "dynamo exporter: RuntimeError: Unsupported: aten::imaginary" in text
    assert "torchscript or as a bundle" in info.value.hint
    assert not out.exists() and leftovers(tmp_path) == []


# --------------------------------------------------------------- checks and bad input
def test_outputs_that_differ_are_refused_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)  # every difference is too large
    out = tmp_path / "lenet5.onnx"
    with pytest.raises(ExportError, match=r"onnxruntime's outputs differ from the model's by .* at batch 2"):
        onnx_export.write_onnx(from_graph(graph("lenet5")), out, exporter="torchscript")
    assert not out.exists() and leftovers(tmp_path) == []


def test_missing_onnx_packages_give_the_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ExportError, match="needs the onnx and onnxruntime packages") as info:
        export(from_graph(graph("lenet5")), "onnx", tmp_path / "lenet5.onnx")
    assert info.value.hint == "pip install 'modelbuilder[export]'"
    assert list(tmp_path.iterdir()) == []


def test_bad_target_and_exporter_names(tmp_path):
    trained = from_graph(graph("lenet5"))
    with pytest.raises(ExportError, match="is a folder"):
        onnx_export.write_onnx(trained, tmp_path)
    with pytest.raises(ExportError, match="unknown ONNX exporter 'tflite'"):
        onnx_export.write_onnx(trained, tmp_path / "m.onnx", exporter="tflite")


# ------------------------------------------------------------------ files and metadata
def test_export_through_the_api_replaces_the_file_with_shared_permissions(tmp_path):
    trained = from_graph(graph("rnn_classifier"))
    trained.data = {"class_names": ["walk", "run", "sit", "stand"],
                    "normalization": {"mean": [0.5], "std": [0.25]}}
    out = tmp_path / "models" / "rnn.onnx"
    out.parent.mkdir()
    out.write_bytes(b"an older export")
    result = export(trained, "onnx", out)
    assert result.path == out and result.max_difference <= TOLERANCE
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(props["modelbuilder.class_names"]) == ["walk", "run", "sit", "stand"]
    assert json.loads(props["modelbuilder.normalization"]) == {"mean": [0.5], "std": [0.25]}
    assert json.loads(props["modelbuilder.inputs"]) == [{"name": "signal", "shape": [30, 8], "dtype": "float32"}]
    assert props["modelbuilder.graph"] == trained.graph.name
    assert leftovers(out.parent) == []


def test_large_weights_go_to_an_external_data_file(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_ABOVE", 0)  # as for a model over 1.5 GB
    trained = from_graph(graph("lenet5"))
    out = tmp_path / "lenet5.onnx"
    result = onnx_export.write_onnx(trained, out)
    data = tmp_path / "lenet5.onnx.data"
    assert result.files == [out, data] and any("lenet5.onnx.data" in n for n in result.notes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet5.onnx", "lenet5.onnx.data"]
    weights = onnx_export.weight_bytes(trained.model)  # tensors under 1 KiB stay in the model file
    assert data.stat().st_size > 0.95 * weights and out.stat().st_size < 0.05 * weights
    moved = tmp_path / "elsewhere"  # the data file is found relative to the model file
    moved.mkdir()
    for path in (out, data):
        shutil.move(path, moved / path.name)
    assert ort_difference(session(moved / out.name), trained, 3) <= TOLERANCE
