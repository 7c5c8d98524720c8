"""The gallery's classic networks have exactly the published parameter counts.

The reference numbers are those of torchvision (``sum(p.numel() for p in
torchvision.models.NAME().parameters())``, no auxiliary heads) and timm
(``timm.create_model("seresnet50")``); LeNet-5 and the small U-Net are counted by hand
in their files' comments. Multiply-accumulates agree with torchvision's documented
"GFLOPS" (which are MACs) to the two decimals it publishes.
"""

from __future__ import annotations

import pytest

from builder import analyze, compile_graph, load_graph
from tests.conftest import ROOT

GRAPHS = ROOT / "graphs"

PARAMS = {
    "lenet5": 61_706,
    "alexnet": 61_100_840,
    "vgg16": 138_357_544,
    "googlenet": 6_624_904,
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "se_resnet50": 28_088_024,
    "unet_small": 117_090,
    "densenet121": 7_978_856,  # written with repeated nodes (`repeat`, `vary`)
    "mobilenet_v2": 3_504_872,
    "vit_tiny": 5_717_416,  # timm's vit_tiny_patch16_224
}

GIGA_MACS = {  # torchvision's model tables
    "alexnet": 0.71,
    "vgg16": 15.47,
    "googlenet": 1.50,
    "resnet18": 1.81,
    "resnet50": 4.09,
    "densenet121": 2.83,
    "mobilenet_v2": 0.30,
}

OUTPUT_SHAPES = {"lenet5": (10,), "unet_small": (2, 64, 64)}


def load(name):
    graph = load_graph(GRAPHS / f"{name}.yaml")
    analysis = analyze(graph)
    assert analysis.problems == [], "\n".join(map(str, analysis.problems))
    return graph, analysis


@pytest.mark.parametrize("name", list(PARAMS))
def test_declared_and_compiled_parameter_counts(name):
    graph, analysis = load(name)
    assert analysis.total.params == PARAMS[name]
    model = compile_graph(graph, device="meta")  # no memory for the weights, same shapes
    assert sum(p.numel() for p in model.parameters()) == PARAMS[name]
    expected_shape = OUTPUT_SHAPES.get(name, (1000,))
    assert [analysis.nodes[o].shape for o in analysis.output_ids] == [expected_shape]


@pytest.mark.parametrize("name", list(GIGA_MACS))
def test_macs_match_torchvision(name):
    _, analysis = load(name)
    assert analysis.total.macs / 1e9 == pytest.approx(GIGA_MACS[name], abs=0.005)


def test_se_resnet50_adds_only_the_se_modules():
    _, plain = load("resnet50")
    _, se = load("se_resnet50")
    assert se.total.params - plain.total.params == 2_530_992
    assert se.total.macs - plain.total.macs == 2_514_944  # 2*C*C/16 per block: tiny


def test_state_dict_keys_read_like_torchvision():
    graph, _ = load("se_resnet50")
    keys = set(compile_graph(graph, device="meta").state_dict())
    assert {"conv1.weight", "bn1.running_mean", "layer1_0.conv3.weight", "layer1_0.shortcut.conv.weight",
            "layer1_0.se.fc1.bias", "layer4_2.bn3.weight", "fc.weight"} <= keys
    assert not any(k.startswith("layer1_1.shortcut") for k in keys)  # identity shortcut
