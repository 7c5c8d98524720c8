"""Reading starting weights (``init``) from wherever they are: a run folder, a bundle, a
safetensors file or a PyTorch state_dict file (``.pth``/``.pt``), as named tensors.

Nothing here unpickles code. Safetensors files hold only tensors. A ``.pth`` file is a
pickle, read only with ``torch.load(weights_only=True)``: its restricted unpickler builds
tensors and plain containers and refuses every other global, so a file that would run
code on loading is refused before it does. Before torch 2.6 that loader could be escaped
(CVE-2025-32434), so on such a torch ``.pth`` files are refused outright.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load

from builder.training.checkpoint import CheckpointError, read_checked
from builder.training.checkpoint_store import weights_to_use
from builder.training.runs import RunFolder

SAFE_TORCH = (2, 6)  # the first torch whose weights_only unpickler is not known to be escapable
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
# where training scripts commonly nest the state_dict inside a checkpoint dictionary
NESTED = ("state_dict", "model_state_dict", "model", "module", "net", "weights")
# what torch's weights_only reader says when it stops (its message also suggests weights_only=False,
# which must never reach a user: that is exactly the unsafe loader)
_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
_READER_ERROR = re.compile(r"WeightsUnpickler error:\s*([^\n]+)")


class TransferError(CheckpointError):
    """Starting weights, freezing or learning-rate settings that do not fit the graph:
    a sentence and a hint (a CheckpointError, so the command line reports it as one)."""


@dataclass
class WeightSource:
    """Named tensors read from ``path``, and how they were found."""

    path: Path
    kind: str  # "run folder", "bundle", "safetensors file" or "state_dict file"
    tensors: dict[str, torch.Tensor]
    ordered: bool  # the keys are in the order the file keeps (torch.save does; safetensors sorts them)
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{self.kind} {self.path}"


def resolve_path(value: str | Path, base_dir: Path | None = None) -> Path:
    """``value`` with ``~`` expanded, relative to ``base_dir`` (the graph file's folder)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() or base_dir is None else Path(base_dir) / path


def read_source(value: str | Path, base_dir: Path | None = None) -> WeightSource:
    """The tensors of a run folder (its best checkpoint), a bundle, a safetensors file or
    a state_dict file; TransferError with a hint for anything else."""
    path = resolve_path(value, base_dir)
    if not path.exists():
        where = f" (relative paths are read from the graph file's folder, {base_dir})" if base_dir else ""
        raise TransferError(f"init: {path} does not exist{where}",
                            "give a run folder, a bundle folder, a .safetensors or a .pth file")
    if path.is_dir():
        return _folder(path)
    suffix = path.suffix.lower()
    if suffix in TORCH_SUFFIXES or (suffix != ".safetensors" and _pickled(path)):
        return _torch_file(path)
    return _safetensors(path, "safetensors file")


def _pickled(path: Path) -> bool:
    """A file that is no safetensors file but starts like a pickle or a torch.save zip."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return False
    if head[8:9] == b"{":  # a safetensors file: its JSON header after 8 bytes of length
        return False
    return (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")) or head[:4] == b"PK\x03\x04"


def _folder(path: Path) -> WeightSource:
    from builder.exporting.bundle import BUNDLE_META, WEIGHTS_FILE  # only for bundles: export's own names

    if (path / BUNDLE_META).is_file():
        return _safetensors(path / WEIGHTS_FILE, "bundle", shown=path)
    run = RunFolder(path)
    if run.checkpoints.is_dir():
        weights = weights_to_use(run.checkpoints, "best")
        source = _safetensors(weights, "run folder", shown=path)
        source.notes += (f"the run's best checkpoint ({weights.parent.name})",)
        return source
    raise TransferError(f"init: {path} is neither a run folder nor a bundle",
                        "give the folder `modelbuilder train` printed, one `modelbuilder export` wrote, or a "
                        "weights file")


def _safetensors(path: Path, kind: str, shown: Path | None = None) -> WeightSource:
    try:
        tensors = st_load(read_checked(path))
    except SafetensorError as err:
        raise TransferError(f"init: {path} is not a valid safetensors file ({err})",
                            "it may be truncated; for a PyTorch state_dict use the .pth suffix") from None
    return WeightSource(shown or path, kind, tensors, ordered=False)


def torch_is_safe(version: str | None = None) -> bool:
    """Whether this torch's ``weights_only`` loader can be trusted with a hostile file."""
    from torch.torch_version import TorchVersion

    return TorchVersion(version or torch.__version__) >= SAFE_TORCH


def _torch_file(path: Path) -> WeightSource:
    if not torch_is_safe():
        raise TransferError(f"init: {path} is a pickle, and this torch ({torch.__version__}) cannot read pickles "
                            "safely: its weights_only loader can be made to run code (CVE-2025-32434, fixed in "
                            "torch 2.6)", "upgrade torch to 2.6 or newer, or convert the file to safetensors "
                                          "on a machine that has it")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = _GLOBAL.search(str(err))
        if found:  # the restricted reader met a class or function it does not build, and stopped
            raise TransferError(f"init: {path} was refused because it holds more than tensors: it names "
                                f"{found.group(1)}, which no weights file needs; nothing in it was run",
                                "load only a state_dict (torch.save(model.state_dict(), PATH)) or a "
                                "safetensors file") from None
        why = _READER_ERROR.search(str(err))
        raise TransferError(f"init: {path} is not a readable PyTorch file"
                            + (f" ({why.group(1).strip()})" if why else ""),
                            "it may be truncated or not a torch.save file") from None
    except Exception as err:  # noqa: BLE001 - torch reports a damaged file in many ways
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TransferError(f"init: {path} is not a readable PyTorch file ({first})",
                            "it may be truncated or not a torch.save file") from None
    tensors, notes = _state_dict(loaded, path)
    return WeightSource(path, "state_dict file", tensors, ordered=True, notes=notes)


def _tensor_items(value: object) -> dict[str, torch.Tensor]:
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def _state_dict(loaded: object, path: Path) -> tuple[dict[str, torch.Tensor], tuple[str, ...]]:
    """The name -> tensor mapping in what ``torch.load`` returned: the object itself or one
    nested under a usual key; a DataParallel ``module.`` prefix taken off."""
    notes: list[str] = []
    tensors = _tensor_items(loaded)
    if not tensors and isinstance(loaded, Mapping):
        for key in NESTED:
            tensors = _tensor_items(loaded.get(key))
            if tensors:
                notes.append(f"the state_dict under {key!r}")
                break
    if not tensors:
        raise TransferError(f"init: {path} holds no state_dict (a mapping of names to tensors)",
                            "save one with torch.save(model.state_dict(), PATH)")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
        notes.append("the 'module.' prefix of DataParallel taken off")
    return tensors, tuple(notes)
