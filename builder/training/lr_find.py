"""The learning-rate range test (Leslie Smith, "Cyclical Learning Rates for Training Neural
Networks", 2017; the "LR finder" of fastai): train for a short while with a learning rate
that grows exponentially from tiny to huge, and watch the loss.

The loss first stays flat (the rate is too small to matter), then falls, then turns and
shoots up (the rate is too large). The test stops there, when the loss (an exponential
moving average, as the steps come) exceeds ``diverge`` times its lowest value. The curve
the suggestions are read from is smoothed afterwards by a centred moving average, which
does not lag behind the rate as the running average does. The suggested rate is where it
falls fastest against log(lr) (the steepest descent): a rate at which the model clearly
learns, well below where it breaks down. The other common rule, the rate of the lowest
loss divided by 10, is reported beside it.

The run starts from the graph's settings (data, batch size, optimizer, ``init`` weights,
frozen nodes, per-node rates), so it tests the rate of the training that would follow.
Nothing is saved but the plot; the weights it leaves are thrown away.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

STEEPEST, MIN_TENTH = "steepest descent", "lowest loss / 10"


@dataclass
class RangeTest:
    """The learning rates tried, the loss at each and the suggestion."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    stopped: str  # "diverged" or "end of range"
    steepest: float | None
    min_tenth: float | None

    @property
    def suggestion(self) -> float | None:
        return self.steepest if self.steepest is not None else self.min_tenth

    @property
    def rule(self) -> str:
        return STEEPEST if self.steepest is not None else MIN_TENTH

    def as_dict(self) -> dict[str, Any]:
        return {"suggestion": self.suggestion, "rule": self.rule, "steepest": self.steepest,
                "min_tenth": self.min_tenth, "stopped": self.stopped, "lrs": self.lrs, "losses": self.losses,
                "smoothed": self.smoothed}


def centred_average(values: list[float], window: int) -> list[float]:
    """Each value replaced by the mean of the ``window`` values around it (fewer at the ends)."""
    half = max(1, window) // 2
    return [float(np.mean(values[max(0, i - half):i + half + 1])) for i in range(len(values))]


def suggestions(lrs: list[float], smoothed: list[float], skip: int = 3) -> tuple[float | None, float | None]:
    """(steepest descent, lowest loss / 10) of a smoothed loss curve; None where the curve
    is too short to tell. The first ``skip`` points are left out."""
    if len(smoothed) < skip + 3:
        return None, None
    lows = int(np.argmin(smoothed))
    min_tenth = lrs[lows] / 10
    # up to the lowest loss: the descent that matters, not the climb after it
    part = np.asarray(smoothed[skip:lows + 1])
    if len(part) < 3:
        return None, min_tenth
    slope = np.gradient(part, np.log10(np.asarray(lrs[skip:lows + 1])))
    return float(lrs[skip + int(np.argmin(slope))]), min_tenth


def range_test(graph: Any, settings: dict[str, Any], *, start: float = 1e-7, end: float = 10.0, steps: int = 100,
               beta: float = 0.9, diverge: float = 4.0) -> RangeTest:
    """Run the test on ``graph`` with ``settings`` (``resolve_settings``' dict)."""
    from builder.analysis import analyze
    from builder.compiler import compile_graph, resolve_device
    from builder.data import InputSpec, load_data
    from builder.errors import GraphError
    from builder.training.objective import build_objective, plan_outputs
    from builder.training.optimization import build_optimizer
    from builder.training.threads import choose_threads
    from builder.training.transfer import Transfer
    from builder.training.typed_settings import TrainingSettings
    from builder.training.weight_sources import TransferError

    if not 0 < start < end:
        raise TransferError(f"lr-find: the range must run from a small rate to a larger one, found {start} to {end}")
    c = TrainingSettings.from_dict(settings)
    analysis = analyze(graph)
    if not analysis.ok:
        raise GraphError(analysis.problems)
    if not c.data or len(analysis.output_ids) != 1:
        raise TransferError("lr-find needs a graph with one output and a data set ('training: {data: ...}')")
    inputs = [InputSpec(i, tuple(analysis.nodes[i].shape), analysis.nodes[i].dtype) for i in analysis.input_ids]
    base = Path(graph.path).resolve().parent if graph.path else Path.cwd()
    outputs, primary = plan_outputs(graph, analysis, c.loss)  # the loss setting, checked against the graph
    data = load_data(c.data, inputs, outputs, seed=c.seed, val_split=c.val_split, base_dir=base)
    threads = torch.get_num_threads()
    torch.set_num_threads(choose_threads(c.threads)[0])
    try:
        device = resolve_device(c.device)
        model = compile_graph(graph, seed=c.seed, device=device, analysis=analysis)
        transfer = Transfer(model, graph, c)
        optimizer = build_optimizer(transfer.param_groups(), c)
        loss_fn = build_objective(graph, outputs, data.outputs, c.loss, primary).total
        return _sweep(model, optimizer, loss_fn, data, c, device, start, end, steps, beta, diverge)
    finally:
        torch.set_num_threads(threads)


def _sweep(model, optimizer, loss_fn, data, c, device, start, end, steps, beta, diverge) -> RangeTest:
    train = data.train
    inputs = [x.to(device) for x in train.inputs]
    targets = train.targets.to(device)
    shuffle = torch.Generator().manual_seed(c.seed)
    augment = torch.Generator().manual_seed(c.seed + 1)
    order, at = torch.randperm(len(targets), generator=shuffle), 0
    model.train()
    lrs, losses = [], []
    average, best, stopped = 0.0, math.inf, "end of range"
    for i in range(steps):
        lr = start * (end / start) ** (i / max(1, steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_mult", 1.0)
        if at + c.batch_size > len(order):  # a new pass over the data
            order, at = torch.randperm(len(targets), generator=shuffle), 0
        index = order[at:at + c.batch_size].to(device)
        at += c.batch_size
        xs, y = [x[index] for x in inputs], targets[index]
        if data.augment is not None:
            xs[0] = data.augment(xs[0], augment)
        loss = loss_fn(model(*xs), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            stopped = "diverged"
            break
        average = beta * average + (1 - beta) * value
        debiased = average / (1 - beta ** (i + 1))
        lrs.append(lr)
        losses.append(value)
        best = min(best, debiased)
        if i > 5 and debiased > diverge * best:
            stopped = "diverged"
            break
    smoothed = centred_average(losses, max(3, steps // 20))
    steepest, min_tenth = suggestions(lrs, smoothed)
    return RangeTest(lrs, losses, smoothed, stopped, steepest, min_tenth)


def draw(fig: Any, result: RangeTest, title: str = "Learning-rate range test") -> None:
    """The loss (raw, faint; smoothed, bold) against the learning rate, log scale, with the
    suggestions marked."""
    from matplotlib.ticker import LogLocator

    from builder.training.plot_style import SMALL, style_axes

    ax = fig.add_subplot()
    ax.plot(result.lrs, result.losses, color="tab:blue", alpha=0.25, linewidth=1, label="loss")
    ax.plot(result.lrs, result.smoothed, color="tab:blue", linewidth=2, label="smoothed loss")
    ax.set_xscale("log")
    marks = [(result.steepest, "tab:red", STEEPEST), (result.min_tenth, "tab:green", MIN_TENTH)]
    for lr, color, rule in marks:
        if lr is not None:
            chosen = " (suggested)" if rule == result.rule else ""
            ax.axvline(lr, color=color, linestyle="--", linewidth=1.2, label=f"{rule}: {lr:.2g}{chosen}")
    if result.smoothed:
        low, high = min(result.smoothed), max(result.smoothed[: max(1, len(result.smoothed) // 5)])
        ax.set_ylim(low - 0.1 * (high - low + 1e-12), high + 0.3 * (high - low + 1e-12))
    style_axes(ax, title, "learning rate (log scale)", "training loss",
               note=f"{len(result.lrs)} steps, {result.stopped}")
    ax.xaxis.set_major_locator(LogLocator())  # style_axes' whole-number ticks are for epochs
    ax.legend(fontsize=SMALL)


def write_plot(result: RangeTest, path: Path, title: str = "Learning-rate range test") -> Path:
    """The plot as a PNG at ``path``, written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from builder.atomic import write_atomic

    fig = Figure(figsize=(8.0, 5.0), dpi=100)
    FigureCanvasAgg(fig)
    draw(fig, result, title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    write_atomic(path, buffer.getvalue())
    return Path(path)
