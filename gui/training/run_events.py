"""What a run's events, and its end, do to the training state of the document that started
it (:class:`gui.training.state.TrainingState`): progress, the progress bar, the runs it
added, gradient warnings to mark on the canvas, the last checkpoint, and the lines to say.

Plain Python, no widgets: the training panel feeds each event of the child process in
here and shows what changed when the state is the one on screen.
"""

from __future__ import annotations

from pathlib import Path

from builder import estimate_line
from gui.training.state import TrainingState

Said = list[tuple[str, str]]  # (text, kind) lines for the panel's messages, oldest first
LONG_RUN_SECONDS = 15 * 60  # an estimate above this says how to make the run shorter
IOU_NAMES = {"mean_iou": "mean IoU", "box_iou": "box IoU"}


def epoch_text(event: dict, task: str | None = None) -> str:
    """``epoch 3: train loss 0.31, val loss 0.29, val accuracy 91.2%`` (pixel accuracy and
    mean IoU for segmentation, box IoU for boxes, each output's validation loss where a
    graph has several)."""
    text = f"epoch {event.get('epoch')}: train loss {event.get('train_loss', float('nan')):.4g}"
    if event.get("val_loss") is not None:
        text += f", val loss {event['val_loss']:.4g}"
    accuracy = event.get("val_accuracy")
    if accuracy is not None:
        text += f", val {'pixel ' if task == 'segmentation' else ''}accuracy {100 * accuracy:.1f}%"
    for key, name in IOU_NAMES.items():
        value = event.get(f"val_{key}", event.get(f"train_{key}"))
        if isinstance(value, (int, float)):
            text += f", {'val ' if event.get(f'val_{key}') is not None else ''}{name} {value:.3f}"
    outputs = event.get("outputs")
    if isinstance(outputs, dict) and len(outputs) > 1:
        losses = [f"{node} {figures.get('val_loss', figures.get('train_loss')):.3g}" for node, figures in outputs.items()
                  if isinstance(figures, dict) and isinstance(figures.get("val_loss", figures.get("train_loss")),
                                                              (int, float))]
        if losses:
            text += f" (per output: {', '.join(losses)})"
    return text


def estimate_said(event: dict) -> Said:
    """The estimate event in words; a run that will take long also says how to shorten it."""
    said: Said = [(estimate_line(event).replace("estimated", "Estimate:", 1), "info")]
    if float(event.get("run_seconds") or 0) > LONG_RUN_SECONDS:
        said.append(("This run will take a long time on this machine. To see first that it trains at all, "
                     "Stop it and set max steps (Schedule), or lower the batch size or the data's limit.",
                     "warning"))
    return said


def follow_event(state: TrainingState, event: dict) -> Said:
    """Record ``event`` in ``state``; the lines it makes the panel say."""
    state.events.append(event)
    state.progress.feed(event)
    kind = event.get("event")
    said: Said = []
    if kind in ("run_started", "step", "epoch"):
        progress = state.progress
        if progress.total_steps:
            state.bar = (0, progress.total_steps, min(progress.step, progress.total_steps))
        state.status_text = progress.text()
    if kind == "run_started":
        if event.get("run_dir"):
            path = Path(event["run_dir"])
            if all(p.resolve() != path.resolve() for p in state.added):
                state.added.append(path)
        if (event.get("settings") or {}).get("estimate", True) and not event.get("start_step"):
            state.status_text += " · timing a warm-up step for the estimate…"
    elif kind == "estimate":
        state.status_text = state.progress.text()
        state.estimate_text = estimate_line(event)
        said += estimate_said(event)
    elif kind == "epoch":
        said.append((epoch_text(event, state.progress.task), "info"))
    elif kind == "warning":
        said.append((event.get("message", "warning"), "warning"))
        if event.get("node"):
            state.marks = {**state.marks, event["node"]: event.get("message", "")}
    elif kind == "error":
        hint = f" ({event['hint']})" if event.get("hint") else ""
        said.append((f"{event.get('message', 'the run failed')}{hint}; the last good checkpoint is kept", "error"))
    elif kind == "checkpoint":
        state.last_checkpoint = event  # what Resume continues from after a stop or a crash
    return said


def finish_run(state: TrainingState, code: int, status: str) -> Said:
    """The run of ``state`` ended with exit ``code`` and ``status``; the lines to say."""
    state.running = False
    progress = state.progress
    said: Said = []
    if code == 0:
        state.bar = (0, max(progress.total_steps, 1), max(progress.total_steps, 1))
        said.append((f"Run {status}: {state.run_dir}", "info"))
    else:
        state.bar = (0, max(progress.total_steps, 1), min(progress.step, max(progress.total_steps, 1)))
        if status == "stopped" or code == 130:
            said.append((f"Stopped; the checkpoint is in {state.run_dir / 'checkpoints'}", "warning"))
        elif status == "crashed" and state.last_checkpoint is not None:
            # killed (out of memory, the Stop timeout, a crash): the last checkpoint is whole,
            # so Resume goes on from it exactly as after a stop
            said.append((f"The training process ended unexpectedly (exit status {code}). Resume continues "
                         f"from its last checkpoint (step {state.last_checkpoint.get('step')}).", "warning"))
        else:
            lines = [line for text in state.stderr for line in text.splitlines() if line.strip()]
            reason = "\n".join(line for line in lines if line.startswith(("error", "  ", "    hint"))) \
                or "\n".join(lines[-3:]) or f"exit status {code}"
            said.append((f"The run failed: {reason}", "error"))
    state.status_text = f"{status} · " + progress.text() if progress.total_steps else status
    return said
