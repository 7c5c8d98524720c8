"""Pieces of published networks written with the blocks equal hand-written PyTorch references
given the same weights: MobileNetV2's inverted residual (relu6, depthwise conv) and a ViT
front (patches -> tokens -> class token -> position embedding -> pre-norm transformer layer
with eps 1e-6 -> class token out). torchvision and timm are not dependencies, so the
references are written out here the way those libraries compute them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from builder.compiler import compile_graph
from builder.yaml_format import parse_graph

INVERTED_RESIDUAL = """
format: 1
name: inverted_residual
nodes:
  x: {block: input, params: {shape: [8, 6, 6]}}
  expand: {block: conv2d, params: {out_channels: 48, kernel_size: 1, bias: false}, inputs: [x]}
  expand_bn: {block: batch_norm2d, inputs: [expand]}
  expand_act: {block: relu6, inputs: [expand_bn]}
  depthwise: {block: conv2d, params: {out_channels: 48, kernel_size: 3, padding: 1, groups: 48, bias: false},
              inputs: [expand_act]}
  depthwise_bn: {block: batch_norm2d, inputs: [depthwise]}
  depthwise_act: {block: relu6, inputs: [depthwise_bn]}
  project: {block: conv2d, params: {out_channels: 8, kernel_size: 1, bias: false}, inputs: [depthwise_act]}
  project_bn: {block: batch_norm2d, inputs: [project]}
  residual: {block: add, inputs: [x, project_bn]}
  out: {block: output, inputs: [residual]}
"""


class InvertedResidual(nn.Module):
    """torchvision's MobileNetV2 ``InvertedResidual`` (stride 1, in == out, expand ratio 6)."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x):
        return x + self.conv(x)


def _randomize_batch_norm_statistics(model: nn.Module) -> None:
    generator = torch.Generator().manual_seed(3)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator))
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(module.num_features, generator=generator) * 2)


def test_mobilenet_v2_inverted_residual_equals_the_reference():
    model = compile_graph(parse_graph(INVERTED_RESIDUAL), seed=0)
    _randomize_batch_norm_statistics(model)
    reference = InvertedResidual(8, 48)
    ours = model.state_dict()
    names = ["expand", "expand_bn", None, "depthwise", "depthwise_bn", None, "project", "project_bn"]
    mapped = {}
    for index, node in enumerate(names):
        if node is not None:
            for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                if f"{node}.{key}" in ours:
                    mapped[f"conv.{index}.{key}"] = ours[f"{node}.{key}"]
    reference.load_state_dict(mapped)  # strict: every reference weight comes from the graph
    model.eval(), reference.eval()
    x = torch.randn(4, 8, 6, 6, generator=torch.Generator().manual_seed(0)) * 3
    with torch.no_grad():
        expected = reference(x)
        found = model(x)
        hidden = reference.conv[:2](x)
    assert (hidden > 6).any()  # relu6 clips here: a plain relu would give other outputs
    torch.testing.assert_close(found, expected, rtol=0, atol=1e-5)


VIT_FRONT = """
format: 1
name: vit_front
nodes:
  image: {block: input, params: {shape: [3, 32, 32]}}
  patch_embed: {block: conv2d, params: {out_channels: 24, kernel_size: 8, stride: 8}, inputs: [image]}
  patches: {block: flatten, params: {start_dim: 1}, inputs: [patch_embed]}
  tokens: {block: transpose, params: {dim0: 0, dim1: 1}, inputs: [patches]}
  cls_token: {block: class_token, inputs: [tokens]}
  pos_embed: {block: position_embedding, inputs: [cls_token]}
  block0:
    block: transformer_encoder_layer
    params: {num_heads: 3, norm_first: true, activation: gelu, layer_norm_eps: 1.0e-6, dropout: 0.0}
    inputs: [pos_embed]
  norm: {block: layer_norm, params: {eps: 1.0e-6}, inputs: [block0]}
  cls: {block: select, params: {dim: 0, index: 0}, inputs: [norm]}
  out: {block: output, inputs: [cls]}
"""


def vit_reference(state: dict, image: torch.Tensor, heads: int = 3) -> torch.Tensor:
    """timm's VisionTransformer forward up to the pooled class token, written out."""
    x = F.conv2d(image, state["patch_embed.weight"], state["patch_embed.bias"], stride=8)
    x = x.flatten(2).transpose(1, 2)  # [B, N, E]
    batch, _, dim = x.shape
    x = torch.cat([state["cls_token.token"].expand(batch, -1, -1), x], dim=1)
    x = x + state["pos_embed.table"]
    prefix = "block0.layer."
    y = F.layer_norm(x, (dim,), state[prefix + "norm1.weight"], state[prefix + "norm1.bias"], eps=1e-6)
    qkv = F.linear(y, state[prefix + "self_attn.in_proj_weight"], state[prefix + "self_attn.in_proj_bias"])
    q, k, v = qkv.reshape(batch, -1, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
    attention = (q @ k.transpose(-2, -1) / (dim // heads) ** 0.5).softmax(dim=-1)
    mixed = (attention @ v).transpose(1, 2).reshape(batch, -1, dim)
    x = x + F.linear(mixed, state[prefix + "self_attn.out_proj.weight"], state[prefix + "self_attn.out_proj.bias"])
    y = F.layer_norm(x, (dim,), state[prefix + "norm2.weight"], state[prefix + "norm2.bias"], eps=1e-6)
    y = F.linear(F.gelu(F.linear(y, state[prefix + "linear1.weight"], state[prefix + "linear1.bias"])),
                 state[prefix + "linear2.weight"], state[prefix + "linear2.bias"])
    x = F.layer_norm(x + y, (dim,), state["norm.weight"], state["norm.bias"], eps=1e-6)
    return x[:, 0]


def test_vit_front_equals_the_reference():
    model = compile_graph(parse_graph(VIT_FRONT), seed=0).eval()
    state = model.state_dict()
    assert state["cls_token.token"].shape == (1, 24) and state["pos_embed.table"].shape == (17, 24)
    assert model.block0.layer.norm1.eps == 1e-6 and model.block0.layer.norm_first
    # timm's initialization: class token nearly zero, positions truncated normal with std 0.02
    assert state["cls_token.token"].abs().max() < 1e-4
    assert 0.01 < state["pos_embed.table"].std() < 0.03 and state["pos_embed.table"].abs().max() <= 2
    with torch.no_grad():  # make the eps matter: tokens whose features barely vary
        state["norm.weight"].uniform_(0.5, 1.5)
        model.patch_embed.weight.mul_(1e-3)
    image = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        found = model(image)
        expected = vit_reference(model.state_dict(), image)
    assert found.shape == (2, 24)
    torch.testing.assert_close(found, expected, rtol=1e-4, atol=1e-5)
