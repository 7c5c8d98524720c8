"""Run folders, without widgets: where a new run goes, which runs belong to a graph, what
each one's summary (or, while it has none, its events so far) says, and how to name a run.

A run folder belongs to a graph when its ``settings.json`` names that graph file as
``graph_source`` (docs/training.md). :class:`gui.training.runs_list.RunsList` shows what
this module reads.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Optional

from builder import finite_number, read_events

OTHER_RUNS_SHOWN = 12  # how many runs of other graphs the Add run menu offers
_STAMP = re.compile(r"(\d{8})-(\d{6})")  # runs/<graph>-YYYYMMDD-HHMMSS
_EPOCH = datetime(1970, 1, 2)  # sorts a run without a start time last
_NAME = re.compile(r"^(.*?)-\d{8}-\d{6}(?:-\d+)?$")
RUNNING, UNFINISHED = "running", "unfinished"


def load_run_events(path: str | Path) -> list[dict]:
    """The events of a run (a run folder, or its ``metrics.jsonl``); a torn last line of a
    killed run is skipped; no file: no events."""
    path = Path(path)
    metrics = path / "metrics.jsonl" if path.is_dir() else path
    try:
        return read_events(str(metrics))
    except OSError:
        return []


def _read_json(path: Path) -> Optional[dict]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _same_file(a: Path, b: Path) -> bool:
    return os.path.normcase(str(a.resolve())) == os.path.normcase(str(b.resolve()))


def format_wall(seconds: Optional[float]) -> str:
    """``8.25`` -> ``8.3 s``; ``185`` -> ``3 min 5 s``; ``3725`` -> ``1 h 2 min``."""
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@dataclass
class RunInfo:
    """What the list shows about one run folder."""

    path: Path
    started: Optional[datetime]
    status: str
    epochs: Optional[int] = None
    val_accuracy: Optional[float] = None
    val_loss: Optional[float] = None
    wall_seconds: Optional[float] = None
    summary: dict = field(default_factory=dict)
    graph: str = ""  # the graph's name (summary, events, settings or folder name)
    foreign: bool = False  # a run of another graph, added to compare
    val_iou: Optional[float] = None  # mean IoU (segmentation) or box IoU (localization)
    task: Optional[str] = None  # classification, segmentation, multi_output ... (None: not recorded)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        """How plots name the run: its graph and when it started (``rnn_memory 14:03:22``)."""
        return run_label(self.path, self.graph, self.started)

    @classmethod
    def read(cls, path: Path, running: bool = False) -> RunInfo:
        """A run folder's summary (or, while it has none, its events so far)."""
        summary = _read_json(path / "summary.json")
        started = _start_time(path)
        if summary is not None:
            final = summary.get("final") if isinstance(summary.get("final"), dict) else {}
            epochs = summary.get("epochs")
            graph = summary.get("graph") if isinstance(summary.get("graph"), str) else None
            return cls(path, started, str(summary.get("status") or "?"),
                       epochs if isinstance(epochs, int) else None, finite_number(final.get("val_accuracy")),
                       finite_number(final.get("val_loss")), finite_number(summary.get("wall_seconds")), summary,
                       graph or run_graph_name(path), val_iou=_iou(final), task=_text(summary.get("task")))
        events = load_run_events(path)
        epochs = [e for e in events if e.get("event") == "epoch"]
        last = epochs[-1] if epochs else {}
        finished = [e for e in events if e.get("event") == "run_finished"]
        status = RUNNING if running else UNFINISHED
        if finished:
            status = str(finished[-1].get("status") or status)
        elif any(e.get("event") == "error" for e in events):
            status = "failed"
        wall = finite_number(events[-1].get("time")) if events else None
        epoch = int(last["epoch"]) if isinstance(last.get("epoch"), int) else (0 if events else None)
        task = next((e.get("task") for e in events if e.get("event") == "run_started"), None)
        return cls(path, started, status, epoch, finite_number(last.get("val_accuracy")),
                   finite_number(last.get("val_loss")), wall, {}, run_graph_name(path, events), val_iou=_iou(last),
                   task=_text(task))

    def tooltip(self) -> str:
        lines = [str(self.path)]
        if self.foreign:
            lines.append(f"a run of {self.graph or 'another graph'}, added to compare (Delete takes it off the list)")
        s = self.summary
        for key, label in (("device", "device"), ("data", "data"), ("params", "parameters")):
            if s.get(key) is not None:
                value = s[key]
                lines.append(f"{label}: {value:,}" if isinstance(value, int) else f"{label}: {value}")
        best = s.get("best") if isinstance(s.get("best"), dict) else {}
        if self.task:
            lines.append(f"task: {self.task.replace('_', ' ')}")
        if finite_number(best.get("val_accuracy")) is not None:
            pixels = "pixel " if self.task == "segmentation" else ""
            lines.append(f"best val {pixels}accuracy: {100 * best['val_accuracy']:.2f} %")
        if _iou(best) is not None:
            lines.append(f"best val {'box' if best.get('val_box_iou') is not None else 'mean'} IoU: {_iou(best):.3f}")
        if finite_number(best.get("val_loss")) is not None:
            lines.append(f"best val loss: {best['val_loss']:.4g}")
        if finite_number(s.get("samples_per_s")) is not None:
            lines.append(f"{s['samples_per_s']:,.0f} samples/s")
        return "\n".join(lines)


def _iou(figures: dict) -> Optional[float]:
    """The validation mean IoU (segmentation), else box IoU (localization), of a summary's
    ``final``/``best`` or an epoch event."""
    value = finite_number(figures.get("val_mean_iou"))
    return value if value is not None else finite_number(figures.get("val_box_iou"))


def _text(value: object) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _start_time(path: Path) -> Optional[datetime]:
    """When the run started: the stamp in its folder name, else when settings.json was written."""
    match = _STAMP.search(path.name)
    if match:
        try:
            return datetime.strptime("".join(match.groups()), "%Y%m%d%H%M%S")
        except ValueError:
            pass
    for candidate in (path / "settings.json", path):
        try:
            return datetime.fromtimestamp(candidate.stat().st_mtime)
        except OSError:
            continue
    return None


def run_graph_name(path: Path, events: Optional[list[dict]] = None) -> str:
    """The name of the graph a run trained: from its events, its settings' graph_source,
    else its folder name without the time stamp."""
    summary = _read_json(path / "summary.json")
    if summary and isinstance(summary.get("graph"), str) and summary["graph"]:
        return summary["graph"]
    for event in events if events is not None else load_run_events(path)[:1]:
        if event.get("event") == "run_started" and isinstance(event.get("graph"), str) and event["graph"]:
            return event["graph"]
    settings = _read_json(path / "settings.json")
    source = settings.get("graph_source") if settings else None
    match = _NAME.match(path.name)
    if match:
        return match.group(1)
    return Path(source).stem if isinstance(source, str) and source else path.name


def run_label(path: Path, graph: Optional[str] = None, started: Optional[datetime] = None) -> str:
    """``rnn_memory 14:03:22``: a run's graph and start time, to name it in a legend."""
    graph = graph or run_graph_name(path)
    started = started or _start_time(path)
    return f"{graph} {started:%H:%M:%S}" if started else f"{graph} ({path.name})"


def new_run_dir_in(base: str | Path, name: str) -> Path:
    """``<base>/<name>-<date>-<time>`` (a suffix if that exists already)."""
    base = Path(base)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = base / f"{name}-{stamp}"
    number = 2
    while candidate.exists():
        candidate = base / f"{name}-{stamp}-{number}"
        number += 1
    return candidate


def new_run_dir(graph_path: str, name: str) -> Path:
    """``<graph folder>/runs/<name>-<date>-<time>`` (a suffix if that exists already)."""
    return new_run_dir_in(Path(graph_path).resolve().parent / "runs", name)


def is_run_folder(path: str | Path) -> bool:
    """A folder the trainer wrote: it has metrics.jsonl or settings.json."""
    path = Path(path)
    return path.is_dir() and ((path / "metrics.jsonl").is_file() or (path / "settings.json").is_file())


def _graph_source(path: Path) -> Optional[str]:
    settings = _read_json(path / "settings.json")
    source = settings.get("graph_source") if settings else None
    return source if isinstance(source, str) and source else None


def find_other_runs(graph_path: str | Path | None, runs_root: str | Path,
                    limit: int = OTHER_RUNS_SHOWN) -> list[Path]:
    """The newest ``limit`` run folders under ``runs_root`` that are not runs of
    ``graph_path`` (runs of other graphs, to compare with), newest first."""
    try:
        children = [p for p in Path(runs_root).iterdir() if p.is_dir() and is_run_folder(p)]
    except OSError:
        return []
    graph = Path(graph_path) if graph_path else None
    others = []
    for child in children:
        source = _graph_source(child)
        if graph is not None and source is not None and _same_file(Path(source), graph):
            continue
        others.append(child)
    others.sort(key=lambda p: (_start_time(p) or _EPOCH, p.name), reverse=True)
    return others[:limit]


def find_runs(graph_path: str | Path, runs_root: str | Path | None = None) -> list[Path]:
    """The run folders under ``runs_root`` (default ``<graph folder>/runs``) whose
    settings.json names ``graph_path`` as their graph_source."""
    graph = Path(graph_path)
    root = Path(runs_root) if runs_root is not None else graph.resolve().parent / "runs"
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return []
    found = []
    for child in children:
        settings = _read_json(child / "settings.json")
        source = settings.get("graph_source") if settings else None
        if isinstance(source, str) and source and _same_file(Path(source), graph):
            found.append(child)
    return found
