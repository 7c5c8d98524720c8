"""Does the Model Builder trainer train as fast as a plain PyTorch loop?

    .venv/bin/python bench/train_throughput.py [--quick] [--epochs N] [--rounds N] [--threads N] [--budget S]

Measures training throughput (samples per second) of

* ``handwritten``: the loop a competent PyTorch user writes for ``graphs/lenet5.yaml``'s
  training section: LeNet-5 as an ``nn.Module`` written by hand (bench/handwritten.py, the
  same layers),
  the same digits tensors from ``builder.data.load_data`` (1,438 training samples of
  1x32x32, normalized, held in memory), a ``torch.randperm`` per epoch, batches of 64 by
  indexing those tensors, ``zero_grad``/forward/``cross_entropy``/``backward``/``step``
  with ``torch.optim.Adam(lr=1e-3)``;
* ``trainer``: ``Trainer(graph, settings, RunFolder.at(tmp), bus=EventBus()).run()`` with
  lenet5.yaml's settings and ``diagnostics_every: 0`` (gradient statistics off);
* ``trainer+diag``: the same with the default ``diagnostics_every: 20``.

Each run builds a fresh model and optimizer and trains ``--epochs`` epochs (default 4).
What is timed is the training steps only, the same for both sides: the trainer's own
``epoch`` events (``samples_per_s``; its clock runs from after the epoch's shuffle to the
end of its last step, including its step logging and end-of-window sync), and the
hand-written loop timed the same way. Set-up, validation, checkpoints and plots, which
the trainer does between or after epochs, are not in the figure. A run's throughput is
the median of its epochs'.

The variants run interleaved, one run of each per round (order rotated round to round),
after a discarded warm-up round, all with the same ``torch.set_num_threads``. A ratio is
the median over rounds (default 11) of the per-round ratio of the two runs, cross-checked
by the ratio of the variants' medians over all epochs of all rounds. Before timing, the
hand-written model gets the compiled graph's initial weights and the same shuffling seed
as the trainer, and after the warm-up round the two must end with the same weights: the
loops compute the same thing.

Also times ``modelbuilder --help`` start-up (a subprocess, median of 5) and checks that it
does not import torch.

Output: one line per variant, the ratios to the hand-written loop, the start-up time;
the line before last is ``ratio_with_diagnostics=<trainer+diag / handwritten>``, the last
``ratio=<trainer / handwritten>`` (3 decimals). Targets: ratio >= 0.95,
ratio_with_diagnostics >= 0.90, start-up < 0.5 s. Exit status 0 whatever the figures
(it is a measurement, not a test).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import torch
import torch.nn.functional as F
from torch import nn

from builder import analyze, compile_graph, load_graph
from builder.data import InputSpec, load_data
from builder.training.engine import Trainer
from builder.training.events import EventBus
from builder.training.runs import RunFolder
from builder.training.settings import resolve_settings
from handwritten import LeNet5  # noqa: E402  (bench/ is on sys.path when run as a script)

GRAPH = ROOT / "graphs/lenet5.yaml"
RATIO_TARGET = 0.95
RATIO_DIAG_TARGET = 0.90
STARTUP_TARGET_S = 0.5


# --- the hand-written reference ------------------------------------------------------------

def train_handwritten(x: torch.Tensor, y: torch.Tensor, init: dict[str, torch.Tensor], *, epochs: int,
                      batch_size: int, lr: float, seed: int) -> tuple[list[float], nn.Module]:
    """Train a fresh LeNet5 (starting from ``init``); returns (samples/s of each epoch's
    training steps, the trained model)."""
    model = LeNet5()
    model.load_state_dict(init)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    shuffle = torch.Generator().manual_seed(seed)
    n = len(y)
    rates = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=shuffle)
        started, samples = time.perf_counter(), 0
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            xb, yb = x[index], y[index]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            samples += len(yb)
        rates.append(samples / (time.perf_counter() - started))
    return rates, model


# --- the trainer ---------------------------------------------------------------------------

def train_builder(graph, settings: dict, work: Path) -> tuple[list[float], nn.Module]:
    """One ``Trainer.run`` in a fresh run folder; returns (each epoch's samples/s, from its
    ``epoch`` events, the trained model)."""
    bus = EventBus()
    epochs: list[dict] = []
    bus.subscribe(lambda event: epochs.append(event) if event["event"] == "epoch" else None)
    folder = Path(tempfile.mkdtemp(dir=work))
    try:
        trainer = Trainer(graph, settings, RunFolder.at(folder), bus=bus)
        summary = trainer.run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if summary["status"] != "completed" or len(epochs) != settings["epochs"]:
        raise SystemExit(f"trainer run ended {summary['status']!r} after {len(epochs)} epochs")
    return [e["samples_per_s"] for e in epochs], trainer.model


# --- checks ----------------------------------------------------------------------------------

def max_weight_diff(a: nn.Module, b: nn.Module) -> float:
    """Largest difference between corresponding parameters (registration order)."""
    pa, pb = list(a.parameters()), list(b.parameters())
    assert [p.shape for p in pa] == [p.shape for p in pb], "the two models have different layers"
    return max((p - q).abs().max().item() for p, q in zip(pa, pb))


def startup(runs: int = 5) -> tuple[float | None, bool | None]:
    """(median seconds of ``modelbuilder --help``, whether it imports torch)."""
    script = Path(sys.executable).parent / "modelbuilder"
    command = [str(script), "--help"] if script.exists() else [sys.executable, "-m", "builder", "--help"]
    times = []
    for _ in range(runs + 1):  # the first warms the file cache and is dropped
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            print(f"warning: {' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-200:]}")
            return None, None
    probe = ("import sys; from builder.cli import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print('torch' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False)
    imports_torch = done.stderr.strip().splitlines()[-1:] == ["True"] if done.returncode == 0 else None
    return statistics.median(times[1:]), imports_torch


# --- main ------------------------------------------------------------------------------------

def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def load_line(threads: int) -> str:
    try:
        load = os.getloadavg()
    except (AttributeError, OSError):
        return "load average unknown"
    line = f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores"
    if load[0] > max(1.0, (os.cpu_count() or 1) - threads + 0.5):
        line += (": warning: other processes compete for the CPU; with several torch threads every "
                 "figure can be inflated many times over and the ratios are unreliable")
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default 4, --quick 2)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 11, --quick 3)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and epochs (a smoke run, noisier)")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="stop adding rounds after this many seconds, once 3 are done (default 300: a "
                             "busy machine can make every run many times slower)")
    parser.add_argument("--threads", type=int, default=available_cores(),
                        help="torch intra-op threads, the same for every variant (default: the cores available)")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when piped, too
    epochs = args.epochs or (2 if args.quick else 4)
    rounds = args.rounds or (3 if args.quick else 11)

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, cpu, {torch.get_num_threads()} threads; {load_line(args.threads)}")

    graph = load_graph(GRAPH)
    base = resolve_settings(graph.training, {"epochs": epochs, "device": "cpu"})
    configs = {"trainer": resolve_settings(graph.training, {"epochs": epochs, "device": "cpu", "diagnostics_every": 0}),
               "trainer+diag": resolve_settings(graph.training, {"epochs": epochs, "device": "cpu",
                                                                 "diagnostics_every": 20})}
    assert base["diagnostics_every"] == 20, "the default diagnostics_every is no longer 20"
    assert (base["optimizer"], base["lr"], base["batch_size"], base["schedule"], base["clip_norm"]) == \
        ("adam", 1e-3, 64, "none", None), "lenet5.yaml's training section changed: update the hand-written loop"

    # The data exactly as the trainer gets it (same spec, seed and split).
    analysis = analyze(graph)
    inputs = [InputSpec(i, tuple(analysis.nodes[i].shape), analysis.nodes[i].dtype) for i in analysis.input_ids]
    output_shape = tuple(analysis.nodes[analysis.output_ids[0]].shape)
    task = load_data(base["data"], inputs, output_shape, seed=base["seed"], val_split=base["val_split"],
                     base_dir=GRAPH.parent)
    x, y = task.train.inputs[0], task.train.targets
    assert task.augment is None and task.kind == "classification"
    # the trainer's initial weights (compiled with the same seed), in the hand-written layout
    compiled = compile_graph(graph, seed=base["seed"], device=torch.device("cpu"))
    hand = LeNet5()
    source = list(compiled.state_dict().values())
    assert [t.shape for t in source] == [t.shape for t in hand.state_dict().values()], "layers differ"
    init = {k: v.clone() for k, v in zip(hand.state_dict(), source)}
    print(f"data: {task.description}; {len(y)} training samples, batch {base['batch_size']}, "
          f"{epochs} epochs per run, {sum(t.numel() for t in source):,} parameters")

    with tempfile.TemporaryDirectory(prefix="train-throughput-") as tmp:
        work = Path(tmp)
        variants = {
            "handwritten": lambda: train_handwritten(x, y, init, epochs=epochs, batch_size=base["batch_size"],
                                                     lr=base["lr"], seed=base["seed"]),
            "trainer": lambda: train_builder(graph, configs["trainer"], work),
            "trainer+diag": lambda: train_builder(graph, configs["trainer+diag"], work),
        }
        names = list(variants)
        rates: dict[str, list[list[float]]] = {name: [] for name in names}  # per round: per epoch
        started = time.perf_counter()
        for r in range(rounds + 1):  # round 0 is the warm-up
            models = {}
            shift = r % len(names)  # rotate the order so no variant always runs first
            for name in names[shift:] + names[:shift]:
                gc.collect()
                gc.disable()  # a collection inside one variant's run would bias it
                try:
                    per_epoch, models[name] = variants[name]()
                finally:
                    gc.enable()
                if r > 0:
                    rates[name].append(per_epoch)
            if r >= 3 and r < rounds and time.perf_counter() - started > args.budget:
                print(f"warning: out of time budget ({args.budget:.0f} s) after {r} of {rounds} rounds: "
                      "the machine is busy or slow; the figures rest on fewer rounds")
                rounds = r
                break
            if r == 0:
                diff = max(max_weight_diff(models["handwritten"], models[n]) for n in ("trainer", "trainer+diag"))
                print(f"check: after {epochs} epochs the hand-written and trainer weights differ by at most "
                      f"{diff:.2g} ({'same training' if diff < 1e-4 else 'WARNING: not the same training'})")
        elapsed = time.perf_counter() - started

    # The statistics. A run's figure is the median of its epochs' throughputs. The ratio is
    # the median over rounds of the per-round ratio trainer/handwritten: the runs of one
    # round ran seconds apart, so a slow spell of the machine that spans a round slows both
    # and cancels, and the median over rounds ignores the rounds that a shorter burst hit
    # on one side only (noise on a shared machine only ever slows a run down and comes in
    # bursts). Cross-check: the ratio of the variants' medians over all epochs of all
    # rounds (pooled). On an idle machine the two agree within about 1%.
    run = {name: [statistics.median(epochs_) for epochs_ in runs] for name, runs in rates.items()}
    pooled = {name: statistics.median(r for epochs_ in runs for r in epochs_) for name, runs in rates.items()}
    for name in names:
        values = sorted(r for epochs_ in rates[name] for r in epochs_)
        quartiles = statistics.quantiles(values, n=4)
        print(f"{name:>13}: {pooled[name]:8.0f} samples/s (median of {len(values)} epochs in {rounds} rounds; "
              f"IQR {quartiles[0]:.0f}-{quartiles[2]:.0f})")
    ratios = {}
    for name, target in (("trainer", RATIO_TARGET), ("trainer+diag", RATIO_DIAG_TARGET)):
        ratios[name] = statistics.median(t / h for t, h in zip(run[name], run["handwritten"]))
        verdict = "ok" if round(ratios[name], 3) >= target else "BELOW TARGET"  # judged as printed
        print(f"{name}/handwritten = {ratios[name]:.3f} (median of per-round ratios; pooled medians "
              f"{pooled[name] / pooled['handwritten']:.3f}; target >= {target:.2f}: {verdict})")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"timing took {elapsed:.0f} s; load average now {load:.2f} (this benchmark's own threads included)")

    seconds, imports_torch = startup()
    if seconds is not None:
        torch_note = {True: "IMPORTS TORCH", False: "does not import torch", None: "torch import not checked"}
        print(f"modelbuilder --help: {seconds * 1e3:.0f} ms (median of 5; target < {STARTUP_TARGET_S * 1e3:.0f} ms; "
              f"{torch_note[imports_torch]})")
    print(f"ratio_with_diagnostics={ratios['trainer+diag']:.3f}")
    print(f"ratio={ratios['trainer']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
