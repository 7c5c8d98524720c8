"""The PNG reports: drawn from events alone, skipped without data, never through pyplot."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from builder.training.plots import (
    draw_accuracy,
    draw_gradient_bars,
    draw_gradient_flow,
    draw_gradient_heatmap,
    draw_loss,
    draw_timestep_gradients,
    write_plots,
)
from tests.conftest import ROOT

PNG = b"\x89PNG\r\n\x1a\n"
ALL = ["loss.png", "accuracy.png", "gradient_flow.png", "timestep_gradients.png"]
DRAW = [draw_loss, draw_accuracy, draw_gradient_bars, draw_gradient_heatmap, draw_gradient_flow,
        draw_timestep_gradients]


def synthetic(nodes=8, steps=300, every=20, per_epoch=50, recurrent=("rnn",), accuracy=True, length=40):
    """Events shaped like the engine's: a loss that falls, gradients that shrink with depth."""
    names = [f"layer{i}" for i in range(nodes)]
    events = [{"v": 1, "event": "run_started", "time": 0.0, "steps_per_epoch": per_epoch,
               "settings": {"loss": "cross_entropy"}}]
    for step in range(1, steps + 1):
        if step % 10 == 0:
            events.append({"v": 1, "event": "step", "step": step, "epoch": step // per_epoch,
                           "loss": 2.3 * math.exp(-step / 100) + 0.05, "lr": 1e-3, "samples_per_s": 1000.0})
        if step % every == 0:
            events.append({"v": 1, "event": "gradients", "step": step, "nodes": {
                n: {"norm": 10.0 ** (-1 - i), "mean_abs": 10.0 ** (-4 - i), "max_abs": 10.0 ** (-2 - i)}
                for i, n in enumerate(names)}})
            for node in recurrent:
                events.append({"v": 1, "event": "timestep_gradients", "step": step, "node": node,
                               "norms": [1e-3 * 0.7 ** (length - t) for t in range(length)]})
        if step % per_epoch == 0:
            events.append({"v": 1, "event": "epoch", "epoch": step // per_epoch, "step": step,
                           "train_loss": 2.3 * math.exp(-step / 100), "val_loss": 2.4 * math.exp(-step / 120),
                           "train_accuracy": 1 - 0.9 * math.exp(-step / 100) if accuracy else None,
                           "val_accuracy": 1 - 0.9 * math.exp(-step / 120) if accuracy else None})
    events.append({"v": 1, "event": "warning", "node": names[-1], "message": "vanishing gradient in ..."})
    return events


def assert_pngs(paths, names):
    assert [p.name for p in paths] == names
    for path in paths:
        assert path.parent.name == "plots"
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 5_000, path


def test_write_plots_writes_every_figure(tmp_path):
    paths = write_plots(tmp_path, synthetic())
    assert_pngs(paths, ALL)
    assert not [p for p in (tmp_path / "plots").iterdir() if p.name.startswith(".")]  # no temporary files


def test_plots_without_data_are_skipped(tmp_path):
    regression = synthetic(recurrent=(), accuracy=False)
    assert_pngs(write_plots(tmp_path / "a", regression), ["loss.png", "gradient_flow.png"])
    no_gradients = [e for e in synthetic() if e["event"] not in ("gradients", "timestep_gradients")]
    assert_pngs(write_plots(tmp_path / "b", no_gradients), ["loss.png", "accuracy.png"])
    assert write_plots(tmp_path / "c", []) == []
    assert not (tmp_path / "c" / "plots").exists()


def test_every_draw_function_handles_no_data_and_odd_values():
    odd = synthetic(nodes=3, steps=100)
    for event in odd:
        if event["event"] == "gradients":  # zero, NaN and infinite statistics, a node missing
            event["nodes"]["layer0"] = {"norm": 0.0, "mean_abs": 0.0, "max_abs": 0.0}
            event["nodes"]["layer1"] = {"norm": float("nan"), "mean_abs": float("inf"), "max_abs": None}
            del event["nodes"]["layer2"]
        if event["event"] == "timestep_gradients":
            event["norms"][0] = 0.0
        if event["event"] == "epoch":
            event["val_loss"] = None
    for draw in DRAW:
        for events in ([], odd):
            fig = Figure(figsize=(6, 4))
            canvas = FigureCanvasAgg(fig)
            assert draw(fig, events) is bool(events), draw.__name__
            canvas.draw()  # renders without errors, also the "no data yet" note


def test_many_nodes_get_a_taller_gradient_figure(tmp_path):
    (path,) = [p for p in write_plots(tmp_path, synthetic(nodes=70, recurrent=())) if p.name == "gradient_flow.png"]
    from matplotlib.image import imread

    height, width = imread(path).shape[:2]
    assert height > 1000 and width >= 1000  # about 0.19 inch (13 px at 100 dpi) per node


def test_drawing_into_a_figure_twice_replaces_the_old_drawing():
    fig = Figure()
    FigureCanvasAgg(fig)
    draw_gradient_flow(fig, synthetic())
    draw_gradient_flow(fig, synthetic())
    assert len(fig.axes) == 3  # bars, heatmap, colorbar


def test_plots_use_neither_pyplot_nor_global_matplotlib_state(tmp_path):
    code = (  # (matplotlib.get_backend() itself imports pyplot: read the raw rcParams instead)
        "import sys, matplotlib\n"
        "state = lambda: {k: dict.__getitem__(matplotlib.rcParams, k) for k in dict.keys(matplotlib.rcParams)}\n"
        "before = state()\n"
        "from pathlib import Path\n"
        "from tests.builder.test_plots import synthetic\n"
        "from builder.training.plots import write_plots\n"
        f"write_plots(Path({str(tmp_path)!r}), synthetic())\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "assert state() == before\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.mark.parametrize("kind", ["gradients", "timestep_gradients"])
def test_a_single_record_draws(tmp_path, kind):
    events = [e for e in synthetic(steps=20) if e["event"] in (kind, "run_started")]
    names = {"gradients": ["gradient_flow.png"], "timestep_gradients": ["timestep_gradients.png"]}[kind]
    assert_pngs(write_plots(tmp_path, events), names)


@pytest.mark.parametrize("draw", [draw_loss, draw_accuracy])
def test_a_one_step_run_gets_whole_number_ticks_and_no_fractional_epoch_axis(draw):
    """A --max-steps 1 run: one point. Ticks were 0.945 ... 1.05, and the top epoch axis 0.0316 ..."""
    events = [{"event": "run_started", "steps_per_epoch": 30}, {"event": "step", "step": 1, "loss": 0.9},
              {"event": "epoch", "epoch": 1, "step": 1, "train_loss": 0.9, "val_loss": 0.8,
               "train_accuracy": 0.2, "val_accuracy": 0.1}]
    fig = Figure()
    FigureCanvasAgg(fig)
    assert draw(fig, events)
    fig.canvas.draw()
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    shown = [t for t in ax.get_xticks() if low <= t <= high]
    assert len(shown) >= 2 and all(float(t).is_integer() for t in shown)
    assert not ax.child_axes  # no secondary epoch axis for a run shorter than an epoch
