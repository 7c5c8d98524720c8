"""Every graph in graphs/ trains as shipped: it declares a built-in data source that fits
it, and ``modelbuilder train GRAPH --max-steps 2`` finishes a run folder on that data.

Each graph runs two steps at batch 2 (one thread, no warm-up estimate, no TensorBoard
files), then the one validation pass and the checkpoint that ``--max-steps`` ends with.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import pytest

from builder import analyze, load_graph
from builder.cli import main
from builder.data.arrays import graph_io
from builder.data.fitting import required_options, source_fit
from builder.data.pipeline import SOURCES
from tests.conftest import GALLERY


# graphs whose training is meant to diverge (docs/sequences.md): rnn_explode_clipped is the one that trains
DIVERGES = {"rnn_explode"}


@pytest.fixture
def scratch(tmp_path):
    """A folder for the run. The ImageNet-size graphs' checkpoints hold up to 1.7 GB (VGG-16's
    weights and Adam state), written and synced: seconds of disk time each, a memory copy
    on tmpfs, which is used where there is one with room."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and shutil.disk_usage(shm).free > 4 * 10**9):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="modelbuilder-gallery-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.stem)
def test_declares_a_built_in_source_that_fits(path):
    graph = load_graph(path)
    spec = (graph.training or {}).get("data")
    assert spec, f"{path.name} declares no data: add training: {{data: {{name: ...}}}}"
    name = spec["name"] if isinstance(spec, dict) else spec
    assert name in SOURCES and not required_options(SOURCES[name]), f"{path.name}: {name} is no built-in source"
    fit = source_fit(SOURCES[name], *graph_io(analyze(graph)), spec if isinstance(spec, dict) else None)
    assert fit.fits, fit.reason


@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.stem)
def test_trains_as_shipped_for_two_steps(path, scratch, capsys):
    run = scratch / "run"
    code = main(["train", str(path), "--max-steps", "2", "--batch-size", "2", "--threads", "1", "--no-estimate",
                 "--no-tensorboard", "--quiet", "--out", str(run)])
    if path.stem in DIVERGES:  # shipped to show a run that fails: it must fail the way its comment says
        assert code == 1 and "the loss became NaN or infinite" in capsys.readouterr().err
        return
    assert code == 0, capsys.readouterr().err
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "completed"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000000002"]
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["step"] for e in epochs] == [2], "two steps, then one validation"
    assert math.isfinite(epochs[0]["train_loss"])
    assert epochs[0]["val_loss"] is not None and math.isfinite(epochs[0]["val_loss"])
