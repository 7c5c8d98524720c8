"""Figures for dense prediction, localization and graphs with several outputs, drawn from
the event stream like builder/training/plots.py's (into a given Figure, never pyplot).

``draw_iou`` shows the mean IoU (segmentation) and box IoU (localization) per epoch,
``draw_outputs`` every output of a graph with several: each one's training and validation
loss, its metrics, and for an output that is only watched the mean and spread of its
values. ``write_plots`` writes them as ``iou.png`` and ``outputs.png``.
"""

from __future__ import annotations

from collections.abc import Iterable

from matplotlib.figure import Figure

from builder.training.plot_style import SMALL, figure_note, finite_number, style_axes

TRAIN_COLOR, VAL_COLOR = "tab:blue", "tab:orange"
IOU_KEYS = {"mean_iou": "mean IoU", "box_iou": "box IoU"}
METRIC_NAMES = {"accuracy": "accuracy", "top5": "top-5 accuracy", "mean_iou": "mean IoU", "box_iou": "box IoU",
                "mae": "mean absolute error", "mean": "mean value", "std": "spread (std) of the values"}


def _epochs(events: Iterable[dict]) -> list[dict]:
    return [e for e in events if e.get("event") == "epoch" and isinstance(e.get("epoch"), (int, float))]


def run_task(events: Iterable[dict]) -> str | None:
    """The run's task from its ``run_started`` event (``segmentation``, ``multi_output`` ...)."""
    started = [e for e in events if e.get("event") == "run_started"]
    return started[-1].get("task") if started else None


def _series(epochs: list[dict], get) -> list[tuple[float, float]]:
    points = [(e["epoch"], finite_number(get(e))) for e in epochs]
    return [(x, v) for x, v in points if v is not None]


def draw_iou(fig: Figure, events: list[dict]) -> bool:
    """Training and validation mean IoU and box IoU per epoch (0 to 1); False without them."""
    fig.clear()
    fig.set_layout_engine("constrained")
    epochs = _epochs(events)
    lines = []
    for key, name in IOU_KEYS.items():
        for split, color, style in (("train", TRAIN_COLOR, "o-"), ("val", VAL_COLOR, "s-")):
            points = _series(epochs, lambda e, k=f"{split}_{key}": e.get(k))
            if points:
                label = f"{'training' if split == 'train' else 'validation'} {name}"
                best = max(points, key=lambda p: p[1])
                lines.append((points, style, color, f"{label} (best {best[1]:.3f} at epoch {best[0]})"))
    if not lines:
        figure_note(fig, "no IoU recorded (it is measured for segmentation and box outputs)")
        return False
    ax = fig.add_subplot()
    for points, style, color, label in lines:
        ax.plot(*zip(*points), style, color=color, markersize=4, linewidth=1.8, label=label)
    ax.set_ylim(0, 1.02)
    style_axes(ax, "Intersection over union", "epoch", "IoU (1 = perfect overlap)")
    ax.legend(fontsize=SMALL, loc="lower right", framealpha=0.85)
    return True


def _outputs(epochs: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for e in epochs:
        for node in (e.get("outputs") or {}):
            seen.setdefault(node, None)
    return list(seen)


def draw_outputs(fig: Figure, events: list[dict]) -> bool:
    """One row per output: its losses (left) and its metrics (right) per epoch."""
    fig.clear()
    fig.set_layout_engine("constrained")
    epochs = _epochs(events)
    nodes = _outputs(epochs)
    if not nodes:
        figure_note(fig, "no outputs recorded (the graph has one output: see loss.png)")
        return False
    axes = fig.subplots(len(nodes), 2, squeeze=False)
    for row, node in enumerate(nodes):
        def value(e, key, node=node):
            return (e.get("outputs") or {}).get(node, {}).get(key)

        last = next((e["outputs"][node] for e in reversed(epochs) if node in (e.get("outputs") or {})), {})
        loss_ax, metric_ax = axes[row]
        trained = last.get("loss") is not None
        caption = (f"{node}: {last.get('loss')} x {last.get('weight', 1):g}" if trained
                   else f"{node}: watched only (no loss)")
        drawn = False
        for split, color, style in (("train", TRAIN_COLOR, "o-"), ("val", VAL_COLOR, "s-")):
            points = _series(epochs, lambda e, k=f"{split}_loss": value(e, k))
            if points:
                loss_ax.plot(*zip(*points), style, color=color, markersize=4, linewidth=1.6,
                             label="training" if split == "train" else "validation")
                drawn = True
        style_axes(loss_ax, caption, "epoch", "loss")
        if drawn:
            loss_ax.legend(fontsize=SMALL, framealpha=0.85)
        else:
            loss_ax.text(0.5, 0.5, "no loss: not trained", ha="center", va="center", transform=loss_ax.transAxes,
                         fontsize=SMALL, color="0.4")
        metrics = [m for m in METRIC_NAMES if any(f"{s}_{m}" in last for s in ("train", "val"))]
        for metric in metrics:
            for split, style in (("train", "o-"), ("val", "s-")):
                points = _series(epochs, lambda e, k=f"{split}_{metric}": value(e, k))
                if points:
                    metric_ax.plot(*zip(*points), style, markersize=4, linewidth=1.6,
                                   label=f"{'training' if split == 'train' else 'validation'} {METRIC_NAMES[metric]}")
        style_axes(metric_ax, f"{node}: metrics", "epoch", "value")
        if metric_ax.lines:
            metric_ax.legend(fontsize=SMALL, framealpha=0.85)
    return True


def plot_jobs(events: list[dict]) -> list[tuple]:
    """``(file name, draw, size)`` of the figures this module adds to a run's plots."""
    nodes = len(_outputs(_epochs(events)))
    return [("iou.png", draw_iou, (9.0, 5.0)), ("outputs.png", draw_outputs, (12.0, 0.8 + 3.2 * max(nodes, 1)))]


__all__ = ["draw_iou", "draw_outputs", "plot_jobs", "run_task"]
