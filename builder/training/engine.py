"""The training engine: one loop for the command line and the desktop app.

It reports through an :class:`EventBus` and never prints. The hot loop keeps metrics on
the device and reads them back only every ``log_every`` steps, so a GPU is never made to
wait on every step. Stopping (Ctrl-C, the app's Stop button) is a request the loop
honours between steps: it writes a checkpoint from which ``resume`` continues exactly as
if the run had never stopped.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from builder.analysis import Analysis, analyze
from builder.atomic import write_atomic
from builder.compiler import compile_graph, resolve_device
from builder.data import DataError, InputSpec, TaskData, load_data
from builder.errors import GraphError, Problem
from builder.graph import Graph
from builder.memory import device_memory, estimate, too_large
from builder.training import distributed
from builder.training.batches import (
    batch_count,
    evaluation_batches,
    on_device,
    shard,
    training_batches,
)
from builder.training.checkpoint import CheckpointError, load_weights
from builder.training.checkpoint_store import (
    Checkpoint,
    clean_leftovers,
    discard_newer_than,
    open_checkpoint,
    write_checkpoint,
)
from builder.training.diagnostics import GradientMonitor, unwrap
from builder.training.events import EventBus, JsonLinesWriter, read_events
from builder.training.runs import RunFolder
from builder.training.threads import choose_threads
from builder.training.train_state import RANK_SEED, Counters, MidEpochSchedule, Position, capture, restore
from builder.yaml_format import dump_graph


class TrainingError(Exception):
    """Training cannot start or go on: a message and a hint, never a traceback."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _loss_function(kind: str, choice: str) -> nn.Module:
    if choice == "auto":
        choice = "cross_entropy" if kind == "classification" else "mse"
    return {"cross_entropy": nn.CrossEntropyLoss(), "mse": nn.MSELoss(), "bce": nn.BCEWithLogitsLoss()}[choice]


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
        self.run_folder = run
        self.bus = bus or EventBus()
        self.resume = resume
        self.resume_from = checkpoint
        self.last_checkpoint: Checkpoint | None = None
        self.resume_notes: list[str] = []  # warnings found while resuming, reported after run_started
        self._stop = False
        self.plots: list[Path] = []

    def request_stop(self) -> None:
        """Finish the current step, write a checkpoint and return (safe from a signal handler)."""
        self._stop = True

    # --- set-up -----------------------------------------------------------------------
    def _prepare(self) -> None:
        s = self.settings
        self.analysis: Analysis = analyze(self.graph)
        if not self.analysis.ok:
            raise GraphError(self.analysis.problems)
        outputs = self.analysis.output_ids
        if len(outputs) != 1:
            raise TrainingError(f"training needs exactly one output node, the graph has {len(outputs)}",
                                "compute the loss on one output; remove or merge the others")
        device = resolve_device(s["device"])
        why = too_large(estimate(self.analysis, s["batch_size"], s["optimizer"]), device_memory(device))
        if why:  # refused in a sentence, not after minutes of allocating ending in a traceback
            raise TrainingError(f"the graph cannot be trained on this {device.type}: {why}",
                                "lower batch_size, make the widest layers smaller, or use a bigger machine")
        if not s["data"]:
            raise TrainingError("no dataset: the graph's training section has no 'data'",
                                "add e.g. 'training: {data: {name: digits}}' or pass --data digits")
        self.output_shape = self.analysis.nodes[outputs[0]].shape
        inputs = [InputSpec(i, tuple(self.analysis.nodes[i].shape), self.analysis.nodes[i].dtype)
                  for i in self.analysis.input_ids]
        base = Path(self.graph.path).resolve().parent if self.graph.path else Path.cwd()
        self.data: TaskData = load_data(s["data"], inputs, tuple(self.output_shape), seed=s["seed"],
                                        val_split=s["val_split"], base_dir=base)
        world = self.world = distributed.init_from_env()
        if world.enabled and s["batch_size"] % world.size:
            raise TrainingError(f"batch_size {s['batch_size']} does not divide among {world.size} processes",
                                f"batch_size is the global batch (all processes together): make it a multiple "
                                f"of {world.size}, e.g. {world.size * max(1, round(s['batch_size'] / world.size))}")
        self.device = distributed.rank_device(resolve_device(s["device"]), world)
        self.model = compile_graph(self.graph, seed=s["seed"], device=self.device, analysis=self.analysis)
        self.memory_format = None
        # channels-last is a 4-D layout: image convolutions, and no 5-D (3-D conv) weights
        convolutional = any(isinstance(m, nn.Conv2d) for m in self.model.modules()) and not any(
            p.dim() == 5 for p in self.model.parameters())
        if s["channels_last"] == "true" or (s["channels_last"] == "auto" and convolutional
                                            and self.device.type == "cuda"):
            self.memory_format = torch.channels_last
            self.model = self.model.to(memory_format=torch.channels_last)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest kernels once
        # what runs the training step: the model, in DDP, compiled; self.model stays the plain
        # module (checkpoints, evaluation, diagnostics)
        self.net: nn.Module = self.model
        if world.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if s["compile"]:
            self.net = torch.compile(self.net)
        self.loss_fn = _loss_function(self.data.kind, s["loss"])
        self.optimizer = self._optimizer()
        self.steps_per_epoch = batch_count(len(self.data.train), s["batch_size"], world.size)
        self.scheduler, self.scheduler_per_step = self._scheduler()
        self.amp_dtype = None
        if s["amp"] and self.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.train_data = on_device(self.data.train, self.device)
        self.val_data = on_device(self.data.val, self.device) if self.data.val is not None else None
        if self.val_data is not None:  # each rank evaluates its share; the sums are added up
            self.val_data = shard(self.val_data, world.rank, world.size)
        # dropout and other global-RNG users (restored on resume); other ranks draw other masks
        torch.manual_seed(s["seed"] + RANK_SEED * world.rank)
        self.shuffle = torch.Generator().manual_seed(s["seed"])  # the same order on every rank
        self.augment_rng = torch.Generator().manual_seed(s["seed"] + 1 + RANK_SEED * world.rank)
        recurrent = [n for n in self.analysis.order if getattr(self.analysis.nodes[n].block, "category", "") == "Recurrent"]
        trainable = [n for n, m in self.model.named_children() if any(p.requires_grad for p in m.parameters())]
        # gradients are identical on every rank after DDP's all-reduce: rank 0 looks at them
        self.monitor = GradientMonitor(self.model, trainable, recurrent, s["diagnostics_every"] if world.main else 0,
                                       self.bus.emit, amp=self.scaler.is_enabled())
        self.params = sum(p.numel() for p in self.model.parameters())

    def _optimizer(self) -> torch.optim.Optimizer:
        s = self.settings
        params = self.model.parameters()
        if s["optimizer"] == "sgd":
            return torch.optim.SGD(params, lr=s["lr"], momentum=s["momentum"], nesterov=s["nesterov"] and s["momentum"] > 0,
                                   weight_decay=s["weight_decay"])
        if s["optimizer"] == "adamw":
            return torch.optim.AdamW(params, lr=s["lr"], weight_decay=s["weight_decay"])
        return torch.optim.Adam(params, lr=s["lr"], weight_decay=s["weight_decay"])

    def _scheduler(self) -> tuple[Any, bool]:
        s, opt = self.settings, self.optimizer
        kind = s["schedule"]
        if kind == "step":
            return torch.optim.lr_scheduler.StepLR(opt, s["step_size"], s["gamma"]), False
        if kind == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s["epochs"]), False
        if kind == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s["lr"], epochs=s["epochs"],
                                                       steps_per_epoch=self.steps_per_epoch), True
        if kind == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=s["gamma"], patience=2), False
        return None, False

    # --- checkpoints --------------------------------------------------------------------
    def _checkpoint(self, at: Position, epoch_shuffle: torch.Tensor, counters: Counters, history: dict, *,
                    best: bool) -> None:
        """One checkpoint (``counters`` summed over all ranks); rank 0 writes it."""
        self.mid_epoch.written()
        if not self.world.main:
            return
        state = capture(self, at, epoch_shuffle, counters, history)
        self.last_checkpoint = write_checkpoint(self.run_folder.checkpoints, unwrap(self.model), state)
        self.bus.emit("checkpoint", path=str(self.last_checkpoint.weights.parent), epoch=at.epoch, step=at.step,
                      best=best)

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

    # --- the loop -----------------------------------------------------------------------
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
            self._write_definition()
        with open(self.run_folder.metrics, "a", encoding="utf-8") as metrics:
            writer = self.bus.subscribe(JsonLinesWriter(metrics))
            try:
                summary = self._run(started)
            finally:
                self.bus.subscribers.remove(writer)
        self._write_plots()
        distributed.barrier(self.world)
        return summary

    def _write_definition(self) -> None:
        """The graph as trained and its resolved settings, so the run can be resumed or
        reproduced even if the original file changes."""
        write_atomic(self.run_folder.graph, dump_graph(self.graph))
        source = str(Path(self.graph.path).resolve()) if self.graph.path else None
        self.run_folder.write_json(self.run_folder.settings, {"graph_source": source, "settings": self.settings})
        # what export and predict need to treat new inputs like the training data
        data = {"kind": self.data.kind, "num_classes": self.data.num_classes, "class_names": self.data.class_names,
                "normalization": self.data.normalization, "description": self.data.description}
        self.run_folder.write_json(self.run_folder.data, json.loads(json.dumps(data, default=_json_value)))

    def _write_plots(self) -> None:
        try:
            from builder.training.plots import write_plots

            self.plots = write_plots(self.run_folder.root, read_events(str(self.run_folder.metrics)))
        except Exception as err:  # a plot must never cost the user a finished run
            self.plots = []
            warnings.warn(f"could not write plots: {err}", stacklevel=2)

    def _run(self, started: float) -> dict:
        s = self.settings
        at = Position()
        history: dict = {"epochs": []}
        counters = Counters.zeros(self.device)
        epoch_shuffle = self.shuffle.get_state()
        self.mid_epoch = MidEpochSchedule(s["checkpoint_every"])
        state = self._resume_state() if self.resume else None
        if state is not None and s["threads"] == "auto" and state.get("threads"):
            # the count the run started with: another would change the sums' order
            self.threads, threads_reason = int(state["threads"]), "as when the run started"
        else:
            self.threads, threads_reason = choose_threads(s["threads"])
        torch.set_num_threads(self.threads)
        if state is not None:
            at, epoch_shuffle, counters, history = restore(self, state)
        self.bus.emit("run_started", run_dir=str(self.run_folder.root), graph=self.graph.name, settings=s,
                      device=str(self.device), params=self.params, train_samples=len(self.data.train),
                      val_samples=len(self.data.val) if self.data.val is not None else 0,
                      steps_per_epoch=self.steps_per_epoch, start_epoch=at.epoch, start_step=at.step,
                      threads=self.threads, threads_reason=threads_reason)
        for note in self.resume_notes:
            self.bus.emit("warning", node=None, message=note)
        status = "completed"
        try:
            status = self._loop(at, history, counters, epoch_shuffle)
        finally:
            self.monitor.flush()
            self.monitor.close()
        summary = self._summary(history, status, time.perf_counter() - started)
        if self.world.main:
            self.run_folder.write_json(self.run_folder.summary, summary)
        self.bus.emit("run_finished", status=status, summary=summary)
        return summary

    def _loop(self, at: Position, history: dict, counters: Counters, epoch_shuffle: torch.Tensor) -> str:
        """Train from ``at`` to the last epoch (or a stop); returns the run's status."""
        s = self.settings
        model = self.net
        world = self.world
        n = len(self.train_data)
        bs = s["batch_size"]
        log_every = s["log_every"]
        autocast = (torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext())
        while at.epoch < s["epochs"]:
            if at.batch == 0:
                epoch_shuffle = self.shuffle.get_state()
                counters = Counters.zeros(self.device)
            self.shuffle.set_state(epoch_shuffle)  # the same permutation when resuming mid-epoch
            order = torch.randperm(n, generator=self.shuffle)
            batches = training_batches(self.train_data, order, at.batch, bs, self.device, s["workers"],
                                       world.rank, world.size, self.memory_format)
            model.train()
            epoch_started, epoch_samples = time.perf_counter(), 0
            window_start_loss, window_started = counters.loss.clone(), time.perf_counter()
            window_samples = 0
            for xs, y in batches:
                agreed_stop = checkpoint_due = False
                if self.data.augment is not None:
                    xs[0] = self.data.augment(xs[0], self.augment_rng)
                self.monitor.before_forward(at.step)
                with autocast:
                    out = model(*xs)
                    loss = self._loss(out, y)
                self.optimizer.zero_grad(set_to_none=True)
                scaled = loss
                if world.enabled:  # DDP averages over ranks; a last batch split unevenly needs weights
                    global_n = min(bs, n - at.batch * bs)
                    if len(y) * world.size != global_n:
                        scaled = loss * (len(y) * world.size / global_n)
                self.scaler.scale(scaled).backward()
                clipping = s["clip_norm"] is not None or s["clip_value"] is not None
                if self.scaler.is_enabled() and (clipping or self.monitor.wants(at.step)):
                    self.scaler.unscale_(self.optimizer)  # statistics and clipping see true gradients
                self.monitor.after_backward(at.step)
                if clipping:
                    self._clip()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                if self.scheduler_per_step:
                    self.scheduler.step()
                counters.loss += loss.detach() * len(y)  # summed on the device: no sync
                counters.seen += len(y)
                if self.data.kind == "classification":
                    counters.correct += (out.detach().argmax(-1) == y).sum()
                    counters.items += y.numel()
                window_samples += len(y)
                epoch_samples += len(y)
                at.batch += 1
                at.step += 1
                if at.step % log_every == 0 or at.batch == self.steps_per_epoch:
                    # the one device sync per log interval (and, with several processes, the one
                    # all-reduce: the window's loss sum, its samples, a stop request, and whether
                    # rank 0's clock says a mid-epoch checkpoint is due)
                    if world.enabled:
                        totals = distributed.all_sum(torch.stack([
                            (counters.loss - window_start_loss).double(),
                            torch.tensor(float(window_samples), dtype=torch.float64, device=self.device),
                            torch.tensor(float(self._stop), dtype=torch.float64, device=self.device),
                            torch.tensor(float(world.main and self.mid_epoch.due_by_time()), dtype=torch.float64,
                                         device=self.device)]), world)
                        loss_sum, window_total, stops, due = totals.tolist()
                        mean_loss = loss_sum / window_total
                        agreed_stop, checkpoint_due = stops > 0, due > 0
                    else:
                        window_total = window_samples
                        mean_loss = ((counters.loss - window_start_loss) / window_samples).item()
                        checkpoint_due = self.mid_epoch.due_by_time()
                    self.monitor.flush()  # the device just synced: live gradient plots cost nothing more
                    elapsed = time.perf_counter() - window_started
                    self.bus.emit("step", epoch=at.epoch, step=at.step, loss=mean_loss, lr=self._lr(),
                                  samples_per_s=window_total / elapsed if elapsed > 0 else None)
                    if not math.isfinite(mean_loss):
                        self._fail_nan(at.step, at.epoch)
                        return "failed"
                    window_start_loss = counters.loss.clone()
                    window_started, window_samples = time.perf_counter(), 0
                mid_epoch = at.batch < self.steps_per_epoch  # the epoch's end writes its own checkpoint
                # several processes stop together, at a log step, when one of them was asked to
                if agreed_stop if world.enabled else self._stop:
                    self._stop = True
                    if mid_epoch:
                        self._checkpoint(at, epoch_shuffle, self._global(counters), history, best=False)
                        return "stopped"
                elif mid_epoch and (checkpoint_due or self.mid_epoch.due_by_steps(at.step)):
                    self._checkpoint(at, epoch_shuffle, self._global(counters), history, best=False)
            train_seconds = time.perf_counter() - epoch_started
            record = self._end_epoch(at.epoch, at.step, counters, train_seconds, epoch_samples)
            history["epochs"].append(record)
            val = record["val_loss"] if record["val_loss"] is not None else record["train_loss"]
            if not math.isfinite(val):
                self._fail_nan(at.step, at.epoch)
                return "failed"
            improved = val < at.best
            at.best, at.stale = (val, 0) if improved else (at.best, at.stale + 1)
            if improved:
                at.best_step = at.step
            if self.scheduler is not None and not self.scheduler_per_step:
                self.scheduler.step(val) if s["schedule"] == "plateau" else self.scheduler.step()
            at.epoch, at.batch = at.epoch + 1, 0
            self._checkpoint(at, self.shuffle.get_state(), Counters.zeros(self.device), history, best=improved)
            self.monitor.flush()
            if s["early_stopping"] and at.stale >= s["early_stopping"]:
                self.bus.emit("warning", message=f"early stopping: no better validation loss for {at.stale} epochs",
                              node=None)
                return "early_stopped"
            stop = self._stop
            if world.enabled:
                stop = bool(distributed.all_sum(torch.tensor([float(stop)], device=self.device), world).item())
            if stop:
                return "stopped"
        return "completed"

    def _global(self, counters: Counters) -> Counters:
        """The epoch's running sums over all ranks (the counters themselves on one process)."""
        if not self.world.enabled:
            return counters
        sums = distributed.all_sum(torch.stack([counters.loss.double(), counters.correct.double(),
                                                torch.tensor(float(counters.seen), dtype=torch.float64,
                                                             device=self.device),
                                                torch.tensor(float(counters.items), dtype=torch.float64,
                                                             device=self.device)]), self.world)
        loss, correct, seen, items = sums.tolist()
        return Counters(torch.tensor(loss, dtype=counters.loss.dtype, device=self.device),
                         torch.tensor(round(correct), dtype=torch.int64, device=self.device), round(seen), round(items))

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if isinstance(self.loss_fn, nn.CrossEntropyLoss) and out.dim() > 2:
            return self.loss_fn(out.reshape(-1, out.shape[-1]), y.reshape(-1))  # per-step labels
        if not isinstance(self.loss_fn, nn.CrossEntropyLoss):
            return self.loss_fn(out, y.to(out.dtype).reshape(out.shape))
        return self.loss_fn(out, y)

    def _clip(self) -> None:
        s = self.settings
        if s["clip_norm"] is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), s["clip_norm"])
        if s["clip_value"] is not None:
            nn.utils.clip_grad_value_(self.model.parameters(), s["clip_value"])

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _fail_nan(self, step: int, epoch: int) -> None:
        last = self.last_checkpoint
        kept = (f"the last good checkpoint is {last.weights.parent}" if last is not None
                else "no checkpoint was written before it")
        self.bus.emit("error", message=f"the loss became NaN or infinite at step {step} (epoch {epoch + 1}); {kept}",
                      hint="lower the learning rate, or set clip_norm (e.g. 1.0)")

    @torch.no_grad()
    def _evaluate(self) -> tuple[float | None, float | None, float | None]:
        if self.data.val is None or len(self.data.val) == 0:
            return None, None, None
        distributed.sync_buffers(self.model, self.world)
        self.model.eval()
        bs = max(256, self.settings["batch_size"])
        total, correct, top5, items = torch.zeros((), dtype=torch.float64, device=self.device), 0, 0, 0
        n = len(self.val_data)
        for xs, y in evaluation_batches(self.val_data, bs, self.device, self.settings["workers"]):
            if self.memory_format is not None:
                xs = [x.contiguous(memory_format=self.memory_format) if x.dim() == 4 else x for x in xs]
            out = self.model(*xs)
            total += self._loss(out, y).double() * len(y)
            if self.data.kind == "classification":
                correct += (out.argmax(-1) == y).sum()
                if out.shape[-1] >= 10:
                    top5 += (out.topk(5, dim=-1).indices == y.unsqueeze(-1)).any(-1).sum()
                items += y.numel()
        self.model.train()
        if self.world.enabled:  # every rank evaluated its share: add the sums up
            sums = distributed.all_sum(torch.stack([total, torch.as_tensor(correct, device=self.device).double(),
                                                    torch.as_tensor(top5, device=self.device).double(),
                                                    torch.tensor(float(items), dtype=torch.float64,
                                                                 device=self.device),
                                                    torch.tensor(float(n), dtype=torch.float64,
                                                                 device=self.device)]), self.world)
            total, correct, top5, items, n = sums.tolist()
            items, n = round(items), round(n)
        loss = float(total / n)
        if not items:
            return loss, None, None
        return loss, float(correct) / items, (float(top5) / items if top5 else None)

    def _end_epoch(self, epoch: int, step: int, counters: Counters, seconds: float, samples: int) -> dict:
        if self.world.enabled:
            counters = self._global(counters)
            samples = samples * self.world.size  # the ranks run in lockstep
        train_loss = float(counters.loss / max(counters.seen, 1))
        train_acc = float(counters.correct) / counters.items if counters.items else None
        val_loss, val_acc, val_top5 = self._evaluate()
        record = {"epoch": epoch + 1, "step": step, "train_loss": train_loss, "train_accuracy": train_acc,
                  "val_loss": val_loss, "val_accuracy": val_acc, "lr": self._lr(), "seconds": seconds,
                  "samples_per_s": samples / seconds if seconds > 0 else None}
        if val_top5 is not None:
            record["val_top5"] = val_top5
        self.bus.emit("epoch", **record)
        return record

    def _summary(self, history: dict, status: str, wall: float) -> dict:
        epochs = history["epochs"]
        last = epochs[-1] if epochs else {}

        def best(key: str, pick) -> float | None:
            values = [e[key] for e in epochs if e.get(key) is not None]
            return pick(values) if values else None

        rates = [e["samples_per_s"] for e in epochs if e.get("samples_per_s")]
        return {
            "graph": self.graph.name, "status": status, "epochs": len(epochs),
            "final": {k: last.get(k) for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")},
            "best": {"train_loss": best("train_loss", min), "val_loss": best("val_loss", min),
                     "train_accuracy": best("train_accuracy", max), "val_accuracy": best("val_accuracy", max)},
            "samples_per_s": sum(rates) / len(rates) if rates else None,
            "device": str(self.device), "threads": self.threads, "world_size": self.world.size, "params": self.params, "wall_seconds": wall,
            "data": self.data.description,
        }


def _json_value(value):
    """numpy scalars and arrays (in normalization statistics) as JSON numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def problem_lines(err: Exception) -> list[str]:
    """Human lines for anything that stops a run before it starts."""
    if isinstance(err, GraphError):
        return [str(p) for p in err.problems]
    if isinstance(err, DataError):
        return [f"error: {err}"]
    if isinstance(err, TrainingError):
        return [f"error: {err}" + (f"\n    hint: {err.hint}" if err.hint else "")]
    if isinstance(err, CheckpointError):
        return [f"error: {err}" + (f"\n    hint: {err.hint}" if err.hint else "")]
    return [str(Problem(str(err)))]
