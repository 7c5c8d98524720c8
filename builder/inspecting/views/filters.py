"""``filters``: a convolution's learned kernels.

A first layer reading the image (1 or 3 input channels) shows one tile per filter, as the
grey or colour pattern it responds to most: edges, blobs, colour contrasts. A deeper layer's
kernel spans many input channels, which are feature maps rather than colours, so it is
shown as a grid: one row per filter, one column per input channel (the first few of each).
Every tile shares one colour scale centred on zero (blue negative, red positive).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from matplotlib.figure import Figure

from builder.inspecting.errors import InspectError
from builder.inspecting.subject import Subject
from builder.inspecting.views.applicable import require
from builder.inspecting.views.base import View, fresh
from builder.inspecting.views.mosaic import mosaic, no_frame, show, symmetric_limit, tile_centres

MAX_TILES = 64  # first-layer filters shown
MAX_ROWS = 16  # deeper layers: filters shown ...
MAX_COLUMNS = 16  # ... and input channels shown for each
DIVERGING = "RdBu_r"


@dataclass
class FilterView(View):
    """``weights`` ``[out, in/groups, *kernel]`` (transposed convolutions reordered to this
    layout), ``mode``: ``rgb`` / ``grey`` (first layer: one tile per filter), ``grid``
    (deeper: filters x input channels), ``matrix`` (1x1 kernels: one heat map) or ``1d``
    (conv1d: one ``[in, k]`` tile per filter)."""

    kind: ClassVar[str] = "filters"
    block: str = "conv2d"
    weights: np.ndarray = None
    bias: np.ndarray | None = None
    mode: str = "grey"

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"weights": self.weights}
        if self.bias is not None:
            out["bias"] = self.bias
        return out

    @property
    def shown(self) -> tuple[int, int]:
        """(filters, input channels) drawn."""
        total_out, total_in = self.weights.shape[:2]
        if self.mode in ("rgb", "grey", "1d"):
            return min(total_out, MAX_TILES), total_in
        if self.mode == "matrix":
            return min(total_out, 64), min(total_in, 64)
        return min(total_out, MAX_ROWS), min(total_in, MAX_COLUMNS)

    def summary(self) -> list[str]:
        total_out, total_in = self.weights.shape[:2]
        kernel = "x".join(str(k) for k in self.weights.shape[2:])
        line = f"{self.node}: {total_out} filters of {total_in} input channel(s) x {kernel}"
        shown_out, shown_in = self.shown
        if (shown_out, shown_in) != (total_out, total_in):
            line += f" (showing {shown_out} filters x {shown_in} input channels)"
        return [line + f"; weights from {self.weights.min():.3g} to {self.weights.max():.3g}"]

    def figure_size(self) -> tuple[float, float]:
        if self.mode == "grid":
            rows, columns = self.shown[1], self.shown[0]
            return (10.0, min(9.0, max(4.5, 1.5 + 8.0 * rows / max(columns, 1))))
        return (8.0, 6.0)

    def draw(self, fig: Figure) -> None:
        fresh(fig)
        ax = fig.add_subplot(1, 1, 1)
        limit = symmetric_limit(self.weights)
        shown_out, shown_in = self.shown
        total_out, total_in = self.weights.shape[:2]
        kernel = "x".join(str(k) for k in self.weights.shape[2:])
        title = f"{self.node} ({self.block}): {total_out} filters, {total_in} input channel(s), kernel {kernel}"
        if self.mode == "rgb":
            tiles = [np.clip(0.5 + w.transpose(1, 2, 0) / (2 * limit), 0, 1) for w in self.weights[:shown_out]]
            columns = min(8, int(np.ceil(np.sqrt(shown_out))))
            ax.imshow(mosaic(tiles, columns, fill=1.0), interpolation="nearest")
            no_frame(ax)
            import matplotlib
            from matplotlib.cm import ScalarMappable
            from matplotlib.colors import Normalize

            bar = fig.colorbar(ScalarMappable(Normalize(-limit, limit), matplotlib.colormaps["gray"]), ax=ax,
                               fraction=0.046, pad=0.03)
            bar.set_label("weight, per colour channel (grey = 0)")
            ax.set_xlabel("one tile per filter (R, G, B kernels as a colour image), left to right")
        elif self.mode in ("grey", "1d"):
            tiles = [w[0] if self.mode == "grey" else w for w in self.weights[:shown_out]]
            if tiles[0].ndim == 1:
                tiles = [t[None, :] for t in tiles]
            columns = min(8, int(np.ceil(np.sqrt(shown_out))))
            show(fig, ax, mosaic(tiles, columns), cmap=DIVERGING, vmin=-limit, vmax=limit, label="weight")
            no_frame(ax)
            ax.set_xlabel("one tile per filter, left to right" +
                          (" (rows: input channels, columns: kernel taps)" if self.mode == "1d" else ""))
        elif self.mode == "matrix":
            matrix = self.weights[:shown_out, :shown_in].reshape(shown_out, shown_in)
            show(fig, ax, matrix, cmap=DIVERGING, vmin=-limit, vmax=limit, label="weight", aspect="auto")
            ax.set_xlabel("input channel")
            ax.set_ylabel("filter (output channel)")
        else:
            self._draw_grid(fig, ax, limit, shown_out, shown_in)
        if (shown_out, shown_in) != (total_out, total_in):
            title += f"\nshowing {shown_out} filters" + (f" x {shown_in} input channels" if self.mode in
                                                          ("grid", "matrix") else "")
        ax.set_title(title, fontsize=10)
        fig.tight_layout()

    def _draw_grid(self, fig: Figure, ax, limit: float, shown_out: int, shown_in: int) -> None:
        # one column per filter, one row per input channel: the column is the whole 3-D kernel
        kernels = self.weights[:shown_out, :shown_in]
        kh, kw = kernels.shape[2:]
        tiles = [kernels[o, i] for i in range(shown_in) for o in range(shown_out)]
        show(fig, ax, mosaic(tiles, shown_out), cmap=DIVERGING, vmin=-limit, vmax=limit, label="weight")
        ax.set_xticks(tile_centres(shown_out, kw), [str(o) for o in range(shown_out)], fontsize=7)
        ax.set_yticks(tile_centres(shown_in, kh), [str(i) for i in range(shown_in)], fontsize=7)
        ax.tick_params(length=0)
        ax.set_xlabel("filter (output channel): one column is one filter's whole kernel")
        ax.set_ylabel("input channel")


def conv_weights(module: torch.nn.Module, block: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``[out, in/groups, *kernel]`` weights and the bias of a convolution module."""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise InspectError(f"the {block} module has no weight tensor to show")
    w = weight.detach().float().cpu()
    if block == "conv_transpose2d":  # stored [in, out/groups, kh, kw]
        groups = getattr(module, "groups", 1)
        if groups != 1:
            w = w.reshape(groups, w.shape[0] // groups, *w.shape[1:]).transpose(1, 2).reshape(
                -1, w.shape[0] // groups, *w.shape[2:])
        else:
            w = w.transpose(0, 1)
    bias = getattr(module, "bias", None)
    return w.numpy().copy(), None if bias is None else bias.detach().float().cpu().numpy().copy()


def filters(subject: Subject, node: str) -> FilterView:
    """The learned kernels of convolution ``node``; InspectError for any other node."""
    require(subject, node, "filters")
    block = subject.block_of(node)
    module = subject.module(node)
    weights, bias = conv_weights(module, block)
    reads_image = getattr(module, "groups", 1) == 1
    if weights.ndim == 3:
        mode = "1d"
    elif weights.shape[2:] == (1, 1):
        mode = "matrix"
    elif weights.shape[1] == 3 and reads_image:  # the three input channels are R, G, B
        mode = "rgb"
    elif weights.shape[1] == 1:
        mode = "grey"
    else:
        mode = "grid"
    return FilterView(node, block, weights, bias, mode)


def draw_filters(fig: Figure, view: FilterView) -> None:
    view.draw(fig)
