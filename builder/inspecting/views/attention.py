"""``attention``: where each query position looks, per head.

A ``multi_head_attention`` node returns its maps itself (output port ``weights``,
``[heads, Tq, Tk]``, each row a softmax summing to 1). A ``transformer_encoder_layer`` wraps
``nn.TransformerEncoderLayer``, which does not return them, so its self-attention is
called once more on the layer's own input (after the first layer norm when ``norm_first``)
with ``need_weights=True``: the same weights the layer used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import numpy as np
import torch
from matplotlib.figure import Figure

from builder.inspecting.figures import grid_shape
from builder.inspecting.subject import Samples, Subject
from builder.inspecting.views.applicable import require
from builder.inspecting.views.base import (View, capture_arguments, fresh, one_sample, safe_name, token_input,
                                           tokens_of)
from builder.inspecting.views.mosaic import show

MAX_HEADS = 8  # drawn (all are in the .npy)


@dataclass
class AttentionView(View):
    """``weights`` ``[heads, Tq, Tk]`` for one sample; ``query_tokens``/``key_tokens`` the
    token ids along each axis when the sequences came from token inputs (else None)."""

    kind: ClassVar[str] = "attention"
    caption: str = ""
    weights: np.ndarray = None
    query_tokens: Optional[list[str]] = None
    key_tokens: Optional[list[str]] = None
    query_input: Optional[str] = None
    key_input: Optional[str] = None
    block: str = ""

    @property
    def tag(self) -> str:
        return safe_name(self.caption)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights}

    def diagonal_mass(self, anti: bool = False, band: int = 0) -> np.ndarray:
        """Per head: the mean share of a row's attention within ``band`` positions of the
        diagonal (``anti``: of the anti-diagonal, key ``Tk-1-q``, as reversing a sequence needs)."""
        heads, tq, tk = self.weights.shape
        q, k = np.meshgrid(np.arange(tq), np.arange(tk), indexing="ij")
        aim = (tk - 1 - q * (tk - 1) / max(tq - 1, 1)) if anti else q * (tk - 1) / max(tq - 1, 1)
        inside = np.abs(k - aim) <= band + 1e-9
        return (self.weights * inside).sum(axis=(1, 2)) / tq

    def summary(self) -> list[str]:
        heads, tq, tk = self.weights.shape
        lines = [f"{self.node} for {self.caption}: {heads} head(s), {tq} queries x {tk} keys; a uniform row "
                 f"puts {1 / tk:.3f} on each key"]
        peak = self.weights.max(axis=2).mean(axis=1)
        lines += [f"  head {h}: mean largest weight per row {peak[h]:.2f}" for h in range(heads)]
        if tq == tk:
            diag, anti = self.diagonal_mass().mean(), self.diagonal_mass(anti=True).mean()
            lines.append(f"share of attention on the diagonal {diag:.2f}, on the anti-diagonal {anti:.2f} "
                         f"(uniform: {1 / tk:.2f})")
        return lines

    def figure_size(self) -> tuple[float, float]:
        rows, columns = grid_shape(min(len(self.weights), MAX_HEADS), 4)
        return (4.0 * columns + 1.5, 3.9 * rows + 1.2)

    def draw(self, fig: Figure) -> None:
        fresh(fig)
        heads = min(len(self.weights), MAX_HEADS)
        rows, columns = grid_shape(heads, 4)
        limit = float(self.weights[:heads].max()) or 1.0
        axes = [fig.add_subplot(rows, columns, h + 1) for h in range(heads)]
        for h, ax in enumerate(axes):
            drawn = show(fig, ax, self.weights[h], cmap="viridis", vmin=0.0, vmax=limit, label="",
                         colorbar=False)
            ax.set_title(f"head {h}", fontsize=9)
            self._ticks(ax, h % columns == 0, h >= heads - columns)
        bar = fig.colorbar(drawn, ax=axes, fraction=0.03, pad=0.02)
        bar.set_label("attention weight (each row sums to 1)")
        more = f" (the first {heads} of {len(self.weights)} heads)" if heads < len(self.weights) else ""
        fig.suptitle(f"{self.node} ({self.block}) for {self.caption}: attention weights, query x key{more}",
                     fontsize=10)

    def _ticks(self, ax, left: bool, bottom: bool) -> None:
        for tokens, name, axis in ((self.key_tokens, self.key_input, "x"), (self.query_tokens, self.query_input,
                                                                             "y")):
            setter = ax.set_xticks if axis == "x" else ax.set_yticks
            label = "key" if axis == "x" else "query"
            if tokens:
                setter(range(len(tokens)), tokens, fontsize=6)
                label += f" (token of {name!r})"
            else:
                label += " position"
            if (axis == "x" and bottom) or (axis == "y" and left):
                (ax.set_xlabel if axis == "x" else ax.set_ylabel)(label, fontsize=8)
        ax.tick_params(length=2)


def _transformer_weights(subject: Subject, inputs: list[torch.Tensor], node: str) -> torch.Tensor:
    args, kwargs, _ = capture_arguments(subject, inputs, node)
    wrapper = subject.module(node)
    layer = getattr(wrapper, "layer", wrapper)
    x = args[0] if args else kwargs["x"]
    with torch.no_grad():
        q = layer.norm1(x) if getattr(layer, "norm_first", False) else x
        mask = None
        if getattr(wrapper, "causal", False):
            length = x.size(1)
            mask = torch.full((length, length), float("-inf"), dtype=x.dtype).triu(1)
        _, weights = layer.self_attn(q, q, q, attn_mask=mask, need_weights=True, average_attn_weights=False)
    return weights


def attention(subject: Subject, samples: Samples, node: str, index: int = 0) -> AttentionView:
    """The attention maps of ``node`` for sample ``index`` of ``samples``."""
    require(subject, node, "attention")
    inputs, caption = one_sample(samples, index)
    block = subject.block_of(node)
    if block == "multi_head_attention":
        weights = subject.capture(inputs, [node])[node][1]
        info = subject.analysis.nodes[node]
        query_input = token_input(subject, node, "query")
        key_input = token_input(subject, node, "key_value") if info.inputs.get("key_value") else query_input
    else:
        weights = _transformer_weights(subject, inputs, node)
        query_input = key_input = token_input(subject, node)
    w = weights[0].detach().float().cpu().numpy()
    return AttentionView(node, caption, w, tokens_of(subject, samples, index, query_input, w.shape[1]),
                         tokens_of(subject, samples, index, key_input, w.shape[2]), query_input, key_input, block)


def draw_attention(fig: Figure, view: AttentionView) -> None:
    view.draw(fig)
