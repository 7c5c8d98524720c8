"""``write_python``: a trained model as a standalone ``model.py`` that needs only torch, and
its weights beside it (``model.pt``, a plain state_dict that ``torch.load(...,
weights_only=True)`` reads).

The file holds an ordinary ``nn.Module`` class named after the graph: ``__init__`` builds one
layer per node (``self.conv1 = nn.Conv2d(1, 6, kernel_size=5)``), ``forward`` is straight
Python (``x = self.conv1(image)``), and ``load(weights_path=None)`` returns the trained
model in eval mode. Each part is written by a module of its own:

* ``constructors``: the constructor call that rebuilds each layer, checked by rebuilding it
  (on values and calls as code: ``calls``). A layer none of the ways can rebuild is an
  ExportError naming the node.
* ``sources``: modules defined by the project (residual blocks, Inception, attention ...)
  copied in as source, with the project code and the imports (torch and the standard
  library only) they use.
* ``classes``: a class for the graph and one for each composite block (a graph file used as a
  block); uses that differ only in numbers share one class whose constructor takes them.
* ``forward``: ``forward`` written from the torch.fx graph.
* ``assemble``: the text of the whole file (``python_source``).

This module writes and checks the file: after writing, it is imported in a fresh module,
``load()`` is run and its outputs are compared with the compiled model (``check_parity``).
Both files are written in a scratch folder beside the target, checked there, and then renamed
into place, so a failed or killed export leaves nothing under the final names.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import torch
from torch import nn

from builder.exporting.errors import ExportError
from builder.exporting.files import write_atomic
from builder.exporting.parity import check_parity
from builder.exporting.python_code.assemble import python_source
from builder.exporting.python_code.calls import LINE, Arg, Call, Param, Unwritable, render_value
from builder.exporting.python_code.classes import ClassWriter, GeneratedClass, class_source
from builder.exporting.python_code.constructors import (ARGUMENT_RULES, MAX_POSITIONAL, RECORDED, Namer,
                                                        constructor_call)
from builder.exporting.python_code.forward import LOCAL_RESERVED, forward_source
from builder.exporting.python_code.sources import DROPPED_DECORATORS, PROJECT_PACKAGES, SourceCopier

__all__ = [
    "ARGUMENT_RULES", "DROPPED_DECORATORS", "LINE", "LOCAL_RESERVED", "MAX_POSITIONAL", "PROJECT_PACKAGES",
    "RECORDED", "Arg", "Call", "ClassWriter", "GeneratedClass", "Namer", "Param", "SourceCopier", "Unwritable",
    "check_parity", "check_standalone", "class_source", "constructor_call", "forward_source", "import_file",
    "python_source", "render_value", "write_python",
]


def check_standalone(text: str, where: Path) -> None:
    """ExportError unless the file imports only torch and the standard library."""
    for node in ast.walk(ast.parse(text, str(where))):
        if isinstance(node, ast.Import):
            roots = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            roots = [(node.module or "").split(".")[0]] if node.level == 0 else ["."]
        else:
            continue
        for root in roots:
            if root not in ("torch", "__future__") and root not in sys.stdlib_module_names:
                raise ExportError(f"{where} imports {root}; the exported file must need only torch")


def import_file(path: Path) -> Any:
    """Import a Python file as a fresh module (not left in sys.modules)."""
    name = f"_modelbuilder_export_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def _state_bytes(model: nn.Module) -> bytes:
    state = model.state_dict()
    for key, value in state.items():  # views of bigger storages would save the whole storage
        if value.untyped_storage().nbytes() != value.numel() * value.element_size():
            state[key] = value.clone()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def write_python(trained, out: Path):
    """Write ``out`` (model.py) and its weights beside it (same stem, ``.pt``); check that the
    file, imported on its own, computes what the compiled model does. Returns ExportResult."""
    from builder.exporting.api import ExportResult

    out = Path(out)
    if out.suffix != ".py":
        raise ExportError(f"{out}: the python export writes a .py file", "give an --out path ending in .py")
    weights = out.with_suffix(".pt")
    text = python_source(trained, weights.name)
    check_standalone(text, out)
    data = _state_bytes(trained.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        write_atomic(scratch / weights.name, data)
        del data
        write_atomic(scratch / out.name, text)
        try:
            module = import_file(scratch / out.name)
            loaded = module.load()
        except Exception as err:
            raise ExportError(f"{out}: the written file does not load ({type(err).__name__}: {err})") from err
        difference = check_parity(trained.model, loaded, trained.inputs, f"{out} (load())")
        os.replace(scratch / weights.name, weights)
        os.replace(scratch / out.name, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    notes = [f"{out.name} needs only torch; load() reads {weights.name} (torch.load, weights_only=True)"]
    return ExportResult("python", out, [out, weights], difference, notes)
