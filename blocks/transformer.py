"""Transformer: the encoder layer (self-attention + feed-forward, each with residual and norm)."""

from __future__ import annotations

from blocks.lazy import lazy_class, nn

from blocks.attention import attention_macs, check_heads
from blocks.params import Bool, Choice, Float, Int
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, expect_rank

TransformerEncoderLayer = lazy_class("blocks.modules.sequence", "TransformerEncoderLayer")


def feedforward_size(p: Params, d_model: int) -> int:
    """``dim_feedforward``, or ``4 * d_model`` when it is null."""
    return 4 * d_model if p.dim_feedforward is None else p.dim_feedforward


@register
class TransformerEncoderLayerBlock(Block):
    """Transformer encoder layer: self-attention then a feed-forward network, with residuals.

    The building block of BERT and of the original Transformer ("Attention Is All You
    Need", Vaswani et al. 2017). Two sublayers, each wrapped in a residual connection and
    a layer norm:

    1. multi-head self-attention, ``softmax(Q K^T / sqrt(d)) V``: every position gathers
       information from every other position;
    2. a position-wise feed-forward network ``linear(E -> F) -> activation -> linear(F -> E)``
       applied to each position separately.

    ``norm_first: false`` (the 2017 layout, "post-norm") computes ``x = norm(x + sublayer(x))``;
    ``norm_first: true`` ("pre-norm", GPT-2 and most modern models) computes
    ``x = x + sublayer(norm(x))``, which trains more stably in deep stacks and without a
    learning-rate warm-up. ``causal: true`` masks the future (position ``i`` sees ``j <= i``)
    for language models. The input keeps its shape, so layers stack: ``[T, E] -> [T, E]``.
    Attention ignores order: put a ``positional_encoding`` before the first layer.

    Parameters: attention ``4*E*E + 4*E``, feed-forward ``2*E*F + F + E``, two layer norms
    ``4*E`` (without ``bias``: no bias vectors). Multiply-accumulates:
    ``T*(4*E*E + 2*E*F) + 2*T*T*E``. ``E`` must be divisible by ``num_heads``.

    A Vision Transformer block (timm's ``vit_*``) is ``norm_first: true``, ``activation:
    gelu``, ``layer_norm_eps: 1e-6`` and ``dim_feedforward`` 4 x E (the default).
    """

    name = "transformer_encoder_layer"
    category = "Attention"
    params = {
        "num_heads": Int(min=1, doc="attention heads; must divide the embedding size E"),
        "dim_feedforward": Int(None, min=1, optional=True,
                               doc="hidden size F of the feed-forward network; null = 4 x E (the usual ratio)"),
        "dropout": Float(0.1, min=0.0, max=1.0, doc="dropout after attention, inside and after the feed-forward"),
        "activation": Choice("relu", choices=("relu", "gelu"), doc="feed-forward nonlinearity (BERT and GPT use gelu)"),
        "norm_first": Bool(False, doc="pre-norm (true: more stable for deep stacks) or post-norm (false, the original)"),
        "causal": Bool(False, doc="mask future positions: position i only attends to j <= i"),
        "bias": Bool(True, doc="biases in the linear layers and layer norms"),
        "layer_norm_eps": Float(1e-5, min=0.0, doc="eps of both layer norms (PyTorch: 1e-5; timm's ViT: 1e-6)"),
    }
    key_params = ("num_heads", "dim_feedforward", "causal")
    # On CPU the attention runs in one fused kernel (scaled_dot_product_attention) whose
    # matrix products the FLOP counter does not see, and in inference mode the whole layer
    # is one fused kernel; tests/blocks/test_sequence_blocks.py counts it on the math path.
    macs_exact = False
    examples = (
        {"params": {"num_heads": 4}, "inputs": {"x": [10, 16]}},
        {"params": {"num_heads": 2, "dim_feedforward": 24, "activation": "gelu", "norm_first": True,
                    "causal": True, "layer_norm_eps": 1e-6}, "inputs": {"x": [8, 12]}},
        {"params": {"num_heads": 1, "dim_feedforward": 10, "bias": False, "dropout": 0.0}, "inputs": {"x": [5, 6]}},
    )

    def infer(self, p: Params, x: Shape) -> Shape:
        expect_rank(x, 2, "time, embedding")
        check_heads(x[1], p.num_heads)
        return tuple(x)

    def cost(self, p: Params, out: Shape, x: Shape) -> Cost:
        t, e = x
        f = feedforward_size(p, e)
        bias = 1 if p.bias else 0
        params = 4 * e * e + 2 * e * f + bias * (4 * e + f + e) + 2 * e + bias * 2 * e
        return Cost(params, attention_macs(t, t, e, e) + 2 * t * e * f)

    def build(self, p: Params, x: Shape) -> nn.Module:
        return TransformerEncoderLayer(x[1], p.num_heads, feedforward_size(p, x[1]), p.dropout, p.activation,
                                       p.norm_first, p.bias, p.causal, p.layer_norm_eps)
