"""Every block added for issue 15 (tensor ops, activations, learned tokens, upsampling to a
size, local response norm, pooling indices and unpooling) exports: standalone Python code,
TorchScript (scripted, not traced) and ONNX (onnxruntime agrees), each checked by the export
itself against the compiled model."""

from __future__ import annotations

import pytest

from blocks import get_block
from builder.exporting.api import export
from builder.exporting.source import from_graph
from builder.yaml_format import parse_graph

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

NEW_BLOCKS = {"relu6", "hard_swish", "silu", "hard_sigmoid", "permute", "transpose", "reshape", "squeeze",
              "unsqueeze", "select", "slice", "class_token", "position_embedding", "upsample",
              "local_response_norm", "max_pool2d_with_indices", "max_unpool2d", "transformer_encoder_layer"}

GRAPHS = {
    "tensor_ops": """format: 1
name: tensor_ops
nodes:
  x:
    block: input
    params: {shape: [4, 6, 8]}
  p:
    block: permute
    params: {dims: [1, 2, 0]}
    inputs: [x]
  t:
    block: transpose
    params: {dim0: 0, dim1: -1}
    inputs: [p]
  r:
    block: reshape
    params: {shape: [-1, 12]}
    inputs: [t]
  u:
    block: unsqueeze
    params: {dim: 0}
    inputs: [r]
  s:
    block: squeeze
    params: {dim: 0}
    inputs: [u]
  sl:
    block: slice
    params: {start: 1, stop: 15, step: 3}
    inputs: [s]
  se:
    block: select
    params: {index: -1}
    inputs: [sl]
  a:
    block: relu6
    inputs: [se]
  b:
    block: hard_swish
    inputs: [a]
  c:
    block: swish
    inputs: [b]
  d:
    block: hardsigmoid
    inputs: [c]
  out:
    block: output
    inputs: [d]
""",
    "vit_front": """format: 1
name: vit_front
nodes:
  image:
    block: input
    params: {shape: [3, 32, 32]}
  patches:
    block: conv2d
    params: {out_channels: 16, kernel_size: 8, stride: 8}
    inputs: [image]
  pooled:
    block: adaptive_avg_pool2d
    params: {output_size: 2}
    inputs: [patches]
  up:
    block: upsample
    params: {mode: bilinear, align_corners: false}
    inputs: {x: pooled, like: patches}
  both:
    block: add
    inputs: [patches, up]
  flat:
    block: flatten
    params: {start_dim: 1}
    inputs: [both]
  tokens:
    block: transpose
    inputs: [flat]
  cls:
    block: class_token
    inputs: [tokens]
  pos:
    block: position_embedding
    inputs: [cls]
  enc:
    block: transformer_encoder_layer
    params: {num_heads: 2, norm_first: true, activation: gelu, layer_norm_eps: 1.0e-6, dropout: 0.0}
    inputs: [pos]
  first:
    block: select
    inputs: [enc]
  out:
    block: output
    inputs: [first]
""",
    "segnet_piece": """format: 1
name: segnet_piece
nodes:
  image:
    block: input
    params: {shape: [3, 9, 11]}
  conv:
    block: conv2d
    params: {out_channels: 6, kernel_size: 3, padding: 1}
    inputs: [image]
  lrn:
    block: local_response_norm
    inputs: [conv]
  pool:
    block: max_pool2d_with_indices
    params: {kernel_size: 2}
    inputs: [lrn]
  mid:
    block: conv2d
    params: {out_channels: 6, kernel_size: 3, padding: 1}
    inputs: [pool]
  unpool:
    block: max_unpool2d
    params: {kernel_size: 2, output_size: [9, 11]}
    inputs: {x: mid, indices: pool.indices}
  resized:
    block: upsample
    params: {size: [12, 14], mode: bicubic}
    inputs: [unpool]
  out:
    block: output
    inputs: [resized]
""",
}


def test_the_graphs_use_every_new_block():
    used = {get_block(node.block).name for text in GRAPHS.values() for node in parse_graph(text).nodes.values()}
    assert NEW_BLOCKS <= used


@pytest.mark.parametrize("fmt", ["python", "torchscript", "onnx"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_new_blocks_export(name, fmt, tmp_path):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    trained = from_graph(parse_graph(GRAPHS[name]))
    result = export(trained, fmt, tmp_path / f"{name}.{'py' if fmt == 'python' else fmt}")
    assert result.max_difference is not None and result.max_difference <= 1e-4
    if fmt == "torchscript":
        assert any("torch.jit.script" in note for note in result.notes)
