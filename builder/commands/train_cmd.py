"""``modelbuilder train GRAPH.yaml``: train into a run folder, with a progress bar or a
JSON-lines event stream, and PNG plots at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine imports torch: the functions below import it when the command runs
    from builder.training import distributed
    from builder.training.engine import Trainer
    from builder.training.runs import RunFolder

NAME = "train"
EXIT_OK, EXIT_ERROR, EXIT_STOPPED = 0, 1, 130


def add_parser(subparsers) -> None:
    """The ``train`` sub-command's parser (built without torch). The flags that override a
    training setting take their type and choices from its declaration (TRAINING_SETTINGS)."""
    train = subparsers.add_parser(NAME, help="train a graph into a run folder (settings from its training section)")
    train.add_argument("graph", nargs="?", help="graph YAML file (not needed with --resume)")
    _setting_flag(train, "--epochs", help="total epochs (with --resume: train up to this many in all)")
    _setting_flag(train, "--max-steps", metavar="N",
                  help="stop after N optimizer steps in all and validate once: see that a big network trains")
    _setting_flag(train, "--batch-size", help="samples per step")
    _setting_flag(train, "--lr", help="learning rate")
    _setting_flag(train, "--optimizer")
    _setting_flag(train, "--device")
    _setting_flag(train, "--seed")
    _setting_flag(train, "--tbptt", metavar="K",
                  help="truncated backpropagation through time in chunks of K steps (0: full; docs/sequences.md)")
    train.add_argument("--data", help="dataset name, overriding the graph's (e.g. digits)")
    train.add_argument("--out", help="run folder (default runs/<graph>-<time>)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped, crashed or finished run")
    train.add_argument("--checkpoint", metavar="NAME",
                       help="with --resume: continue from this checkpoint (e.g. step-000000120), not the newest")
    train.add_argument("--graph-source", metavar="PATH",
                       help="read relative paths in GRAPH (data files, composite parts) as if it were the file "
                            "PATH, and record PATH as the run's source: for front-ends that train a snapshot")
    _setting_flag(train, "--threads", metavar="N|auto",
                  help="CPU threads to train with (default auto: the cores that are free at the start)")
    _setting_flag(train, "--checkpoint-every", metavar="N|TIME",
                  help="mid-epoch checkpoints every N steps or every TIME (10min, 30s); off: epoch ends only")
    train.add_argument("--json-events", action="store_true", help="write the event stream as JSON lines on stdout")
    train.add_argument("--quiet", "-q", action="store_true", help="no progress bar or per-epoch lines")
    _setting_flag(train, "--compile", help="torch.compile the model (slower start, faster steps on a GPU)")
    _setting_flag(train, "--init", metavar="PATH", help="start from these weights, matched by node id: a run folder, "
                  "bundle, .safetensors or .pth state_dict (replaces the training section's init: from; docs/transfer.md)")
    train.add_argument("--no-estimate", dest="estimate", action="store_false", default=None,
                       help="start at once, without timing a warm-up step to estimate the epoch's time and memory")
    train.add_argument("--no-tensorboard", dest="tensorboard", action="store_false", default=None,
                       help="write no TensorBoard event files into the run folder (setting tensorboard: false)")
    train.add_argument("--mlflow", action="store_true",
                       help="also log the run to MLflow (needs the mlflow package; MLFLOW_TRACKING_URI also turns "
                            "this on, and says where; default ./mlruns)")
    train.add_argument("--nproc", type=int, metavar="N",
                       help="train on N processes (one per GPU) with DistributedDataParallel, through torchrun")


def _setting_flag(parser, flag: str, **options) -> None:
    """``--some-flag`` for the training setting ``some_flag``: an Int or Float setting parses as
    int or float, a Choice offers its choices, a Bool is a switch (unset: None, so the graph's
    value stands); the others (Text, Interval, Threads) stay text that the settings check."""
    from blocks.params import Bool, Choice, Float, Int
    from builder.training.settings import TRAINING_SETTINGS

    param = TRAINING_SETTINGS[flag.removeprefix("--").replace("-", "_")]
    if isinstance(param, Bool):
        options.update(action="store_true", default=None)
    elif isinstance(param, Choice):
        options["choices"] = param.choices
    elif isinstance(param, (Int, Float)):
        options["type"] = int if isinstance(param, Int) else float
    parser.add_argument(flag, **options)


def run(args) -> int:
    """Run ``modelbuilder train``; ``args.command_line`` (set by cli.main) is what ``--nproc``
    hands to torchrun."""
    return run_train(args, getattr(args, "command_line", None))


class ProgressPrinter:
    """A tqdm bar over all steps, one line per epoch, warnings and errors on stderr."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar: Any = None
        self.last_step = 0
        self.epochs = 0

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "run_started":
            self.epochs = event["settings"]["epochs"]
            self.last_step = event["start_step"]
            self.write(f"training {event['graph']} ({event['params']:,} parameters) on {event['device']}: "
                       f"{event['train_samples']:,} train / {event['val_samples']:,} validation samples")
            if not self.quiet:
                from tqdm import tqdm

                total = self.epochs * event["steps_per_epoch"]
                total = min(total, event["settings"].get("max_steps") or total)
                self.bar = tqdm(total=total, initial=event["start_step"], unit="step", dynamic_ncols=True,
                                file=sys.stderr, leave=False)
        elif kind == "step" and self.bar is not None:
            self.bar.update(event["step"] - self.last_step)
            self.last_step = event["step"]
            rate = f"{event['samples_per_s']:,.0f}/s" if event.get("samples_per_s") else ""
            self.bar.set_postfix_str(f"epoch {event['epoch'] + 1}/{self.epochs} loss {event['loss']:.4f} {rate}",
                                     refresh=False)
        elif kind == "epoch":
            parts = [f"epoch {event['epoch']}/{self.epochs}", f"train loss {event['train_loss']:.4f}"]
            if event.get("train_accuracy") is not None:
                parts.append(f"acc {100 * event['train_accuracy']:.1f}%")
            if event.get("val_loss") is not None:
                parts.append(f"| val loss {event['val_loss']:.4f}")
            if event.get("val_accuracy") is not None:
                parts.append(f"acc {100 * event['val_accuracy']:.1f}%")
            if event.get("val_exact_match") is not None:  # a decoder fed its own tokens (docs/sequences.md)
                parts.append(f"generated {100 * event['val_generated_accuracy']:.1f}% "
                             f"exact {100 * event['val_exact_match']:.1f}%")
            for key, name in (("val_mean_iou", "mIoU"), ("val_box_iou", "box IoU")):
                if event.get(key) is not None:
                    parts.append(f"{name} {event[key]:.3f}")
            if event.get("samples_per_s"):
                parts.append(f"| {event['samples_per_s']:,.0f} samples/s")
            self.write("  ".join(parts))
        elif kind == "estimate":
            from builder.training.estimate import estimate_line

            self.write(estimate_line(event))
        elif kind == "warning":
            node = f"node '{event['node']}': " if event.get("node") else ""
            self.write(f"warning: {node}{event['message']}", err=True)
        elif kind == "error":
            hint = f"\n    hint: {event['hint']}" if event.get("hint") else ""
            self.write(f"error: {event['message']}{hint}", err=True)
        elif kind == "run_finished" and self.bar is not None:
            self.bar.close()

    def write(self, text: str, err: bool = False) -> None:
        if self.quiet and not err:
            return
        stream = sys.stderr if err else sys.stdout
        if self.bar is not None:
            self.bar.clear()
            print(text, file=stream, flush=True)
            self.bar.refresh()
        else:
            print(text, file=stream, flush=True)


def _load(args) -> tuple[Any, dict, RunFolder, bool]:
    from builder.training import distributed
    from builder.training.engine import TrainingError
    from builder.training.runs import RunFolder
    from builder.training.settings import resolve_settings
    from builder.training.transfer_settings import init_override
    from builder.yaml_format import load_graph

    overrides = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "optimizer": args.optimizer,
                 "device": args.device, "seed": args.seed, "data": args.data,
                 "compile": getattr(args, "compile", None), "checkpoint_every": getattr(args, "checkpoint_every", None),
                 "threads": getattr(args, "threads", None), "tensorboard": getattr(args, "tensorboard", None),
                 "max_steps": getattr(args, "max_steps", None), "estimate": getattr(args, "estimate", None),
                 "tbptt": getattr(args, "tbptt", None)}
    if getattr(args, "init", None) and args.resume:
        raise TrainingError("--init starts a new run from other weights; a resumed run continues from its checkpoint")
    if args.resume:
        return (*_resumed_run(Path(args.resume), overrides), True)
    if getattr(args, "checkpoint", None):
        raise TrainingError("--checkpoint names the checkpoint to continue from: use it with --resume RUN_DIR")
    if not args.graph:
        raise TrainingError("give a graph file to train, or --resume RUN_DIR")
    graph = _snapshot(args.graph, args.graph_source) if getattr(args, "graph_source", None) else load_graph(args.graph)
    overrides["data"] = _data_override(args.data, (graph.training or {}).get("data"))
    overrides["init"] = init_override((graph.training or {}).get("init"), getattr(args, "init", None) and
                                      str(Path(args.init).expanduser().resolve()))  # the flag's path is the shell's
    settings = resolve_settings(graph.training, overrides)
    if args.out:
        root = Path(args.out)
        trained = Path(args.graph).resolve()  # (the app puts the snapshot it trains in the folder first)
        taken = [p for p in root.iterdir() if p.resolve() != trained] if root.is_dir() else []
        if distributed.env_world().main and taken:
            # a second run in the same folder would replace the first one's metrics and mix
            # its checkpoints with the first one's (export and resume take the newest)
            what = "a run" if RunFolder(root).settings.is_file() else "files"
            raise TrainingError(f"{root} already holds {what}; a new run there would mix with it",
                                f"continue that run with --resume {root}, or give --out a new folder")
    else:  # a time-stamped name: rank 0 picks it for every rank
        world = distributed.env_world()
        root = RunFolder.create(Path(settings["out"] or "runs"), graph.name).root if world.main else None
        root = distributed.broadcast(root, world)
    return graph, settings, RunFolder(root), False


def _data_override(name: str | None, declared: Any) -> str | None:
    """``--data NAME``, or None when NAME is the source the graph already declares, so that the
    declared options (limit, samples ...) stand: the app passes the data set it shows."""
    declared_name = declared.get("name") if isinstance(declared, dict) else declared
    return None if name == declared_name else name


def _snapshot(path: str, source: str) -> Any:
    """The graph in ``path`` (a snapshot of an editor's document), with relative paths read
    against ``source``, the document's own file, which the run then records as its source."""
    from builder.training.engine import TrainingError
    from builder.yaml_format import parse_graph

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise TrainingError(f"{path}: cannot read the graph ({err})") from None
    return parse_graph(text, str(Path(source).resolve()))


def _resumed_run(root: Path, overrides: dict) -> tuple[Any, dict, RunFolder]:
    """The graph and settings a run folder was trained with; TrainingError if it is not one."""
    from builder.training.checkpoint_store import has_checkpoint
    from builder.training.run_files import run_graph_path
    from builder.training.engine import TrainingError
    from builder.training.runs import RunFolder
    from builder.training.settings import resolve_settings
    from builder.yaml_format import parse_graph

    if not root.is_dir():
        raise TrainingError(f"{root}: no such run folder" if not root.exists() else f"{root} is not a folder",
                            "give the folder that `modelbuilder train` printed (runs/<graph>-<time>)")
    run = RunFolder(root)
    if not run.graph.is_file() or not run.settings.is_file():
        raise TrainingError(f"{root} is not a run folder (it has no {run.graph.name} and {run.settings.name})",
                            "give the folder that `modelbuilder train` printed (runs/<graph>-<time>)")
    if not has_checkpoint(run.checkpoints):
        raise TrainingError(f"{root} has no checkpoint to resume from ({run.checkpoints} holds none)",
                            "resume a run that trained for at least one epoch, was stopped (Ctrl-C, the app's "
                            "Stop button) or wrote a mid-epoch checkpoint (checkpoint_every)")
    try:
        saved = run.read_json(run.settings)
        if "graph_source" not in saved:  # every run's settings.json names it
            raise KeyError("graph_source")
        # a quick run's step limit is not inherited: resuming it trains on (give --max-steps again to limit)
        settings = {key: value for key, value in saved["settings"].items() if key != "max_steps"}
        overrides["data"] = _data_override(overrides.get("data"), settings.get("data"))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise TrainingError(f"{run.settings}: cannot read the run's settings ({err})") from None
    # the graph files it uses come from the run folder (older runs: beside the original
    # file); relative data paths from the folder the run recorded (the trainer reads it)
    graph = parse_graph(run.graph.read_text(encoding="utf-8"), run_graph_path(run.root, saved))
    return graph, resolve_settings(settings, overrides), run


def run_train(args, argv: Sequence[str] | None = None) -> int:
    """``modelbuilder train``; ``argv`` (the command line) is what ``--nproc`` hands to torchrun."""
    from builder.training import distributed

    if getattr(args, "nproc", None):
        return _launch(args, argv if argv is not None else sys.argv[1:])
    try:
        world = distributed.init_from_env()
    except Exception as err:  # noqa: BLE001 - a process group that cannot form
        print(f"error: cannot join the torchrun process group: {err}", file=sys.stderr)
        return EXIT_ERROR
    try:
        return _train(args, world)
    finally:
        distributed.shutdown()


def _launch(args, argv: Sequence[str]) -> int:
    """``--nproc N``: run this same command on N processes under torchrun."""
    from builder.training import distributed

    if args.nproc < 1:
        print("error: --nproc must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    if distributed.env_world().enabled:
        print("error: --nproc inside torchrun: leave it out (torchrun already started the processes)",
              file=sys.stderr)
        return EXIT_ERROR
    command = distributed.torchrun_command(argv, args.nproc)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.nproc)))
    child = subprocess.Popen(command, env=env)
    interrupted = False
    while True:
        try:
            code = child.wait()
            return EXIT_STOPPED if interrupted and code != EXIT_OK else code
        except KeyboardInterrupt:  # torchrun got the signal too: it stops the workers, which checkpoint
            interrupted = True


def _train(args, world: distributed.World) -> int:
    from builder.data import DataError
    from builder.errors import GraphError
    from builder.training import distributed
    from builder.training.checkpoint import CheckpointError
    from builder.training.engine import Trainer, TrainingError, problem_lines
    from builder.training.events import EventBus, JsonLinesWriter
    from builder.training.settings import SettingsError

    try:
        graph, settings, run, resume = _load(args)
        if world.main:
            run.checkpoints.mkdir(parents=True, exist_ok=True)
    except (GraphError, TrainingError, SettingsError) as err:
        if world.main:
            for line in problem_lines(err) if not isinstance(err, SettingsError) else [f"error: {err}"]:
                print(line, file=sys.stderr)
        return EXIT_ERROR
    distributed.barrier(world)  # the run folder exists before any rank looks at it
    bus = EventBus()
    if not world.main:
        printer = None  # rank 0 reports for all
    elif args.json_events:
        def reader_gone() -> None:
            print(f"the event stream's reader went away: stopping after this step with a checkpoint "
                  f"(continue with: modelbuilder train --resume {run.root})", file=sys.stderr)
            trainer.request_stop()

        bus.subscribe(JsonLinesWriter(sys.stdout, on_closed=reader_gone))
        printer = None
    else:
        printer = bus.subscribe(ProgressPrinter(args.quiet))
    trainer = Trainer(graph, settings, run, bus=bus, resume=resume, checkpoint=getattr(args, "checkpoint", None))
    mlflow = _attach_mlflow(args, bus, run, graph.name) if world.main else None
    previous = _install_stop_handler(trainer, printer)
    # under torchrun a Ctrl-C reaches torchrun, which then sends SIGTERM to the workers and
    # waits for them: treat it as the same request to stop with a checkpoint
    previous_term = signal.signal(signal.SIGTERM, lambda signum, frame: trainer.request_stop()) \
        if world.enabled else None
    try:
        summary = trainer.run()
    except (GraphError, DataError, TrainingError, CheckpointError) as err:
        lines = problem_lines(err)
        if not world.main:
            return EXIT_ERROR
        for line in lines:
            print(line, file=sys.stderr)
        if args.json_events:
            bus.emit("error", message="\n".join(lines), hint=None)
        return EXIT_ERROR
    finally:
        signal.signal(signal.SIGINT, previous)
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        if mlflow is not None:
            mlflow.close(trainer.plots)
    if not args.json_events and world.main:
        _report(summary, run, trainer.plots)
    return {"completed": EXIT_OK, "early_stopped": EXIT_OK, "stopped": EXIT_STOPPED}.get(summary["status"], EXIT_ERROR)


def _attach_mlflow(args, bus, run: RunFolder, graph_name: str) -> Any:
    """An MLflow logger on ``bus`` with --mlflow or MLFLOW_TRACKING_URI; None otherwise, or
    (with a line on stderr) when the mlflow package is missing."""
    if not (getattr(args, "mlflow", False) or os.environ.get("MLFLOW_TRACKING_URI")):
        return None
    from builder.training.mlflow_log import MlflowLog, missing_reason

    why = missing_reason()
    if why is not None:
        print(f"warning: {why}", file=sys.stderr)
        return None
    return bus.subscribe(MlflowLog(run, graph_name))


def _install_stop_handler(trainer: Trainer, printer: ProgressPrinter | None):
    def on_interrupt(signum, frame):
        trainer.request_stop()
        if printer is not None:
            printer.write("stopping after this step and saving a checkpoint (Ctrl-C again to abort)", err=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    return signal.signal(signal.SIGINT, on_interrupt)


def _report(summary: dict, run: RunFolder, plots: list[Path]) -> None:
    final = summary["final"]
    bits = []
    if final.get("val_accuracy") is not None:
        pixels = "pixel " if summary.get("task") == "segmentation" else ""
        bits.append(f"validation {pixels}accuracy {100 * final['val_accuracy']:.1f}%")
    for key, name in (("val_mean_iou", "mean IoU"), ("val_box_iou", "box IoU")):
        if final.get(key) is not None:
            bits.append(f"{name} {final[key]:.3f}")
    if final.get("val_loss") is not None:
        bits.append(f"validation loss {final['val_loss']:.4f}")
    rate = f", {summary['samples_per_s']:,.0f} samples/s" if summary.get("samples_per_s") else ""
    print(f"{summary['status']}: {', '.join(bits) or 'no validation data'} after {summary['epochs']} epochs "
          f"({summary['wall_seconds']:.1f} s{rate})")
    print(f"run folder: {run.root}")
    if plots:
        print("plots: " + ", ".join(str(p) for p in plots))
    if summary["status"] == "stopped":
        print(f"resume with: modelbuilder train --resume {run.root}")
