"""How long does each attribution method take, next to one training step of the same model?

    .venv/bin/python bench/explain.py [--quick] [--threads N] [--rounds N]

For LeNet-5 (``graphs/lenet5.yaml``, 1x32x32, batch 16) and ResNet-18
(``graphs/resnet18.yaml``, 3x224x224, batch 2), untrained weights (the cost does not depend
on them), CPU: times ``explain(subject, samples, method)`` end to end (what ``modelbuilder
explain`` and the app pay: the forward that finds the predicted class, then the method)
for each of saliency, smoothgrad, integrated_gradients, gradcam and occlusion, and divides
by one forward+backward of the same batch in the same run (``zero_grad``, forward,
cross-entropy, ``backward`` with weight gradients: a training step without the optimizer,
eval mode as explain runs it).

Method: rounds (default 5; 3 with --quick; the ResNet's slow methods 1 round) each time
the reference step and every method once, back to back, after a warm-up; a figure is the
median over rounds of the per-round ratio, so a slow moment of the machine slows both
halves of a pair. Times are per input (the batch's time divided by its size).

Targets: saliency and Grad-CAM at most 1.5x one forward+backward; occlusion batched (many
windows per forward: its ratio is about windows / (3 x batch per forward) lower than one
forward per window would be); smoothgrad (20 noisy copies) and integrated gradients (32
steps) are about that many forward+backwards by design.

The last lines are ``<model>_<method>=<ratio>`` (2 decimals). Exit status 0 whatever the
figures (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import torch
import torch.nn.functional as F

from builder import load_graph
from builder.exporting.source import from_graph
from builder.inspecting.attributions import occlusion_window
from builder.inspecting.explain import METHODS, explain
from builder.inspecting.subject import Samples, from_trained

MODELS = {"lenet5": 16, "resnet18": 2}  # batch sizes
TARGET = 1.5  # saliency and Grad-CAM, in forward+backwards
SLOW = {"smoothgrad", "integrated_gradients", "occlusion"}


def load_report() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = f"load average {load:.2f} on {os.cpu_count()} cores"
    if load > 0.5:
        text += "\nwarning: other processes compete for the CPU; times will be inflated and noisy"
    return text


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def training_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()


def bench_model(name: str, batch: int, rounds: int, slow_rounds: int) -> dict[str, float]:
    subject = from_trained(from_graph(load_graph(ROOT / "graphs" / f"{name}.yaml")))
    shape = tuple(subject.trained.inputs[0].shape)
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(batch, dtype=torch.long)
    samples = Samples([x], None, [f"#{i}" for i in range(batch)])
    model = subject.model
    windows = 1
    for side in shape[1:]:
        window, stride = occlusion_window(side)
        windows *= (side + 2 * window - 2 * stride + (-side) % stride - window) // stride + 1
    print(f"{name}: input {list(shape)}, batch {batch}, occlusion {windows} windows per input")

    training_step(model, x, y)  # warm-up
    for method in METHODS:
        explain(subject, samples.select([0]), method)
    ratios: dict[str, list[float]] = {m: [] for m in METHODS}
    seconds: dict[str, list[float]] = {m: [] for m in METHODS}
    steps: list[float] = []
    for round_ in range(rounds):
        for method in METHODS:
            if method in SLOW and round_ >= slow_rounds:
                continue
            step = timed(lambda: training_step(model, x, y))
            spent = timed(lambda: explain(subject, samples, method))
            steps.append(step)
            ratios[method].append(spent / step)
            seconds[method].append(spent)
    model.zero_grad(set_to_none=True)
    step = statistics.median(steps) / batch
    print(f"{name}: one forward+backward {1000 * step:.1f} ms per input (median)")
    figures = {}
    for method in METHODS:
        ratio = statistics.median(ratios[method])
        per_input = statistics.median(seconds[method]) / batch
        mark = ""
        if method in ("saliency", "gradcam"):
            mark = "  (target <= 1.5: " + ("met)" if ratio <= TARGET else "MISSED)")
        print(f"  {method:22s} {1000 * per_input:9.1f} ms per input  {ratio:7.2f}x forward+backward"
              f"  ({len(ratios[method])} round{'s' if len(ratios[method]) != 1 else ''}){mark}")
        figures[f"{name}_{method}"] = ratio
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run, noisier figures)")
    parser.add_argument("--rounds", type=int, help="rounds of the fast methods (default 5, 3 with --quick)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: lenet5,resnet18")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rounds = args.rounds or (3 if args.quick else 5)
    print(f"torch {torch.__version__}, cpu, {args.threads} threads, {load_report()}")
    figures: dict[str, float] = {}
    for name in args.models.split(","):
        slow_rounds = 1 if name == "resnet18" else rounds
        figures.update(bench_model(name, MODELS[name], rounds, slow_rounds))
    print(load_report())
    for key, value in figures.items():
        print(f"{key}={value:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
