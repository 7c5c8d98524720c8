"""The "Compare" figure: several runs (of one graph or of several) on shared axes.

One figure with up to three panels, one color per run and one legend entry per run
(the label the caller gives, e.g. ``rnn_memory 14:03:22``):

- **Loss** per epoch: training solid, validation dashed;
- **Accuracy** per epoch (classification runs): training solid, validation dashed;
- **Time steps** (runs with a recurrent block): the gradient reaching each time step of
  the block's input, relative to the last time step, at the first recorded training step
  (solid) and the last (dashed). Relative, because what the RNN-versus-LSTM experiment
  shows is the shape: how much of the last step's gradient is left at the first step.

The panels sit side by side, stacked or in a 2x2 grid, whichever gives each the most
plot-like proportions in the figure's present size. Never pyplot, never a change to
matplotlib's global state (the live plots draw this in a render thread).
"""

from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator

from builder import PLOT_LABEL_SIZE as LABEL
from builder import PLOT_SMALL_SIZE as SMALL
from builder import figure_note, finite_number, spans_decades, style_axes

CELL_ASPECT = 1.35  # width / height a panel looks best at
LOSS, ACCURACY, TIME_STEPS = "loss", "accuracy", "time steps"


def _by_epoch(events: list[dict]) -> list[tuple[float, dict]]:
    by_epoch: dict[float, dict] = {}
    for event in events:
        if event.get("event") == "epoch" and finite_number(event.get("epoch")) is not None:
            by_epoch[float(event["epoch"])] = event  # a resumed run may repeat an epoch: keep the last
    return sorted(by_epoch.items())


def epoch_losses(events: list[dict]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(epoch, train loss) and (epoch, val loss) points of one run; a run stopped in its first
    epoch gives its logged step losses at fractional epochs instead."""
    epochs = _by_epoch(events)
    train = [(x, v) for x, e in epochs if (v := finite_number(e.get("train_loss"))) is not None]
    val = [(x, v) for x, e in epochs if (v := finite_number(e.get("val_loss"))) is not None]
    if not train:
        per_epoch = next((e.get("steps_per_epoch") for e in events if e.get("event") == "run_started"), None)
        if isinstance(per_epoch, int) and per_epoch > 0:
            train = [(e["step"] / per_epoch, v) for e in events
                     if e.get("event") == "step" and finite_number(e.get("step")) is not None
                     and (v := finite_number(e.get("loss"))) is not None]
    return train, val


def epoch_accuracies(events: list[dict]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(epoch, train accuracy %) and (epoch, val accuracy %) points of one run."""
    epochs = _by_epoch(events)
    series = []
    for key in ("train_accuracy", "val_accuracy"):
        points = [(x, v) for x, e in epochs if (v := finite_number(e.get(key))) is not None]
        if points and all(v <= 1.0 for _, v in points):  # fractions; above 1: already percent
            points = [(x, 100.0 * v) for x, v in points]
        series.append(points)
    return series[0], series[1]


def timestep_profiles(events: list[dict]) -> dict[str, list[tuple[int, list[tuple[int, float]]]]]:
    """Per recurrent node: (training step, [(time step t, norm_t / norm_last)]) at the first
    and the last training step that recorded time-step gradients."""
    by_node: dict[str, list[dict]] = {}
    for event in events:
        if event.get("event") == "timestep_gradients" and event.get("node") and event.get("norms"):
            by_node.setdefault(str(event["node"]), []).append(event)
    profiles = {}
    for node, recorded in by_node.items():
        recorded = sorted(recorded, key=lambda e: e.get("step", 0))
        chosen = [recorded[0]] if len(recorded) == 1 else [recorded[0], recorded[-1]]
        curves = []
        for event in chosen:
            norms = [finite_number(v) for v in event["norms"]]
            last = norms[-1] if norms else None
            if not last or last <= 0:
                continue
            points = [(t + 1, v / last) for t, v in enumerate(norms) if v is not None and v > 0]
            if points:
                curves.append((int(event.get("step") or 0), points))
        if curves:
            profiles[node] = curves
    return profiles


def _grid(count: int, width: float, height: float) -> tuple[int, int]:
    """Rows and columns for ``count`` panels whose cells come closest to CELL_ASPECT."""
    if count <= 1:
        return 1, 1
    options = [(1, count), (count, 1)] + ([(2, 2)] if count in (3, 4) else [])
    return min(options, key=lambda rc: abs(math.log((width / rc[1]) / (height / rc[0]) / CELL_ASPECT)))


def _log_if_wide(ax, values: list[float]) -> None:
    if spans_decades(values):
        ax.set_yscale("log")
        plain = FuncFormatter(lambda value, _position: f"{value:g}")
        ax.yaxis.set_major_formatter(plain)
        if max(values) / min(values) < 1e4:  # a few decades: label 2x and 5x too, not only powers of ten
            ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
            ax.yaxis.set_minor_formatter(plain)


def loss_name(runs: list[tuple[str, list[dict]]]) -> str:
    names = set()
    for _, events in runs:
        started = [e for e in events if e.get("event") == "run_started"]
        name = str((started[-1].get("settings") or {}).get("loss", "")) if started else ""
        if name in ("", "auto"):
            classified = any(e.get("train_accuracy") is not None for e in events if e.get("event") == "epoch")
            name = "cross_entropy" if classified else ("mse" if started else "")
        names.add(name)
    if names == {"cross_entropy"}:
        return "cross-entropy loss (nats)"
    if names == {"mse"}:
        return "loss (mean squared error)"
    return "loss (mean per sample)"


def draw_overlay(fig: Figure, runs: list[tuple[str, list[dict]]]) -> bool:
    """Loss, accuracy and time-step gradients of several runs ((label, events) pairs) on
    shared axes, one color and one legend entry per run. False when no run has a loss."""
    fig.clear()
    fig.set_layout_engine("constrained")
    data = []
    for i, (name, events) in enumerate(runs):
        train, val = epoch_losses(events)
        data.append({"name": name, "color": f"C{i % 10}", "loss": (train, val),
                     "accuracy": epoch_accuracies(events), "steps": timestep_profiles(events)})
    shown = [d for d in data if d["loss"][0] or d["loss"][1]]
    if not shown:
        figure_note(fig, "no loss recorded in the selected runs" if runs else "select runs to compare")
        return False
    panels = [LOSS]
    if any(d["accuracy"][0] or d["accuracy"][1] for d in shown):
        panels.append(ACCURACY)
    if any(d["steps"] for d in shown):
        panels.append(TIME_STEPS)
    width, height = fig.get_size_inches()
    rows, columns = _grid(len(panels), width, height)
    axes = {panel: fig.add_subplot(rows, columns, i + 1) for i, panel in enumerate(panels)}

    ax = axes[LOSS]
    values = []
    for d in shown:
        train, val = d["loss"]
        marker = "o" if max(len(train), len(val)) <= 40 else None
        if train:
            ax.plot(*zip(*train), "-", color=d["color"], linewidth=1.8, marker=marker, markersize=3.5,
                    label=d["name"])
        if val:
            ax.plot(*zip(*val), "--", color=d["color"], linewidth=1.6, marker=marker, markersize=3.5,
                    label=d["name"] if not train else f"_{d['name']} validation")
        values += [v for _, v in train + val]
    _log_if_wide(ax, values)
    style_axes(ax, "Loss", "epoch", loss_name(runs), note="solid: training · dashed: validation")

    if ACCURACY in axes:
        ax = axes[ACCURACY]
        for d in shown:
            train, val = d["accuracy"]
            marker = "o" if max(len(train), len(val)) <= 40 else None
            for points, style in ((train, "-"), (val, "--")):
                if points:
                    ax.plot(*zip(*points), style, color=d["color"], linewidth=1.8, marker=marker, markersize=3.5,
                            label=f"_{d['name']}")
        ax.set_ylim(0, 102)
        style_axes(ax, "Accuracy", "epoch", "accuracy (%)", note="solid: training · dashed: validation")

    if TIME_STEPS in axes:
        ax = axes[TIME_STEPS]
        for d in shown:
            several = len(d["steps"]) > 1
            for node, curves in d["steps"].items():
                for k, (_step, points) in enumerate(curves):
                    ax.plot(*zip(*points), "-" if k == 0 else "--", color=d["color"], linewidth=1.6,
                            label=f"_{d['name']} {node}")
                if several:  # which line is which node: named at its first time step
                    first = curves[0][1][0]
                    ax.annotate(node, first, fontsize=SMALL, color=d["color"], xytext=(3, 3),
                                textcoords="offset points")
        ax.set_yscale("log")
        style_axes(ax, "Gradient reaching each time step", "time step t", "‖dLoss/dx_t‖ relative to the last step",
                   note="solid: start of training · dashed: end")

    # one legend, one entry per run: the colors mean the same run in every panel. It goes
    # into the grid's empty cell where there is one, else onto the loss plot
    if rows * columns > len(panels):
        spare = fig.add_subplot(rows, columns, rows * columns)
        spare.set_axis_off()
        handles, labels = axes[LOSS].get_legend_handles_labels()
        spare.legend(handles, labels, title="runs", fontsize=LABEL, title_fontsize=LABEL, loc="center",
                     frameon=False)
    else:
        axes[LOSS].legend(fontsize=SMALL, loc="best", framealpha=0.85)
    return True


__all__ = ["draw_overlay", "epoch_accuracies", "epoch_losses", "timestep_profiles"]
