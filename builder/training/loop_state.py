"""What the training loop carries between its steps, as named objects rather than tuples.

:class:`LoopState` is what a checkpoint records of the loop (train_state.capture and
restore read and write it field by field); :class:`Epoch` and :class:`Window` are the
clocks and tallies of one epoch and of the steps since the last ``step`` event; and
:func:`window_totals` is the loop's one device sync per log interval.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from builder.training import distributed
from builder.training.distributed import World
from builder.training.train_state import Counters, MidEpochSchedule, Position


@dataclass
class LoopState:
    """The position, the shuffle state the epoch started from, the epoch's running sums (on
    the device) and the metric history."""

    at: Position
    epoch_shuffle: torch.Tensor
    counters: Counters
    history: dict = field(default_factory=lambda: {"epochs": []})


@dataclass
class Epoch:
    """One epoch's training on this process: its clock (from after the shuffle to the end
    of its last step), its samples, and how the run ended inside it (None: it did not)."""

    started: float = field(default_factory=time.perf_counter)
    samples: int = 0
    seconds: float = 0.0
    status: str | None = None


@dataclass
class Window:
    """The steps since the last ``step`` event: the loss sum when it opened, its clock and
    its samples (this process's)."""

    start_loss: torch.Tensor
    started: float
    samples: int = 0

    @classmethod
    def open(cls, counters: Counters) -> Window:
        return cls(counters.loss.clone(), time.perf_counter())


@dataclass(frozen=True)
class WindowTotals:
    """A window's figures at a log step, over all processes, and what they agreed on."""

    mean_loss: float
    samples: float
    stop: bool = False  # some process was asked to stop
    checkpoint_due: bool = False  # rank 0's clock says a mid-epoch checkpoint is due


def window_totals(counters: Counters, window: Window, world: World, mid_epoch: MidEpochSchedule,
                  stop_requested: bool) -> WindowTotals:
    """The one device sync per log interval (and, with several processes, the one
    all-reduce: the window's loss sum, its samples, a stop request, and whether rank 0's
    clock says a mid-epoch checkpoint is due). On one process ``stop`` is left False: the
    loop reads its own request at every step."""
    if not world.enabled:
        mean_loss = ((counters.loss - window.start_loss) / window.samples).item()
        return WindowTotals(mean_loss, window.samples, checkpoint_due=mid_epoch.due_by_time())
    device = counters.loss.device

    def scalar(value: float) -> torch.Tensor:
        return torch.tensor(float(value), dtype=torch.float64, device=device)

    totals = distributed.all_sum(torch.stack([
        (counters.loss - window.start_loss).double(), scalar(window.samples), scalar(stop_requested),
        scalar(world.main and mid_epoch.due_by_time())]), world)
    loss_sum, samples, stops, due = totals.tolist()
    return WindowTotals(loss_sum / samples, samples, stops > 0, due > 0)
