"""Starting weights by node id (``init``, ``--init``): sources, renames, shape mismatches,
strict and partial loading, torchvision's key layout, and files that must never run code."""

from __future__ import annotations

import io
import pickle
import zipfile

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from blocks.params import ParamError
from builder import compile_graph, load_graph, parse_graph
from builder.training.key_matching import renamed
from builder.training.transfer_settings import init_spec
from builder.training.weight_init import initialize, plan_for_graph, plan_init
from builder.training.weight_sources import TransferError, WeightSource, read_source
from tests.blocks.test_cnn_blocks import (
    INCEPTIONS,
    RefBasicBlock,
    RefBasicConv2d,
    RefBottleneck,
    RefInception,
    randomize,
)
from tests.conftest import ROOT

DEMO = ROOT / "graphs" / "digits_transfer.yaml"


def tiny(classes=5, extra=False):
    """A small CNN (the demo's graph), with another head size or one more layer."""
    text = DEMO.read_text().replace("out_features: 5", f"out_features: {classes}")
    if extra:
        text = text.replace("    inputs: [flatten]\n  logits", "    inputs: [flatten]\n  fc2:\n    block: linear\n"
                            "    params: {out_features: 3}\n    inputs: [fc]\n  logits").replace(
            "  logits:\n    block: output\n    inputs: [fc]", "  logits:\n    block: output\n    inputs: [fc2]")
    return parse_graph(text, str(DEMO))


def model_of(graph, seed):
    return compile_graph(graph, seed=seed)


def same(a: nn.Module, b: nn.Module, prefix: str = "") -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa if k.startswith(prefix))


def spec(path, **options):
    return init_spec({"from": str(path), **options})


# --- by node id, from each kind of source ---------------------------------------------------
def test_safetensors_keyed_by_the_compiled_state_dict_loads_every_node(tmp_path):
    source = model_of(tiny(), seed=1)
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, tmp_path / "w.safetensors")
    target = model_of(tiny(), seed=2)
    assert not same(source, target)
    plan = initialize(target, spec(tmp_path / "w.safetensors"))
    assert same(source, target)
    assert {n.status for n in plan.nodes} == {"loaded"} and plan.notes() == []
    assert [n.node for n in plan.nodes] == ["conv1", "bn1", "conv2", "bn2", "fc"]


def test_a_bundle_and_a_relative_path_load(tmp_path):
    from builder.exporting.api import export
    from builder.exporting.source import from_graph

    trained = from_graph(tiny(), seed=3)
    export(trained, "bundle", tmp_path / "bundle")
    target = model_of(tiny(), seed=4)
    plan = initialize(target, spec("bundle"), base_dir=tmp_path)  # relative to the graph's folder
    assert plan.source.kind == "bundle" and same(trained.model, target)


def test_a_state_dict_pth_loads_nested_and_without_the_dataparallel_prefix(tmp_path):
    source = model_of(tiny(), seed=5)
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}},
               tmp_path / "checkpoint.pth")
    target = model_of(tiny(), seed=6)
    plan = initialize(target, spec(tmp_path / "checkpoint.pth"))
    assert same(source, target)
    assert plan.source.ordered and any("'state_dict'" in n for n in plan.source.notes)
    assert any("module." in n for n in plan.source.notes)


# --- renames, mismatches, strict and partial -------------------------------------------------
def test_rename_patterns():
    names = ["backbone.conv1.weight", "backbone.layer1.0.bn.bias", "head.weight", "other"]
    got = renamed(names, {"backbone.layer*.*.": "layer*_*.", "backbone.*": "*", "head.*": None})
    # a pattern matches whole names only: the first one does not, the second one does
    assert got == {"backbone.conv1.weight": "conv1.weight", "backbone.layer1.0.bn.bias": "layer1.0.bn.bias",
                   "head.weight": None, "other": "other"}
    got = renamed(["backbone.layer1.0.bn.bias"], {"backbone.layer*.*.*": "layer*_*.*"})
    assert got == {"backbone.layer1.0.bn.bias": "layer1_0.bn.bias"}


def test_a_rename_map_loads_a_backbone_and_leaves_out_what_it_nulls(tmp_path):
    source = model_of(tiny(), seed=7)
    save_file({f"backbone.{k}": v for k, v in source.state_dict().items()}, tmp_path / "w.safetensors")
    target = model_of(tiny(), seed=8)
    fresh_fc = target.fc.weight.detach().clone()
    plan = initialize(target, spec(tmp_path / "w.safetensors", map={"backbone.fc.*": None, "backbone.*": "*"}))
    assert same(source, target, "conv") and same(source, target, "bn")
    assert torch.equal(target.fc.weight, fresh_fc)  # left out: it keeps its initialization
    assert plan.left_out == 2 and [n.node for n in plan.of("missing")] == ["fc"]
    assert plan.notes() == ["init: node fc keeps its initialization: safetensors file "
                            f"{tmp_path / 'w.safetensors'} has no weights for it"]


def test_a_new_head_is_a_mismatch_reported_per_node_and_skipped_only_when_asked(tmp_path):
    save_file(model_of(tiny(classes=10), seed=9).state_dict(), tmp_path / "ten.safetensors")
    target = model_of(tiny(classes=5), seed=10)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(TransferError) as caught:
        initialize(target, spec(tmp_path / "ten.safetensors"))
    message = str(caught.value)
    assert "1 node of the graph does not fit" in message
    assert "fc: fc.weight: file [10, 128], graph [5, 128]; fc.bias: file [10], graph [5]" in message
    assert "skip_mismatched: [fc]" in caught.value.hint
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())  # nothing loaded
    with pytest.raises(TransferError):  # skipping another node does not skip this one
        initialize(target, spec(tmp_path / "ten.safetensors", skip_mismatched=["conv*"]))
    plan = initialize(target, spec(tmp_path / "ten.safetensors", skip_mismatched=["fc"]))
    assert [(n.node, n.status) for n in plan.nodes][-1] == ("fc", "skipped")
    assert torch.equal(target.fc.weight, before["fc.weight"]) and not torch.equal(target.conv1.weight,
                                                                                   before["conv1.weight"])
    assert plan.notes() == ["init: node fc keeps its initialization (fc.weight: file [10, 128], graph [5, 128]; "
                            "fc.bias: file [10], graph [5]; skipped as asked)"]
    assert initialize(model_of(tiny(), seed=1), spec(tmp_path / "ten.safetensors", skip_mismatched=True)).of("skipped")


def test_strict_refuses_what_partial_loading_reports(tmp_path):
    save_file(model_of(tiny(), seed=11).state_dict(), tmp_path / "w.safetensors")
    bigger = model_of(tiny(extra=True), seed=12)  # has a node (fc2) the file lacks
    with pytest.raises(TransferError, match=r"init \(strict\): .* has no weights for fc2"):
        initialize(bigger, spec(tmp_path / "w.safetensors", strict=True))
    plan = initialize(bigger, spec(tmp_path / "w.safetensors"))
    assert plan.of("missing")[0].node == "fc2" and plan.loaded_tensors == 16
    source = model_of(tiny(extra=True), seed=13).state_dict()
    save_file(source, tmp_path / "more.safetensors")  # the file has a node the graph lacks
    smaller = model_of(tiny(), seed=14)
    with pytest.raises(TransferError, match=r"no place for 2 of the file's tensors: fc2\.\* \(2\)"):
        initialize(smaller, spec(tmp_path / "more.safetensors", strict=True))
    assert "fc2" in initialize(smaller, spec(tmp_path / "more.safetensors")).notes()[-1]


def test_nothing_in_common_is_an_error_with_a_hint(tmp_path):
    torch.save({"features.0.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(TransferError, match="none of the 1 tensors") as caught:
        initialize(model_of(tiny(), seed=0), spec(tmp_path / "other.pth"))
    assert "match: order" in caught.value.hint
    save_file({"features.0.weight": torch.zeros(3)}, tmp_path / "other.safetensors")
    with pytest.raises(TransferError) as caught:
        initialize(model_of(tiny(), seed=0), spec(tmp_path / "other.safetensors"))
    assert "map:" in caught.value.hint  # safetensors keep no order to match by


def test_init_settings_are_checked():
    assert init_spec("runs/x") == {"from": "runs/x", "map": {}, "match": "names", "skip_mismatched": False,
                                   "strict": False}
    with pytest.raises(ParamError, match="unknown key 'skip_mismatch'; did you mean 'skip_mismatched'"):
        init_spec({"from": "x", "skip_mismatch": True})
    with pytest.raises(ParamError, match="more '\\*'"):
        init_spec({"from": "x", "map": {"a.*": "*.*"}})
    with pytest.raises(ParamError, match="match: expected one of names | order"):
        init_spec({"from": "x", "match": "shape"})
    with pytest.raises(ParamError, match="'from' must name"):
        init_spec({"map": {}})


# --- torchvision's key layout ------------------------------------------------------------------
class TorchvisionResNet(nn.Module):
    """torchvision.models.resnet18's module names and order (layer1.0.conv1, downsample.0, fc)."""

    def __init__(self, block=RefBasicBlock, layers=(2, 2, 2, 2)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, count in enumerate(layers):
            planes, blocks = 64 * 2**i, []
            for j in range(count):
                blocks.append(block(cin, planes, 2 if i and not j else 1))
                cin = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, 1000)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def test_torchvision_resnet18_state_dict_loads_into_the_gallery_graph_with_equal_outputs(tmp_path):
    torch.manual_seed(0)
    reference = randomize(TorchvisionResNet()).eval()
    torch.save(reference.state_dict(), tmp_path / "resnet18-f37072fd.pth")
    graph = load_graph(ROOT / "graphs" / "resnet18.yaml")
    names = plan_for_graph(graph, str(tmp_path / "resnet18-f37072fd.pth"))
    assert names.loaded_tensors == 8 and "add match: order" in names.unexpected_note()  # names alone: stem, fc
    model = compile_graph(graph, seed=1)
    plan = initialize(model, spec(tmp_path / "resnet18-f37072fd.pth", match="order", strict=True))
    assert plan.loaded_tensors == 122 and not plan.unexpected
    assert plan.pairs["layer2_0.shortcut.conv.weight"] == "layer2.0.downsample.0.weight"
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference(x), rtol=1e-5, atol=1e-5)


class Aux(nn.Module):  # torchvision.models.googlenet.InceptionAux, in the pretrained weights file
    def __init__(self, cin):
        super().__init__()
        self.conv = RefBasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, 1000)


def torchvision_layouts() -> dict[str, nn.Module]:
    """torchvision's alexnet, vgg16, googlenet (with its auxiliary heads) and resnet50, on the meta device."""
    with torch.device("meta"):
        alexnet = nn.Module()
        alexnet.features = nn.Sequential(nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
                                         nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
                                         nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
                                         nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
                                         nn.Conv2d(256, 256, 3, padding=1))
        alexnet.classifier = nn.Sequential(nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(),
                                           nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000))
        layers, cin = [], 3
        for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
                cin = v
        vgg16 = nn.Module()
        vgg16.features = nn.Sequential(*layers)
        vgg16.classifier = nn.Sequential(nn.Linear(25088, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096),
                                         nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000))
        googlenet = nn.Module()
        googlenet.conv1 = RefBasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        googlenet.conv2 = RefBasicConv2d(64, 64, kernel_size=1)
        googlenet.conv3 = RefBasicConv2d(64, 192, kernel_size=3, padding=1)
        for name, config in INCEPTIONS.items():
            setattr(googlenet, f"inception{name}", RefInception(*config))
        googlenet.aux1, googlenet.aux2 = Aux(512), Aux(528)
        googlenet.fc = nn.Linear(1024, 1000)
        resnet50 = TorchvisionResNet(RefBottleneck, (3, 4, 6, 3))
    return {"alexnet": alexnet, "vgg16": vgg16, "googlenet": googlenet, "resnet50": resnet50}


def test_every_torchvision_gallery_graph_lines_up_with_torchvision_keys():
    expected = {  # graph key -> torchvision key, where the names say least
        "alexnet": {"conv1.weight": "features.0.weight", "conv5.bias": "features.10.bias",
                    "fc6.weight": "classifier.1.weight", "fc8.bias": "classifier.6.bias"},
        "vgg16": {"conv1_1.weight": "features.0.weight", "conv5_3.weight": "features.28.weight",
                  "fc8.weight": "classifier.6.weight"},
        "googlenet": {"inception3a.branch3x3.reduce.conv.weight": "inception3a.branch2.0.conv.weight",
                      "inception5b.branch_pool.proj.bn.running_var": "inception5b.branch4.1.bn.running_var",
                      "fc.weight": "fc.weight"},  # not aux1.fc2, which has the same shape
        "resnet50": {"layer4_2.bn3.weight": "layer4.2.bn3.weight",
                     "layer1_0.shortcut.bn.bias": "layer1.0.downsample.1.bias"},
    }
    layouts = torchvision_layouts()
    for name, reference in layouts.items():
        model = compile_graph(load_graph(ROOT / "graphs" / f"{name}.yaml"), device="meta")
        source = WeightSource(ROOT / f"{name}.pth", "state_dict file", reference.state_dict(), ordered=True)
        plan = plan_init(model.state_dict(), source, spec("x", match="order"))
        assert plan.loaded_tensors == len(model.state_dict()), name
        assert expected[name].items() <= plan.pairs.items(), name
        assert plan.unexpected == ([k for k in reference.state_dict() if k.startswith("aux")]
                                   if name == "googlenet" else []), name
    # the auxiliary heads sit elsewhere in googlenet_aux.yaml's order: the map pairs them by name
    model = compile_graph(load_graph(ROOT / "graphs" / "googlenet_aux.yaml"), device="meta")
    source = WeightSource(ROOT / "googlenet.pth", "state_dict file", layouts["googlenet"].state_dict(), ordered=True)
    plan = plan_init(model.state_dict(), source, spec("x", match="order", strict=True, map={
        "aux*.conv.conv.*": "aux_head*.conv.*", "aux*.conv.bn.*": "aux_head*.bn.*", "aux*.*": "aux_head*.*"}))
    assert plan.errors() == [] and plan.loaded_tensors == len(model.state_dict()) == 364
    assert plan.pairs["aux_head2.fc2.bias"] == "aux2.fc2.bias" and plan.pairs["fc.weight"] == "fc.weight"


# --- files that must not run code, damaged files -------------------------------------------------
class SideEffect:
    """Unpickling this creates ``marker``: what a malicious weights file would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_a_pickle_with_a_side_effect_never_runs(tmp_path, how):
    marker = tmp_path / "pwned"
    payload = {"evil": SideEffect(marker), "conv1.weight": torch.zeros(16, 1, 3, 3)}
    path = tmp_path / "model.pth"
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(TransferError) as caught:
        read_source(path)
    assert not marker.exists()
    assert "refused because it holds more than tensors" in str(caught.value)
    assert "it names exec" in str(caught.value) and "nothing in it was run" in str(caught.value)
    assert "weights_only=False" not in str(caught.value) + str(caught.value.hint)
    # the same file under another name is sniffed as a pickle, and refused alike
    path.rename(tmp_path / "model.bin.weights")
    with pytest.raises(TransferError):
        read_source(tmp_path / "model.bin.weights")
    assert not marker.exists()


def test_torch_before_2_6_refuses_pth_files(tmp_path, monkeypatch):
    torch.save({"w": torch.zeros(1)}, tmp_path / "w.pth")
    monkeypatch.setattr(torch, "__version__", "2.5.1+cpu")
    with pytest.raises(TransferError, match=r"this torch \(2\.5\.1\+cpu\) cannot read pickles safely") as caught:
        read_source(tmp_path / "w.pth")
    assert "2.6" in str(caught.value) and "safetensors" in caught.value.hint
    save_file({"w": torch.zeros(1)}, tmp_path / "w.safetensors")
    assert list(read_source(tmp_path / "w.safetensors").tensors) == ["w"]  # safetensors need no unpickling


def test_damaged_and_wrong_files_give_clear_errors(tmp_path):
    save_file({"w": torch.zeros(100)}, tmp_path / "w.safetensors")
    (tmp_path / "cut.safetensors").write_bytes((tmp_path / "w.safetensors").read_bytes()[:-50])
    with pytest.raises(TransferError, match="not a valid safetensors file"):
        read_source(tmp_path / "cut.safetensors")
    (tmp_path / "noise.pth").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(TransferError, match="is not a readable PyTorch file"):
        read_source(tmp_path / "noise.pth")
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(1000)}, buffer)
    (tmp_path / "cut.pth").write_bytes(buffer.getvalue()[:300])
    with pytest.raises(TransferError, match="is not a readable PyTorch file"):
        read_source(tmp_path / "cut.pth")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(TransferError, match="holds no state_dict"):
        read_source(tmp_path / "list.pth")
    with zipfile.ZipFile(tmp_path / "pickled.safetensors", "w") as archive:  # a torch.save zip named safetensors
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(TransferError.__mro__[1], match="pickle"):
        read_source(tmp_path / "pickled.safetensors")
    with pytest.raises(TransferError, match="does not exist"):
        read_source("nowhere.safetensors", tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(TransferError, match="neither a run folder nor a bundle"):
        read_source(tmp_path / "folder")
