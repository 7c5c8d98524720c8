"""The training engine: one loop for the command line and the desktop app.

It reports through an :class:`EventBus` and never prints. The hot loop keeps metrics on
the device and reads them back only every ``log_every`` steps, so a GPU is never made to
wait on every step. Stopping (Ctrl-C, the app's Stop button) is a request the loop
honours between steps: it writes a checkpoint from which ``resume`` continues exactly as
if the run had never stopped.

The settings arrive as ``resolve_settings``' dict (kept as ``Trainer.settings``: it is
what settings.json and the events hold) and are read through the typed
:class:`TrainingSettings` (``Trainer.config``). What the loop carries from step to step is
a :class:`LoopState`; the loss, optimizer and schedule are built in
builder/training/optimization.py, the validation pass and the summary in evaluation.py,
the loop state in loop_state.py, the run folder's definition and plots in run_record.py.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from builder.analysis import Analysis, analyze
from builder.compiler import compile_graph, resolve_device
from builder.data import InputSpec, TaskData, graph_io
from builder.data.fitting import load_graph_data, no_data_message
from builder.errors import GraphError, HintedError, Problem
from builder.generation.free_running import free_running_for
from builder.graph import Graph
from builder.memory import device_memory, estimate, too_large
from builder.training import distributed
from builder.training.batches import batch_count, on_device, shard, training_batches
from builder.training.checkpoint import load_weights
from builder.training.checkpoint_store import (
    Checkpoint,
    clean_leftovers,
    discard_newer_than,
    open_checkpoint,
    write_checkpoint,
)
from builder.training.diagnostics import GradientMonitor, unwrap
from builder.training.estimate import announce_estimate
from builder.training.evaluation import Evaluator, global_counters, run_summary
from builder.training.events import EventBus, JsonLinesWriter
from builder.training.loop_state import Epoch, LoopState, Window, window_totals
from builder.training.objective import build_objective, plan_outputs
from builder.training.optimization import build_optimizer, build_schedule, clip_gradients
from builder.training.run_files import data_folder
from builder.training.run_record import write_definition, write_run_plots
from builder.training.runs import RunFolder
from builder.training.tbptt import with_tbptt
from builder.training.tensorboard_log import attach_tensorboard, detach_tensorboard
from builder.training.threads import choose_threads
from builder.training.train_state import RANK_SEED, Counters, MidEpochSchedule, Position, capture, restore
from builder.training.transfer import Transfer
from builder.training.typed_settings import TrainingSettings


class TrainingError(HintedError):
    """Training cannot start or go on: a message and a hint, never a traceback."""

    HINT_IN_TEXT = False  # the train command and the app print the hint on its own line


class Trainer:
    """Trains one graph into one run folder. Create it, subscribe to ``bus``, call ``run``."""

    def __init__(self, graph: Graph, settings: dict[str, Any], run: RunFolder, *, bus: EventBus | None = None,
                 resume: bool = False, checkpoint: str | None = None):
        """Under torchrun (``WORLD_SIZE`` > 1) the trainer joins the process group and trains
        with DistributedDataParallel; only rank 0 writes ``run`` and emits events. With
        ``resume``, training continues from the run's newest checkpoint, or from the one
        named ``checkpoint`` (the newer ones are then discarded)."""
        self.graph = graph
        self.settings = settings
        self.config = TrainingSettings.from_dict(settings)
        self.run_folder = run
        self.bus = bus or EventBus()
        self.resume = resume
        self.resume_from = checkpoint
        self.last_checkpoint: Checkpoint | None = None
        self.resume_notes: list[str] = []  # warnings found while resuming or loading init, reported after run_started
        self._stop = False
        self.plots: list[Path] = []

    def request_stop(self) -> None:
        """Finish the current step, write a checkpoint and return (safe from a signal handler)."""
        self._stop = True

    # --- set-up -----------------------------------------------------------------------
    def _prepare(self) -> None:
        self._check_graph()
        self._load_data()
        self._build_model()
        self._build_optimization()
        self._place_data()

    def _check_graph(self) -> None:
        """Refuse, in a sentence, what cannot train: before loading data or allocating."""
        c = self.config
        self.analysis: Analysis = analyze(self.graph)
        if not self.analysis.ok:
            raise GraphError(self.analysis.problems)
        # which outputs train with which loss (GraphError at the loss setting's line otherwise)
        self.output_specs, self.primary_output = plan_outputs(self.graph, self.analysis, c.loss)
        device = resolve_device(c.device)
        why = too_large(estimate(self.analysis, c.batch_size, c.optimizer), device_memory(device))
        if why:  # refused in a sentence, not after minutes of allocating ending in a traceback
            raise TrainingError(f"the graph cannot be trained on this {device.type}: {why}",
                                "lower batch_size, make the widest layers smaller, or use a bigger machine")
        self.output_shape = self.analysis.nodes[self.primary_output].shape
        if not c.data:  # the hint names the built-in sources that fit this graph
            raise TrainingError(*no_data_message(graph_io(self.analysis)[0], self.output_shape))

    def _load_data(self) -> None:
        c = self.config
        inputs = [InputSpec(i, tuple(self.analysis.nodes[i].shape), self.analysis.nodes[i].dtype)
                  for i in self.analysis.input_ids]
        base = data_folder(self.graph, self.run_folder, self.resume)
        self.data: TaskData = load_graph_data(c.data, inputs, self.output_specs, seed=c.seed,
                                              val_split=c.val_split, base_dir=base)
        world = self.world = distributed.init_from_env()
        if world.enabled and c.batch_size % world.size:
            raise TrainingError(f"batch_size {c.batch_size} does not divide among {world.size} processes",
                                f"batch_size is the global batch (all processes together): make it a multiple "
                                f"of {world.size}, e.g. {world.size * max(1, round(c.batch_size / world.size))}")

    def _build_model(self) -> None:
        """self.model: the plain module (checkpoints, evaluation, diagnostics); self.net: what
        runs the training step (the model, in DDP, compiled)."""
        c, world = self.config, self.world
        self.device = distributed.rank_device(resolve_device(c.device), world)
        self.model = compile_graph(self.graph, seed=c.seed, device=self.device, analysis=self.analysis)
        self.transfer = Transfer(self.model, self.graph, c, resume=self.resume, notes=self.resume_notes)  # init, freeze
        self.memory_format = None
        # channels-last is a 4-D layout: image convolutions, and no 5-D (3-D conv) weights
        convolutional = any(isinstance(m, nn.Conv2d) for m in self.model.modules()) and not any(
            p.dim() == 5 for p in self.model.parameters())
        if c.channels_last == "true" or (c.channels_last == "auto" and convolutional and self.device.type == "cuda"):
            self.memory_format = torch.channels_last
            self.model = self.model.to(memory_format=torch.channels_last)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest kernels once
        self.net: nn.Module = self.model
        if world.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if c.compile:
            self.net = torch.compile(self.net)
        self.net = with_tbptt(self.net, self.model, self.analysis, c.tbptt, world)  # tbptt: K (tbptt.py)
        self.params = sum(p.numel() for p in self.model.parameters())

    def _build_optimization(self) -> None:
        c = self.config
        self.objective = build_objective(self.graph, self.output_specs, self.data.outputs, c.loss, self.primary_output)
        self.loss, self.measures = self.objective.total, self.objective.measures
        self.optimizer = build_optimizer(self.transfer.param_groups(), c)
        self.steps_per_epoch = batch_count(len(self.data.train), c.batch_size, self.world.size)
        self.schedule = build_schedule(self.optimizer, c, self.steps_per_epoch)
        self.scheduler = self.schedule.scheduler  # what a checkpoint saves
        self.amp_dtype = None
        if c.amp and self.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    def _place_data(self) -> None:
        """The data on the device, the random generators, the evaluator and the gradient monitor."""
        c, world = self.config, self.world
        self.train_data = on_device(self.data.train, self.device)
        self.val_data = on_device(self.data.val, self.device) if self.data.val is not None else None
        if self.val_data is not None:  # each rank evaluates its share; the sums are added up
            self.val_data = shard(self.val_data, world.rank, world.size)
        self.evaluate = Evaluator(self.model, self.val_data, self.data.val is not None and len(self.data.val) > 0,
                                  self.objective, c.batch_size, c.workers, self.device, self.memory_format, world)
        self.free_running = free_running_for(self)  # decoders: generated accuracy (generation/free_running.py)
        # dropout and other global-RNG users (restored on resume); other ranks draw other masks
        torch.manual_seed(c.seed + RANK_SEED * world.rank)
        self.shuffle = torch.Generator().manual_seed(c.seed)  # the same order on every rank
        self.augment_rng = torch.Generator().manual_seed(c.seed + 1 + RANK_SEED * world.rank)
        recurrent = [n for n in self.analysis.order if getattr(self.analysis.nodes[n].block, "category", "") == "Recurrent"]
        trainable = [n for n, m in self.model.named_children() if any(p.requires_grad for p in m.parameters())]
        # gradients are identical on every rank after DDP's all-reduce: rank 0 looks at them
        self.monitor = GradientMonitor(self.model, trainable, recurrent, c.diagnostics_every if world.main else 0,
                                       self.bus.emit, amp=self.scaler.is_enabled())

    # --- checkpoints --------------------------------------------------------------------
    def _checkpoint(self, state: LoopState, *, best: bool) -> None:
        """One checkpoint of ``state`` (its counters summed over all ranks); rank 0 writes it."""
        self.mid_epoch.written()
        # mid-epoch: this rank's sums, added up; at an epoch's start (batch 0) they are zeros
        counters = global_counters(state.counters, self.world, self.device) if state.at.batch else state.counters
        if not self.world.main:
            return
        saved = capture(self, state.at, state.epoch_shuffle, counters, state.history)
        self.last_checkpoint = write_checkpoint(self.run_folder.checkpoints, unwrap(self.model), saved)
        self.bus.emit("checkpoint", path=str(self.last_checkpoint.weights.parent), epoch=state.at.epoch,
                      step=state.at.step, best=best)

    def _resume_state(self) -> dict:
        """The verified checkpoint to continue from, loaded into the model."""
        checkpoints = self.run_folder.checkpoints
        checkpoint, state, raw = open_checkpoint(checkpoints, self.resume_from)
        load_weights(checkpoint.weights, self.model, raw)
        if self.world.main:
            if self.resume_from is not None:
                dropped = discard_newer_than(checkpoints, checkpoint.step)
                if dropped:
                    self.resume_notes.append(f"continuing from {checkpoint.name}: the newer checkpoints "
                                             f"({', '.join(dropped)}) belong to the abandoned run and were removed")
            if checkpoint.legacy:
                self.resume_notes.append(f"{checkpoint.state.name} was written by an older version: whether it "
                                         "belongs with its weights file cannot be checked")
        self.last_checkpoint = checkpoint
        return state

    # --- the run ------------------------------------------------------------------------
    def run(self) -> dict:
        """Train; returns the summary (also written to summary.json). Raises GraphError,
        DataError or TrainingError before the first step for anything that can't work."""
        threads = torch.get_num_threads()
        try:
            return self._prepare_and_run()
        finally:  # the thread count is the process's: give the caller back its own
            torch.set_num_threads(threads)

    def _prepare_and_run(self) -> dict:
        started = time.perf_counter()
        self._prepare()
        if not self.world.main:  # rank 0 reports and writes; the others only train
            self.bus = EventBus()
            self.monitor.emit = self.bus.emit
            summary = self._run(started)
            distributed.barrier(self.world)
            return summary
        # what a killed write or delete left behind (this run is the folder's only writer)
        clean_leftovers(self.run_folder.checkpoints)
        clean_leftovers(self.run_folder.root)
        if not self.resume:
            write_definition(self.run_folder, self.graph, self.settings, self.data, self.objective.describe())
        with open(self.run_folder.metrics, "a", encoding="utf-8") as metrics:
            writer = self.bus.subscribe(JsonLinesWriter(metrics))
            tensorboard = attach_tensorboard(self)  # event files in the run folder (rank 0 only)
            try:
                summary = self._run(started)
            finally:
                self.bus.subscribers.remove(writer)
                detach_tensorboard(self, tensorboard)  # unsubscribed and flushed
        self.plots = write_run_plots(self.run_folder, self)  # and the predicted masks or boxes
        if tensorboard is not None:
            tensorboard.close(self.plots)
        distributed.barrier(self.world)
        return summary

    def _start_state(self) -> tuple[LoopState, str]:
        """A fresh loop state, or the one restored from a checkpoint; and why this many threads."""
        c = self.config
        state = LoopState(Position(), self.shuffle.get_state(), Counters.zeros(self.device))
        saved = self._resume_state() if self.resume else None
        if saved is not None and c.threads == "auto" and saved.get("threads"):
            # the count the run started with: another would change the sums' order
            self.threads, threads_reason = int(saved["threads"]), "as when the run started"
        else:
            self.threads, threads_reason = choose_threads(c.threads)
        torch.set_num_threads(self.threads)
        if saved is not None:
            state = LoopState(*restore(self, saved))
        return state, threads_reason

    def _run(self, started: float) -> dict:
        self.mid_epoch = MidEpochSchedule(self.config.checkpoint_every)
        state, threads_reason = self._start_state()
        self.bus.emit("run_started", run_dir=str(self.run_folder.root), graph=self.graph.name, settings=self.settings,
                      device=str(self.device), params=self.params, train_samples=len(self.data.train),
                      val_samples=len(self.data.val) if self.data.val is not None else 0,
                      steps_per_epoch=self.steps_per_epoch, start_epoch=state.at.epoch, start_step=state.at.step,
                      threads=self.threads, threads_reason=threads_reason, task=self.objective.kind)
        for note in self.resume_notes:
            self.bus.emit("warning", node=None, message=note)
        announce_estimate(self)  # a timed warm-up: one epoch's time and memory, before the first
        status = "completed"
        try:
            status = self._loop(state)
        finally:
            self.monitor.flush()
            self.monitor.close()
        summary = run_summary(state.history, status, time.perf_counter() - started, graph=self.graph.name,
                              device=str(self.device), threads=self.threads, world_size=self.world.size,
                              params=self.params, data=self.data.description, task=self.objective.kind)
        if self.world.main:
            self.run_folder.write_json(self.run_folder.summary, summary)
        self.bus.emit("run_finished", status=status, summary=summary)
        return summary

    # --- the loop -----------------------------------------------------------------------
    def _loop(self, state: LoopState) -> str:
        """Train from ``state.at`` to the last epoch (or a stop); returns the run's status."""
        while state.at.epoch < self.config.epochs and state.at.step < (self.config.max_steps or math.inf):
            epoch = self._train_epoch(state)
            status = epoch.status if epoch.status is not None else self._end_epoch(state, epoch)
            if status is not None:
                return status
        return "completed"

    def _train_epoch(self, state: LoopState) -> Epoch:
        """The epoch's steps from ``state.at.batch`` (its status is set if the run ends inside it)."""
        c, world, at = self.config, self.world, state.at
        if at.batch == 0:
            state.epoch_shuffle = self.shuffle.get_state()
            state.counters = Counters.zeros(self.device)
        self.shuffle.set_state(state.epoch_shuffle)  # the same permutation when resuming mid-epoch
        order = torch.randperm(len(self.train_data), generator=self.shuffle)
        batches = training_batches(self.train_data, order, at.batch, c.batch_size, self.device, c.workers,
                                   world.rank, world.size, self.memory_format)
        self.transfer.train(self, at.epoch)  # the fine-tune schedule may unfreeze nodes first
        autocast = torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()
        epoch = Epoch()
        window = Window.open(state.counters)
        for xs, y in batches:
            stop = checkpoint_due = False
            self._step(xs, y, state, autocast)
            window.samples += len(y)
            epoch.samples += len(y)
            at.batch += 1
            at.step += 1
            end = at.batch == self.steps_per_epoch or at.step == c.max_steps  # (max_steps: a quick run)
            if at.step % c.log_every == 0 or end:
                totals = window_totals(state.counters, window, world, self.mid_epoch, self._stop)
                stop, checkpoint_due = totals.stop, totals.checkpoint_due
                self.monitor.flush()  # the device just synced: live gradient plots cost nothing more
                elapsed = time.perf_counter() - window.started
                self.bus.emit("step", epoch=at.epoch, step=at.step, loss=totals.mean_loss, lr=self._lr(),
                              samples_per_s=totals.samples / elapsed if elapsed > 0 else None)
                if not math.isfinite(totals.mean_loss):
                    self._fail_nan(at)
                    epoch.status = "failed"
                    return epoch
                window = Window.open(state.counters)
            mid_epoch = not end  # the epoch's end writes its own checkpoint
            # several processes stop together, at a log step, when one of them was asked to
            if stop if world.enabled else self._stop:
                self._stop = True
                if mid_epoch:
                    self._checkpoint(state, best=False)
                    epoch.status = "stopped"
                    return epoch
            elif mid_epoch and (checkpoint_due or self.mid_epoch.due_by_steps(at.step)):
                self._checkpoint(state, best=False)
            if end:
                break
        epoch.seconds = time.perf_counter() - epoch.started
        return epoch

    def _step(self, xs: list[torch.Tensor], y: torch.Tensor, state: LoopState, autocast: Any) -> None:
        """One optimizer step on one batch; its sums go to ``state.counters`` (on the device)."""
        at, counters, world = state.at, state.counters, self.world
        if self.data.augment is not None:
            xs[0] = self.data.augment(xs[0], self.augment_rng)
        self.monitor.before_forward(at.step)
        with autocast:
            out = self.net(*xs)
            loss, losses = self.objective(out, y)
        self.optimizer.zero_grad(set_to_none=True)
        scaled = loss
        if world.enabled:  # DDP averages over ranks; a last batch split unevenly needs weights
            bs = self.config.batch_size
            global_n = min(bs, len(self.train_data) - at.batch * bs)
            if len(y) * world.size != global_n:
                scaled = loss * (len(y) * world.size / global_n)
        self.scaler.scale(scaled).backward()
        clipping = self.config.clipping
        if self.scaler.is_enabled() and (clipping or self.monitor.wants(at.step)):
            self.scaler.unscale_(self.optimizer)  # statistics and clipping see true gradients
        self.monitor.after_backward(at.step)
        if clipping:
            clip_gradients(self.model, self.config)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.schedule.per_step:
            self.schedule.scheduler.step()
        counters.loss += loss.detach() * len(y)  # summed on the device: no sync
        counters.seen += len(y)
        self.measures.step(counters, out, y, losses)

    def _end_epoch(self, state: LoopState, epoch: Epoch) -> str | None:
        """Evaluate, record and checkpoint the epoch just trained; a status if the run ends here."""
        c, at = self.config, state.at
        record = self._epoch_record(state, epoch)
        state.history["epochs"].append(record)
        val = record["val_loss"] if record["val_loss"] is not None else record["train_loss"]
        if not math.isfinite(val):
            self._fail_nan(at)
            return "failed"
        improved = val < at.best
        at.best, at.stale = (val, 0) if improved else (at.best, at.stale + 1)
        if improved:
            at.best_step = at.step
        self.schedule.after_epoch(val)
        at.epoch, at.batch = at.epoch + 1, 0
        self._checkpoint(LoopState(at, self.shuffle.get_state(), Counters.zeros(self.device), state.history),
                         best=improved)
        self.monitor.flush()
        if c.early_stopping and at.stale >= c.early_stopping:
            self.bus.emit("warning", message=f"early stopping: no better validation loss for {at.stale} epochs",
                          node=None)
            return "early_stopped"
        stop = self._stop
        if self.world.enabled:
            stop = bool(distributed.all_sum(torch.tensor([float(stop)], device=self.device), self.world).item())
        return "stopped" if stop else None

    def _epoch_record(self, state: LoopState, epoch: Epoch) -> dict:
        """The ``epoch`` event (emitted) and history entry: training sums over all ranks, validation."""
        counters = global_counters(state.counters, self.world, self.device)
        samples, seconds = epoch.samples * self.world.size, epoch.seconds  # the ranks run in lockstep
        train_loss = float(counters.loss / max(counters.seen, 1))
        train_acc = float(counters.correct) / counters.items if counters.items else None
        val = self.evaluate()
        record = {"epoch": state.at.epoch + 1, "step": state.at.step, "train_loss": train_loss,
                  "train_accuracy": train_acc, "val_loss": val.loss, "val_accuracy": val.accuracy, "lr": self._lr(),
                  "seconds": seconds, "samples_per_s": samples / seconds if seconds > 0 else None}
        if val.top5 is not None:
            record["val_top5"] = val.top5
        record.update(self.free_running())  # val_generated_accuracy, val_exact_match for decoder graphs
        record.update(self.measures.record(counters, val.figures))  # mean IoU, box IoU, each output's
        self.bus.emit("epoch", **record)
        return record

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _fail_nan(self, at: Position) -> None:
        last = self.last_checkpoint
        kept = (f"the last good checkpoint is {last.weights.parent}" if last is not None
                else "no checkpoint was written before it")
        self.bus.emit("error", message=f"the loss became NaN or infinite at step {at.step} (epoch {at.epoch + 1}); "
                                       f"{kept}", hint="lower the learning rate, or set clip_norm (e.g. 1.0)")


def problem_lines(err: Exception) -> list[str]:
    """Human lines for anything that stops a run before it starts."""
    if isinstance(err, GraphError):
        return [str(p) for p in err.problems]
    if isinstance(err, HintedError):  # the sentence, and the hint on its own line (once)
        hint = f"\n    hint: {err.hint}" if err.hint and not err.HINT_IN_TEXT else ""
        return [f"error: {err}{hint}"]
    return [str(Problem(str(err)))]
