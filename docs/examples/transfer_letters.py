"""Transfer learning in seconds, on two CPU cores: ten new letters learnt from 3 images each,
on features learnt from other letters, against the same CNN trained from scratch.

    python docs/examples/transfer_letters.py            # four runs in runs/transfer_letters/
    python docs/examples/transfer_letters.py --more     # and four variations (docs/transfer.md)

The data are the ``letters`` source: letters of an invented alphabet, drawn at random
places, sizes and angles on a striped, noisy background (builder/data/stroke_letters.py).

1. ``source``: graphs/letters_transfer.yaml trained on the letters 0-9, 300 images each.
2. ``finetune``: the same graph on ten new letters, 10-19, from 3 images each (30 in all),
   started from the source run's weights (``init``) with a fresh head (``map: {"fc.*":
   null}``) and its convolutional features frozen (``freeze: {up_to: pool3}``): only the
   330 weights of the head ``fc`` train.
3. ``random_frozen``: the same as ``finetune`` from random weights: the same 330 weights
   train, on features nobody taught.
4. ``scratch``: the same graph on the same 30 images, all 14,538 weights trained from
   random, with the same epochs and the learning rate that suited it best (0.03, of 0.003,
   0.01 and 0.03).

All target runs are measured on the same 500 validation images of the letters 10-19,
which none of them trains on. The table at the end compares them; ``compare.png`` is the
app's Compare figure of the three target runs (loss and accuracy per epoch, one color per
run) and ``letters.png`` shows the letters and the 30 training images.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GRAPH = ROOT / "graphs" / "letters_transfer.yaml"
SHOTS = 3  # training images of each new letter
TARGET = {"data": {"name": "letters", "classes": list(range(10, 20)), "per_class": SHOTS, "val_per_class": 50},
          "epochs": 30, "batch_size": 10, "lr": 0.03, "schedule": "none"}
FROZEN = {**TARGET, "freeze": {"up_to": "pool3"}}
FEATURES = {"map": {"fc.*": None}}  # the source run's weights but its head; "from" is added per demo
# quick: what the tests run, in half the time: fewer source images and epochs, fewer
# validation images; the gap is smaller but clear
QUICK_SOURCE = {"data": {"name": "letters", "classes": list(range(10)), "per_class": 200}, "epochs": 4}
QUICK_VAL = 30  # validation images of each new letter

# (name, what it is, its settings over the graph's; "init" means: from the source run)
RUNS = [
    ("source", "letters 0-9, 300 images each", {}),
    ("finetune", f"10-19, {SHOTS} each: head on frozen source features", {**FROZEN, "init": FEATURES}),
    ("random_frozen", f"10-19, {SHOTS} each: head on frozen random features", FROZEN),
    ("scratch", f"10-19, {SHOTS} each: all weights from random", TARGET),
]
SHIFTED = {"data": {**TARGET["data"], "augment": {"crop": 2}}}  # each training image moved up to 2 px
MORE = [  # --more: what else a student would try
    ("scratch_augmented", "scratch, images shifted up to 2 px", {**TARGET, **SHIFTED}),
    ("finetune_augmented", "finetune, images shifted up to 2 px", {**FROZEN, **SHIFTED, "init": FEATURES}),
    ("init_unfrozen", "source weights, nothing frozen", {**TARGET, "init": FEATURES}),
    ("finetune_unfreeze", "finetune, all weights from epoch 21 at lr/10",
     {**FROZEN, "init": FEATURES, "unfreeze_after": 20, "unfreeze_lr": 0.1}),
]


def train(graph: Any, overrides: dict, out: Path, threads: int | str, seed: int) -> dict:
    """One run of ``graph`` into ``out`` with ``overrides`` over its training section; its summary."""
    from builder.training.engine import Trainer
    from builder.training.runs import RunFolder
    from builder.training.settings import resolve_settings

    settings = resolve_settings(graph.training, {"threads": threads, "tensorboard": False, "estimate": False,
                                                 "diagnostics_every": 0, "seed": seed, **overrides})
    return Trainer(graph, settings, RunFolder.at(out)).run()


def run_demo(out: Path, threads: int | str = 1, seed: int = 0, quick: bool = False,
             more: bool = False) -> dict[str, dict]:
    """The runs into ``out/NAME`` (data, weights and order fixed by ``seed``): their summaries by name."""
    from builder.yaml_format import load_graph

    graph = load_graph(GRAPH)
    summaries = {}
    for name, _, overrides in RUNS + (MORE if more else []):
        if quick:
            overrides = ({**overrides, **QUICK_SOURCE} if name == "source" else
                         {**overrides, "data": {**overrides["data"], "val_per_class": QUICK_VAL}})
        if "init" in overrides:
            overrides = {**overrides, "init": {**overrides["init"], "from": str(out / "source")}}
        summaries[name] = train(graph, overrides, out / name, threads, seed)
    return summaries


def write_comparison(out: Path, names: list[str]) -> Path | None:
    """``out/compare.png``: the app's Compare figure of the runs ``names``; None without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from gui.training.compare_plots import draw_overlay  # Qt-free: matplotlib only
        from gui.training.run_folders import load_run_events
    except ImportError:
        return None
    fig = Figure(figsize=(12.0, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    draw_overlay(fig, [(name, load_run_events(out / name)) for name in names])
    fig.savefig(out / "compare.png")
    return out / "compare.png"


def write_examples(path: Path, seed: int = 0) -> Path:
    """A picture of the task: 3 source images of each of the letters 0-9, and the 3
    training images of each new letter, all that the target runs learn from."""
    import torch
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from builder.data import InputSpec, load_data

    fig = Figure(figsize=(12.0, 2.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subfigures(1, 2)
    for panel, letters, title in ((left, range(10), "letters 0-9: the source task (300 images each; 3 shown)"),
                                  (right, range(10, 20), f"letters 10-19: the {SHOTS} training images of each")):
        spec = {**TARGET["data"], "classes": list(letters), "normalize": False}
        task = load_data(spec, [InputSpec("image", (1, 20, 20))], (10,), seed=seed)
        order = torch.argsort(task.train.targets, stable=True)
        axes = panel.subplots(SHOTS, 10)
        for k, ax in enumerate(axes.T.flat):
            ax.imshow(task.train.inputs[0][order[k], 0], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
        for column, letter in enumerate(letters):
            axes[0, column].set_title(str(letter), fontsize=9)
        panel.suptitle(title, fontsize=10)
    fig.savefig(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/transfer_letters", help="folder for the run folders")
    parser.add_argument("--threads", default="auto", help="CPU threads to train with")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data, the weights and the order")
    parser.add_argument("--more", action="store_true", help="four more runs: scratch and finetune with "
                        "augmentation, init without freezing, finetune then unfreeze")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        print(f"{out} is not empty: give another --out", file=sys.stderr)
        return 1
    summaries = run_demo(out, args.threads, args.seed, more=args.more)
    tasks = {name: task for name, task, _ in RUNS + MORE}
    print(f"{'run':18} {'task':50} {'val accuracy':>12}")
    for name, summary in summaries.items():
        print(f"{name:18} {tasks[name]:50} {100 * summary['final']['val_accuracy']:11.1f}%")
    figure = write_comparison(out, ["finetune", "random_frozen", "scratch"])
    print(f"runs in {out}; the letters in {write_examples(out / 'letters.png', args.seed)}"
          + (f"; compared in {figure}" if figure else ""))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing
    sys.exit(main())
