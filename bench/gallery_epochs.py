"""How long one epoch of each gallery graph takes, trained as shipped.

    .venv/bin/python bench/gallery_epochs.py [--threads 2] [--rounds 1] [GRAPH ...]

For each graph in graphs/ (or those named), one at a time, runs
``modelbuilder train GRAPH --epochs 1 --no-estimate --no-tensorboard --json-events`` in a
child process with ``OMP_NUM_THREADS`` and ``--threads`` set to ``--threads`` (default 2:
the README's figures are for 2 CPU cores), on the graph's own training section (its data,
batch size, optimizer), and reads the run's events. An epoch's seconds run from the
``run_started`` event to the checkpoint written at the epoch's end: the training steps,
the validation pass and the checkpoint, which is what a user waits for. Start-up (Python,
torch, loading the data, building the model) is not in it, nor the plots drawn at the end.

With ``--rounds N`` every graph is trained N times, the rounds one after another over the
whole list, and the fastest epoch is reported with the range: on a machine that other
work shares, a busy moment slows an epoch by a factor of several (most for the small
recurrent networks, whose many tiny steps each wait for both OpenMP threads), and the
fastest is the best guess of the machine's own speed.

Prints a Markdown table (graph, data, train/val samples, batch, parameters, seconds per
epoch) for the README's gallery table, then ``total_seconds=<sum of the fastest>``. A graph
that fails to train is a row with its error. Exit status 0 whatever the figures (a measurement,
not a test); run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELBUILDER = [sys.executable, "-m", "builder"]


def run_epoch(graph: Path, threads: int, out: Path, *extra: str) -> tuple[list[dict], str]:
    """The events of one epoch of ``graph`` trained as shipped (a child process), and its stderr."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [*MODELBUILDER, "train", str(graph), "--epochs", "1", "--threads", str(threads), "--json-events",
               "--no-tensorboard", "--out", str(out), *extra]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return events, done.stderr.strip()


def first(events: list[dict], kind: str) -> dict | None:
    return next((e for e in events if e["event"] == kind), None)


def measure(graph: Path, threads: int, work: Path) -> dict:
    out = work / graph.stem
    events, errors = run_epoch(graph, threads, out, "--no-estimate")
    started, epoch = first(events, "run_started"), first(events, "epoch")
    checkpoint = next((e for e in events if e["event"] == "checkpoint" and e["epoch"] == 1), None)  # the epoch's end
    if started is None or epoch is None or checkpoint is None:
        return {"graph": graph.stem, "error": errors.splitlines()[-1] if errors else "no epoch"}
    data = json.loads((out / "data.json").read_text(encoding="utf-8"))
    return {"graph": graph.stem, "data": data["description"].rsplit(":", 1)[0], "train": started["train_samples"],
            "val": started["val_samples"], "batch": started["settings"]["batch_size"], "params": started["params"],
            "seconds": checkpoint["time"] - started["time"], "steps": started["steps_per_epoch"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("graphs", nargs="*", help="graph files (default: every graphs/*.yaml)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--rounds", type=int, default=1, help="epochs measured per graph, fastest reported")
    args = parser.parse_args(argv)
    graphs = [Path(g) for g in args.graphs] or sorted((ROOT / "graphs").glob("*.yaml"))
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); {args.threads} threads",
          flush=True)
    measured: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="gallery-epochs-") as work:
        for round_ in range(args.rounds):
            for graph in graphs:
                row = measure(graph.resolve(), args.threads, Path(work) / str(round_))
                measured.setdefault(graph.stem, []).append(row)
                print(f"  {row['graph']}: " + (f"{row['seconds']:.1f} s" if "seconds" in row else row["error"]),
                      file=sys.stderr, flush=True)
    rows = []
    for runs in measured.values():
        good = [r for r in runs if "seconds" in r]
        if not good:
            rows.append(runs[-1])
            continue
        rows.append(dict(min(good, key=lambda r: r["seconds"]), slowest=max(r["seconds"] for r in good)))
    print("| graph | data | train / val | batch | parameters | s per epoch |")
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        if "error" in row:
            print(f"| `{row['graph']}.yaml` | failed: {row['error']} | | | | |")
            continue
        spread = f" (to {row['slowest']:.1f})" if args.rounds > 1 else ""
        print(f"| `{row['graph']}.yaml` | {row['data']} | {row['train']:,} / {row['val']:,} | {row['batch']} "
              f"| {row['params']:,} | {row['seconds']:.1f}{spread} |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"total_seconds={sum(r.get('seconds', 0.0) for r in rows):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
