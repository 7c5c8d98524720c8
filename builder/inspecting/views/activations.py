"""``activations``: what one node computes for one input.

``[C, H, W]`` feature maps are drawn as a grid of tiles (one per channel, one colour
scale), a ``[T, F]`` sequence or a ``[C, L]`` signal as a heat map, a vector as bars (class
names under a classifier's last layer). Any node works, including one port of a
multi-output block (``attention.weights``, ``lstm.cell``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Optional

import numpy as np
import torch
from matplotlib.figure import Figure

from builder.inspecting.figures import as_picture, is_image
from builder.inspecting.subject import Samples, Subject
from builder.inspecting.views.applicable import require
from builder.inspecting.views.base import (View, fresh, is_sequence_layout, is_small, one_sample, one_thread,
                                           output_source, safe_name, split_port, token_input, tokens_of)
from builder.inspecting.views.mosaic import mosaic, no_frame, show, symmetric_limit

MAX_MAPS = 64  # feature maps drawn (all are in the .npy)
MAX_BARS = 256  # longer vectors are drawn as a line


@dataclass
class ActivationView(View):
    """``values``: the node's output for one sample (per-sample shape), ``layout``: ``maps``
    (tiles), ``heat`` (one heat map, ``time_first`` for ``[T, F]``) or ``bars``."""

    kind: ClassVar[str] = "activations"
    port: Optional[str] = None
    caption: str = ""
    values: np.ndarray = None
    layout: str = "bars"
    time_first: bool = False
    picture: Optional[np.ndarray] = None  # the input as an image, when it is one
    tokens: Optional[list[str]] = None  # token ids along the time axis
    class_names: Optional[list[str]] = None  # bar labels under a classifier's last layer
    prediction: str = ""  # "predicted 3 (97%), true 3" for a classifier
    block: str = ""

    @property
    def tag(self) -> str:
        return "_".join(safe_name(p) for p in (self.port, self.caption) if p)

    @property
    def name(self) -> str:
        return f"{self.node}.{self.port}" if self.port else self.node

    def arrays(self) -> dict[str, np.ndarray]:
        return {"values": self.values}

    def summary(self) -> list[str]:
        v = self.values
        line = (f"{self.name} for {self.caption}: shape [{', '.join(map(str, v.shape))}], values from "
                f"{v.min():.3g} to {v.max():.3g}, mean {v.mean():.3g}, {100 * np.mean(v == 0):.0f}% zeros")
        return [line] + ([self.prediction] if self.prediction else [])

    def figure_size(self) -> tuple[float, float]:
        return (10.0, 6.0) if self.layout == "maps" else (10.0, 5.0)

    def draw(self, fig: Figure) -> None:
        fresh(fig)
        shape = "x".join(map(str, self.values.shape)) or "1"
        title = f"{self.name} ({self.block}) for {self.caption}: output [{shape}]"
        if self.prediction:
            title += f"\n{self.prediction}"
        if self.picture is not None:
            grid = fig.add_gridspec(1, 2, width_ratios=[1, 3.2])
            left = fig.add_subplot(grid[0, 0])
            left.imshow(self.picture, cmap="gray" if self.picture.ndim == 2 else None, interpolation="nearest")
            left.set_title("input", fontsize=9)
            no_frame(left)
            ax = fig.add_subplot(grid[0, 1])
        else:
            ax = fig.add_subplot(1, 1, 1)
        {"maps": self._draw_maps, "heat": self._draw_heat, "bars": self._draw_bars}[self.layout](fig, ax)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()

    def _scale(self, values: np.ndarray) -> dict:
        if values.min() < 0:  # signed (tanh, linear, conv before the nonlinearity): centre on zero
            limit = symmetric_limit(values)
            return {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}
        return {"cmap": "viridis", "vmin": 0.0, "vmax": float(values.max()) or 1.0}

    def _draw_maps(self, fig: Figure, ax) -> None:
        maps = self.values.reshape(-1, *self.values.shape[-2:])
        shown = maps[:MAX_MAPS]
        columns = min(8, int(math.ceil(math.sqrt(len(shown)))))
        show(fig, ax, mosaic(list(shown), columns), label="activation", **self._scale(shown))
        no_frame(ax)
        note = f" (the first {len(shown)} of {len(maps)})" if len(shown) < len(maps) else ""
        ax.set_xlabel(f"one tile per channel, left to right{note}", fontsize=9)

    def _draw_heat(self, fig: Figure, ax) -> None:
        values = self.values.T if self.time_first else self.values
        show(fig, ax, values, label="activation", aspect="auto", **self._scale(values))
        if self.time_first:
            ax.set_xlabel("time step" + (" (token id below)" if self.tokens else ""))
            ax.set_ylabel("feature")
            if self.tokens:
                ax.set_xticks(range(len(self.tokens)), self.tokens, fontsize=7)
        else:
            ax.set_xlabel("position")
            ax.set_ylabel("channel")

    def _draw_bars(self, fig: Figure, ax) -> None:
        values = self.values.reshape(-1)
        positions = np.arange(len(values))
        if len(values) <= MAX_BARS:
            colours = ["#d62728" if v < 0 else "#1f77b4" for v in values]
            ax.bar(positions, values, color=colours, width=0.8)
        else:
            ax.plot(positions, values, linewidth=0.8)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_ylabel("activation")
        if self.class_names and len(self.class_names) == len(values) and len(values) <= 40:
            ax.set_xticks(positions, self.class_names, rotation=45 if max(map(len, self.class_names)) > 3 else 0)
            ax.set_xlabel("class")
            ax.set_ylabel("class score (before softmax)")
        else:
            ax.set_xlabel("unit")
        ax.grid(axis="y", alpha=0.3)


def _layout(values: np.ndarray) -> str:
    if values.ndim >= 3 and values.shape[-1] * values.shape[-2] > 1:
        return "maps"
    if values.ndim == 2 and min(values.shape) > 1:
        return "heat"
    return "bars"


def _prediction(subject: Subject, output: torch.Tensor, samples: Samples, index: int) -> str:
    if not subject.is_classifier:
        return ""
    probs = torch.softmax(output[0].float(), dim=-1)
    best = int(probs.argmax())
    text = f"predicted {subject.class_name(best)} ({100 * float(probs[best]):.0f}%)"
    if samples.labels is not None and samples.labels.dim() == 1:
        text += f", true {subject.class_name(int(samples.labels[index]))}"
    return text


def activations(subject: Subject, samples: Samples, node: str, index: int = 0) -> ActivationView:
    """The output of ``node`` (or ``node.port``) for sample ``index`` of ``samples``."""
    node, port = split_port(subject, node)
    require(subject, node, "activations")
    inputs, caption = one_sample(samples, index)
    with one_thread(is_small(subject)):
        seen = subject.capture(inputs, [node])
    value = seen[node]
    if isinstance(value, (tuple, list)):
        ports = subject.ports(node)
        value = value[ports.index(port) if port in ports else 0]
    values = value[0].detach().float().cpu().numpy()
    layout = _layout(values)
    first = subject.trained.inputs[0]
    picture = None
    if is_image(tuple(first.shape)) and first.dtype == "float32":
        picture = as_picture(inputs[0][0], subject.normalization)
    time_first = layout == "heat" and is_sequence_layout(subject, node)
    tokens = None
    if time_first:
        tokens = tokens_of(subject, samples, index, token_input(subject, node), values.shape[0])
    head = any(output_source(subject, o) == node for o in subject.analysis.output_ids)
    names = [subject.class_name(i) for i in range(values.size)] if head and subject.is_classifier else None
    return ActivationView(node, port, caption, values, layout, time_first, picture, tokens, names,
                          _prediction(subject, seen["__output__"], samples, index), subject.block_of(node))


def draw_activations(fig: Figure, view: ActivationView) -> None:
    view.draw(fig)
