"""The composite CNN blocks match torchvision's and timm's reference layouts exactly.

torchvision and timm are not dependencies, so the reference modules below are transcribed
from them in plain torch (torchvision.models.resnet.BasicBlock/Bottleneck,
torchvision.models.googlenet.Inception/BasicConv2d, timm.layers.SEModule). Anchoring them
to the published totals of whole networks (ResNet-18/50, GoogLeNet, SE-ResNet-50) checks
the transcription; copying their weights into our modules and comparing outputs checks ours.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from blocks import get_block
from blocks.modules.cnn import InceptionModule, Projection, ResidualBasic, ResidualBottleneck, SqueezeExcitation
from blocks.squeeze_excitation import se_cost


# --- references, transcribed from torchvision / timm ------------------------------------
def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


def downsample(cin, cout, stride):
    if stride != 1 or cin != cout:
        return nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))
    return None


class RefSE(nn.Module):  # timm.layers.SEModule with rd_channels given, no norm, sigmoid gate
    def __init__(self, channels, rd_channels):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, rd_channels, kernel_size=1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(rd_channels, channels, kernel_size=1, bias=True)

    def forward(self, x):
        s = self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * s.sigmoid()


class RefBasicBlock(nn.Module):  # torchvision.models.resnet.BasicBlock (+ timm's se placement)
    expansion = 1

    def __init__(self, cin, planes, stride=1, se_reduction=0):
        super().__init__()
        self.conv1 = conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.se = RefSE(planes, planes // se_reduction) if se_reduction else None
        self.downsample = downsample(cin, planes, stride)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.se is not None:
            out = self.se(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class RefBottleneck(nn.Module):  # torchvision.models.resnet.Bottleneck (+ timm's se placement)
    expansion = 4

    def __init__(self, cin, planes, stride=1, se_reduction=0):
        super().__init__()
        width = planes
        self.conv1 = conv1x1(cin, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.se = RefSE(planes * 4, planes * 4 // se_reduction) if se_reduction else None
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample(cin, planes * self.expansion, stride)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.se is not None:
            out = self.se(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class RefBasicConv2d(nn.Module):  # torchvision.models.googlenet.BasicConv2d
    def __init__(self, cin, cout, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class RefInception(nn.Module):  # torchvision.models.googlenet.Inception
    def __init__(self, cin, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = RefBasicConv2d(cin, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(RefBasicConv2d(cin, ch3x3red, kernel_size=1),
                                     RefBasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        # "Here, kernel_size=3 instead of kernel_size=5 is a known bug." (torchvision)
        self.branch3 = nn.Sequential(RefBasicConv2d(cin, ch5x5red, kernel_size=1),
                                     RefBasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     RefBasicConv2d(cin, pool_proj, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


def ref_resnet(block, layers, se_reduction=0, num_classes=1000):
    """torchvision.models.resnet.ResNet (timm's seresnet with se_reduction=16)."""
    mods = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for i, n in enumerate(layers):
        planes = 64 * 2**i
        for j in range(n):
            mods.append(block(cin, planes, 2 if i > 0 and j == 0 else 1, se_reduction))
            cin = planes * block.expansion
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*mods)


INCEPTIONS = {  # GoogLeNet: in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj
    "3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128), "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def ref_googlenet_params(inception=RefInception):
    stem = [RefBasicConv2d(3, 64, kernel_size=7, stride=2, padding=3), RefBasicConv2d(64, 64, kernel_size=1),
            RefBasicConv2d(64, 192, kernel_size=3, padding=1)]
    body = [inception(*cfg) for cfg in INCEPTIONS.values()]
    return count(nn.ModuleList(stem + body)) + count(nn.Linear(1024, 1000))


def count(module):
    return sum(p.numel() for p in module.parameters())


# --- helpers -----------------------------------------------------------------------------
def randomize(module):
    """Random weights and BN statistics, so that a wrong mapping cannot go unnoticed."""
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.uniform_(0.5, 2.0)
            else:
                t.normal_(0, 0.3)
    return module


def renamed(state, renames):
    """The state dict with key prefixes replaced (reference name -> our name)."""
    out = {}
    for key, value in state.items():
        for old, new in renames:
            if key.startswith(old + "."):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


RESIDUAL_RENAMES = [("downsample.0", "shortcut.conv"), ("downsample.1", "shortcut.bn")]
INCEPTION_RENAMES = [("branch1", "branch1x1"), ("branch2.0", "branch3x3.reduce"), ("branch2.1", "branch3x3.conv"),
                     ("branch3.0", "branch5x5.reduce"), ("branch3.1", "branch5x5.conv"),
                     ("branch4.1", "branch_pool.proj")]


def assert_same_function(ours, ref, renames, x):
    torch.manual_seed(0)
    randomize(ref)
    ours.load_state_dict(renamed(ref.state_dict(), renames), strict=True)
    ours.eval()
    ref.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))
        torch.testing.assert_close(torch.jit.script(ours)(x), ref(x))


def build(name, params, shape):
    block = get_block(name)
    p, problems = block.check_params(params)
    assert not problems, problems
    return block, p, block.build(p, x=tuple(shape))


# --- the references reproduce the published totals -----------------------------------------
def test_references_reproduce_published_totals():
    assert count(ref_resnet(RefBasicBlock, [2, 2, 2, 2])) == 11_689_512  # torchvision resnet18
    assert count(ref_resnet(RefBottleneck, [3, 4, 6, 3])) == 25_557_032  # torchvision resnet50
    assert count(ref_resnet(RefBottleneck, [3, 4, 6, 3], se_reduction=16)) == 28_088_024  # timm seresnet50
    assert ref_googlenet_params() == 6_624_904  # torchvision googlenet, aux_logits=False


# --- residual ------------------------------------------------------------------------------
@pytest.mark.parametrize("cin,planes,stride,se", [
    (64, 64, 1, 0), (64, 128, 2, 0), (128, 128, 1, 16), (32, 64, 2, 4),
])
def test_basic_block_matches_torchvision(cin, planes, stride, se):
    params = {"channels": planes, "stride": stride, "se_reduction": se}
    block, p, ours = build("residual", params, (cin, 9, 9))
    ref = RefBasicBlock(cin, planes, stride, se)
    assert count(ours) == count(ref) == block.cost(p, block.infer(p, (cin, 9, 9)), (cin, 9, 9)).params
    assert isinstance(ours.shortcut, Projection if stride != 1 or cin != planes else nn.Identity)
    assert_same_function(ours, ref, RESIDUAL_RENAMES, torch.randn(2, cin, 9, 9))


@pytest.mark.parametrize("cin,planes,stride,se", [
    (64, 64, 1, 0), (256, 64, 1, 0), (256, 128, 2, 0), (256, 64, 1, 16), (512, 256, 2, 16),
])
def test_bottleneck_matches_torchvision(cin, planes, stride, se):
    params = {"kind": "bottleneck", "channels": planes, "stride": stride, "se_reduction": se}
    block, p, ours = build("residual", params, (cin, 7, 7))
    ref = RefBottleneck(cin, planes, stride, se)
    assert count(ours) == count(ref) == block.cost(p, block.infer(p, (cin, 7, 7)), (cin, 7, 7)).params
    assert_same_function(ours, ref, RESIDUAL_RENAMES, torch.randn(2, cin, 7, 7))


def test_residual_shapes():
    block = get_block("residual")
    p, _ = block.check_params({"kind": "bottleneck", "channels": 64, "stride": 2})
    assert block.infer(p, (256, 56, 56)) == (256, 28, 28)
    assert block.infer(p, (256, 7, 7)) == (256, 4, 4)  # odd sizes round up, like the 3x3 conv
    p, _ = block.check_params({"channels": 32, "expansion": 8})
    assert block.infer(p, (16, 5, 5)) == (32, 5, 5)  # basic ignores expansion


def test_residual_rejects_non_images():
    from blocks import ShapeError

    block = get_block("residual")
    p, _ = block.check_params({"channels": 8})
    with pytest.raises(ShapeError, match="3 dimensions"):
        block.infer(p, (8, 10))


# --- squeeze-and-excitation -----------------------------------------------------------------
@pytest.mark.parametrize("channels,reduction,rd", [(256, 16, 16), (64, 4, 16), (2048, 16, 128), (8, 16, 1)])
def test_se_parameter_count(channels, reduction, rd):
    block, p, module = build("squeeze_excitation", {"reduction": reduction}, (channels, 4, 4))
    assert module.fc1.out_channels == rd
    expected = 2 * channels * rd + rd + channels
    assert count(module) == expected == se_cost(channels, reduction).params
    assert block.cost(p, (channels, 4, 4), (channels, 4, 4)).params == expected


def test_se_matches_timm_and_is_shared_with_residual():
    _, _, standalone = build("squeeze_excitation", {"reduction": 16}, (256, 6, 6))
    _, _, res = build("residual", {"kind": "bottleneck", "channels": 64, "se_reduction": 16}, (256, 6, 6))
    assert type(standalone) is type(res.se) is SqueezeExcitation  # one implementation
    ref = RefSE(256, 16)
    assert_same_function(standalone, ref, [], torch.randn(2, 256, 6, 6))


def test_se_resnet50_overhead_is_the_sum_of_its_se_modules():
    """timm: seresnet50 (28,088,024) - resnet50 (25,557,032) = one SE per bottleneck."""
    blocks_per_width = {256: 3, 512: 4, 1024: 6, 2048: 3}
    total = sum(n * se_cost(c, 16).params for c, n in blocks_per_width.items())
    assert total == 28_088_024 - 25_557_032 == 2_530_992


def test_se_gate_scales_channels_into_unit_interval():
    _, _, module = build("squeeze_excitation", {"reduction": 2, "gate": "hard_sigmoid"}, (4, 3, 3))
    x = torch.rand(1, 4, 3, 3) + 1.0
    y = module(x)
    ratio = y / x  # one gate per channel, constant over the image
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio))
    assert bool(((ratio >= 0) & (ratio <= 1)).all())


# --- inception ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(INCEPTIONS))
def test_inception_matches_torchvision(name):
    cin, *channels = INCEPTIONS[name]
    keys = ("ch1x1", "ch3x3_reduce", "ch3x3", "ch5x5_reduce", "ch5x5", "pool_proj")
    params = dict(zip(keys, channels), branch5x5_kernel=3)
    block, p, ours = build("inception", params, (cin, 7, 7))
    ref = RefInception(cin, *channels)
    assert count(ours) == count(ref) == block.cost(p, block.infer(p, (cin, 7, 7)), (cin, 7, 7)).params
    assert block.infer(p, (cin, 7, 7)) == (channels[0] + channels[2] + channels[4] + channels[5], 7, 7)
    if name in ("3a", "4e"):  # outputs for two of them (the others differ only in widths)
        assert_same_function(ours, ref, INCEPTION_RENAMES, torch.randn(2, cin, 7, 7))


def test_inception_paper_variant():
    """The 2014 paper: 5x5 branch, biased convolutions, no batch norm."""
    cin, *channels = INCEPTIONS["3a"]
    keys = ("ch1x1", "ch3x3_reduce", "ch3x3", "ch5x5_reduce", "ch5x5", "pool_proj")
    block, p, module = build("inception", dict(zip(keys, channels), batch_norm=False), (cin, 28, 28))
    assert module.branch5x5.conv.conv.kernel_size == (5, 5)
    assert module.branch5x5.conv.conv.bias is not None
    assert isinstance(module.branch1x1.bn, nn.Identity)
    assert count(module) == block.cost(p, (256, 28, 28), (cin, 28, 28)).params == 163_696
    assert module(torch.randn(1, cin, 28, 28)).shape == (1, 256, 28, 28)


def test_inception_rejects_even_kernel():
    _, problems = get_block("inception").check_params({
        "ch1x1": 1, "ch3x3_reduce": 1, "ch3x3": 1, "ch5x5_reduce": 1, "ch5x5": 1, "pool_proj": 1,
        "branch5x5_kernel": 4})
    assert "odd" in problems[None]


def test_modules_script():
    for module, shape in [
        (ResidualBasic(8, 8), (2, 8, 5, 5)),
        (ResidualBottleneck(8, 4, stride=2, se_reduction=4, activation="gelu"), (2, 8, 5, 5)),
        (InceptionModule(8, 2, 2, 3, 2, 3, 2, batch_norm=False), (2, 8, 5, 5)),
        (SqueezeExcitation(8, 2, "hard_sigmoid"), (2, 8, 5, 5)),
    ]:
        module.eval()
        x = torch.randn(shape)
        torch.testing.assert_close(torch.jit.script(module)(x), module(x))
        torch.testing.assert_close(torch.fx.symbolic_trace(module)(x), module(x))
