"""Attention: multi-head scaled dot-product attention (self- and cross-attention)."""

from __future__ import annotations

from blocks.lazy import lazy_class, nn

from blocks.params import Bool, Float, Int, Port
from blocks.registry import register
from blocks.spec import Block, Cost, Params, Shape, ShapeError, expect_rank, format_shape

MultiHeadAttentionModule = lazy_class("blocks.modules.sequence", "MultiHeadAttention")


def check_heads(embed_dim: int, num_heads: int) -> None:
    """ShapeError unless the embedding splits evenly into heads."""
    if embed_dim % num_heads:
        divisors = [h for h in range(1, min(embed_dim, 16) + 1) if embed_dim % h == 0]
        raise ShapeError(
            f"embedding size {embed_dim} must be divisible by num_heads ({num_heads}): each head gets"
            f" embedding/num_heads features; possible num_heads: {', '.join(map(str, divisors))}")


def attention_macs(tq: int, tk: int, e: int, ekv: int) -> int:
    """Projections ``Tq*E*E + 2*Tk*Ekv*E + Tq*E*E`` plus scores and mixing ``2*Tq*Tk*E``."""
    return 2 * tq * e * e + 2 * tk * ekv * e + 2 * tq * tk * e


@register
class MultiHeadAttentionBlock(Block):
    """Multi-head attention: every query position gathers information from all key positions.

    Each query vector is projected to a query ``q``, and each key/value vector to a key
    ``k`` and a value ``v`` (three learned linear maps). The output at a position is an
    average of the values, weighted by how well its query matches each key:
    ``Attention(Q, K, V) = softmax(Q K^T / sqrt(d)) V``. Dividing by ``sqrt(d)`` (``d`` =
    features per head) keeps the dot products from growing with ``d`` and saturating the
    softmax. With ``num_heads`` heads the ``E`` features are split into ``num_heads``
    groups of ``d = E/num_heads`` that attend independently (one head may track syntax,
    another position...), then a last linear map mixes the heads again.

    Unlike an RNN, every position reaches every other in one step, whatever the distance,
    and all positions are computed in parallel. Attention ignores order, so add a
    ``positional_encoding`` first when order matters.

    * Self-attention: leave ``key_value`` unconnected; the sequence attends to itself.
    * Cross-attention: connect ``key_value`` (e.g. an encoder's output ``[Tk, Ekv]``); each
      query position (e.g. a decoder step) looks up the relevant source positions.
    * ``causal: true`` masks the future: position ``i`` only sees positions ``j <= i``, as a
      language model or a decoder must (it needs ``Tq == Tk``).

    Shape: ``query [Tq, E]`` (and ``key_value [Tk, Ekv]``) ``-> out [Tq, E]`` and
    ``weights [num_heads, Tq, Tk]``, the attention map of each head (each row sums to 1;
    plot it to see which source positions each output looked at). ``E`` must be divisible
    by ``num_heads``. Parameters: ``2*E*E + 2*Ekv*E`` weights ``+ 4*E`` biases.
    Multiply-accumulates: ``2*Tq*E*E + 2*Tk*Ekv*E`` for the projections plus ``2*Tq*Tk*E``
    for the scores and the weighted sum (quadratic in sequence length).
    """

    name = "multi_head_attention"
    category = "Attention"
    params = {
        "num_heads": Int(min=1, doc="number of heads; must divide the query's embedding size E"),
        "causal": Bool(False, doc="mask future positions (position i sees j <= i); needs Tq == Tk"),
        "dropout": Float(0.0, min=0.0, max=1.0, doc="dropout on the attention weights during training"),
        "bias": Bool(True, doc="learn biases in the four projections"),
    }
    inputs = (
        Port("query", "sequence that asks [Tq, E]"),
        Port("key_value", "sequence that is looked up [Tk, Ekv]; absent = self-attention on query",
             optional=True),
    )
    outputs = (
        Port("out", "attended sequence [Tq, E]"),
        Port("weights", "attention maps [num_heads, Tq, Tk]; each row sums to 1"),
    )
    key_params = ("num_heads", "causal")
    examples = (
        {"params": {"num_heads": 4}, "inputs": {"query": [10, 16]}},
        {"params": {"num_heads": 2, "dropout": 0.1}, "inputs": {"query": [7, 8], "key_value": [12, 6]}},
        {"params": {"num_heads": 3, "causal": True, "bias": False}, "inputs": {"query": [9, 12]}},
    )

    def infer(self, p: Params, query: Shape, key_value: Shape | None = None) -> dict[str, Shape]:
        expect_rank(query, 2, "time, embedding")
        source = query
        if key_value is not None:
            expect_rank(key_value, 2, "time, embedding")
            source = key_value
        check_heads(query[1], p.num_heads)
        if p.causal and source[0] != query[0]:
            raise ShapeError(
                f"causal attention needs as many keys as queries, found query {format_shape(query)}"
                f" and key_value {format_shape(source)}; use causal only for self-attention")
        return {"out": tuple(query), "weights": (p.num_heads, query[0], source[0])}

    def cost(self, p: Params, out: dict, query: Shape, key_value: Shape | None = None) -> Cost:
        source = query if key_value is None else key_value
        e, ekv = query[1], source[1]
        params = 2 * e * e + 2 * ekv * e + (4 * e if p.bias else 0)
        return Cost(params, attention_macs(query[0], source[0], e, ekv))

    def build(self, p: Params, query: Shape, key_value: Shape | None = None) -> nn.Module:
        kv_dim = query[1] if key_value is None else key_value[1]
        return MultiHeadAttentionModule(query[1], p.num_heads, kv_dim, p.causal, p.dropout, p.bias)
