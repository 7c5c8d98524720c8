"""Autosave and crash recovery, without widgets.

While a document has unsaved changes, the app writes its graph every little while to a
recovery file in the user's data folder (atomically, so a crash mid-write leaves the
previous copy). Saving or closing cleanly removes the file. A recovery file still there
when the app starts, written by a process that is no longer running, is work a crash
would have lost: the app offers to open it.

Each recovery file is the graph's YAML text; a sidecar ``.json`` says which file it
belongs to (null for an untitled graph), which process wrote it and when.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from builder import Graph, dump_graph, parse_graph, write_atomic

AUTOSAVE_SECONDS = 30


@dataclass(frozen=True)
class Recovery:
    """A recovery file left behind: the graph text's file, the original's path (None:
    untitled), when it was written (seconds since the epoch)."""

    file: Path
    original: Optional[str]
    saved_at: float

    def load(self) -> Graph:
        """The recovered graph, with the original's path so that Save writes there and
        composite blocks resolve beside it. GraphError if the copy cannot be read."""
        text = self.file.read_text(encoding="utf-8")
        return parse_graph(text, self.original)

    def discard(self) -> None:
        self.file.unlink(missing_ok=True)
        self.file.with_suffix(".json").unlink(missing_ok=True)

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        return f"{self.original or 'an untitled graph'} (autosaved {when})"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its file alone
    return True


class RecoveryStore:
    """The recovery files of one folder; ``slot`` tells apart documents of this process."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def _stem(self, slot: int) -> str:
        return f"recovery-{os.getpid()}-{slot}"

    def write(self, graph: Graph, slot: int = 0) -> Path:
        """Write (replace) this process's recovery copy of ``graph``."""
        target = self.folder / f"{self._stem(slot)}.yaml"
        write_atomic(target, dump_graph(graph))
        meta = {"original": graph.path, "saved_at": time.time(), "pid": os.getpid()}
        write_atomic(target.with_suffix(".json"), json.dumps(meta))
        return target

    def remove(self, slot: int = 0) -> None:
        """Forget this process's copy (after a save, or on a clean close)."""
        for suffix in (".yaml", ".json"):
            (self.folder / f"{self._stem(slot)}{suffix}").unlink(missing_ok=True)

    def left_behind(self) -> list[Recovery]:
        """Copies written by processes that are gone, newest first; unreadable sidecars
        are skipped (a copy without one still counts, as untitled)."""
        if not self.folder.is_dir():
            return []
        found = []
        for file in self.folder.glob("recovery-*.yaml"):
            meta: dict = {}
            try:
                meta = json.loads(file.with_suffix(".json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                pass
            pid = meta.get("pid") if isinstance(meta, dict) else None
            if isinstance(pid, int) and _alive(pid):
                continue
            original = meta.get("original") if isinstance(meta, dict) else None
            saved_at = meta.get("saved_at") if isinstance(meta, dict) else None
            if not isinstance(saved_at, (int, float)):
                saved_at = file.stat().st_mtime
            found.append(Recovery(file, original if isinstance(original, str) else None, float(saved_at)))
        return sorted(found, key=lambda r: r.saved_at, reverse=True)

