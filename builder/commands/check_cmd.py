"""``modelbuilder check GRAPH...``: validate, then print shapes, parameters and MACs."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the analysis is imported when the command runs, not when the parser is built
    from builder.analysis import Analysis
    from builder.errors import Problem

NAME = "check"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(NAME, help="validate a graph file and print shapes, parameters and MACs")
    parser.add_argument("graph", nargs="+", help="graph YAML file(s)")
    parser.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only problems and totals")
    parser.add_argument("--expand-repeats", action="store_true",
                        help="a row per repetition of each repeated node (its varying values, shape and cost)")
    parser.add_argument("--batch-size", type=int, metavar="N",
                        help="estimate training memory at this batch size (default: the graph's, else 64)")
    parser.add_argument("--init", metavar="SRC", help="list what the weights in SRC (run folder, bundle, .safetensors, "
                                                      ".pth) would load into each node (docs/transfer.md)")


def run(args) -> int:
    return run_check(args.graph, as_json=args.json, quiet=args.quiet, batch_size=args.batch_size,
                     expand_repeats=args.expand_repeats, init=args.init)


def _rows(analysis: Analysis, expand_repeats: bool = False) -> list[tuple]:
    from blocks import format_shape
    from builder.repeat_expand import RepeatBlock, repetitions
    from builder.textreport import human

    rows = []
    for node_id, node in analysis.graph.nodes.items():
        info = analysis.nodes[node_id]
        outputs = info.outputs
        if len(outputs) > 1:
            shape = "  ".join(f"{port}={format_shape(s)}" for port, s in outputs.items())
        else:
            shape = format_shape(info.shape) if info.ok else "?"
        kind = (node.block or f"graph:{node.graph}") + (f" x{info.block.count}" if isinstance(info.block, RepeatBlock) else "")
        rows.append((node_id, kind + ("" if node.enabled else " (off)"), shape,
                     f"{info.cost.params:,}", human(info.cost.macs) if info.cost.macs else "0"))
        for name, values, step in repetitions(analysis, node_id) if expand_repeats else ():
            rows.append((f"  {name}", values, format_shape(next(iter(step.outputs.values()))),
                         f"{step.cost.params:,}", human(step.cost.macs) if step.cost.macs else "0"))
    return rows


def _as_json(path: str, analysis: Analysis | None, problems: list[Problem]) -> dict:
    report: dict = {"file": path, "ok": not any(p.is_error for p in problems),
                    "problems": [p.as_dict() for p in problems]}
    if analysis is not None:
        report["nodes"] = {
            node_id: {"block": analysis.graph.nodes[node_id].kind,
                      "outputs": {k: list(v) for k, v in info.outputs.items()},
                      "params": info.cost.params, "macs": info.cost.macs}
            for node_id, info in analysis.nodes.items()}
        report["total"] = {"params": analysis.total.params, "macs": analysis.total.macs}
    return report


def _training_choice(graph, batch_size: int | None) -> tuple[int, str]:
    """The batch size and optimizer training would use (its section, else the defaults)."""
    section = graph.training if isinstance(graph.training, dict) else {}
    batch = batch_size or section.get("batch_size")
    optimizer = section.get("optimizer")
    return (batch if isinstance(batch, int) and not isinstance(batch, bool) and batch > 0 else 64,
            optimizer if optimizer in ("adam", "adamw", "sgd") else "adam")


def memory_problems(analysis: Analysis, batch_size: int | None = None) -> tuple[dict, list[Problem]]:
    """The memory estimate as a report entry, and a warning when training (or even the
    weights) cannot fit in this machine's available memory."""
    from builder.errors import Problem
    from builder.memory import estimate, machine_memory, too_large

    batch, optimizer = _training_choice(analysis.graph, batch_size)
    memory = estimate(analysis, batch, optimizer)
    available = machine_memory()
    entry = {"weights_bytes": memory.weights, "activations_bytes_per_sample": memory.activations_per_sample,
             "training_bytes": memory.training, "batch_size": batch, "optimizer": optimizer,
             "available_bytes": available}
    why = too_large(memory, available)
    problems = [] if why is None else [Problem(
        f"the graph cannot be trained on this machine: {why}", "warning", analysis.graph.path, hint=(
            "make the widest layers smaller" if memory.weights * 4 > (available or 0)
            else "lower batch_size, or train on a machine with more memory"))]
    return entry, problems


def check_one(path: str, *, as_json: bool, quiet: bool, batch_size: int | None = None,
              expand_repeats: bool = False, init: str | None = None) -> tuple[bool, dict]:
    from builder.analysis import analyze
    from builder.errors import GraphError
    from builder.memory import size_text
    from builder.textreport import human, table
    from builder.yaml_format import load_graph

    try:
        graph = load_graph(path)
    except GraphError as err:
        return False, _as_json(path, None, err.problems)
    analysis = analyze(graph)
    memory, memory_warnings = memory_problems(analysis, batch_size) if analysis.ok else ({}, [])
    from builder.training.transfer_report import transfer_check  # frozen parameters; what --init would load

    transfer, transfer_problems, transfer_lines = transfer_check(analysis, init) if analysis.ok else ({}, [], [])
    report = {**_as_json(path, analysis, analysis.problems + memory_warnings + transfer_problems), **transfer}
    if expand_repeats:
        from builder.repeat_expand import repetitions

        for node_id, entry in report["nodes"].items():
            steps = repetitions(analysis, node_id)
            if steps:
                entry["repetitions"] = [{"name": name, "outputs": {k: list(v) for k, v in step.outputs.items()},
                                         "params": step.cost.params, "macs": step.cost.macs}
                                        for name, _, step in steps]
    if memory:
        report["memory"] = memory
    if not as_json:
        if not quiet:
            title = f"{path}: {graph.name}" + (f" - {graph.description}" if graph.description else "")
            print(title)
            print(table(["node", "block", "output shape", "params", "MACs"], _rows(analysis, expand_repeats), right=(3, 4)))
        total = analysis.total
        print(f"total: {total.params:,} parameters, {total.macs:,} multiply-accumulates ({human(total.macs)}) per sample")
        if memory:
            print(f"memory: weights {size_text(memory['weights_bytes'])}; training at batch {memory['batch_size']} "
                  f"({memory['optimizer']}) about {size_text(memory['training_bytes'])}")
        if transfer_lines:
            print("\n".join(transfer_lines))
    return analysis.ok and not any(p.is_error for p in transfer_problems), report


def run_check(paths: list[str], *, as_json: bool = False, quiet: bool = False, batch_size: int | None = None,
              expand_repeats: bool = False, init: str | None = None) -> int:
    """Exit status 0 when every file is valid (warnings allowed), 1 otherwise."""
    from builder.errors import Problem

    all_ok, reports = True, []
    for path in paths:
        ok, report = check_one(path, as_json=as_json, quiet=quiet, batch_size=batch_size,
                               expand_repeats=expand_repeats, init=init)
        all_ok &= ok
        reports.append(report)
        if not as_json:
            problems = report["problems"]
            sys.stdout.flush()  # keep the table above the problems in a terminal
            for problem in problems:
                print(str(Problem(**problem)), file=sys.stderr)
            sys.stderr.flush()
            errors = sum(p["severity"] == "error" for p in problems)
            warnings = len(problems) - errors
            verdict = "valid" if ok else "INVALID"
            print(f"{path}: {verdict} ({errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)})")
    if as_json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    return 0 if all_ok else 1
