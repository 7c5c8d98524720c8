"""A checkpoint is one unit: the trainer killed for real (SIGKILL) at every moment of writing
one, and at random moments, then resumed, ends with exactly the weights of a run that was
never interrupted, or refuses clearly. Never a silent divergence."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from builder.faults import ENV as CRASH_ENV
from builder.training.checkpoint_store import checkpoints_in, verified
from builder.training.events import read_events
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# 300 digits -> 240 train samples -> 15 steps of 16 per epoch; with a checkpoint every 6
# steps the checkpoints come at steps 6, 12 (mid-epoch), 15 (epoch end), 18, 24, 30 (end)
COMMON = ["--epochs", "2", "--batch-size", "16", "--checkpoint-every", "6", "--quiet"]
# (crash point, which time it is reached): where the process dies, and what that checkpoint is
CRASHES = [
    ("checkpoint.begin", 3),  # before anything of the epoch-end checkpoint is written
    ("checkpoint.weights-written", 3),  # its weights in the hidden folder, no state yet
    ("checkpoint.state-written", 3),  # both files written, the folder not yet renamed
    ("checkpoint.committed", 2),  # a mid-epoch checkpoint just made current
    ("checkpoint.discarding", 1),  # an old checkpoint renamed away, not yet deleted
    ("checkpoint.done", 4),  # a whole mid-epoch checkpoint of the second epoch
]


def _env(**extra: str) -> dict:
    # one thread per process: two trainers run side by side here, and every run must do
    # the same arithmetic to compare bit for bit
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}
    env.pop(CRASH_ENV, None)
    env.update(extra)
    return env


def _train(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "builder", "train", *args, *COMMON], cwd=ROOT, env=_env(**env),
                          capture_output=True, text=True, timeout=300)


def _final_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoints_in(run / "checkpoints")[0].weights))


def _assert_whole(run: Path) -> None:
    """After a kill: every checkpoint folder under a final name is consistent."""
    for checkpoint in checkpoints_in(run / "checkpoints"):
        verified(checkpoint)


def _steps_logged(run: Path) -> int:
    try:
        return (run / "metrics.jsonl").read_text(encoding="utf-8").count('"event": "step"')
    except OSError:
        return 0


def _killed_then_resumed(graph: Path, run: Path, point: str | None = None, nth: int = 1,
                         moment: tuple[int, float] = (0, 0.0)
                         ) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """Train until killed, then resume. Killed at a crash point, or from outside: ``moment``
    is (steps logged, then seconds more), a random moment measured from training's progress
    rather than from the start, since how long torch takes to import varies more than that."""
    if point is not None:
        killed = _train(str(graph), "--out", str(run), **{CRASH_ENV: f"{point}@{nth}"})
    else:
        child = subprocess.Popen([sys.executable, "-m", "builder", "train", str(graph), "--out", str(run), *COMMON],
                                 cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        steps, seconds = moment
        deadline = time.monotonic() + 120
        while child.poll() is None and _steps_logged(run) < steps and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(seconds)
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate(timeout=60)
        killed = subprocess.CompletedProcess(child.args, child.returncode, out, err)
    return killed, _train("--resume", str(run))


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("graph") / "lenet.yaml"
    text = (ROOT / "graphs/lenet5.yaml").read_text()
    path.write_text(text.replace("data: {name: digits}", "data: {name: digits, limit: 300}"))
    return path


@pytest.fixture(scope="module")
def reference(graph, tmp_path_factory) -> dict[str, torch.Tensor]:
    run = tmp_path_factory.mktemp("whole") / "run"
    done = _train(str(graph), "--out", str(run))
    assert done.returncode == 0, done.stderr
    return _final_weights(run)


def _assert_exact(weights: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> None:
    assert weights.keys() == reference.keys()
    different = [k for k in reference if not torch.equal(weights[k], reference[k])]
    assert not different, f"resumed weights differ from the uninterrupted run in {different}"


def test_killed_at_every_point_of_writing_a_checkpoint_resumes_bit_for_bit(graph, reference, tmp_path):
    def trial(case):
        point, nth = case
        run = tmp_path / f"{point}-{nth}"
        return run, _killed_then_resumed(graph, run, point, nth)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(trial, CRASHES))
    for (point, nth), (run, (killed, resumed)) in zip(CRASHES, results):
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
        assert resumed.returncode == 0, (point, resumed.stderr)
        _assert_exact(_final_weights(run), reference)
        # what the kill left behind was cleaned, and nothing half-written stands under a final name
        leftovers = [p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
        assert leftovers == [], (point, leftovers)
        _assert_whole(run)
        started = [e for e in read_events(str(run / "metrics.jsonl")) if e["event"] == "run_started"]
        assert len(started) == 2 and started[1]["start_step"] > 0, point


def test_killed_at_random_moments_resumes_exactly_or_refuses_clearly(graph, reference, tmp_path):
    rng = random.Random(20)  # logged steps come every 10 of the 30 steps
    moments = [(0, rng.uniform(0.0, 1.0)), (rng.randint(1, 2), rng.uniform(0.0, 0.3))]

    def trial(moment):
        run = tmp_path / f"at-{moment[0]}-{moment[1]:.2f}"
        return run, _killed_then_resumed(graph, run, moment=moment)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(trial, moments))
    assert any(resumed.returncode == 0 for _, (_, resumed) in results), "no trial got as far as a checkpoint"
    for run, (killed, resumed) in results:
        if killed.returncode == 0:
            continue  # finished before the kill: nothing to resume
        _assert_whole(run)
        if resumed.returncode == 0:
            _assert_exact(_final_weights(run), reference)
        else:  # killed before the first checkpoint (or before the run folder was written)
            assert "Traceback" not in resumed.stderr
            assert any(text in resumed.stderr for text in (
                "no checkpoint to resume from", "is not a run folder", "no such run folder")), resumed.stderr
