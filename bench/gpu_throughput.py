"""Does the trainer keep a GPU as busy as a hand-written PyTorch loop?

    .venv/bin/python bench/gpu_throughput.py [--quick] [--device cuda|cpu] [--epochs N] [--rounds N]
                                             [--cpu-compile]

Measures training throughput (samples per second) of two models,

* ``resnet18``: ``graphs/resnet18.yaml`` with its input node set to 3x64x64 (1000 classes),
  batch 64, on synthetic images (an ``npz`` file of random pixels and labels written to a
  temporary folder; 4,096 samples, 256 with ``--quick``);
* ``lstm``: ``graphs/lstm_classifier.yaml`` (embedding, LSTM, linear), batch 64, on the
  built-in ``first_token`` sequences (4,000 samples, 512 with ``--quick``),

each in four configurations: AMP off/on x ``torch.compile`` off/on. Per configuration:

* ``trainer``: ``Trainer(graph, settings, RunFolder.at(tmp), bus=EventBus()).run()`` with
  ``amp`` and ``compile`` set, ``diagnostics_every: 0``, Adam lr 1e-3, validation split 5%;
  its figure is the ``samples_per_s`` of its ``epoch`` events (training steps only);
* ``handwritten``: the minimal loop on the same compiled module (``compile_graph`` with the
  same seed, so the same initial weights), the same training tensors already on the device,
  the same optimizer: ``randperm`` on the device, indexing, ``zero_grad``, forward (under
  ``torch.autocast`` bf16 -- fp16 with a ``GradScaler`` where bf16 is missing -- with AMP),
  ``cross_entropy``, ``backward``, ``step``, ``torch.compile(model)`` with compile,
  channels-last model and images where the trainer uses them (convolutional graphs on
  CUDA); the clock stops after ``torch.cuda.synchronize()`` at the end of each epoch.

Every run trains ``--epochs`` epochs (default 3, --quick 2) and its figure is the median
of its epochs after the first (the first holds cuDNN autotuning and compilation). The two
sides of a configuration run interleaved, ``--rounds`` times (default 3, --quick 1); a
ratio is the median over rounds of trainer/handwritten.

Without CUDA it says so and exits 0, unless ``--device cpu`` is given: a smoke run that
checks the script (AMP is CUDA-only in the trainer, so CPU runs only the AMP-off
configurations, and compile only with ``--cpu-compile``, which takes minutes on few cores).

Output: one line per model, configuration and side, one ratio per configuration, and last
``ratio=<worst ratio>`` (3 decimals; target >= 0.95). Exit status 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from builder import analyze, compile_graph, load_graph
from builder.data import InputSpec, load_data
from builder.training.engine import Trainer
from builder.training.events import EventBus
from builder.training.runs import RunFolder
from builder.training.settings import resolve_settings

RATIO_TARGET = 0.95
BATCH = 64


def resnet_graph(shape=(3, 64, 64)):
    graph = load_graph(ROOT / "graphs/resnet18.yaml")
    inputs = [n for n in graph.nodes.values() if n.block == "input"]
    inputs[0].params["shape"] = list(shape)
    return graph


def synthetic_images(folder: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path = folder / "images.npz"
    np.savez(path, x=rng.standard_normal((n, 3, 64, 64), dtype=np.float32), y=rng.integers(0, 10, n))
    return path


def task_data(graph, settings: dict):
    """The training tensors exactly as the trainer loads them (same spec, seed and split)."""
    analysis = analyze(graph)
    inputs = [InputSpec(i, tuple(analysis.nodes[i].shape), analysis.nodes[i].dtype) for i in analysis.input_ids]
    out = tuple(analysis.nodes[analysis.output_ids[0]].shape)
    task = load_data(settings["data"], inputs, out, seed=settings["seed"], val_split=settings["val_split"],
                     base_dir=ROOT)
    return task.train.inputs, task.train.targets


def train_handwritten(graph, xs, y, settings: dict, device: torch.device) -> list[float]:
    """The minimal loop; returns samples/s of each epoch."""
    model = compile_graph(graph, seed=settings["seed"], device=device)
    channels_last = device.type == "cuda" and any(isinstance(m, nn.Conv2d) for m in model.modules())
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    xs = [x.to(device) for x in xs]
    y = y.to(device)
    if channels_last:
        xs = [x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x for x in xs]
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
    amp_dtype = None
    if settings["amp"] and device.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    step = torch.compile(model) if settings["compile"] else model
    generator = torch.Generator(device=device).manual_seed(settings["seed"])
    n, bs = len(y), settings["batch_size"]
    rates = []
    model.train()
    for _ in range(settings["epochs"]):
        started = time.perf_counter()
        order = torch.randperm(n, device=device, generator=generator)
        for begin in range(0, n, bs):
            index = order[begin:begin + bs]
            batch = [x[index] for x in xs]
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss = F.cross_entropy(step(*batch), y[index])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(n / (time.perf_counter() - started))
    return rates


def train_builder(graph, settings: dict, work: Path) -> list[float]:
    bus = EventBus()
    epochs: list[dict] = []
    bus.subscribe(lambda event: epochs.append(event) if event["event"] == "epoch" else None)
    folder = Path(tempfile.mkdtemp(dir=work))
    try:
        summary = Trainer(graph, settings, RunFolder.at(folder), bus=bus).run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if summary["status"] != "completed":
        raise SystemExit(f"trainer run ended {summary['status']!r}")
    return [e["samples_per_s"] for e in epochs]


def steady(rates: list[float]) -> float:
    """A run's figure: the median of its epochs after the first (warm-up, compilation)."""
    return statistics.median(rates[1:] if len(rates) > 1 else rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default=None, help="default: cuda if there is one")
    parser.add_argument("--quick", action="store_true", help="less data, fewer epochs and rounds (a smoke run)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default 3, --quick 2)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per configuration (default 3, --quick 1)")
    parser.add_argument("--cpu-compile", action="store_true", help="on the CPU, run the compile configurations too")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    if args.device is None and not torch.cuda.is_available():
        print(f"no CUDA device here (torch {torch.__version__}): nothing measured. This benchmark is for a GPU; "
              "--device cpu --quick runs a smoke test of the script.")
        return 0
    device = torch.device(args.device or "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA device here; nothing measured")
        return 0
    epochs = args.epochs or (2 if args.quick else 3)
    rounds = args.rounds or (1 if args.quick else 3)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        bf16 = torch.cuda.is_bf16_supported()
        print(f"torch {torch.__version__}, {name}, AMP dtype {'bf16' if bf16 else 'fp16 + GradScaler'}")
    else:
        print(f"torch {torch.__version__}, cpu, {torch.get_num_threads()} threads (a smoke run: CPU figures say "
              "nothing about a GPU)")

    configs = [(amp, comp) for amp in (False, True) for comp in (False, True)
               if (device.type == "cuda" or not amp) and (device.type == "cuda" or not comp or args.cpu_compile)]
    ratios: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="gpu-throughput-") as tmp:
        work = Path(tmp)
        images = synthetic_images(work, 256 if args.quick else 4096)
        models = {
            "resnet18": (resnet_graph(), {"name": "npz", "path": str(images), "val_split": 0.05}),
            "lstm": (load_graph(ROOT / "graphs/lstm_classifier.yaml"),
                     {"name": "first_token", "samples": 512 if args.quick else 4000, "val_split": 0.05}),
        }
        for model_name, (graph, data) in models.items():
            for amp, comp in configs:
                settings = resolve_settings(None, {
                    "data": data, "epochs": epochs, "batch_size": BATCH, "optimizer": "adam", "lr": 1e-3,
                    "device": device.type, "amp": amp, "compile": comp, "diagnostics_every": 0,
                    "val_split": 0.05})
                xs, y = task_data(graph, settings)
                label = f"{model_name} amp={'on' if amp else 'off'} compile={'on' if comp else 'off'}"
                per_round = []
                for r in range(rounds):
                    figures = {}
                    order = ("trainer", "handwritten") if r % 2 == 0 else ("handwritten", "trainer")
                    for side in order:
                        gc.collect()
                        torch._dynamo.reset()
                        if side == "trainer":
                            figures[side] = steady(train_builder(graph, settings, work))
                        else:
                            figures[side] = steady(train_handwritten(graph, xs, y, settings, device))
                    per_round.append(figures)
                trainer = statistics.median(f["trainer"] for f in per_round)
                hand = statistics.median(f["handwritten"] for f in per_round)
                ratio = statistics.median(f["trainer"] / f["handwritten"] for f in per_round)
                ratios[label] = ratio
                print(f"{label}: trainer {trainer:,.0f} samples/s, handwritten {hand:,.0f} samples/s, "
                      f"trainer/handwritten = {ratio:.3f} ({len(y)} samples, batch {BATCH}, {rounds} rounds)")
    worst = min(ratios, key=ratios.get)
    verdict = "ok" if round(ratios[worst], 3) >= RATIO_TARGET else "BELOW TARGET"
    print(f"worst: {worst} (target >= {RATIO_TARGET:.2f}: {verdict})")
    print(f"ratio={ratios[worst]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
