"""TensorBoard event files in the run folder: an :class:`EventBus` subscriber.

Every run (when the ``tensorboard`` package is installed and the ``tensorboard`` setting is
on) writes ``events.out.tfevents.*`` files into its run folder, so ``tensorboard --logdir
runs`` shows every run of a graph side by side. What is written, by tag:

* ``train/loss``, ``train/lr``, ``train/samples_per_s``: each ``step`` event, at its step;
* ``epoch/train_loss``, ``epoch/train_accuracy``, ``epoch/val_loss``, ``epoch/val_accuracy``,
  ``epoch/val_top5``, ``epoch/lr``, ``epoch/samples_per_s`` (and ``epoch/val_mean_iou``,
  ``epoch/val_box_iou`` ... where measured; ``outputs/<node>/<figure>`` for each output of a
  graph with several): each ``epoch`` event, at the optimizer step the epoch ended on (the
  epoch number is ``epoch/epoch``);
* ``gradients/<node>/norm|mean_abs|max_abs``: each ``gradients`` event (every
  ``diagnostics_every`` steps);
* histograms ``weights/<node>`` and ``grads/<node>`` of the parameter values and of the
  epoch's last gradients of every node with parameters, at each epoch's end (between
  epochs, so the training steps never wait on them);
* ``timestep_gradients/<node>``: the RNN time-step gradient curve as a scalar series per
  diagnostic step (``timestep_gradients/<node>/step_<S>``, x = time step) and the ratio
  ``timestep_gradients/<node>/first_over_last`` at the diagnostic steps;
* the graph (GRAPHS tab), built from the project's own analysis: one node per graph node,
  named by its id, its block as the op, its output shape (batch first, -1) and its params;
* hparams (HPARAMS tab): the resolved settings, with the final metrics, in the same run;
* the run's PNG plots (``plots/*.png``) as images, at the end.

Resuming appends: the writer purges what an earlier, interrupted attempt logged after the
checkpoint's step (``purge_step``), so each step appears once. Only rank 0 writes (the
engine gives the other ranks a private bus and never builds this logger for them).
The hot loop is untouched: everything is done when an event arrives, and the histograms
once per epoch, after its steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from builder.training.event_logger import EventLogger

STEP_SCALARS = ("loss", "lr", "samples_per_s")
EPOCH_SCALARS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5", "lr", "samples_per_s",
                 "train_mean_iou", "val_mean_iou", "train_box_iou", "val_box_iou")
FINAL_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5", "val_mean_iou", "val_box_iou")


def missing_reason() -> str | None:
    """Why TensorBoard files cannot be written here (the package is missing), or None."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except Exception as err:  # ImportError, or a broken install
        return (f"no TensorBoard event files: the tensorboard package is not installed ({err}); "
                "install it (pip install tensorboard, or make setup) or turn this off with --no-tensorboard")
    return None


def attach_tensorboard(trainer: Any) -> TensorBoardLog | None:
    """A logger for ``trainer``'s run folder, subscribed to its bus; None when the
    ``tensorboard`` setting is off, or when the package is missing (then a warning, reported
    after ``run_started``, says so)."""
    if not trainer.config.tensorboard:
        return None
    why = missing_reason()
    if why is not None:
        trainer.resume_notes.append(why)  # the notes are emitted as warnings after run_started
        return None
    logger = TensorBoardLog(trainer.run_folder.root, model=trainer.model, analysis=trainer.analysis,
                            settings=trainer.settings, emit=trainer.bus.emit)
    trainer.bus.subscribe(logger)
    return logger


def detach_tensorboard(trainer: Any, logger: TensorBoardLog | None) -> None:
    """Unsubscribe ``logger`` and flush its files (:meth:`TensorBoardLog.close` ends them)."""
    if logger is None:
        return
    if logger in trainer.bus.subscribers:
        trainer.bus.subscribers.remove(logger)
    if logger.writer is not None:
        try:
            logger.writer.flush()
        except Exception:  # noqa: BLE001
            pass


class TensorBoardLog(EventLogger):
    """Subscribe it to the bus; call :meth:`close` (with the plots written) at the end."""

    name = "TensorBoard logging"

    def __init__(self, logdir: Path | str, *, model: Any = None, analysis: Any = None,
                 settings: dict[str, Any] | None = None, emit: Any = None):
        self.logdir = Path(logdir)
        self.model = model
        self.analysis = analysis
        self.settings = settings or {}
        self.writer: Any = None  # opened at run_started, when the first step is known
        self.final: dict[str, float] = {}
        self.emit = emit
        self.last_step = 0
        # scalars wait here and are written at epoch ends and checkpoints: each write wakes
        # the writer's thread, and on a 2-core machine a thread that wakes during the steps
        # stalls torch's OpenMP threads (bench/train_throughput.py: 0.83-0.94 when written
        # as they came)
        self.pending: list[tuple[str, Any, int]] = []  # (tag, a number or a raw histogram, step)
        self.diagnosed = False  # histograms come with the diagnostics; without them, once an epoch

    # --- the subscriber -----------------------------------------------------------------
    def _stopped(self, message: str) -> None:
        if self.emit is not None:
            self.emit("warning", message=message, node=None)

    def _on_run_started(self, event: dict) -> None:
        from torch.utils.tensorboard import SummaryWriter

        start = int(event.get("start_step") or 0)
        if start:  # resuming from step S: what an interrupted attempt wrote after S is superseded
            trim_after(self.logdir, start)
        self.writer = SummaryWriter(str(self.logdir), purge_step=start + 1 if start else None,
                                    flush_secs=30)
        if not start:
            self._write_graph()

    def _on_step(self, event: dict) -> None:
        step = self.last_step = event["step"]
        for key in STEP_SCALARS:
            self._scalar(f"train/{key}", event.get(key), step)

    def _on_epoch(self, event: dict) -> None:
        step = self.last_step = event["step"]
        self._scalar("epoch/epoch", event.get("epoch"), step)
        for key in EPOCH_SCALARS:
            self._scalar(f"epoch/{key}", event.get(key), step)
        for node, figures in (event.get("outputs") or {}).items():  # a graph with several outputs
            for key, value in figures.items():
                self._scalar(f"outputs/{node}/{key}", value, step)
        for key in FINAL_METRICS:
            if isinstance(event.get(key), (int, float)):
                self.final[key] = float(event[key])
        if not self.diagnosed:  # no diagnostics (diagnostics_every: 0): once an epoch
            self._histograms(step)
        self._drain()

    def _on_gradients(self, event: dict) -> None:
        step = event["step"]
        for node, stats in (event.get("nodes") or {}).items():
            for key, value in stats.items():
                self._scalar(f"gradients/{node}/{key}", value, step)
        self.diagnosed = True
        self._histograms(step)  # the gradients of this very step are still on the parameters

    def _on_timestep_gradients(self, event: dict) -> None:
        step, node, norms = event["step"], event["node"], event.get("norms") or []
        for t, value in enumerate(norms):
            self._scalar(f"timestep_gradients/{node}/step_{step}", value, t)
        if norms and norms[-1]:
            self._scalar(f"timestep_gradients/{node}/first_over_last", norms[0] / norms[-1], step)

    def _on_checkpoint(self, event: dict) -> None:
        self._drain()  # (a resumed run continues from here: what it logged so far is kept)

    def _on_run_finished(self, event: dict) -> None:
        summary = event.get("summary") or {}
        final = summary.get("final") if isinstance(summary.get("final"), dict) else {}
        for key in FINAL_METRICS:
            if isinstance(final.get(key), (int, float)):
                self.final[key] = float(final[key])
        self._drain()
        self._write_hparams(event.get("status"))
        self.writer.flush()

    # --- writing --------------------------------------------------------------------------
    def _scalar(self, tag: str, value: Any, step: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return  # None (no validation data, regression accuracy)
        self.pending.append((tag, float(value), step))

    def _drain(self) -> None:
        """Write the scalars that wait (between epochs, at checkpoints, at the end)."""
        if self.writer is not None:
            for tag, value, step in self.pending:
                if isinstance(value, dict):
                    self.writer.add_histogram_raw(tag, global_step=step, **value)
                else:
                    self.writer.add_scalar(tag, value, step)
        self.pending.clear()

    def _histograms(self, step: int) -> None:
        """Parameter values and gradients of every node with parameters, as histograms
        counted by torch (``histc``: a numpy histogram of every parameter on each diagnostic
        step cost LeNet-5 a quarter of its speed) and queued with the scalars."""
        if self.model is None:
            return
        from builder.training.diagnostics import unwrap

        for node, module in unwrap(self.model).named_children():
            params = [p for p in module.parameters() if p.requires_grad]
            if not params:
                continue
            self.pending.append((f"weights/{node}", raw_histogram(p.detach() for p in params), step))
            grads = [p.grad.detach() for p in params if p.grad is not None]
            if grads:
                self.pending.append((f"grads/{node}", raw_histogram(grads), step))

    def _write_graph(self) -> None:
        if self.analysis is None:
            return
        graph_def = graph_def_of(self.analysis)
        from tensorboard.compat.proto.config_pb2 import RunMetadata
        from tensorboard.compat.proto.step_stats_pb2 import DeviceStepStats, StepStats

        stats = RunMetadata(step_stats=StepStats(dev_stats=[DeviceStepStats(device="/device:CPU:0")]))
        self.writer._get_file_writer().add_graph((graph_def, stats))

    def _write_hparams(self, status: Any) -> None:
        from torch.utils.tensorboard.summary import hparams

        params = hparam_values(self.settings)
        # the metrics are the epoch scalars this run already holds: the dashboard reads them
        metrics = {f"epoch/{key}": value for key, value in self.final.items() if math.isfinite(value)}
        if status is not None:
            params["status"] = str(status)
        exp, ssi, sei = hparams(params, metrics)
        file_writer = self.writer._get_file_writer()
        for summary in (exp, ssi, sei):
            file_writer.add_summary(summary)
        for key, value in metrics.items():  # also under hparam/ for tools that read those
            self.writer.add_scalar(f"hparam/{key.split('/', 1)[1]}", value, self.last_step)

    def add_images(self, paths: Iterable[Path], step: int = 0) -> None:
        """The run's PNG plots as images (tag ``plots/<name>``)."""
        if self.writer is None or self.failed is not None:
            return
        try:
            import numpy as np
            from PIL import Image

            for path in paths:
                with Image.open(path) as image:
                    pixels = np.asarray(image.convert("RGB"))
                self.writer.add_image(f"plots/{Path(path).stem}", pixels, step, dataformats="HWC")
        except Exception as err:  # noqa: BLE001
            self.failed = f"TensorBoard could not store the plots: {err}"  # the run has finished: no event

    def close(self, plots: Iterable[Path] = (), step: int = 0) -> None:
        if self.writer is None:
            return
        self._drain()
        self.add_images(plots, step)
        self.writer.close()
        self.writer = None


def trim_after(logdir: Path, step: int) -> list[Path]:
    """Rewrite the event files in ``logdir`` without the summaries logged after ``step``
    (by an attempt that went on past the checkpoint a resumed run continues from), so that
    every reader, not only those that honour ``purge_step``, sees each step once. Returns
    the files rewritten."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.record_writer import RecordWriter

    rewritten = []
    for path in sorted(Path(logdir).glob("events.out.tfevents.*")):
        kept, dropped = [], 0
        for record in RawEventFileLoader(str(path)).Load():
            event = Event.FromString(record)
            if event.step > step and (event.HasField("summary") or event.HasField("session_log")):
                dropped += 1
            else:
                kept.append(record)
        if not dropped:
            continue
        temporary = path.with_name(path.name + ".trim")
        with open(temporary, "wb") as handle:
            writer = RecordWriter(handle)
            for record in kept:
                writer.write(record)
            handle.flush()
        temporary.replace(path)
        rewritten.append(path)
    return rewritten


def raw_histogram(tensors: Iterable[Any], bins: int = 30) -> dict[str, Any]:
    """The values of ``tensors`` as the fields of a TensorBoard histogram (add_histogram_raw),
    counted on their own device."""
    import torch

    values = torch.cat([t.reshape(-1).float() for t in tensors])
    low, high = float(values.min()), float(values.max())
    if not high > low:  # one value (or NaN): one bucket around it
        high = low + (abs(low) * 1e-6 or 1e-12)
    counts = torch.histc(values, bins=bins, min=low, max=high)
    limits = torch.linspace(low, high, bins + 1)[1:]
    return {"min": low, "max": high, "num": int(values.numel()), "sum": float(values.sum()),
            "sum_squares": float((values * values).sum()), "bucket_limits": limits.tolist(),
            "bucket_counts": counts.tolist()}


def hparam_values(settings: dict[str, Any]) -> dict[str, Any]:
    """The resolved settings as hparams: numbers, text and switches; ``data`` flattened
    (``data.name``); None and anything else as text."""
    values: dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for inner, item in value.items():
                put(f"{key}.{inner}", item)
        elif isinstance(value, (bool, int, float, str)):
            values[key] = value
        else:
            values[key] = str(value)

    for key, value in settings.items():
        put(key, value)
    return values


def graph_def_of(analysis: Any) -> Any:
    """A TensorBoard GraphDef of the analysed graph: node ids as names, blocks as ops,
    output shapes (batch first, as -1) and the block's parameters as the node's attribute."""
    from tensorboard.compat.proto.graph_pb2 import GraphDef
    from tensorboard.compat.proto.versions_pb2 import VersionDef
    from torch.utils.tensorboard._proto_graph import node_proto

    nodes = []
    for node_id in analysis.order:
        info = analysis.nodes[node_id]
        source = analysis.graph.nodes.get(node_id)
        op = source.kind if source is not None else (getattr(info.block, "name", None) or "node")
        inputs = [ref.node for refs in info.inputs.values() for ref in refs]
        shape = info.shape
        size = [-1, *(d if isinstance(d, int) else -1 for d in shape)] if isinstance(shape, (tuple, list)) else None
        params = ", ".join(f"{k}={v}" for k, v in (source.params if source is not None else {}).items())
        nodes.append(node_proto(node_id, op=op, input=list(dict.fromkeys(inputs)), outputsize=size,
                                attributes=params))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))


def add_run_images(run_dir: Path, paths: Iterable[Path], prefix: str) -> int:
    """Add PNG files (explanations, views) to a finished run's TensorBoard files as images
    tagged ``<prefix>/<file name>``, at the run's last step, in an event file of their own;
    returns how many were added (0 when the run has no event files or the package is missing)."""
    run_dir = Path(run_dir)
    if not any(run_dir.glob("events.out.tfevents.*")):
        return 0
    try:
        import numpy as np
        from PIL import Image
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return 0
    from builder.training.events import read_events

    try:  # the run's last step, so the pictures sit at the end of its timeline
        step = max((int(e.get("step") or 0) for e in read_events(str(run_dir / "metrics.jsonl"))), default=0)
    except (OSError, ValueError, TypeError):
        step = 0
    added = 0
    writer = SummaryWriter(str(run_dir), filename_suffix=f".{prefix}")
    try:
        for path in paths:
            if Path(path).suffix.lower() != ".png":
                continue
            with Image.open(path) as image:
                writer.add_image(f"{prefix}/{Path(path).stem}", np.asarray(image.convert("RGB")), step,
                                 dataformats="HWC")
            added += 1
    finally:
        writer.close()
    return added
