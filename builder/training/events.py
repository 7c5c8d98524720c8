"""The training event stream: what the engine reports, as plain JSON-able dicts.

Every front-end (progress bar, ``metrics.jsonl``, ``--json-events`` on stdout, the desktop
app's live plots) subscribes to the same stream. Each event is one JSON object with
``"v"`` (the schema version), ``"event"`` (its type) and ``"time"`` (seconds since the run
started). docs/events.md documents the fields of each type.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, TextIO

SCHEMA_VERSION = 1

# event type -> its fields besides v/event/time (documentation and a check in the tests)
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "run_started": ("run_dir", "graph", "settings", "device", "params", "train_samples", "val_samples", "threads",
                    "steps_per_epoch", "start_epoch", "start_step"),
    # a timed warm-up's forecast, before the first step (builder/training/estimate.py)
    "estimate": ("epoch_seconds", "run_seconds", "step_seconds", "val_seconds", "checkpoint_seconds",
                 "checkpoint_bytes", "peak_bytes", "memory", "batch_size",
                 "train_samples", "val_samples", "steps_per_epoch", "run_steps", "timed_steps", "warmup_seconds",
                 "macs_per_sample", "device"),
    "step": ("epoch", "step", "loss", "lr", "samples_per_s"),
    "epoch": ("epoch", "step", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr",
              "seconds", "samples_per_s"),
    "gradients": ("step", "nodes"),  # nodes: {node id: {"norm", "mean_abs", "max_abs"}}
    "timestep_gradients": ("step", "node", "norms"),  # norms[t] = |dLoss/dx_t| at the block's input
    "warning": ("message", "node"),
    "checkpoint": ("path", "epoch", "step", "best"),
    "error": ("message", "hint"),
    "run_finished": ("status", "summary"),  # status: completed | stopped | failed | early_stopped
}

Subscriber = Callable[[dict], None]


class EventBus:
    """Fans events out to subscribers; ``emit`` stamps version, type and time."""

    def __init__(self) -> None:
        self.subscribers: list[Subscriber] = []
        self.started = time.perf_counter()

    def subscribe(self, subscriber: Subscriber) -> Subscriber:
        self.subscribers.append(subscriber)
        return subscriber

    def emit(self, kind: str, **fields: Any) -> dict:
        if kind not in EVENT_FIELDS:
            raise ValueError(f"unknown event type {kind!r}")
        event = {"v": SCHEMA_VERSION, "event": kind, "time": round(time.perf_counter() - self.started, 4)}
        event.update(fields)
        for subscriber in list(self.subscribers):
            subscriber(event)
        return event


class JsonLinesWriter:
    """Writes each event as one JSON line and flushes, so a reader can follow it live.

    When the reader goes away (``modelbuilder train --json-events | head``), writing stops
    quietly and ``on_closed`` is called once: the CLI then stops the run as after Ctrl-C,
    with a checkpoint, instead of dying with a BrokenPipeError traceback mid-step."""

    def __init__(self, stream: TextIO, on_closed: Callable[[], None] | None = None):
        self.stream = stream
        self.on_closed = on_closed
        self.closed = False

    def __call__(self, event: dict) -> None:
        if self.closed:
            return
        try:
            self.stream.write(json.dumps(event, separators=(",", ":"), allow_nan=True) + "\n")
            self.stream.flush()
        except BrokenPipeError:
            self.closed = True
            _silence(self.stream)
            if self.on_closed is not None:
                self.on_closed()


def _silence(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at /dev/null, so that the interpreter's last flush
    of the buffered rest does not fail again at exit (Python's documented remedy)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's StringIO)
        pass


def read_events(path: str) -> list[dict]:
    """Events from a ``metrics.jsonl`` file, skipping a torn last line from a killed run."""
    events = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events
