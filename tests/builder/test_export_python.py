"""The python export: a standalone model.py (needs only torch) and its weights beside it.

For every gallery graph the written file is imported here as a fresh module, ``load()``
reads the weights, and its outputs are compared with the compiled model's; one test runs
several exported files in a separate Python that cannot import this project at all.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
from torch import nn

from builder.compiler import compile_graph
from builder.exporting.api import export
from builder.exporting.errors import ExportError
from builder.exporting.parity import as_tuple, example_inputs
from builder.exporting.python_code import Namer, constructor_call, python_source
from builder.exporting.source import TrainedModel, from_graph, ports_of
from builder.yaml_format import load_graph
from tests.conftest import GALLERY, ROOT

PROJECT = ("blocks", "builder", "modelbuilder", "gui")


@functools.cache
def gallery_case(stem: str):
    """A gallery graph's untrained model, one batch of inputs and the compiled model's outputs
    on it; built once per test session and shared with test_export_torchscript (the big
    graphs take seconds to build and to run on a 2-core machine)."""
    trained = from_graph(load_graph(ROOT / "graphs" / f"{stem}.yaml"))
    inputs = example_inputs(trained.inputs, batch=1, seed=1)
    with torch.no_grad():
        expected = trained.model(*inputs)
    return trained, inputs, expected


def import_fresh(path: Path):
    """``path`` imported as a new module (the export's own check imports it too; this is
    the test's independent import)."""
    name = f"exported_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def assert_same_outputs(found, expected) -> None:
    """The exported code runs the same torch kernels on the same weights in the same order,
    so in practice the outputs are bit-identical (max difference 0.0 for every gallery graph).
    The bound is the issue's 1e-4 absolute, scaled by the output's magnitude when that is
    above 1 (a float32 value near 1000 has a resolution of about 6e-5), which leaves room
    only for a different kernel choice, never for a wrong layer or weight."""
    found, expected = as_tuple(found), as_tuple(expected)
    assert len(found) == len(expected)
    for f, e in zip(found, expected):
        assert f.shape == e.shape and f.dtype == e.dtype
        limit = 1e-4 * max(1.0, e.abs().max().item())
        assert (f - e).abs().max().item() <= limit


def imported_roots(text: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or ".").split(".")[0] if node.level == 0 else ".")
    return roots


@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.stem)
def test_every_gallery_graph_exports_as_standalone_python(path, tmp_path):
    trained, inputs, expected = gallery_case(path.stem)
    out = tmp_path / f"{path.stem}.py"
    result = export(trained, "python", out)

    weights = out.with_suffix(".pt")
    assert result.format == "python" and result.path == out and result.files == [out, weights]
    assert result.max_difference is not None and result.max_difference <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, weights.name])  # no scratch left

    text = out.read_text(encoding="utf-8")
    assert "class " in text and "def forward" in text and "def load" in text
    assert imported_roots(text) <= {"__future__", "torch", "math", "pathlib", "typing", "collections"}
    assert not re.search(r"^\s*(import|from)\s+(blocks|builder|modelbuilder|gui)\b", text, re.MULTILINE)
    assert "modelbuilder" not in text

    # the weights are a plain state_dict that the safe loader reads
    state = torch.load(weights, map_location="cpu", weights_only=True)
    expected_state = trained.model.state_dict()
    assert list(state) == list(expected_state)
    assert all(torch.equal(state[k], expected_state[k]) for k in state)
    del state, expected_state

    module = import_fresh(out)
    model = module.load()
    assert not model.training
    assert type(model).__module__ == module.__name__  # the class written in the file, not a GraphModule
    with torch.no_grad():
        assert_same_outputs(model(*inputs), expected)


def test_exported_files_run_in_a_python_that_cannot_import_the_project(tmp_path):
    """Graphs with every kind of copied code (sequence modules, attention, the merge module,
    a composite block, residual blocks) run where blocks/builder cannot be imported."""
    names = ["seq2seq_attention", "transformer_classifier", "unet_small", "resnet18"]
    cases = []
    for name in names:
        trained, inputs, expected = gallery_case(name)
        folder = tmp_path / name
        export(trained, "python", folder / "model.py")
        torch.save({"inputs": list(inputs), "expected": list(as_tuple(expected))}, folder / "check.pt")
        cases.append(str(folder))
    code = f"""
import importlib.util, json, sys
from pathlib import Path

class NoProject:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {PROJECT!r}:
            raise ImportError(name + " must not be needed by an exported model.py")
        return None

sys.meta_path.insert(0, NoProject())
sys.path = [p for p in sys.path if p and Path(p).resolve() != Path({str(ROOT)!r})]
import torch

report = {{}}
for folder in {cases!r}:
    spec = importlib.util.spec_from_file_location("model", Path(folder) / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load()
    check = torch.load(Path(folder) / "check.pt", weights_only=True)
    with torch.no_grad():
        found = model(*check["inputs"])
    found = (found,) if isinstance(found, torch.Tensor) else tuple(found)
    report[folder] = [
        (f - e).abs().max().item() / max(1.0, e.abs().max().item()) if f.shape == e.shape else float("inf")
        for f, e in zip(found, check["expected"])]
report["project modules"] = sorted(m for m in sys.modules if m.split(".")[0] in {PROJECT!r})
print(json.dumps(report))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report.pop("project modules") == []
    assert set(report) == set(cases)
    for folder, differences in report.items():
        assert differences and all(d <= 1e-4 for d in differences), (folder, differences)


def test_the_code_reads_like_pytorch(tmp_path):
    trained, _, _ = gallery_case("unet_small")
    out = tmp_path / "unet.py"
    export(trained, "python", out)
    text = out.read_text(encoding="utf-8")
    # a composite block used five times with different widths is one class with parameters
    assert text.count("class DoubleConv(nn.Module)") == 1
    assert "self.enc1 = DoubleConv(in_channels=1, out_channels=16)" in text
    assert "self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding='same', bias=False)" in text
    assert "self.pool1 = nn.MaxPool2d(2, stride=2)" in text
    assert "class UnetSmall(nn.Module)" in text
    # values used later keep their names, a chain of layers runs through x
    assert "enc1 = self.enc1(image)" in text and "x = self.skip1([enc1, x])" in text
    forward = text.split("class UnetSmall")[1].split("def forward")[1].split("def load")[0]
    assert "= None" not in forward  # none of fx's `conv1 = None` bookkeeping
    # the project's modules are copied without their recording decorator
    # (the text alone, from a model built on the meta device: no weights to make or check)
    graph = load_graph(ROOT / "graphs" / "se_resnet50.yaml")
    inputs, outputs = ports_of(graph)
    meta = TrainedModel(graph, compile_graph(graph, device="meta"), None, inputs, outputs)
    code = python_source(meta, "se_resnet50.pt")
    assert "class ResidualBottleneck(nn.Module)" in code and "keeps_arguments" not in code
    assert "ResidualBottleneck(64, 64, se_reduction=16)" in code


@pytest.mark.parametrize("layer, shape", [
    (nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), (2, 3, 9, 9)),
    (nn.Conv1d(4, 4, 5, groups=2, padding="same", padding_mode="reflect"), (2, 4, 11)),
    (nn.ConvTranspose2d(8, 4, kernel_size=2, stride=2, output_padding=0), (2, 8, 5, 5)),
    (nn.Linear(10, 3, bias=False), (2, 10)),
    (nn.BatchNorm2d(16, eps=1e-3, momentum=0.2), (2, 16, 3, 3)),
    (nn.BatchNorm1d(5, affine=False), (4, 5)),
    (nn.LayerNorm((6, 7), elementwise_affine=False), (2, 6, 7)),
    (nn.Embedding(100, 8, padding_idx=0), None),
    (nn.MaxPool2d((3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True), (1, 2, 8, 8)),
    (nn.AvgPool2d(2), (1, 2, 8, 8)),
    (nn.AdaptiveAvgPool2d((1, 1)), (1, 2, 8, 8)),
    (nn.AdaptiveAvgPool2d((None, 7)), (1, 2, 8, 14)),
    (nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False), (1, 2, 4, 4)),
    (nn.Dropout(0.3), (2, 5)),
    (nn.LeakyReLU(0.2), (2, 5)),
    (nn.GELU(approximate="tanh"), (2, 5)),
    (nn.Softmax(dim=-1), (2, 5)),
    (nn.Flatten(2, -1), (2, 3, 4, 5)),
    (nn.GRU(8, 16, num_layers=2, batch_first=True, bidirectional=True), (2, 5, 8)),
    (nn.Sequential(nn.Linear(4, 4), nn.ReLU()), (2, 4)),
    (nn.TransformerEncoderLayer(8, 2, 16, dropout=0.2, activation="gelu", batch_first=True), (2, 5, 8)),
], ids=lambda m: type(m).__name__ if isinstance(m, nn.Module) else "")
def test_constructor_calls_rebuild_standard_layers(layer, shape):
    call = constructor_call(layer, Namer()).render()
    assert call.startswith(f"nn.{type(layer).__name__}(")
    rebuilt = eval(call, {"nn": nn, "torch": torch})
    assert [(k, v.shape) for k, v in rebuilt.state_dict().items()] == \
        [(k, v.shape) for k, v in layer.state_dict().items()]
    rebuilt.load_state_dict(layer.state_dict())
    x = torch.randint(0, 100, (2, 6)) if shape is None else torch.randn(shape)
    with torch.no_grad():
        assert_same_outputs(rebuilt.eval()(x), layer.eval()(x))


def test_project_modules_are_written_from_their_recorded_arguments():
    from blocks.modules.cnn import InceptionModule, ResidualBottleneck
    from blocks.modules.sequence import RecurrentLayer

    namer = Namer()
    assert constructor_call(ResidualBottleneck(64, 16, stride=2, se_reduction=4), namer).render() == \
        "ResidualBottleneck(64, 16, stride=2, se_reduction=4)"
    assert constructor_call(RecurrentLayer("gru", 8, 16, bidirectional=True), namer).render() == \
        "RecurrentLayer('gru', 8, hidden_size=16, bidirectional=True)"
    assert constructor_call(InceptionModule(192, 64, 96, 128, 16, 32, 32), namer).render() == \
        "InceptionModule(192, 64, ch3x3_reduce=96, ch3x3=128, ch5x5_reduce=16, ch5x5=32, pool_proj=32)"


class Unwritable(nn.Module):
    """A layer whose constructor argument is kept nowhere: no code can rebuild it."""

    def __init__(self, secret: int):
        super().__init__()
        self._hidden = secret

    def forward(self, x):
        return torch.tanh(x)


def test_a_layer_that_cannot_be_written_is_an_error_naming_it(tmp_path):
    trained = from_graph(load_graph(ROOT / "graphs" / "lenet5.yaml"))
    trained.model.act1 = Unwritable(3)
    with pytest.raises(ExportError, match="act1.*Unwritable"):
        export(trained, "python", tmp_path / "model.py")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_check_leaves_nothing_under_the_final_names(tmp_path, monkeypatch):
    from builder.exporting import python_code

    def differs(*args, **kwargs):
        raise ExportError("outputs differ")

    monkeypatch.setattr(python_code, "check_parity", differs)
    trained = from_graph(load_graph(ROOT / "graphs" / "lenet5.yaml"))
    with pytest.raises(ExportError, match="outputs differ"):
        export(trained, "python", tmp_path / "model.py")
    assert list(tmp_path.iterdir()) == []


def test_out_must_be_a_python_file(tmp_path):
    trained = from_graph(load_graph(ROOT / "graphs" / "lenet5.yaml"))
    with pytest.raises(ExportError, match=r"\.py"):
        export(trained, "python", tmp_path / "model.pt")


def test_load_takes_another_weights_path(tmp_path):
    trained = from_graph(load_graph(ROOT / "graphs" / "lenet5.yaml"))
    export(trained, "python", tmp_path / "lenet.py")
    moved = tmp_path / "elsewhere" / "trained.pt"
    moved.parent.mkdir()
    (tmp_path / "lenet.pt").rename(moved)
    module = import_fresh(tmp_path / "lenet.py")
    with pytest.raises(FileNotFoundError):
        module.load()
    model = module.load(moved)
    inputs = example_inputs(trained.inputs, batch=3)
    with torch.no_grad():
        assert_same_outputs(model(*inputs), trained.model(*inputs))


def test_modules_record_their_constructor_arguments():
    from blocks.modules.sequence import SequencePool

    assert SequencePool("max").init_arguments == {"mode": "max"}

    class Subclass(SequencePool):
        pass

    assert not hasattr(Subclass(), "init_arguments")  # its arguments may differ: not recorded


def test_composite_blocks_inside_composite_blocks(tmp_path):
    """A graph file used as a block that itself uses one: a class per file, nested; the two
    uses differ in their input channels (3 and 8), so the classes take them as parameters."""
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "double_conv.yaml").write_text(
        (ROOT / "graphs" / "parts" / "double_conv.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "parts" / "stage.yaml").write_text("""
format: 1
name: stage
nodes:
  x: {block: input, params: {shape: [8, 16, 16]}}
  convs: {graph: double_conv.yaml, params: {width: 8}, inputs: [x]}
  pool: {block: max_pool2d, params: {kernel_size: 2}, inputs: [convs]}
  y: {block: output, inputs: [pool]}
""", encoding="utf-8")
    (tmp_path / "net.yaml").write_text("""
format: 1
name: nested net
nodes:
  image: {block: input, params: {shape: [3, 32, 32]}}
  stage1: {graph: parts/stage.yaml, inputs: [image]}
  stage2: {graph: parts/stage.yaml, inputs: [stage1]}
  out: {block: output, inputs: [stage2]}
""", encoding="utf-8")
    trained = from_graph(load_graph(tmp_path / "net.yaml"))
    out = tmp_path / "export" / "nested.py"
    result = export(trained, "python", out)
    assert result.max_difference <= 1e-4
    text = out.read_text(encoding="utf-8")
    assert "class DoubleConv(nn.Module)" in text and "class Stage(nn.Module)" in text and "class NestedNet(" in text
    assert "self.stage1 = Stage(" in text and "self.convs = DoubleConv(" in text
    model = import_fresh(out).load()
    inputs = example_inputs(trained.inputs, batch=2, seed=3)
    with torch.no_grad():
        assert_same_outputs(model(*inputs), trained.model(*inputs))
