"""Is the estimate printed before the first epoch close to the epoch that follows?

    .venv/bin/python bench/epoch_estimate.py [--threads 2] [--epochs 1] [GRAPH ...]

For each graph (default: a few gallery graphs from tiny to big: lenet5, lstm_classifier,
seq2seq_attention, resnet18, alexnet), one at a time, runs ``modelbuilder train GRAPH
--epochs N --json-events --no-tensorboard`` as shipped (its own data, batch and
optimizer) in a child process with ``OMP_NUM_THREADS`` and ``--threads`` set, and compares
the ``estimate`` event (builder/training/estimate.py: a timed warm-up on a copy of the
model) with what followed:

* epoch: the estimate's ``epoch_seconds`` against the measured first epoch, from the end of
  the warm-up (the ``estimate`` event) to the checkpoint at the epoch's end: training
  steps, validation and checkpoint;
* steps: ``step_seconds`` x steps per epoch against the epoch event's ``seconds`` (the
  training steps alone);
* memory: ``peak_bytes`` against the child's peak resident memory over the whole run
  (``ru_maxrss``), which also holds the set-up and the plots at the end.

Prints one line per graph with the ratios measured / estimated, then
``ratio=<median epoch ratio>`` (1.0 is a perfect estimate). Exit status 0 whatever the
figures. On a loaded machine the measured epochs vary by a factor of 2 or more from run to
run, and so does the warm-up: read the ratios with the load average printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ["lenet5", "lstm_classifier", "seq2seq_attention", "resnet18", "alexnet"]


def run(graph: Path, threads: int, epochs: int, out: Path) -> tuple[list[dict], int, str]:
    """The events of a run of ``graph`` (a child process), its peak resident bytes, its stderr."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "builder", "train", str(graph), "--epochs", str(epochs), "--threads",
               str(threads), "--json-events", "--no-tensorboard", "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # RUSAGE_CHILDREN's maximum is over every child so far: only a new maximum is this child's
    peak_bytes = peak * 1024 if peak > before else 0
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return events, peak_bytes, done.stderr.strip()


def compare(name: str, threads: int, epochs: int, work: Path) -> dict | None:
    graph = ROOT / "graphs" / f"{name}.yaml" if not name.endswith(".yaml") else Path(name)
    load = os.getloadavg()[0]
    events, peak, errors = run(graph, threads, epochs, work / graph.stem)
    estimate = next((e for e in events if e["event"] == "estimate"), None)
    epoch = next((e for e in events if e["event"] == "epoch"), None)
    checkpoint = next((e for e in events if e["event"] == "checkpoint" and e["epoch"] == 1), None)
    if estimate is None or epoch is None or checkpoint is None:
        print(f"{graph.stem}: no estimate or epoch ({errors.splitlines()[-1] if errors else 'no output'})")
        return None
    measured = checkpoint["time"] - estimate["time"]
    steps = estimate["step_seconds"] * estimate["steps_per_epoch"]
    row = {"graph": graph.stem, "epoch": measured / estimate["epoch_seconds"], "steps": epoch["seconds"] / steps,
           "memory": peak / estimate["peak_bytes"] if peak and estimate.get("peak_bytes") else None}
    memory = (f"peak {peak / 1e9:.2f} GB / est. {estimate['peak_bytes'] / 1e9:.2f} GB = {row['memory']:.2f}"
              if row["memory"] else "peak not measured")
    print(f"{graph.stem}: epoch {measured:.2f} s / est. {estimate['epoch_seconds']:.2f} s = {row['epoch']:.2f}; "
          f"steps {epoch['seconds']:.2f} s / est. {steps:.2f} s = {row['steps']:.2f}; "
          f"checkpoint est. {estimate['checkpoint_seconds']:.2f} s; {memory}; "
          f"warm-up {estimate['warmup_seconds']:.1f} s; load {load:.1f}", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("graphs", nargs="*", help=f"gallery names or graph files (default: {', '.join(DEFAULT)})")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per run (the first one is compared)")
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); {args.threads} threads")
    with tempfile.TemporaryDirectory(prefix="epoch-estimate-") as work:
        rows = [r for r in (compare(name, args.threads, args.epochs, Path(work)) for name in args.graphs or DEFAULT)
                if r is not None]
    if rows:
        print(f"ratio={statistics.median(r['epoch'] for r in rows):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
