"""Measuring a run: the validation pass at each epoch's end, the epoch's sums over all
processes, and the run's summary (summary.json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from builder.training import distributed
from builder.training.batches import evaluation_batches
from builder.training.distributed import World
from builder.training.metrics import RECORDED_METRICS, Tally
from builder.training.objective import Objective
from builder.training.train_state import Counters


@dataclass(frozen=True)
class Evaluation:
    """Validation loss, accuracy and top-5 accuracy of the primary output (None where they
    do not apply), and every output's figures by node (metrics.Tally.figures)."""

    loss: float | None = None
    accuracy: float | None = None
    top5: float | None = None
    figures: dict = field(default_factory=dict)


@dataclass
class Evaluator:
    """Evaluates the plain model on this process's share of the validation data; with
    several processes the sums are added up, so every rank gets the same figures."""

    model: nn.Module
    val_data: Any  # this rank's shard, on the device (None without validation data)
    enabled: bool  # there is validation data (in all: a rank's shard may be empty)
    objective: Objective
    batch_size: int
    workers: int
    device: torch.device
    memory_format: torch.memory_format | None
    world: World

    def __post_init__(self) -> None:
        self.tally = Tally(self.objective.heads, validation=True)

    @torch.no_grad()
    def __call__(self) -> Evaluation:
        if not self.enabled:
            return Evaluation()
        distributed.sync_buffers(self.model, self.world)
        self.model.eval()
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        sums = self.tally.zeros(self.device)
        n = len(self.val_data)
        for xs, y in evaluation_batches(self.val_data, max(256, self.batch_size), self.device, self.workers):
            if self.memory_format is not None:
                xs = [x.contiguous(memory_format=self.memory_format) if x.dim() == 4 else x for x in xs]
            out = self.model(*xs)
            loss, losses = self.objective(out, y)
            total += loss.double() * len(y)
            self.tally.add(sums, self.objective.outputs(out), y, losses)
        self.model.train()
        if self.world.enabled:  # every rank evaluated its share: add the sums up
            summed = distributed.all_sum(torch.cat([total.reshape(1), sums, self._scalar(n).reshape(1)]), self.world)
            total, sums, n = summed[0], summed[1:-1], round(float(summed[-1]))
        figures = self.tally.figures(sums)
        main = figures[self.objective.primary.node]
        return Evaluation(float(total / n), main.get("accuracy"), main.get("top5"), figures)

    def _scalar(self, value: float) -> torch.Tensor:
        return torch.tensor(float(value), dtype=torch.float64, device=self.device)


def global_counters(counters: Counters, world: World, device: torch.device) -> Counters:
    """The epoch's running sums over all ranks (the counters themselves on one process)."""
    if not world.enabled:
        return counters

    def scalar(value: float) -> torch.Tensor:
        return torch.tensor(float(value), dtype=torch.float64, device=device)

    sums = distributed.all_sum(torch.stack([counters.loss.double(), counters.correct.double(),
                                            scalar(counters.seen), scalar(counters.items)]), world)
    loss, correct, seen, items = sums.tolist()
    extra = distributed.all_sum(counters.extra.clone(), world) if counters.extra is not None else None
    return Counters(torch.tensor(loss, dtype=counters.loss.dtype, device=device),
                    torch.tensor(round(correct), dtype=torch.int64, device=device), round(seen), round(items), extra)


def run_summary(history: dict, status: str, wall: float, **facts: Any) -> dict:
    """summary.json: the status, the last and best epoch figures, the mean throughput, then
    ``facts`` (graph, device, threads, world_size, params, data) in their places."""
    epochs = history["epochs"]
    last = epochs[-1] if epochs else {}

    def best(key: str, pick) -> float | None:
        values = [e[key] for e in epochs if e.get(key) is not None]
        return pick(values) if values else None

    rates = [e["samples_per_s"] for e in epochs if e.get("samples_per_s")]
    summary = {
        "graph": facts["graph"], "status": status, "epochs": len(epochs),
        "final": {k: last.get(k) for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")},
        "best": {"train_loss": best("train_loss", min), "val_loss": best("val_loss", min),
                 "train_accuracy": best("train_accuracy", max), "val_accuracy": best("val_accuracy", max)},
        "samples_per_s": sum(rates) / len(rates) if rates else None,
        "device": facts["device"], "threads": facts["threads"], "world_size": facts["world_size"],
        "params": facts["params"], "wall_seconds": wall, "data": facts["data"],
    }
    for key in (f"{split}_{metric}" for metric in RECORDED_METRICS for split in ("train", "val")):
        if any(e.get(key) is not None for e in epochs):  # mean IoU, box IoU ...: the run measured it
            summary["final"][key] = last.get(key)
            summary["best"][key] = best(key, min if key.endswith("mae") else max)
    if facts.get("task"):
        summary["task"] = facts["task"]
    if last.get("outputs"):
        summary["outputs"] = last["outputs"]  # every output's figures at the last epoch
    return summary
