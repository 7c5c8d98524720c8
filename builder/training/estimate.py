"""How long one epoch will take and how much memory training needs, told before the first epoch.

A student who starts VGG-16 on a laptop should learn in seconds, not after an hour, that
an epoch takes minutes and 5 GB. The MACs and sizes the analysis knows say how the work
grows with the batch and the data, but not how fast this machine does it: that depends on
the cores that are free, the kernels, the memory bandwidth. So the trainer times a short
warm-up on a copy of the model (the run itself is left exactly as it would have been: same
weights, same random numbers): a first training step, which also pays one-time costs
(allocations, kernel selection), then one or more steps that are timed, and one validation
batch. One epoch is then the timed step times the steps per epoch, plus the validation
batches, plus writing the checkpoint (its size at the speed of a synced probe write).
Memory is measured over the warm-up: the process's peak resident memory on the CPU (Linux;
elsewhere the analysis' estimate of builder/memory.py) plus the checkpoint, which is put
together in memory before it is written, or the device's peak on CUDA; less the copy's own
weights.

The result is the ``estimate`` event (docs/events.md), which the command line prints as
``estimated 1 epoch ≈ 40 s, peak memory ≈ 1.2 GB (batch 8, 40 samples)`` and the app shows.
bench/epoch_estimate.py compares it with measured epochs.
"""

from __future__ import annotations

import copy
import gc
import math
import statistics
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import Any

# The first step pays for allocations (the optimizer's state, every activation's pages) and
# kernel selection: up to twice a later step's time even for big networks. So the first one
# is never timed; at least one more is, and for quick steps a few more (their median).
TIMED_STEPS = 5  # at most this many steps after the first ...
TIMED_BUDGET = 0.15  # ... and no more once they took this many seconds
SLOW_CALL = 2.0  # s: a validation batch this slow is timed once
DISK_PROBE_BYTES = 32 * 2**20  # the most written (and synced) to time the disk that checkpoints go to


@dataclass(frozen=True)
class EpochEstimate:
    """One epoch's time and the peak memory of training, from a measured warm-up."""

    epoch_seconds: float  # training steps and validation of one epoch
    run_seconds: float  # the whole run: every epoch, or the max_steps steps and one validation
    step_seconds: float  # one training step at the batch size, as timed
    val_seconds: float  # one epoch's validation
    checkpoint_seconds: float  # writing the checkpoint at the epoch's end (weights and optimizer state)
    checkpoint_bytes: int
    peak_bytes: int | None  # peak memory while training (None when it cannot be told)
    memory: str  # what peak_bytes counts: "process" (resident, CPU), "device" (CUDA) or "estimate"
    batch_size: int
    train_samples: int
    val_samples: int
    steps_per_epoch: int
    run_steps: int
    timed_steps: int  # steps timed after the first
    warmup_seconds: float  # what the warm-up itself took
    macs_per_sample: int  # the analysis' forward multiply-accumulates per sample
    device: str

    def event(self) -> dict[str, Any]:
        """The fields of the ``estimate`` event."""
        return asdict(self)


def announce_estimate(trainer: Any) -> EpochEstimate | None:
    """Emit ``trainer``'s ``estimate`` event, unless the ``estimate`` setting is off, the run
    resumes (its first part told the time) or runs on several processes (the estimate would
    leave out their communication); the estimate, or None."""
    if not trainer.config.estimate or trainer.resume or trainer.world.enabled:
        return None
    result = warm_up(trainer)
    trainer.bus.emit("estimate", **result.event())
    return result


def warm_up(trainer: Any) -> EpochEstimate:
    """Time a warm-up on a copy of ``trainer``'s model, optimizer and first batch (after its
    set-up, before its first step) and measure the memory it takes; the trainer is untouched."""
    import torch

    started = time.perf_counter()
    device, c = trainer.device, trainer.config
    cuda = device.type == "cuda"
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if cuda else []
    with torch.random.fork_rng(devices=devices):  # dropout in the warm-up draws no number the run would
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        else:
            _reset_process_peak()  # where it cannot be, the peak is the process's so far: the warm-up's, mostly
        model = copy.deepcopy(trainer.model)
        copy_bytes = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
        times, val_time, eval_size, optimizer_bytes = _time_steps(trainer, model, torch)
        peak = _peak(device, torch)
        del model
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    if peak is not None:
        peak, memory = max(0, peak - copy_bytes), "device" if cuda else "process"
    else:
        from builder.memory import estimate

        peak, memory = estimate(trainer.analysis, c.batch_size, c.optimizer).training, "estimate"
    step = statistics.median(times[1:])
    checkpoint_bytes = copy_bytes + optimizer_bytes
    if memory == "process":  # each epoch's checkpoint is put together in memory before it is written
        peak += checkpoint_bytes
    checkpoint = checkpoint_bytes * _disk_seconds_per_byte(trainer.run_folder.checkpoints, checkpoint_bytes)
    val_samples = len(trainer.val_data) if trainer.val_data is not None else 0
    val_seconds = val_time * math.ceil(val_samples / eval_size) if val_samples else 0.0
    steps = trainer.steps_per_epoch
    epoch = step * steps + val_seconds + checkpoint
    total_steps = c.epochs * steps
    if c.max_steps is not None and c.max_steps < total_steps:
        run_steps, run = c.max_steps, step * c.max_steps + val_seconds + checkpoint
    else:
        run_steps, run = total_steps, epoch * c.epochs
    return EpochEstimate(epoch, run, step, val_seconds, checkpoint, checkpoint_bytes, peak, memory, c.batch_size,
                         len(trainer.train_data),
                         val_samples, steps, run_steps, max(0, len(times) - 1), time.perf_counter() - started,
                         int(trainer.analysis.total.macs), str(device))


def _time_steps(trainer: Any, model: Any, torch: Any) -> tuple[list[float], float, int, int]:
    """Training steps on ``model`` on the first batch, and one validation batch: (each step's
    seconds, the validation batch's seconds, its size, the bytes of the optimizer's state)."""
    from builder.training.batches import evaluation_batches, training_batches
    from builder.training.optimization import build_optimizer, clip_gradients

    c, device = trainer.config, trainer.device
    trainable = [p for p in model.parameters() if p.requires_grad]  # frozen ones get no optimizer state
    optimizer = build_optimizer(trainable or list(model.parameters()), c)
    data = trainer.train_data
    first = next(iter(training_batches(data, torch.arange(min(len(data), c.batch_size)), 0, c.batch_size,
                                       device, c.workers, memory_format=trainer.memory_format)))
    autocast = torch.autocast(device.type, dtype=trainer.amp_dtype) if trainer.amp_dtype else nullcontext()
    augment_rng = torch.Generator().manual_seed(0)
    model.train()

    def step() -> float:
        begun = _now(device, torch)
        xs, y = list(first[0]), first[1]
        if trainer.data.augment is not None:
            xs[0] = trainer.data.augment(xs[0], augment_rng)
        with autocast:
            loss = trainer.loss(model(*xs), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.clipping:
            clip_gradients(model, c)
        optimizer.step()
        return _now(device, torch) - begun

    times = [step(), step()]
    while len(times) <= TIMED_STEPS and sum(times[1:]) < TIMED_BUDGET:
        times.append(step())
    optimizer.zero_grad(set_to_none=True)
    optimizer_bytes = sum(t.numel() * t.element_size() for state in optimizer.state.values()
                          for t in state.values() if torch.is_tensor(t))
    val_time, eval_size = 0.0, max(256, c.batch_size)  # the Evaluator's batch size
    if trainer.val_data is not None and len(trainer.val_data):
        model.eval()
        xs, _ = next(iter(evaluation_batches(trainer.val_data, eval_size, device, c.workers)))
        if trainer.memory_format is not None:
            xs = [x.contiguous(memory_format=trainer.memory_format) if x.dim() == 4 else x for x in xs]
        for _ in range(2):  # the first call at a new batch size pays one-time costs too: time the second
            with torch.no_grad(), autocast:
                begun = _now(device, torch)
                model(*xs)
                val_time = _now(device, torch) - begun
            if val_time >= SLOW_CALL:
                break
    return times, val_time, eval_size, optimizer_bytes


def _now(device: Any, torch: Any) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # the GPU runs ahead of Python: wait for it before reading the clock
    return time.perf_counter()


def _disk_seconds_per_byte(folder: Any, nbytes: int) -> float:
    """How long the disk under ``folder`` takes to write and sync a byte, from a probe of at
    most DISK_PROBE_BYTES (checkpoints are synced, so that a crash cannot leave half of one)."""
    import os
    import tempfile

    data = os.urandom(max(1, min(nbytes, DISK_PROBE_BYTES)))  # random: a compressing file system saves nothing
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".estimate-", delete=True) as handle:
            begun = time.perf_counter()
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            return (time.perf_counter() - begun) / len(data)
    except OSError:
        return 0.0


def _reset_process_peak() -> bool:
    """Start the process's peak resident memory (VmHWM) afresh: Linux, since 4.0."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak(device: Any, torch: Any) -> int | None:
    """The peak since the reset: the device's allocations on CUDA, the process's resident memory."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    from builder.memory import proc_bytes

    peak = proc_bytes("/proc/self/status", "VmHWM")
    if peak is not None:
        return peak
    try:
        import resource  # not on Windows
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB elsewhere


def duration_text(seconds: float) -> str:
    """``0.4 s``, ``40 s``, ``7 min``, ``2.5 h``: as precise as an estimate deserves."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_line(event: dict[str, Any]) -> str:
    """The ``estimate`` event in one line, e.g. ``estimated 1 epoch ≈ 40 s (10 epochs ≈ 7 min),
    peak memory ≈ 1.2 GB (batch 8, 40 samples)``."""
    from builder.memory import size_text

    run = ""
    if event["run_steps"] < event["steps_per_epoch"]:
        steps = event['run_steps']
        run = f" (this run, {steps} step{'s' if steps != 1 else ''} ≈ {duration_text(event['run_seconds'])})"
    elif event["run_steps"] > event["steps_per_epoch"]:
        epochs = round(event["run_steps"] / event["steps_per_epoch"])
        run = f" ({epochs} epochs ≈ {duration_text(event['run_seconds'])})"
    memory = ""
    if event.get("peak_bytes") is not None:
        where = {"device": " on the GPU", "estimate": " (estimated from the graph)"}.get(event["memory"], "")
        memory = f", peak memory{where} ≈ {size_text(event['peak_bytes'])}"
    return (f"estimated 1 epoch ≈ {duration_text(event['epoch_seconds'])}{run}{memory} "
            f"(batch {event['batch_size']}, {event['train_samples']:,} samples)")
