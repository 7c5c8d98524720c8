"""How many CPU threads torch trains with: by default, the cores that are free.

Torch's OpenMP threads meet at a barrier at the end of every parallel region, so a step
runs at the pace of the slowest thread: when another process (a browser, a second run,
the desktop app drawing its plots) holds one of the cores the threads run on, the others
wait for it. On a 2-core laptop that made training from the app three times slower than
from the command line. ``threads: auto`` therefore counts the cores this process may run
on that are idle right now and uses that many (at least one, at most torch's default);
a number fixes the count. The choice is recorded in the checkpoint and a resumed run
keeps it, because a different thread count changes the order of floating-point sums and
the run would no longer continue bit for bit.
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch

SAMPLE_SECONDS = 0.15  # long enough to see a busy process, short beside a run's start-up
# environment variables through which the user (or torchrun's --nproc) already chose
_USER_CHOICE = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [float(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return total - idle, total


def busy_cores(seconds: float = SAMPLE_SECONDS) -> float | None:
    """How many cores' worth of work other processes did over ``seconds`` (this process
    sleeps meanwhile); None where the system does not say."""
    before = _cpu_times()
    if before is None:
        return None
    time.sleep(seconds)
    after = _cpu_times()
    if after is None or after[1] <= before[1]:
        return None
    share = (after[0] - before[0]) / (after[1] - before[1])
    return share * (os.cpu_count() or 1)


def allowed_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def choose_threads(setting: Any, busy: float | None = None, default: int | None = None) -> tuple[int, str]:
    """The thread count for ``setting`` ("auto" or a number) and why, in words."""
    default = default or torch.get_num_threads()
    if setting != "auto":
        return int(setting), "set"
    chosen_by = next((name for name in _USER_CHOICE if os.environ.get(name)), None)
    if chosen_by:
        return default, f"{chosen_by}={os.environ[chosen_by]}"
    busy = busy_cores() if busy is None else busy
    if busy is None:
        return default, "torch's default"
    # a core counts as taken when other processes kept more than a third of it busy
    taken = int(busy + 2 / 3)
    free = max(1, min(default, allowed_cores() - taken))
    return free, f"{free} of {allowed_cores()} cores free"

