"""What a checkpoint holds besides the weights, and when one is written mid-epoch.

``capture`` and ``restore`` are two halves of one contract: everything the loop needs to
continue exactly (the position in the data, optimizer, scheduler and scaler states, every
random state, the epoch's running sums, the metric history) goes in, and comes back out
on resume, so that a resumed run ends with the same weights, bit for bit, as one that was
never interrupted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional, Protocol

import torch

from builder.training.settings import parse_interval


class Trainer(Protocol):
    """What capturing and restoring the state need of the engine's Trainer (a protocol,
    so that this module does not import the engine, which imports it)."""

    settings: dict[str, Any]
    shuffle: torch.Generator
    augment_rng: torch.Generator
    optimizer: torch.optim.Optimizer
    scheduler: Optional[Any]
    scaler: Any
    threads: Any

RANK_SEED = 1_000_003  # rank r draws dropout masks and augmentations from seed + r * this


@dataclass
class Counters:
    """Running sums of one epoch, kept on the device."""

    loss: torch.Tensor
    correct: torch.Tensor
    seen: int = 0  # samples
    items: int = 0  # predictions (samples x steps for per-step labels)
    # every output's loss and metric sums (builder/training/metrics.py Tally), made at the
    # first step of runs that need more than the sums above (several outputs, mean IoU ...)
    extra: torch.Tensor | None = None

    @classmethod
    def zeros(cls, device: torch.device) -> Counters:
        return cls(torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.int64))


@dataclass
class Position:
    """Where the loop is: what a checkpoint records besides module states."""

    epoch: int = 0
    batch: int = 0  # batches of ``epoch`` already trained
    step: int = 0
    best: float = float("inf")  # best validation (else training) loss so far
    stale: int = 0  # epochs since it improved
    best_step: int | None = None  # the step whose checkpoint holds the best weights


def capture(trainer: Trainer, at: Position, epoch_shuffle: torch.Tensor, counters: Counters,
            history: dict) -> dict[str, Any]:
    """The training state at ``at`` (``counters`` already summed over all ranks)."""
    return {
        "epoch": at.epoch, "batch": at.batch, "step": at.step, "best_val_loss": at.best, "stale_epochs": at.stale,
        "best_step": at.best_step,
        "epoch_shuffle_state": epoch_shuffle, "shuffle_state": trainer.shuffle.get_state(),
        "augment_state": trainer.augment_rng.get_state(), "torch_rng": torch.get_rng_state(),
        "counters": {"loss": counters.loss, "correct": counters.correct, "seen": counters.seen,
                     "items": counters.items, **({"extra": counters.extra} if counters.extra is not None else {})},
        "optimizer_kind": trainer.settings["optimizer"], "schedule_kind": trainer.settings["schedule"],
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
        "scaler": trainer.scaler.state_dict() if trainer.scaler.is_enabled() else None,
        "history": history, "threads": trainer.threads,
    }


def restore(trainer: Trainer, state: dict[str, Any]) -> tuple[Position, torch.Tensor, Counters, dict]:
    """Put ``state`` back into the trainer's optimizer, scheduler, scaler and random
    generators; returns the loop's position, the epoch's shuffle state, counters and history."""
    s = trainer.settings
    if state["optimizer_kind"] == s["optimizer"]:
        trainer.optimizer.load_state_dict(state["optimizer"])
        for group in trainer.optimizer.param_groups:  # a learning rate given on resume wins
            group["lr"] = s["lr"] if s["schedule"] == "none" else group["lr"]
    else:
        trainer.resume_notes.append(f"the optimizer changed from {state['optimizer_kind']} to {s['optimizer']}: "
                                    "its state (momentum, moments) starts afresh")
    if trainer.scheduler is not None and state["scheduler"] is not None and state["schedule_kind"] == s["schedule"]:
        trainer.scheduler.load_state_dict(state["scheduler"])
    if state["scaler"] is not None:
        trainer.scaler.load_state_dict(state["scaler"])
    at = Position(state["epoch"], state["batch"], state["step"], state["best_val_loss"], state["stale_epochs"],
                  state.get("best_step"))
    trainer.shuffle.set_state(state["shuffle_state"])
    trainer.augment_rng.set_state(state["augment_state"])
    torch.set_rng_state(state["torch_rng"])
    c = state["counters"]  # summed over all ranks when saved: rank 0 carries them on
    extra = c["extra"].to(trainer.device) if c.get("extra") is not None else None
    counters = Counters(c["loss"].to(trainer.device), c["correct"].to(trainer.device), c["seen"], c["items"], extra)
    world = trainer.world
    if not world.main:
        counters = Counters.zeros(trainer.device)
        torch.manual_seed(s["seed"] + RANK_SEED * world.rank + at.step)
        trainer.augment_rng.manual_seed(s["seed"] + 1 + RANK_SEED * world.rank + at.step)
    return at, state["epoch_shuffle_state"], counters, state["history"]


class MidEpochSchedule:
    """When ``checkpoint_every`` asks for a checkpoint inside an epoch: every N steps (the
    same decision on every rank), or once T seconds have passed since the last checkpoint
    (rank 0's clock; the loop agrees on it at a log step, where ranks already talk)."""

    def __init__(self, setting: Any):
        self.steps, self.seconds = parse_interval(setting)
        self.last = time.monotonic()

    def written(self) -> None:
        self.last = time.monotonic()

    def due_by_steps(self, step: int) -> bool:
        return self.steps is not None and step % self.steps == 0

    def due_by_time(self) -> bool:
        return self.seconds is not None and time.monotonic() - self.last >= self.seconds
