"""A run's checkpoints: each one a folder, made current by one atomic rename.

    checkpoints/
      step-000000240/            the newest: --resume continues from here
        weights.safetensors      the model's state_dict (any safetensors reader opens it)
        state.safetensors        optimizer, scheduler, random states, counters, history; it
                                 records its step and the SHA-256 of weights.safetensors
      step-000000180/            the one before: what is left if the newest is damaged
      step-000000060/            the best so far (lowest validation loss), for export

Why folders: the weights and the training state are two files, and two files renamed one
after the other are not one unit; a process killed between the renames paired the weights
of one epoch with the training state of another, and resume trained on silently. Here a
checkpoint is written into a hidden temporary folder, each file flushed to disk, and the
folder renamed to its final name (as Orbax and torch.distributed.checkpoint do), so a
``step-*`` folder is either whole or absent whatever moment the process dies. The state's
SHA-256 of its weights catches a pair that disagrees for any other reason (a file copied
between runs, a damaged disk) before it is used. Leftovers of a killed write or delete
(hidden ``.tmp-`` and ``.trash-`` entries) are removed when the run is next trained.

Run folders written before this layout (``last.safetensors`` beside
``last.state.safetensors``) still resume and export; their pair cannot be verified.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from builder.faults import crash_point
from builder.training.checkpoint import (
    CheckpointError,
    encode_state,
    encode_weights,
    load_state,
    read_checked,
)

FORMAT = "modelbuilder-checkpoint-2"
WEIGHTS = "weights.safetensors"
STATE = "state.safetensors"
_FOLDER = re.compile(r"^step-(\d+)$")
# the layout before checkpoint folders: read, never written
LEGACY_WEIGHTS, LEGACY_BEST, LEGACY_STATE = "last.safetensors", "best.safetensors", "last.state.safetensors"


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint: its weights and training-state files, and the step it was written at."""

    weights: Path
    state: Path
    step: int
    legacy: bool = False

    @property
    def name(self) -> str:
        return self.weights.parent.name if not self.legacy else self.weights.name


def folder_name(step: int) -> str:
    return f"step-{step:09d}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checkpoints_in(directory: Path) -> list[Checkpoint]:
    """The checkpoint folders in ``directory``, newest (highest step) first."""
    found = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return []
    for entry in entries:
        match = _FOLDER.match(entry.name)
        if match and entry.is_dir():
            found.append(Checkpoint(entry / WEIGHTS, entry / STATE, int(match.group(1))))
    return sorted(found, key=lambda c: c.step, reverse=True)


def _legacy(directory: Path) -> Checkpoint | None:
    state = directory / LEGACY_STATE
    if not state.is_file():
        return None
    return Checkpoint(directory / LEGACY_WEIGHTS, state, -1, legacy=True)


def has_checkpoint(directory: Path) -> bool:
    return bool(checkpoints_in(directory)) or _legacy(Path(directory)) is not None


# --- writing ---------------------------------------------------------------------------------
def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _sync_directory(path: Path) -> None:
    """Make a rename inside ``path`` survive a power cut (POSIX; Windows has no directory handles)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(folder: Path) -> None:
    """Remove a checkpoint folder: first renamed out of the step-* names in one atomic step,
    so a kill half-way through the delete leaves a hidden leftover, never a damaged checkpoint."""
    trash = folder.parent / f".trash-{folder.name}-{uuid.uuid4().hex[:8]}"
    os.rename(folder, trash)
    crash_point("checkpoint.discarding")
    shutil.rmtree(trash, ignore_errors=True)


def write_checkpoint(directory: Path, model: torch.nn.Module, state: dict[str, Any]) -> Checkpoint:
    """Write ``model``'s weights and the training ``state`` (which has ``step`` and may have
    ``best_step``) as one checkpoint, then drop the ones no longer needed."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = encode_weights(model)
    state = {**state, "format": FORMAT, "weights_sha256": sha256(weights)}
    name = folder_name(state["step"])
    temporary = directory / f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    try:
        crash_point("checkpoint.begin")
        _write_synced(temporary / WEIGHTS, weights)
        crash_point("checkpoint.weights-written")
        _write_synced(temporary / STATE, encode_state(state))
        crash_point("checkpoint.state-written")
        _sync_directory(temporary)
        final = directory / name
        if final.exists():  # the same step again: a run continued from an older checkpoint
            _discard(final)
        os.rename(temporary, final)
        _sync_directory(directory)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    crash_point("checkpoint.committed")
    _prune(directory, state.get("best_step"))
    crash_point("checkpoint.done")
    return Checkpoint(final / WEIGHTS, final / STATE, state["step"])


def _prune(directory: Path, best_step: int | None) -> None:
    """Keep the newest two checkpoints and the best one; discard the rest."""
    for index, checkpoint in enumerate(checkpoints_in(directory)):
        if index >= 2 and checkpoint.step != best_step:
            _discard(checkpoint.weights.parent)


def discard_newer_than(directory: Path, step: int) -> list[str]:
    """Continuing from an older checkpoint starts a new history from it: the newer
    checkpoints belong to the abandoned one. Returns the names discarded."""
    gone = [c for c in checkpoints_in(directory) if c.step > step]
    for checkpoint in gone:
        _discard(checkpoint.weights.parent)
    return [c.name for c in gone]


def clean_leftovers(directory: Path) -> list[str]:
    """Remove what a killed write or delete left: hidden temporary folders and files. Call
    only while no other process trains into the same run."""
    removed = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith(".") and (".tmp" in entry.name or entry.name.startswith(".trash-")):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


# --- reading ---------------------------------------------------------------------------------
def verified(checkpoint: Checkpoint) -> tuple[dict[str, Any], bytes]:
    """The checkpoint's training state and its weights file's bytes, after checking that the
    two belong together; CheckpointError naming the file that disagrees otherwise."""
    if not checkpoint.state.is_file():
        raise CheckpointError(f"{checkpoint.state} is missing")
    if not checkpoint.weights.is_file():
        raise CheckpointError(f"{checkpoint.weights} is missing")
    state = load_state(checkpoint.state)
    raw = read_checked(checkpoint.weights)
    if checkpoint.legacy:  # nothing to compare: the old layout recorded no digest
        return state, raw
    if state.get("format") != FORMAT or "weights_sha256" not in state:
        raise CheckpointError(f"{checkpoint.state} is not a training state written by this version "
                              f"(format {state.get('format')!r})")
    if state.get("step") != checkpoint.step:
        raise CheckpointError(f"{checkpoint.state} belongs to step {state.get('step')}, "
                              f"but its folder is {checkpoint.name}")
    if sha256(raw) != state["weights_sha256"]:
        raise CheckpointError(f"{checkpoint.weights} and {checkpoint.state} do not belong together: the weights "
                              "are not the ones this training state was written with (the file was changed or "
                              "copied from elsewhere after training wrote it)")
    return state, raw


def _describe(state: dict[str, Any], checkpoint: Checkpoint) -> str:
    batch = f", batch {state['batch']}" if state.get("batch") else ""
    return f"{checkpoint.name} (epoch {state.get('epoch')}{batch}, step {state.get('step')})"


def _fallback(candidates: list[Checkpoint], run: Path) -> str:
    """What the user can do when the checkpoint they wanted is damaged."""
    for older in candidates:
        try:
            state, _ = verified(older)
        except CheckpointError:
            continue
        return (f"the newest consistent checkpoint is {_describe(state, older)}; to continue from it: "
                f"modelbuilder train --resume {run} --checkpoint {older.name}")
    return "no consistent checkpoint is left in this run: train it again from the graph"


def open_checkpoint(directory: Path, name: str | None = None) -> tuple[Checkpoint, dict[str, Any], bytes]:
    """The checkpoint to continue from (the newest, or the one named), verified: its
    training state and weights bytes. CheckpointError, with a hint naming a consistent
    alternative, if it is missing or its files disagree."""
    directory = Path(directory)
    found = checkpoints_in(directory)
    run = directory.parent
    if name is not None:
        chosen = [c for c in found if c.name == name]
        if not chosen:
            names = ", ".join(c.name for c in found) or "none"
            raise CheckpointError(f"{run} has no checkpoint {name!r}", f"its checkpoints: {names}")
        checkpoint = chosen[0]
    elif found:
        checkpoint = found[0]
    else:
        legacy = _legacy(directory)
        if legacy is None:
            raise CheckpointError(f"{run} has no checkpoint to resume from ({directory} holds none)",
                                  "resume a run that trained for at least one epoch or was stopped with Ctrl-C "
                                  "or the app's Stop button")
        checkpoint = legacy
    try:
        state, raw = verified(checkpoint)
    except CheckpointError as err:
        older = [c for c in found if c.step < checkpoint.step]
        raise CheckpointError(f"cannot resume from {checkpoint.name}: {err}", _fallback(older, run)) from None
    if checkpoint.legacy:
        checkpoint = Checkpoint(checkpoint.weights, checkpoint.state, int(state.get("step", 0)), legacy=True)
    return checkpoint, state, raw


def weights_to_use(directory: Path, which: str = "best") -> Path:
    """The weights file of a run for export and predict: the best checkpoint's
    (``which="best"``, when one was recorded) or the newest's, verified as above."""
    directory = Path(directory)
    checkpoint, state, _ = open_checkpoint(directory)
    if checkpoint.legacy:
        best = directory / LEGACY_BEST
        return best if which == "best" and best.is_file() else checkpoint.weights
    best_step = state.get("best_step")
    if which != "best" or best_step is None or best_step == checkpoint.step:
        return checkpoint.weights
    best = [c for c in checkpoints_in(directory) if c.step == best_step]
    if not best:
        raise CheckpointError(f"{directory / folder_name(best_step)}, the best checkpoint, is missing",
                              "export the newest weights instead (--weights last)")
    try:
        verified(best[0])
    except CheckpointError as err:
        raise CheckpointError(str(err), "export the newest weights instead (--weights last)") from None
    return best[0].weights
