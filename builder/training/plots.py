"""Training figures drawn from the event stream: loss, accuracy, gradient flow, time-step gradients.

Every ``draw_*`` function draws into a given ``matplotlib.figure.Figure`` from a list of
events (dicts, see ``builder/training/events.py``), clearing it first, and returns True when
there was data to draw (False leaves a short "no data yet" note in the figure). They never
use pyplot or change matplotlib's global state (backend, rcParams), so the desktop app draws
the same figures into its Qt canvases and ``write_plots`` renders them with Agg into
``<run>/plots/*.png``.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from matplotlib import colormaps, colors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator

from builder.atomic import write_atomic
from builder.training.plot_style import (
    GRID,
    LABEL,
    SMALL,
    TITLE,
    figure_note,
    finite_number,
    spans_decades,
    style_axes,
)
from builder.training.task_plots import plot_jobs, run_task

TRAIN_COLOR, VAL_COLOR = "tab:blue", "tab:orange"


# --- reading events ------------------------------------------------------------------------
def _of(events: Iterable[dict], kind: str) -> list[dict]:
    return [e for e in events if e.get("event") == kind]


def _settings(events: list[dict]) -> dict:
    started = _of(events, "run_started")
    return (started[-1].get("settings") or {}) if started else {}


def _steps_per_epoch(events: list[dict]) -> int | None:
    started = _of(events, "run_started")
    value = started[-1].get("steps_per_epoch") if started else None
    return value if isinstance(value, int) and value > 0 else None


def _gradient_events(events: list[dict]) -> list[dict]:
    return sorted((e for e in _of(events, "gradients") if e.get("nodes")), key=lambda e: e.get("step", 0))


def _gradient_nodes(gradients: list[dict]) -> list[str]:
    """Every node in any gradients event, in the order they first appear (graph order)."""
    seen: dict[str, None] = {}
    for event in gradients:
        for node in event["nodes"]:
            seen.setdefault(node, None)
    return list(seen)


def _warned_nodes(events: list[dict]) -> set[str]:
    return {e["node"] for e in _of(events, "warning") if e.get("node")}


# --- helpers ---------------------------------------------------------------------------
def _start(fig: Figure) -> None:
    fig.clear()
    fig.set_layout_engine("constrained")


def _no_data(fig: Figure, message: str) -> bool:
    figure_note(fig, message)
    return False


def _label_size(fig: Figure, rows: int, share: float = 0.85) -> float:
    """A tick-label font size (points) that fits ``rows`` labels into the figure's height."""
    height_pt = fig.get_size_inches()[1] * 72 * share
    return max(4.0, min(SMALL, 0.8 * height_pt / max(rows, 1)))


def _loss_label(events: list[dict]) -> str:
    name = str(_settings(events).get("loss", ""))
    if name in ("", "auto", "None") and any(e.get("train_accuracy") is not None for e in _of(events, "epoch")):
        name = "cross_entropy"  # 'auto' picks cross-entropy for classification, the runs with an accuracy
    if name in ("cross_entropy", "bce"):
        return "loss (cross-entropy, nats per sample)"
    if name == "mse":
        return "loss (mean squared error)"
    return "loss (mean per sample)"


def _epoch_axis(ax, events: list[dict]) -> None:
    """An 'epoch' scale on the top edge of a step axis, when the run says how long an epoch is."""
    per_epoch = _steps_per_epoch(events)
    steps = [e["step"] for e in events if isinstance(e.get("step"), (int, float))]
    if per_epoch and steps and max(steps) >= per_epoch:  # (a shorter run's epochs would be 0.03 ...)
        top = ax.secondary_xaxis("top", functions=(lambda s: s / per_epoch, lambda e: e * per_epoch))
        top.set_xlabel("epoch", fontsize=SMALL)
        top.xaxis.set_major_locator(MaxNLocator(integer=True))
        top.tick_params(labelsize=SMALL)


# --- loss and accuracy -----------------------------------------------------------------
def draw_loss(fig: Figure, events: list[dict]) -> bool:
    """Logged step losses (faint), the epoch mean training loss and the validation loss, over steps."""
    _start(fig)
    steps = [(e.get("step"), finite_number(e.get("loss"))) for e in _of(events, "step")]
    steps = [(s, v) for s, v in steps if isinstance(s, (int, float)) and v is not None]
    epochs = _of(events, "epoch")
    train = [(e["step"], v) for e in epochs if (v := finite_number(e.get("train_loss"))) is not None and "step" in e]
    val = [(e["step"], v) for e in epochs if (v := finite_number(e.get("val_loss"))) is not None and "step" in e]
    if not (steps or train or val):
        return _no_data(fig, "no loss recorded yet")
    ax = fig.add_subplot()
    if steps:
        ax.plot(*zip(*steps), color=TRAIN_COLOR, alpha=0.3, linewidth=0.9, label="training loss (logged steps)")
    if train:
        ax.plot(*zip(*train), "o-", color=TRAIN_COLOR, markersize=4, linewidth=1.8, label="training loss (epoch mean)")
    if val:
        ax.plot(*zip(*val), "s-", color=VAL_COLOR, markersize=4, linewidth=1.8, label="validation loss")
    values = [v for _, v in steps + train + val]
    if spans_decades(values):
        ax.set_yscale("log")
    style_axes(ax, "Loss", "step (optimizer updates)", _loss_label(events))
    _epoch_axis(ax, events)
    ax.legend(fontsize=SMALL, loc="best", framealpha=0.85)
    return True


def _as_percent(values: list[float]) -> list[float]:
    """Accuracies are fractions in [0, 1]; values above 1 are taken as already in percent."""
    return values if any(v > 1.0 for v in values) else [100.0 * v for v in values]


def draw_accuracy(fig: Figure, events: list[dict]) -> bool:
    """Training and validation accuracy (%) per epoch; False when the run has none (regression)."""
    _start(fig)
    epochs = _of(events, "epoch")
    series = {}
    for key in ("train_accuracy", "val_accuracy"):
        points = [(e.get("epoch"), finite_number(e.get(key))) for e in epochs]
        points = [(x, v) for x, v in points if isinstance(x, (int, float)) and v is not None]
        if points:
            series[key] = points
    if not series:
        return _no_data(fig, "no accuracy recorded yet")
    scaled = _as_percent([v for points in series.values() for _, v in points])
    ax = fig.add_subplot()
    position = 0
    styles = {"train_accuracy": ("o-", TRAIN_COLOR, "training accuracy"),
              "val_accuracy": ("s-", VAL_COLOR, "validation accuracy")}
    for key, points in series.items():
        values = scaled[position:position + len(points)]
        position += len(points)
        style, color, label = styles[key]
        best = max(range(len(values)), key=values.__getitem__)
        label += f" (best {values[best]:.1f}% at epoch {points[best][0]})"
        ax.plot([x for x, _ in points], values, style, color=color, markersize=4, linewidth=1.8, label=label)
        ax.plot([points[best][0]], [values[best]], "*", color=color, markersize=11)
    ax.set_ylim(0, 102)
    pixels = run_task(events) == "segmentation"  # the share of pixels labelled right
    style_axes(ax, "Pixel accuracy" if pixels else "Accuracy", "epoch", "pixel accuracy (%)" if pixels else "accuracy (%)")
    ax.legend(fontsize=SMALL, loc="lower right", framealpha=0.85)
    return True


# --- gradient flow -------------------------------------------------------------------------
def _node_axis(ax, fig: Figure, nodes: list[str], warned: set[str], labels: bool = True) -> None:
    ax.set_ylim(len(nodes) - 0.5, -0.5)  # first node on top, as in the graph file
    ax.set_yticks(range(len(nodes)))
    if labels:
        ax.set_yticklabels(nodes, fontsize=_label_size(fig, len(nodes)))
        for label, node in zip(ax.get_yticklabels(), nodes):
            if node in warned:
                label.set_color("tab:red")
                label.set_fontweight("bold")
    else:
        ax.tick_params(labelleft=False)


def _bars(ax, fig: Figure, event: dict, nodes: list[str], warned: set[str]) -> None:
    stats = event["nodes"]
    mean = [finite_number(stats.get(n, {}).get("mean_abs")) for n in nodes]
    peak = [finite_number(stats.get(n, {}).get("max_abs")) for n in nodes]
    positive = [v for v in mean + peak if v is not None and v > 0]
    floor = min(positive) / 4 if positive else 1e-12
    top = max(positive) * 3 if positive else 1.0

    def bar(values):  # bars start at the floor; zero and missing values have no bar
        return [(v if v is not None and v > floor else floor) for v in values]

    ys = range(len(nodes))
    ax.barh(ys, [v - floor for v in bar(peak)], left=floor, height=0.8, color="#9ecae1", label="max |grad|")
    ax.barh(ys, [v - floor for v in bar(mean)], left=floor, height=0.45, color="#08519c", label="mean |grad|")
    ax.set_xscale("log")
    ax.set_xlim(floor, top)
    ax.xaxis.set_major_locator(LogLocator(base=10, numticks=8))
    _node_axis(ax, fig, nodes, warned)
    ax.set_xlabel("|gradient| per parameter element (log scale)", fontsize=LABEL)
    ax.set_ylabel("node", fontsize=LABEL)
    ax.set_title(f"Gradient size per node at step {event.get('step')}", fontsize=TITLE)
    ax.tick_params(axis="x", labelsize=SMALL)
    ax.grid(True, axis="x", which="major", **GRID)
    ax.legend(fontsize=SMALL, loc="lower right", framealpha=0.85)


def _heatmap(ax, fig: Figure, gradients: list[dict], nodes: list[str], warned: set[str], labels: bool) -> None:
    steps = [float(e.get("step", i)) for i, e in enumerate(gradients)]
    grid = np.full((len(nodes), len(steps)), np.nan)
    row = {n: i for i, n in enumerate(nodes)}
    for j, event in enumerate(gradients):
        for node, stats in event["nodes"].items():
            norm = finite_number(stats.get("norm"))
            if norm is not None and norm > 0:
                grid[row[node], j] = math.log10(norm)
    if len(steps) > 1:
        middles = [(a + b) / 2 for a, b in itertools.pairwise(steps)]
        edges = [steps[0] - (middles[0] - steps[0])] + middles + [steps[-1] + (steps[-1] - middles[-1])]
    else:
        edges = [steps[0] - 0.5, steps[0] + 0.5]
    cmap = colormaps["viridis"].with_extremes(bad="0.85")  # grey: no gradient recorded
    finite = grid[np.isfinite(grid)]
    norm = colors.Normalize(vmin=float(finite.min()), vmax=float(finite.max())) if finite.size else None
    mesh = ax.pcolormesh(edges, np.arange(len(nodes) + 1) - 0.5, np.ma.masked_invalid(grid), cmap=cmap,
                         norm=norm, shading="flat")
    _node_axis(ax, fig, nodes, warned, labels)
    ax.set_xlabel("step", fontsize=LABEL)
    if labels:
        ax.set_ylabel("node", fontsize=LABEL)
    ax.set_title("Gradient norm per node over training", fontsize=TITLE)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=8))
    ax.tick_params(axis="x", labelsize=SMALL)
    bar = fig.colorbar(mesh, ax=ax, fraction=0.05, pad=0.02, aspect=30)
    bar.set_label("log10 of the gradient norm (L2 over the node's parameters)", fontsize=SMALL)
    bar.ax.tick_params(labelsize=SMALL)


def draw_gradient_bars(fig: Figure, events: list[dict]) -> bool:
    """Mean and max |grad| of every node at the most recent gradients event (log scale)."""
    _start(fig)
    gradients = _gradient_events(events)
    if not gradients:
        return _no_data(fig, "no gradient statistics yet (they come every diagnostics_every steps)")
    _bars(fig.add_subplot(), fig, gradients[-1], _gradient_nodes(gradients), _warned_nodes(events))
    return True


def draw_gradient_heatmap(fig: Figure, events: list[dict]) -> bool:
    """Node x step heatmap of log10 of the gradient norm."""
    _start(fig)
    gradients = _gradient_events(events)
    if not gradients:
        return _no_data(fig, "no gradient statistics yet (they come every diagnostics_every steps)")
    _heatmap(fig.add_subplot(), fig, gradients, _gradient_nodes(gradients), _warned_nodes(events), True)
    return True


def draw_gradient_flow(fig: Figure, events: list[dict]) -> bool:
    """The bars (left) and the heatmap (right) side by side, sharing the node axis."""
    _start(fig)
    gradients = _gradient_events(events)
    if not gradients:
        return _no_data(fig, "no gradient statistics yet (they come every diagnostics_every steps)")
    nodes, warned = _gradient_nodes(gradients), _warned_nodes(events)
    left, right = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 1.35]})
    _bars(left, fig, gradients[-1], nodes, warned)
    _heatmap(right, fig, gradients, nodes, warned, labels=False)
    if warned & set(nodes):
        fig.suptitle("nodes in red have a warning (see the log)", fontsize=SMALL, color="tab:red")
    return True


# --- recurrent time steps ------------------------------------------------------------------
def _pick(items: list, count: int) -> list:
    """Up to ``count`` items evenly spread over ``items``, first and last included."""
    if len(items) <= count:
        return items
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def draw_timestep_gradients(fig: Figure, events: list[dict], *, lines: int = 5) -> bool:
    """For each recurrent node, ||dLoss/dx_t|| over the time steps t at a few training steps."""
    _start(fig)
    by_node: dict[str, list[dict]] = {}
    for event in _of(events, "timestep_gradients"):
        if event.get("node") and event.get("norms"):
            by_node.setdefault(event["node"], []).append(event)
    if not by_node:
        return _no_data(fig, "no time-step gradients (the graph has no rnn, lstm or gru block, or none yet)")
    axes = fig.subplots(len(by_node), 1, squeeze=False)[:, 0]
    palette = colormaps["viridis"]
    for ax, (node, recorded) in zip(axes, by_node.items()):
        recorded = sorted(recorded, key=lambda e: e.get("step", 0))
        chosen = _pick(recorded, lines)
        for k, event in enumerate(chosen):
            norms = [finite_number(v) for v in event["norms"]]
            points = [(t + 1, v) for t, v in enumerate(norms) if v is not None and v > 0]
            if not points:
                continue
            color = palette(0.9 * k / max(len(chosen) - 1, 1))  # early steps dark, late steps yellow
            ax.plot(*zip(*points), "-", color=color, linewidth=1.6, marker="o" if len(norms) <= 12 else None,
                    markersize=3, label=f"step {event.get('step')}")
        ax.set_yscale("log")
        last = chosen[-1]["norms"]
        title = f"Gradient reaching each time step at the input of {node!r}"
        first, final = finite_number(last[0]), finite_number(last[-1])
        if first is not None and final:
            title += f"\nfirst/last time step = {first / final:.2g} at step {chosen[-1].get('step')}"
        style_axes(ax, title, "time step t (position in the input sequence)",
                   "‖dLoss/dx_t‖ (L2 over batch, features)")
        if ax.lines:
            ax.legend(title="training step", fontsize=SMALL, title_fontsize=SMALL, loc="best", framealpha=0.85)
    return True


# --- files ----------------------------------------------------------------------------
def _render(draw: Callable[[Figure, list[dict]], bool], events: list[dict], size: tuple[float, float]
            ) -> bytes | None:
    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    if not draw(fig, events):
        return None
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def write_plots(run_dir: Path, events: list[dict]) -> list[Path]:
    """Write ``loss.png``, ``accuracy.png``, ``gradient_flow.png`` and (for recurrent graphs)
    ``timestep_gradients.png`` into ``run_dir/plots/``, skipping those without data.
    Each file is replaced atomically. Returns the paths written."""
    folder = Path(run_dir) / "plots"
    events = list(events)
    node_count = len(_gradient_nodes(_gradient_events(events)))
    recurrent = len({e.get("node") for e in _of(events, "timestep_gradients") if e.get("node")})
    jobs = [
        ("loss.png", draw_loss, (9.0, 5.0)),
        ("accuracy.png", draw_accuracy, (9.0, 5.0)),
        ("gradient_flow.png", draw_gradient_flow, (15.0, min(60.0, max(5.0, 1.6 + 0.19 * node_count)))),
        ("timestep_gradients.png", draw_timestep_gradients, (9.0, 0.6 + 4.2 * max(recurrent, 1))),
        *plot_jobs(events),  # iou.png, outputs.png (builder/training/task_plots.py)
    ]
    written = []
    for name, draw, size in jobs:
        data = _render(draw, events, size)
        if data is not None:
            write_atomic(folder / name, data)
            written.append(folder / name)
    return written


__all__ = [
    "draw_accuracy",
    "draw_gradient_bars",
    "draw_gradient_flow",
    "draw_gradient_heatmap",
    "draw_loss",
    "draw_timestep_gradients",
    "write_plots",
]
