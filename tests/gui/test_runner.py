"""TrainingRunner: the headless trainer in a child process, its events as Qt signals."""

from __future__ import annotations

import json

import pytest

from builder.training.checkpoint_store import checkpoints_in
from gui.training.runner import TrainingRunner, override_arguments
from tests.conftest import ROOT

GRAPH = ROOT / "graphs" / "lenet5.yaml"
FAST = {"epochs": 1, "batch_size": 256}
TIMEOUT_MS = 120_000


@pytest.fixture
def runner(qtbot):
    runner = TrainingRunner()
    events: list[dict] = []
    runner.event.connect(events.append)
    runner.events = events  # what the test saw, in order
    yield runner
    if runner.is_running():
        runner.kill()
        runner.wait_for_finished(10_000)


def kinds(events: list[dict]) -> list[str]:
    return [e["event"] for e in events]


def test_override_arguments_map_to_the_cli_flags():
    assert override_arguments({"epochs": 3, "batch_size": 64, "lr": 0.01, "optimizer": "sgd", "device": "cpu",
                               "seed": 1, "data": "digits"}) == [
        "--epochs", "3", "--batch-size", "64", "--lr", "0.01", "--optimizer", "sgd", "--device", "cpu",
        "--seed", "1", "--data", "digits"]
    assert override_arguments({"epochs": None, "data": {"name": "digits"}}) == ["--data", "digits"]
    assert override_arguments(None) == []
    with pytest.raises(ValueError, match="clip_norm"):
        override_arguments({"clip_norm": 1.0})


def test_stdout_lines_are_buffered_across_chunks(qtbot):
    """readyRead may cut a line anywhere: events come out whole, other lines as text."""

    class Chunks:
        def __init__(self, chunks):
            self.chunks = list(chunks)

        def readAllStandardOutput(self):
            return self.chunks.pop(0)

    runner = TrainingRunner()
    events, text = [], []
    runner.event.connect(events.append)
    runner.output.connect(text.append)
    line = json.dumps({"v": 1, "event": "step", "step": 10, "loss": 0.5}).encode()
    runner.process = Chunks([line[:7], line[7:] + b"\nhello\n{\"v\":1,", b"\"event\":\"warning\",\"node\":null}\n"])
    for _ in range(3):
        runner._read_stdout()
    assert [e["event"] for e in events] == ["step", "warning"]
    assert events[0]["loss"] == 0.5
    assert text == ["hello"]


def test_one_epoch_streams_events_in_order(qtbot, runner, tmp_path):
    run_dir = tmp_path / "run"
    started = []
    runner.started.connect(started.append)
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS) as finished:
        runner.start(str(GRAPH), str(run_dir), FAST)
    assert finished.args == [0, "completed"], runner.stderr_log
    assert started == [str(run_dir.resolve())]
    seen = kinds(runner.events)
    assert seen[0] == "run_started" and seen[-1] == "run_finished"
    order = [seen.index(kind) for kind in ("run_started", "step", "epoch", "checkpoint", "run_finished")]
    assert order == sorted(order)
    assert runner.events[0]["settings"]["epochs"] == 1 and runner.events[0]["settings"]["batch_size"] == 256
    assert "gradients" in seen
    assert (run_dir / "metrics.jsonl").exists() and checkpoints_in(run_dir / "checkpoints")
    assert not runner.is_running() and runner.status == "completed"
    assert "Traceback" not in runner.stderr_log


def test_stop_writes_a_checkpoint_and_resume_continues(qtbot, runner, tmp_path):
    run_dir = tmp_path / "run"
    runner.start(str(GRAPH), str(run_dir), {"epochs": 200, "batch_size": 256})
    qtbot.waitUntil(lambda: "step" in kinds(runner.events), timeout=TIMEOUT_MS)
    assert runner.is_running()
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS) as finished:
        runner.stop()
    assert finished.args == [130, "stopped"], runner.stderr_log
    assert runner.events[-1]["event"] == "run_finished" and runner.events[-1]["status"] == "stopped"
    assert checkpoints_in(run_dir / "checkpoints")
    stopped_at = max(e["step"] for e in runner.events if e["event"] == "checkpoint")

    runner.events.clear()
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS) as finished:
        runner.resume(str(run_dir), epochs=2)
    assert finished.args == [0, "completed"], runner.stderr_log
    assert runner.events[0]["event"] == "run_started"
    assert runner.events[0]["start_step"] == stopped_at > 0


def test_a_bad_graph_path_ends_with_an_error_message_not_a_traceback(qtbot, runner, tmp_path):
    texts = []
    runner.stderrText.connect(texts.append)
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS) as finished:
        runner.start(str(tmp_path / "missing.yaml"), str(tmp_path / "run"))
    code, status = finished.args
    assert code != 0 and status == "crashed"
    assert "error" in "".join(texts) and "missing.yaml" in "".join(texts)
    assert "Traceback" not in runner.stderr_log
    assert runner.events == []


def test_start_while_running_is_refused(qtbot, runner, tmp_path):
    runner.start(str(GRAPH), str(tmp_path / "a"), FAST)
    try:
        with pytest.raises(RuntimeError):
            runner.start(str(GRAPH), str(tmp_path / "b"), FAST)
    finally:
        with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS):
            runner.kill()
    assert runner.status == "crashed"
