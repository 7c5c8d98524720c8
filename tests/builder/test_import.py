"""``modelbuilder import``: hand-written PyTorch models become graphs that compute the same.

The models are defined in this file, and the importer reads them from it
(``test_import.py:lenet``), as a user's ``my_net.py:build``. Each round trip is checked
independently of the importer: the written YAML is loaded, checked and compiled, the
written safetensors file is loaded into it (strict), and its outputs are compared with
the original model's on a fresh random input.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from builder import analyze, compile_graph, load_graph
from builder.cli import main
from builder.importing import ImportFailure, import_model

HERE = Path(__file__).resolve()


# --- the models (torchvision's module names for the ResNet) -------------------------------------
class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, layers=(2, 2, 2, 2), num_classes=10):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], 2)
        self.layer3 = self._make_layer(256, layers[2], 2)
        self.layer4 = self._make_layer(512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(40, 16)
        self.lstm = nn.LSTM(16, 24, num_layers=2, batch_first=True)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(24, 3)

    def forward(self, tokens, lengths=None):  # an argument with a default is traced at it
        out, (h_n, c_n) = self.lstm(self.embed(tokens))
        if lengths is not None:
            out = out * 0
        return self.head(self.drop(h_n[-1])), out[:, -1]


class Attentive(nn.Module):
    """Attention, a transformer encoder stack, a GRU and a bidirectional LSTM's summary."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 16)
        self.attn = nn.MultiheadAttention(16, 4, batch_first=True)
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.1, batch_first=True, activation="gelu",
                                           layer_norm_eps=1e-6)
        self.encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(16), enable_nested_tensor=False)
        self.gru = nn.GRU(16, 8, batch_first=True)
        self.bilstm = nn.LSTM(16, 5, batch_first=True, bidirectional=True)

    def forward(self, x):
        x = self.proj(x)
        attended, _ = self.attn(x, x, x)
        x = self.encoder(x + attended)
        _, h_gru = self.gru(x)
        _, (h_n, _) = self.bilstm(x)
        return F.softmax(h_gru[-1], dim=-1), torch.cat((h_n[-2], h_n[-1]), dim=1), x.mean(dim=1)


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.PReLU())
        self.head = Head()

    def forward(self, x):
        return self.head(self.features(x))


class Head(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=1)


def _trained_looking(model: nn.Module) -> nn.Module:
    """Batch-norm statistics and scales away from 0 and 1, so that they are really carried."""
    torch.manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model


def lenet():
    torch.manual_seed(1)
    return LeNet()


def resnet18():
    torch.manual_seed(2)
    return _trained_looking(ResNet())


def lstm_classifier():
    torch.manual_seed(3)
    return LSTMClassifier()


def attentive():
    torch.manual_seed(4)
    return Attentive()


def unsupported():
    return Unsupported()


# --- the round trips -----------------------------------------------------------------------------------
def _round_trip(name: str, tmp_path: Path, shape: tuple, fresh_input: torch.Tensor, **options) -> tuple:
    """Import ``name`` from this file, then check the files on their own against the model."""
    out = tmp_path / f"{name}.yaml"
    result = import_model(f"{HERE}:{name}", out, input_shapes=[shape], **options)
    assert result.difference < 1e-5
    graph = load_graph(out)
    assert analyze(graph).ok
    compiled = compile_graph(graph, seed=123)  # other weights than the source's, until loaded
    compiled.load_state_dict(load_file(out.with_suffix(".safetensors")))  # strict: every key, every shape
    compiled.eval()
    model = globals()[name]().eval()
    with torch.no_grad():
        expected, found = model(fresh_input), compiled(fresh_input)
    expected = expected if isinstance(expected, tuple) else (expected,)
    found = found if isinstance(found, tuple) else (found,)
    assert len(found) == len(expected)
    for a, b in zip(expected, found):
        assert (a - b).abs().max().item() < 1e-5
    return graph, result


def test_lenet_round_trip(tmp_path):
    graph, result = _round_trip("lenet", tmp_path, (1, 28, 28), torch.randn(3, 1, 28, 28))
    assert [graph.nodes[n].block for n in ("conv1", "pool", "conv2", "fc1", "fc3")] == [
        "conv2d", "max_pool2d", "conv2d", "linear", "linear"]
    assert graph.nodes["conv1"].params == {"out_channels": 6, "kernel_size": 5, "padding": 2}
    assert graph.nodes["flatten"].block == "flatten"  # x.view(x.size(0), -1)
    assert result.written == [tmp_path / "lenet.safetensors", tmp_path / "lenet.yaml"]
    assert graph.training == {"init": "lenet.safetensors"}  # training starts from the imported weights


def test_resnet18_with_torchvision_names_round_trips(tmp_path):
    graph, _ = _round_trip("resnet18", tmp_path, (3, 32, 32), torch.randn(2, 3, 32, 32))
    assert graph.nodes["layer1_0_conv1"].block == "conv2d"
    assert graph.nodes["layer2_0_downsample_0"].params == {"out_channels": 128, "kernel_size": 1, "stride": 2,
                                                           "bias": False}
    assert graph.nodes["layer1_0_add"].inputs == ["layer1_0_bn2", "maxpool"]  # out += identity
    assert graph.nodes["layer1_0_relu_1"].inputs == ["layer1_0_add"]  # the block's relu, called twice
    assert sum(n.block == "conv2d" for n in graph.nodes.values()) == 20


def test_resnet18_folded_on_request(tmp_path, capsys):
    out = tmp_path / "resnet18.yaml"
    code = main(["import", f"{HERE}:resnet18", "--out", str(out), "--input-shape", "3,32,32", "--fold"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "folded to" in text and "max |difference|" in text
    graph = load_graph(out)
    assert graph.nodes["layer1_0"].graph and graph.nodes["layer1_1"].graph == graph.nodes["layer1_0"].graph
    compiled = compile_graph(graph)
    compiled.load_state_dict(load_file(out.with_suffix(".safetensors")))
    compiled.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (compiled(x) - resnet18().eval()(x)).abs().max().item() < 1e-5


def test_lstm_classifier_round_trip(tmp_path):
    tokens = torch.randint(0, 40, (4, 9))
    graph, _ = _round_trip("lstm_classifier", tmp_path, (9,), tokens)
    assert graph.nodes["tokens"].params == {"shape": [9], "dtype": "int64"}  # it feeds an embedding
    assert graph.nodes["lstm"].params == {"hidden_size": 24, "num_layers": 2}
    assert graph.nodes["drop"].inputs == ["lstm.hidden"]  # h_n[-1]
    assert graph.nodes["out_1"].inputs == ["lstm.hidden"]  # out[:, -1]


def test_attention_transformer_and_recurrent_summaries_round_trip(tmp_path):
    graph, _ = _round_trip("attentive", tmp_path, (7, 6), torch.randn(3, 7, 6))
    blocks = {node_id: node.block for node_id, node in graph.nodes.items()}
    assert blocks["attn"] == "multi_head_attention" and graph.nodes["attn"].inputs == ["proj"]
    assert [blocks[f"encoder_layers_{i}"] for i in (0, 1)] == ["transformer_encoder_layer"] * 2
    assert graph.nodes["encoder_layers_0"].params == {"num_heads": 2, "dim_feedforward": 32, "activation": "gelu",
                                                      "layer_norm_eps": 1e-6}
    assert blocks["encoder_norm"] == "layer_norm" and blocks["sequence_pool"] == "sequence_pool"
    assert graph.nodes["softmax"].inputs == ["gru.hidden"]
    assert graph.nodes["out_1"].inputs == ["bilstm.hidden"]  # both directions joined


# --- what is refused ---------------------------------------------------------------------------------
def test_unsupported_operations_are_listed_by_module_path(tmp_path):
    out = tmp_path / "bad.yaml"
    with pytest.raises(ImportFailure) as caught:
        import_model(f"{HERE}:unsupported", out, input_shapes=[(1, 8, 8)])
    listed = [(u.path, u.op) for u in caught.value.unmapped]
    assert listed == [("features.1", "PReLU"), ("head", "torch.cumsum")]
    assert "features.1 (PReLU): no block does this" in str(caught.value)
    assert not out.exists() and not out.with_suffix(".safetensors").exists()


def test_an_import_that_would_differ_stops(tmp_path, monkeypatch):
    from builder.importing import map_modules

    original = map_modules.block_params

    def wrong_padding(name, source=None, **kw):  # a mapper bug: padded convolutions pad by reflection
        params = original(name, source, **kw)
        if name == "conv2d" and params.get("padding"):
            params["padding_mode"] = "reflect"
        return params

    monkeypatch.setattr(map_modules, "block_params", wrong_padding)
    with pytest.raises(ImportFailure, match=r"does not compute what the model computes .* first node that differs "
                                            r"is 'conv1' \(from conv1 \(Conv2d\)\)"):
        import_model(f"{HERE}:lenet", tmp_path / "lenet.yaml", input_shapes=[(1, 28, 28)])
    assert not list(tmp_path.iterdir())


def _bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "nets.py"
    path.write_text("import torch\n\n"
                    "def build():\n    return torch.nn.Linear(2, 2)\n\n"
                    "def broken():\n    raise RuntimeError('no weights here')\n\n"
                    "def numbers():\n    return [1, 2]\n")
    return path


@pytest.mark.parametrize("source, expected", [
    ("missing.py:build", "missing.py: no such file"),
    ("nets.py:biuld", "has no 'biuld'\n    hint: did you mean 'build'"),
    ("nets.py:broken", "broken() raised RuntimeError: no weights here"),
    ("nets.py:numbers", "numbers() returned a list, not a torch.nn.Module"),
    ("nets.py", "name the callable that builds the model after a colon"),
    ("nets.txt", "not a source the importer reads"),
])
def test_bad_sources_get_a_clear_error(tmp_path, capsys, source, expected):
    _bad_file(tmp_path)
    out = tmp_path / "out.yaml"
    assert main(["import", str(tmp_path / source), "--out", str(out), "--input-shape", "2"]) == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not out.exists()


def test_a_torchvision_name_builds_the_model(tmp_path, monkeypatch):
    """The torchvision path, with a stand-in for torchvision's model registry (the real
    one is tried below where torchvision is installed): ``--pretrained`` reads the cached
    weights file, and never downloads it."""
    import sys
    import types

    weights = types.SimpleNamespace(url="https://example.invalid/lenet-0123.pth")
    fake = types.ModuleType("torchvision")
    fake.models = types.SimpleNamespace(list_models=lambda: ["lenet"], get_model=lambda name, weights: LeNet(),
                                        get_model_weights=lambda name: types.SimpleNamespace(DEFAULT=weights))
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ImportFailure, match="(?s)not in the cache.*fetch https://example.invalid/lenet-0123.pth"):
        import_model("lenet", tmp_path / "tv.yaml", input_shapes=[(1, 28, 28)], pretrained=True)
    cached = tmp_path / "torch/hub/checkpoints/lenet-0123.pth"
    cached.parent.mkdir(parents=True)
    trained = lenet()
    torch.save(trained.state_dict(), cached)
    result = import_model("lenet", tmp_path / "tv.yaml", input_shapes=[(1, 28, 28)], pretrained=True)
    assert result.graph.name == "lenet" and result.difference < 1e-5
    assert torch.equal(load_file(tmp_path / "tv.safetensors")["fc3.weight"], trained.fc3.weight)
    with pytest.raises(ImportFailure, match="(?s)torchvision has no model .lenat..*did you mean .lenet."):
        import_model("lenat", tmp_path / "tv2.yaml")


def test_torchvision_resnet18_when_installed(tmp_path):
    pytest.importorskip("torchvision")
    result = import_model("resnet18", tmp_path / "resnet18.yaml", input_shapes=[(3, 64, 64)])
    assert result.difference < 1e-5 and "layer4_1_conv2" in result.graph.nodes
