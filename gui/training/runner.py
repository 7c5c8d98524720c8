"""Runs the headless trainer in a child process and streams its events into Qt signals.

The window never trains in its own process: ``TrainingRunner`` starts
``python -m builder train GRAPH --json-events --quiet --out RUN_DIR`` with QProcess, parses
each stdout line as one event (docs/events.md) and emits it. ``stop()`` asks the trainer to
write a checkpoint and exit (SIGINT on POSIX, which the trainer turns into a checkpoint and
exit status 130) and kills it if it has not gone after ``STOP_TIMEOUT_MS``. Elsewhere it
calls ``QProcess.terminate()``, which a console child on Windows ignores, so there the
kill after the timeout ends the run (its last epoch checkpoint is kept).

Errors are text, never tracebacks in the window: what the trainer writes on stderr
(``error: ...`` lines for a bad graph or bad data) comes out of ``stderrText``, and the
``finished`` signal says how the run ended.
"""

from __future__ import annotations

import codecs
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

import builder

STOP_TIMEOUT_MS = 15_000  # after stop(): how long the trainer has to checkpoint and exit before it is killed

# keys of ``overrides`` -> the ``modelbuilder train`` flag that sets them (builder/commands/train_cmd.py)
OVERRIDE_FLAGS = {
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "optimizer": "--optimizer",
    "device": "--device",
    "seed": "--seed",
    "checkpoint_every": "--checkpoint-every",
    "threads": "--threads",
    "data": "--data",
}

EXIT_STOPPED = 130  # the trainer's exit status after a stop request (as after Ctrl-C)
CRASHED = "crashed"  # status when the trainer ended without a run_finished event
FAILED = "failed"
STOPPED = "stopped"


def override_arguments(overrides: dict[str, Any] | None) -> list[str]:
    """``{"epochs": 3, "batch_size": 64}`` -> ``["--epochs", "3", "--batch-size", "64"]``.

    None values are left out; keys without a command-line flag raise ValueError (every other
    setting lives in the graph file's training section, which the app saves first)."""
    arguments: list[str] = []
    for key, value in (overrides or {}).items():
        flag = OVERRIDE_FLAGS.get(key.replace("-", "_"))
        if flag is None:
            raise ValueError(f"no command-line flag for the training setting {key!r}; "
                             f"set it in the graph's training section (flags: {', '.join(OVERRIDE_FLAGS)})")
        if value is None:
            continue
        if isinstance(value, dict) and set(value) == {"name"}:
            value = value["name"]  # data: {name: digits} -> --data digits
        if isinstance(value, (dict, list, bool)):
            raise TypeError(f"training setting {key!r}: {value!r} cannot be given on the command line")
        arguments += [flag, str(value)]
    return arguments


def _engine_root() -> str:
    """The folder that holds the ``builder`` package, so the child finds it from any folder."""
    return str(Path(builder.__file__).resolve().parent.parent)


class TrainingRunner(QObject):
    """One training child process at a time; reusable for the next run once finished.

    ``finished(code, status)``: ``code`` is the trainer's exit status (0 done, 1 error, 130
    stopped; -1 when it was killed or could not start); ``status`` is that of its last
    ``run_finished`` event (completed, early_stopped, stopped, failed), else ``failed`` when
    it reported an ``error`` event, ``stopped`` after ``stop()``, and ``crashed`` otherwise
    (killed, or refused to start, e.g. a bad graph file: ``stderr_log`` says why).
    """

    event = Signal(dict)  # one parsed JSON line of the trainer's stdout
    output = Signal(str)  # a stdout line that is not a JSON object
    stderrText = Signal(str)  # stderr text as it arrives (warnings, "error: ..." lines)
    started = Signal(str)  # the run folder, once the child process runs
    finished = Signal(int, str)  # exit code (-1: killed or never started), status

    def __init__(self, parent: QObject | None = None, python: str | None = None):
        super().__init__(parent)
        self.python = python or sys.executable
        self.process: QProcess | None = None
        self.run_dir = ""
        self.status: str | None = None  # of the last finished run
        self.exit_code: int | None = None
        self.stderr_log = ""  # everything the current (or last) run wrote on stderr
        self.stop_requested = False
        self._stdout_buffer = b""
        self._stderr_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._last_finished: str | None = None
        self._saw_error = False
        self._finish_reported = True
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self.kill)

    # --- starting ----------------------------------------------------------------------------
    def start(self, graph_path: str, run_dir: str, overrides: dict | None = None,
              graph_source: str | None = None) -> None:
        """Train ``graph_path`` (with its training section) into ``run_dir``. ``graph_source``:
        the file ``graph_path`` is a snapshot of (relative paths resolve beside it)."""
        graph = Path(graph_path).resolve()
        out = Path(run_dir).resolve()
        arguments = ["-m", "builder", "train", str(graph), "--json-events", "--quiet", "--out", str(out)]
        if graph_source:
            arguments += ["--graph-source", str(Path(graph_source).resolve())]
        arguments += override_arguments(overrides)
        self._launch(arguments, str(out), str(graph.parent))

    def resume(self, run_dir: str, epochs: int | None = None) -> None:
        """Continue a stopped or finished run; ``epochs`` is the new total (not a count more)."""
        out = Path(run_dir).resolve()
        arguments = ["-m", "builder", "train", "--resume", str(out), "--json-events", "--quiet"]
        if epochs is not None:
            arguments += ["--epochs", str(int(epochs))]
        self._launch(arguments, str(out), str(out if out.is_dir() else out.parent))

    def command(self) -> list[str]:
        """The running (or last) child's command line, for messages and logs."""
        if self.process is None:
            return []
        return [self.process.program(), *self.process.arguments()]

    def _launch(self, arguments: list[str], run_dir: str, working_dir: str) -> None:
        if self.is_running():
            raise RuntimeError("a training run is already going; stop it first")
        if self.process is not None:
            self.process.deleteLater()
        self.run_dir = run_dir
        self.status = self.exit_code = None
        self.stderr_log = ""
        self.stop_requested = False
        self._stdout_buffer = b""
        self._stderr_decoder.reset()
        self._last_finished = None
        self._saw_error = False
        self._finish_reported = False

        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("QT_QPA_PLATFORM", "offscreen")  # the trainer never opens a window
        environment.insert("MPLBACKEND", "Agg")
        environment.insert("PYTHONUNBUFFERED", "1")  # events arrive as they happen
        environment.insert("PYTHONIOENCODING", "utf-8")
        path = environment.value("PYTHONPATH", "")
        environment.insert("PYTHONPATH", _engine_root() + (os.pathsep + path if path else ""))
        process.setProcessEnvironment(environment)
        process.setWorkingDirectory(working_dir if Path(working_dir).is_dir() else str(Path.cwd()))
        process.setProgram(self.python)
        process.setArguments(arguments)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.started.connect(lambda: self.started.emit(self.run_dir))
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self.process = process
        process.start()

    # --- state -------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def pid(self) -> int | None:
        return int(self.process.processId()) if self.is_running() else None

    # --- stopping ------------------------------------------------------------------------------
    def stop(self, timeout_ms: int = STOP_TIMEOUT_MS) -> None:
        """Ask the trainer to finish its step, write a checkpoint and exit (status 'stopped',
        exit code 130); kill it if it is still running after ``timeout_ms``."""
        if not self.is_running():
            return
        if self.stop_requested:
            return  # a second SIGINT would abort the trainer without its checkpoint
        self.stop_requested = True
        pid = self.pid()
        if os.name == "posix" and pid:
            try:
                os.kill(pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        else:
            self.process.terminate()
        self._kill_timer.start(max(0, int(timeout_ms)))

    def kill(self) -> None:
        """End the trainer at once (no checkpoint beyond the last one it wrote)."""
        if self.is_running():
            self.process.kill()

    def wait_for_finished(self, msecs: int = 30_000) -> bool:
        """Block until the child has exited (for closing the app); True if it has."""
        if not self.is_running():
            return True
        return self.process.waitForFinished(msecs)

    # --- reading -----------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        if self.process is None:
            return
        self._stdout_buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._stdout_buffer = self._stdout_buffer.split(b"\n")
        for line in lines:
            self._handle_line(line)

    def _handle_line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if not text.strip():
            return
        try:
            event = json.loads(text)
        except ValueError:
            event = None
        if not isinstance(event, dict) or "event" not in event:
            self.output.emit(text)
            return
        kind = event.get("event")
        if kind == "run_finished":
            self._last_finished = str(event.get("status") or CRASHED)
        elif kind == "error":
            self._saw_error = True
        self.event.emit(event)

    def _read_stderr(self) -> None:
        if self.process is None:
            return
        text = self._stderr_decoder.decode(bytes(self.process.readAllStandardError()))
        if text:
            self.stderr_log += text
            self.stderrText.emit(text)

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        self._read_stderr()
        if self._stdout_buffer:  # a last line without its newline
            line, self._stdout_buffer = self._stdout_buffer, b""
            self._handle_line(line)
        tail = self._stderr_decoder.decode(b"", final=True)
        if tail:
            self.stderr_log += tail
            self.stderrText.emit(tail)
        code = int(exit_code) if exit_status == QProcess.ExitStatus.NormalExit else -1
        self._report(code)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error != QProcess.ProcessError.FailedToStart:
            return  # crashes and kills also end in finished()
        message = f"error: cannot start the trainer ({self.python}): {self.process.errorString()}\n"
        self.stderr_log += message
        self.stderrText.emit(message)
        self._report(-1)

    def _report(self, code: int) -> None:
        if self._finish_reported:
            return
        self._finish_reported = True
        self._kill_timer.stop()
        if self._last_finished is not None:
            status = self._last_finished
        elif self._saw_error:
            status = FAILED
        elif self.stop_requested:
            status = STOPPED  # stopped before training began (or killed after STOP_TIMEOUT_MS)
        else:
            status = CRASHED  # killed, or refused to start (a bad graph file: stderr says why)
        self.status, self.exit_code = status, code
        self.finished.emit(code, status)
