"""What training minimises and how: the loss, the optimizer, the learning-rate schedule
and gradient clipping, each built from the typed settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import torch
from torch import nn

from builder.training.typed_settings import TrainingSettings


LOSS_MODULES = {"cross_entropy": nn.CrossEntropyLoss, "mse": nn.MSELoss, "bce": nn.BCEWithLogitsLoss,
                "l1": nn.L1Loss, "smooth_l1": nn.SmoothL1Loss}
# what ``auto`` means for each kind of task (builder/data/targets.py)
AUTO_LOSS = {"classification": "cross_entropy", "segmentation": "cross_entropy", "regression": "mse",
             "box": "smooth_l1"}


class Loss:
    """The loss for a task (``kind``) and a loss name (``choice``, or "auto"), applied to
    one output and its labels in whatever shape the task has them: class scores on the
    last axis for ``classification`` (``[B, C]``, or ``[B, T, C]`` with labels ``[B, T]``),
    on the channel axis for ``segmentation`` (``[B, C, H, W]`` with labels ``[B, H, W]``),
    values of the output's shape otherwise."""

    def __init__(self, kind: str, choice: str):
        if choice == "auto":
            choice = AUTO_LOSS.get(kind, "mse")
        self.name = choice
        self.fn: nn.Module = LOSS_MODULES[choice]()
        self.classes = isinstance(self.fn, nn.CrossEntropyLoss)
        self.channels = kind == "segmentation"  # cross_entropy's own layout: classes in dim 1

    def __call__(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.classes and self.channels:
            return self.fn(out, y)
        if self.classes and out.dim() > 2:
            return self.fn(out.reshape(-1, out.shape[-1]), y.reshape(-1))  # per-step labels
        if not self.classes:
            return self.fn(out, y.to(out.dtype).reshape(out.shape))
        return self.fn(out, y)


def build_optimizer(params: Iterable[nn.Parameter] | list[dict], config: TrainingSettings) -> torch.optim.Optimizer:
    """The optimizer over ``params``: parameters, or parameter groups with their own ``lr``
    (per-node rates, builder/training/transfer.py); ``config.lr`` is the base rate."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov and config.momentum > 0, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


@dataclass(frozen=True)
class Schedule:
    """The learning-rate scheduler (None for a constant rate) and when it steps: after
    every optimizer step (one-cycle), or after every epoch (on the validation loss for
    plateau)."""

    scheduler: Any = None
    per_step: bool = False
    plateau: bool = False

    def after_epoch(self, val_loss: float) -> None:
        if self.scheduler is None or self.per_step:
            return
        if self.plateau:
            self.scheduler.step(val_loss)
        else:
            self.scheduler.step()


def build_schedule(optimizer: torch.optim.Optimizer, config: TrainingSettings, steps_per_epoch: int) -> Schedule:
    schedulers = torch.optim.lr_scheduler
    kind = config.schedule
    if kind == "step":
        return Schedule(schedulers.StepLR(optimizer, config.step_size, config.gamma))
    if kind == "cosine":
        return Schedule(schedulers.CosineAnnealingLR(optimizer, T_max=config.epochs))
    if kind == "onecycle":
        peaks = [group["lr"] for group in optimizer.param_groups]  # each group its own rate (lr_mult)
        return Schedule(schedulers.OneCycleLR(optimizer, max_lr=peaks, epochs=config.epochs,
                                              steps_per_epoch=steps_per_epoch), per_step=True)
    if kind == "plateau":
        return Schedule(schedulers.ReduceLROnPlateau(optimizer, factor=config.gamma, patience=2), plateau=True)
    return Schedule()


def clip_gradients(model: nn.Module, config: TrainingSettings) -> None:
    """Clip by total norm, then by value, as the settings ask."""
    if config.clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
    if config.clip_value is not None:
        nn.utils.clip_grad_value_(model.parameters(), config.clip_value)
