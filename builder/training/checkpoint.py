"""Checkpoint files that load without unpickling anything.

Model weights are a plain safetensors file that any tool can read. Everything needed to
resume exactly (optimizer and scheduler state, random-number generator states, counters)
goes into a training-state file: its tensors are stored as tensors, and the nested
structure around them as JSON in the file's metadata. How the two are written together as
one unit is :mod:`builder.training.checkpoint_store`'s job; this module only encodes and
decodes them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from builder.atomic import write_atomic
from builder.errors import HintedError

_TENSOR = "__tensor__"


class CheckpointError(HintedError):
    """A checkpoint that is missing, truncated, inconsistent or does not fit the model;
    ``hint`` says what the user can do instead (printed apart by the commands)."""

    HINT_IN_TEXT = False


def _split(value: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    """Replace tensors in a nested structure by references; collect them in ``tensors``."""
    if isinstance(value, torch.Tensor):
        tensors[path] = value.detach().contiguous().cpu()
        return {_TENSOR: path}
    if isinstance(value, dict):
        return {"__dict__": [[_split(k, tensors, f"{path}.k{i}"), _split(v, tensors, f"{path}.{i}")]
                             for i, (k, v) in enumerate(value.items())]}
    if isinstance(value, (list, tuple)):
        items = [_split(v, tensors, f"{path}.{i}") for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} at {path} in a checkpoint")


def _join(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if _TENSOR in value:
            return tensors[value[_TENSOR]]
        if "__dict__" in value:
            return {_join(k, tensors): _join(v, tensors) for k, v in value["__dict__"]}
        if "__tuple__" in value:
            return tuple(_join(v, tensors) for v in value["__tuple__"])
    if isinstance(value, list):
        return [_join(v, tensors) for v in value]
    return value


def encode_state(state: dict[str, Any]) -> bytes:
    """A nested structure of tensors, numbers, text, lists and dicts as safetensors bytes."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split(state, tensors, "s")
    return st_save(tensors, metadata={"skeleton": json.dumps(skeleton)})


def load_state(path: Path) -> dict[str, Any]:
    """Read what :func:`encode_state` made; CheckpointError if it is missing or damaged."""
    raw = read_checked(path)
    try:
        tensors = st_load(raw)
        # safetensors layout: 8-byte little-endian header size, then a JSON header
        header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
        skeleton = json.loads(header["__metadata__"]["skeleton"])
        state = _join(skeleton, tensors)
    except (SafetensorError, KeyError, TypeError, ValueError, RecursionError) as err:
        raise CheckpointError(f"{path}: not a valid training-state file ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a valid training-state file (no state in it)")
    return state


def encode_weights(model: torch.nn.Module) -> bytes:
    """The model's state_dict as safetensors bytes (tensors shared between keys are copied)."""
    state = {k: v.detach().contiguous().cpu().clone() for k, v in model.state_dict().items()}
    return st_save(state, metadata={"format": "modelbuilder-weights-1"})


def save_weights(path: Path, model: torch.nn.Module) -> None:
    """Weights alone, as one file written atomically (bundles; run checkpoints go through
    :func:`builder.training.checkpoint_store.write_checkpoint`)."""
    write_atomic(path, encode_weights(model))


def load_weights(path: Path, model: torch.nn.Module, raw: bytes | None = None) -> None:
    """Load safetensors weights into ``model``, checking every name and shape first.
    ``raw``: the file's bytes when the caller has already read (and verified) them."""
    try:
        state = st_load(read_checked(path) if raw is None else raw)
    except SafetensorError as err:
        raise CheckpointError(f"{path}: not a valid safetensors file ({err}); it may be truncated") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k}: file {list(state[k].shape)}, model {list(expected[k].shape)}"
             for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:5])}{' ...' if len(unexpected) > 5 else ''}")
        if wrong:
            parts.append(f"wrong shape {'; '.join(wrong[:5])}")
        raise CheckpointError(f"{path} does not fit the graph: " + "; ".join(parts))
    model.load_state_dict(state)


def _looks_pickled(data: bytes) -> bool:
    """A pickle (protocol 2-5) or torch.save zip, and not safetensors: a safetensors file
    starts with its JSON header's length (8 bytes, little endian), which can itself begin
    with 0x80 0x02 or "PK" (a 640- or 19,280-byte header), so the header is checked first."""
    if len(data) > 8 and data[8:9] == b"{" and 8 + int.from_bytes(data[:8], "little") <= len(data):
        return False
    return (data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")) or data[:4] == b"PK\x03\x04"


def read_checked(path: Path) -> bytes:
    """The bytes of a checkpoint file; CheckpointError if it cannot be read or is a pickle."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read ({err.strerror})") from None
    if _looks_pickled(data):
        raise CheckpointError(f"{path} is a pickle/torch.save file; only safetensors files are loaded, "
                              "because unpickling can run arbitrary code")
    return data
