"""``write_torchscript``: a trained model as a saved TorchScript module (``torch.jit.load``
reads it, in Python or in C++ with libtorch, without this project or the model's code).

The compiled model is scripted (``torch.jit.script``); a model that does not script is traced
with example inputs instead (``torch.jit.trace``: the code paths the example takes are
recorded, so data-dependent branches are frozen; ExportResult.notes says which was used).
The module is serialized into memory, written atomically, then reloaded from the file and
compared with the compiled model.

TorchScript is deprecated from torch 2.13 on (in favour of ``torch.export``) but still works;
the deprecation warnings of the calls made here are expected and silenced locally.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from builder.exporting.errors import ExportError
from builder.exporting.files import write_atomic
from builder.exporting.parity import check_parity, example_inputs

DEPRECATION_NOTE = ("TorchScript is deprecated since torch 2.13 (torch.export replaces it); "
                    "the file still loads with torch.jit.load")


@contextmanager
def _quiet_jit() -> Iterator[None]:
    """Silence the warnings torch.jit gives for every use (deprecation) and for the empty
    list annotations of the project's modules, and nothing else."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit.*deprecated")
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit.*deprecated")
        warnings.filterwarnings("ignore", category=UserWarning,
                                message=r".*TorchScript type system doesn't support instance-level annotations")
        yield


def _script_or_trace(trained) -> tuple[torch.jit.ScriptModule, str]:
    try:
        with _quiet_jit():
            return torch.jit.script(trained.model), "scripted with torch.jit.script"
    except Exception as scripting_error:  # noqa: BLE001 - any failure falls back to tracing
        reason = str(scripting_error).strip().splitlines()[0] if str(scripting_error).strip() else \
            type(scripting_error).__name__
    try:
        with _quiet_jit(), torch.no_grad():
            traced = torch.jit.trace(trained.model, example_inputs(trained.inputs), check_trace=False)
    except Exception as err:  # noqa: BLE001
        raise ExportError(f"the model cannot be written as TorchScript: scripting fails ({reason}) "
                          f"and tracing fails ({type(err).__name__}: {err})") from None
    return traced, (f"traced with torch.jit.trace because scripting fails ({reason}); "
                    "branches that depend on the data are frozen to the example's")


def write_torchscript(trained, out: Path):
    """Write ``out`` (a TorchScript file) and check that, reloaded, it computes what the
    compiled model does. Returns ExportResult."""
    from builder.exporting.api import ExportResult

    out = Path(out)
    module, how = _script_or_trace(trained)
    buffer = io.BytesIO()
    with _quiet_jit():
        torch.jit.save(module, buffer)
    del module
    # checked under a scratch name first: a file that does not compute the model never
    # takes the final name (nor replaces an older export there)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    scratch = Path(name)
    try:
        write_atomic(scratch, buffer.getvalue())
        del buffer
        with _quiet_jit():
            loaded = torch.jit.load(str(scratch), map_location="cpu")
        loaded.eval()
        difference = check_parity(trained.model, loaded, trained.inputs, f"{out} (torch.jit.load)")
        os.replace(scratch, out)
    finally:
        scratch.unlink(missing_ok=True)
    return ExportResult("torchscript", out, [out], difference, [how, DEPRECATION_NOTE])
