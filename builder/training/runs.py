"""Run folders: everything one training run leaves behind, in one place.

    runs/lenet5-20261122-231500/
      graph.yaml            the graph as trained
      settings.json         the resolved training settings
      metrics.jsonl         the event stream, one JSON object per line
      summary.json          final and best metrics, speed, device, parameter count, wall time
      data.json             what the data set defines: task kind, class names, input normalization
      checkpoints/          step-NNNNNNNNN/ folders of weights.safetensors + state.safetensors
                            (the newest two and the best; see checkpoint_store)
      plots/                loss.png, accuracy.png, gradient_flow.png, timestep_gradients.png
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from builder.atomic import write_atomic


@dataclass(frozen=True)
class RunFolder:
    """Paths inside one run folder."""

    root: Path

    @classmethod
    def create(cls, base: Path, graph_name: str) -> RunFolder:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        root = base / f"{graph_name}-{stamp}"
        suffix = 1
        while root.exists():  # two runs in the same second
            suffix += 1
            root = base / f"{graph_name}-{stamp}-{suffix}"
        return cls.at(root)

    @classmethod
    def at(cls, root: Path) -> RunFolder:
        folder = cls(Path(root))
        folder.checkpoints.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def graph(self) -> Path:
        return self.root / "graph.yaml"

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def data(self) -> Path:
        return self.root / "data.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    def write_json(self, path: Path, value: dict) -> None:
        write_atomic(path, json.dumps(value, indent=2, sort_keys=False) + "\n")

    def read_json(self, path: Path) -> dict:
        return json.loads(path.read_text(encoding="utf-8"))
