"""``modelbuilder check GRAPH...``: validate, then print shapes, parameters and MACs."""

from __future__ import annotations

import json
import sys

from blocks import format_shape
from builder.analysis import Analysis, analyze
from builder.errors import GraphError, Problem
from builder.textreport import human, table
from builder.yaml_format import load_graph


def _rows(analysis: Analysis) -> list[tuple]:
    rows = []
    for node_id, node in analysis.graph.nodes.items():
        info = analysis.nodes[node_id]
        outputs = info.outputs
        if len(outputs) > 1:
            shape = "  ".join(f"{port}={format_shape(s)}" for port, s in outputs.items())
        else:
            shape = format_shape(info.shape) if info.ok else "?"
        rows.append((node_id, node.block or f"graph:{node.graph}", shape,
                     f"{info.cost.params:,}", human(info.cost.macs) if info.cost.macs else "0"))
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


def check_one(path: str, *, as_json: bool, quiet: bool) -> tuple[bool, dict]:
    try:
        graph = load_graph(path)
    except GraphError as err:
        return False, _as_json(path, None, err.problems)
    analysis = analyze(graph)
    report = _as_json(path, analysis, analysis.problems)
    if not as_json:
        if not quiet:
            title = f"{path}: {graph.name}" + (f" - {graph.description}" if graph.description else "")
            print(title)
            print(table(["node", "block", "output shape", "params", "MACs"], _rows(analysis), right=(3, 4)))
        total = analysis.total
        print(f"total: {total.params:,} parameters, {total.macs:,} multiply-accumulates ({human(total.macs)}) per sample")
    return analysis.ok, report


def run_check(paths: list[str], *, as_json: bool = False, quiet: bool = False) -> int:
    """Exit status 0 when every file is valid (warnings allowed), 1 otherwise."""
    all_ok, reports = True, []
    for path in paths:
        ok, report = check_one(path, as_json=as_json, quiet=quiet)
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
