"""``modelbuilder import model.onnx``: a small exported CNN becomes a graph that computes
what the ONNX file computes (checked against onnxruntime, or onnx's reference evaluator)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from builder import analyze, compile_graph, load_graph
from builder.cli import main
from builder.importing import ImportFailure, import_model

onnx = pytest.importorskip("onnx")


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))
        self.branch = nn.Conv2d(4, 4, 1)
        self.fc = nn.Linear(8 * 4 * 4, 3)

    def forward(self, x):
        y = self.features(x)
        y = torch.cat([y, torch.sigmoid(self.branch(y)) + y], 1)
        return self.fc(y.view(y.size(0), -1))


class WithErf(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return torch.erf(self.conv(x))


def _export(model: nn.Module, path, **options) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.randn(1, 1, 8, 8),), str(path), dynamo=False, **options)


def _run_onnx(path, x: np.ndarray) -> np.ndarray:
    try:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        evaluator = ReferenceEvaluator(str(path))
        return evaluator.run(None, {evaluator.input_names[0]: x})[0]


@pytest.mark.parametrize("keep_batch_norm", [False, True])
def test_exported_cnn_imports_and_matches_the_file(tmp_path, keep_batch_norm):
    path = tmp_path / "cnn.onnx"
    options = {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False} if keep_batch_norm else {}
    _export(SmallCNN(), path, **options)
    out = tmp_path / "cnn.yaml"
    result = import_model(str(path), out)
    assert result.difference < 1e-5
    graph = load_graph(out)
    assert analyze(graph).ok
    blocks = {n.id: n.block for n in graph.nodes.values()}
    assert blocks["features_0"] == "conv2d" and blocks["fc"] == "linear" and blocks["concat"] == "concat"
    assert ("features_1" in blocks) == keep_batch_norm  # the default export folds batch norm into the conv
    assert graph.nodes["features_0"].params == {"out_channels": 4, "kernel_size": 3, "padding": 1}
    compiled = compile_graph(graph, seed=7)
    compiled.load_state_dict(load_file(out.with_suffix(".safetensors")))
    compiled.eval()
    x = np.random.default_rng(0).standard_normal((1, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        found = compiled(torch.from_numpy(x)).numpy()
    assert np.abs(found - _run_onnx(path, x)).max() < 1e-5


def test_an_operator_without_a_block_is_named(tmp_path, capsys):
    path = tmp_path / "erf.onnx"
    _export(WithErf(), path)
    out = tmp_path / "erf.yaml"
    assert main(["import", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "1 ONNX node has no block" in err and "(Erf): no block does this" in err
    assert not out.exists()


def test_a_damaged_file_is_refused(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not an onnx model")
    with pytest.raises(ImportFailure, match="not a valid ONNX model"):
        import_model(str(path), tmp_path / "broken.yaml")
