"""``gates``: what an LSTM's (or GRU's) gates do at each time step of one input.

The gates are recomputed from the layer's weights (recurrence.py), and the recomputed
outputs are checked against what the layer itself returned (``max_error``). Heat maps show
units (rows) over time steps (columns); units are sorted by their mean forget gate (GRU:
update gate), so the units that keep their memory are at the top. A line plot above shows
each gate's mean over the units at every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional

import numpy as np
from matplotlib.figure import Figure

from builder.inspecting.errors import InspectError
from builder.inspecting.subject import Samples, Subject
from builder.inspecting.views.applicable import require
from builder.inspecting.views.base import (View, capture_arguments, fresh, is_small, one_sample, one_thread,
                                           safe_name, token_input, tokens_of)
from builder.inspecting.views.mosaic import show, symmetric_limit
from builder.inspecting.views.recurrence import replay, top_output

CHECK_TOLERANCE = 1e-4  # recomputed vs the module's outputs; float32 replays agree to ~1e-6

# what each panel shows, in drawing order: (array, title); gates share the 0..1 scale
PANELS = {
    "lstm": (("forget", "forget gate f: 1 keeps the cell, 0 erases it"),
             ("input", "input gate i: how much of the new candidate is written"),
             ("output", "output gate o: how much of the cell is shown as h"),
             ("cell", "cell state c")),
    "gru": (("update", "update gate z: 1 keeps the old state, 0 takes the candidate"),
            ("reset", "reset gate r: how much of the old state the candidate sees"),
            ("hidden", "hidden state h")),
}
SORT_BY = {"lstm": "forget", "gru": "update"}


@dataclass
class GateView(View):
    """``gates`` name -> ``[T, H]`` for the chosen layer and direction; ``hidden`` and (LSTM)
    ``cell`` ``[T, H]``; ``order`` the unit order drawn; ``max_error`` the largest difference
    between the recomputed top-layer outputs and the module's."""

    kind: ClassVar[str] = "gates"
    caption: str = ""
    cell_kind: str = "lstm"
    layer: int = 0
    reverse: bool = False
    gates: dict[str, np.ndarray] = field(default_factory=dict)
    hidden: np.ndarray = None
    cell: Optional[np.ndarray] = None
    order: np.ndarray = None
    tokens: Optional[list[str]] = None
    max_error: float = 0.0
    kept: np.ndarray = None  # [T, H]: the share of what step t wrote that is left at the end
    layers: int = 1
    bidirectional: bool = False

    @property
    def tag(self) -> str:
        where = (f"l{self.layer}" if self.layers > 1 else "") + ("r" if self.reverse else "")
        return "_".join(p for p in (where, safe_name(self.caption)) if p)

    def arrays(self) -> dict[str, np.ndarray]:
        out = dict(self.gates)
        out["hidden"] = self.hidden
        if self.cell is not None:
            out["cell"] = self.cell
        out["kept"] = self.kept
        out["unit_order"] = self.order
        out["max_error"] = np.array([self.max_error])  # 1 value (save_array writes 0-d arrays as [1])
        return out

    def _series(self, name: str) -> np.ndarray:
        return {"cell": self.cell, "hidden": self.hidden}.get(name, self.gates.get(name))

    def summary(self) -> list[str]:
        where = f"layer {self.layer}" + (", backward direction" if self.reverse else "")
        lines = [f"{self.node} ({self.cell_kind.upper()}, {where}) for {self.caption}: "
                 f"{self.hidden.shape[0]} steps x {self.hidden.shape[1]} units; recomputed outputs match the "
                 f"layer's to {self.max_error:.1e}"]
        lines.append(f"  what the first step wrote is {self.kept[0].mean():.2f} kept at the end (mean over units; "
                     f"product of the {SORT_BY[self.cell_kind]} gates after it)")
        for name, values in self.gates.items():
            if name != "candidate":
                lines.append(f"  {name} gate: mean {values.mean():.2f}, at the first step {values[0].mean():.2f}, "
                             f"at the last {values[-1].mean():.2f}")
        return lines

    def figure_size(self) -> tuple[float, float]:
        return (11.0, 2.2 + 2.3 * len(PANELS[self.cell_kind]))

    def draw(self, fig: Figure) -> None:
        fresh(fig)
        panels = PANELS[self.cell_kind]
        grid = fig.add_gridspec(len(panels) + 1, 2, width_ratios=[40, 1], height_ratios=[0.8] + [1] * len(panels))
        steps = np.arange(self.hidden.shape[0])
        top = fig.add_subplot(grid[0, 0])
        for name, values in self.gates.items():
            if name != "candidate":
                top.plot(steps, values.mean(axis=1), marker="o", markersize=3, label=f"{name} gate")
        top.plot(steps, self.kept.mean(axis=1), color="black", linestyle="--", linewidth=1.2,
                 label=f"kept to the end (product of later {SORT_BY[self.cell_kind]} gates)")
        top.set_ylim(-0.02, 1.02)
        top.set_xlim(-0.5, len(steps) - 0.5)
        top.set_ylabel("mean over units", fontsize=8)
        top.legend(fontsize=7, loc="lower center", ncol=4, frameon=True, framealpha=0.8)
        top.grid(alpha=0.3)
        top.tick_params(labelbottom=False, labelsize=7)
        gate_axes, drawn = [], None
        for row, (name, title) in enumerate(panels, start=1):
            ax = fig.add_subplot(grid[row, 0], sharex=top)
            values = self._series(name)[:, self.order].T  # units x time
            if name in self.gates:
                drawn = show(fig, ax, values, cmap="viridis", vmin=0.0, vmax=1.0, label="", colorbar=False,
                             aspect="auto")
                gate_axes.append(ax)
            else:
                limit = symmetric_limit(values)
                state = show(fig, ax, values, cmap="RdBu_r", vmin=-limit, vmax=limit, label="", colorbar=False,
                             aspect="auto")
                fig.colorbar(state, cax=fig.add_subplot(grid[row, 1])).set_label(name, fontsize=8)
            ax.set_title(title, fontsize=9, loc="left")
            ax.set_ylabel("unit (sorted)", fontsize=8)
            ax.tick_params(labelsize=7, labelbottom=row == len(panels))
        if drawn is not None:
            rows = [i for i, (n, _) in enumerate(panels, start=1) if n in self.gates]
            bar = fig.colorbar(drawn, cax=fig.add_subplot(grid[rows[0]:rows[-1] + 1, 1]))
            bar.set_label("gate value", fontsize=8)
        bottom = ax  # the last panel carries the time axis
        if self.tokens:
            bottom.set_xticks(steps, self.tokens, fontsize=7)
            bottom.set_xlabel("time step (token id below)", fontsize=8)
        else:
            bottom.set_xlabel("time step", fontsize=8)
        where = f", layer {self.layer}" if self.layers > 1 else ""
        where += ", backward direction" if self.reverse else (", forward direction" if self.bidirectional else "")
        fig.suptitle(f"{self.node} ({self.cell_kind.upper()}{where}) for {self.caption}: gates recomputed from "
                     f"the weights (outputs match the layer to {self.max_error:.0e})\nunits sorted by their mean "
                     f"{SORT_BY[self.cell_kind]} gate (the units that remember at the top)", fontsize=10)
        fig.subplots_adjust(left=0.07, right=0.9, top=0.9, bottom=0.07, hspace=0.45, wspace=0.04)


def _call(args: tuple, kwargs: dict):
    x = args[0] if args else kwargs["x"]
    state = args[1] if len(args) > 1 else kwargs.get("state")
    return x, state


def gates(subject: Subject, samples: Samples, node: str, index: int = 0, *, layer: int = 0,
          reverse: bool = False) -> GateView:
    """Gate activity of LSTM/GRU ``node`` for sample ``index``: layer ``layer`` (0 = the one
    reading the input), the backward direction with ``reverse`` (bidirectional layers)."""
    require(subject, node, "gates")
    inputs, caption = one_sample(samples, index)
    module = subject.module(node)
    rnn = module.rnn
    if not 0 <= layer < rnn.num_layers:
        raise InspectError(f"layer {layer} is out of range: node {node!r} has {rnn.num_layers} layer(s) "
                           f"(0 to {rnn.num_layers - 1})")
    if reverse and not rnn.bidirectional:
        raise InspectError(f"node {node!r} is not bidirectional: it has no backward direction")
    with one_thread(is_small(subject)):
        args, kwargs, output = capture_arguments(subject, inputs, node)
        x, state = _call(args, kwargs)
        traces = replay(module, x, state)
    computed = output[0]
    max_error = float((top_output(traces, module.last) - computed.float()).abs().max())
    if max_error > CHECK_TOLERANCE:
        raise InspectError(f"node {node!r}: the recomputed gates do not reproduce the layer's output "
                           f"(difference {max_error:.2g}); this layer is not a plain {rnn.__class__.__name__}",
                           "look at its activations instead")
    trace = next(t for t in traces if t.layer == layer and t.reverse == reverse)
    kind = "lstm" if subject.block_of(node) == "lstm" else "gru"
    named = {name: v[0].numpy() for name, v in trace.gates.items()}
    order = np.argsort(-named[SORT_BY[kind]].mean(axis=0), kind="stable")
    tokens = tokens_of(subject, samples, index, token_input(subject, node, "x"), x.shape[1])
    return GateView(node, caption, kind, layer, reverse, named, trace.hidden[0].numpy(),
                    None if trace.cell is None else trace.cell[0].numpy(), order, tokens, max_error,
                    kept_to_end(named[SORT_BY[kind]], reverse), rnn.num_layers, rnn.bidirectional)


def kept_to_end(keep: np.ndarray, reverse: bool = False) -> np.ndarray:
    """``[T, H]``: the product of the keep gates (LSTM forget, GRU update) applied after each
    step, i.e. how much of what step t wrote into the memory survives to the last step the
    direction reads (the first one for a backward direction)."""
    if reverse:
        return kept_to_end(keep[::-1])[::-1].copy()
    later = np.concatenate([keep[1:], np.ones((1, keep.shape[1]), dtype=keep.dtype)])
    return np.cumprod(later[::-1], axis=0)[::-1].copy()


def draw_gates(fig: Figure, view: GateView) -> None:
    view.draw(fig)
