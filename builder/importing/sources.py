"""What ``modelbuilder import SOURCE`` reads: a Python file and a callable that builds an
``nn.Module`` (``my_net.py:build``), a torchvision model name, or an ONNX file.

The Python file is executed because the user named it on the command line; graph files
never name code, and nothing else in the project imports user code.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blocks.suggest import did_you_mean
from builder.importing.errors import ImportFailure

SOURCE_FORMS = "my_net.py:build (a file and a callable), a torchvision model name such as resnet18, or model.onnx"
TORCHVISION_SHAPE = (3, 224, 224)
TORCHVISION_SHAPES = {"inception_v3": (3, 299, 299)}
GENERIC_NAMES = frozenset({"build", "model", "make", "create", "get_model", "make_model", "build_model", "main"})


@dataclass
class Source:
    """A loaded source: a torch model (``module``) or an ONNX file (``onnx_path``)."""

    text: str
    name: str
    module: Any = None
    onnx_path: Path | None = None
    shapes: list[tuple[int, ...]] = field(default_factory=list)  # default input shapes, per sample


def load_source(text: str, *, pretrained: bool = False) -> Source:
    """Read SOURCE; ImportFailure with a hint for anything that is not one of its forms."""
    file, colon, attribute = text.rpartition(":")
    if pretrained and (text.lower().endswith((".onnx", ".py")) or colon):
        raise ImportFailure("--pretrained is for torchvision model names",
                            "a Python source's callable loads its own weights; an ONNX file holds them")
    if text.lower().endswith(".onnx"):
        path = Path(text)
        if not path.is_file():
            raise ImportFailure(f"{text}: no such ONNX file", f"SOURCE is {SOURCE_FORMS}")
        return Source(text, _graph_name(path.stem), onnx_path=path)
    if colon and file.lower().endswith(".py"):
        return _python(Path(file), attribute, text)
    if text.lower().endswith(".py"):
        raise ImportFailure(f"{text}: name the callable that builds the model after a colon",
                            f"for example {text}:build (a function or an nn.Module class taking no arguments)")
    if "/" in text or "\\" in text or Path(text).suffix:
        raise ImportFailure(f"{text}: not a source the importer reads", f"SOURCE is {SOURCE_FORMS}")
    return _torchvision(text, pretrained)


def _graph_name(text: str) -> str:
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in text).strip("_")
    return name or "imported"


def _python(path: Path, attribute: str, text: str) -> Source:
    if not path.is_file():
        raise ImportFailure(f"{path}: no such file", f"SOURCE is {SOURCE_FORMS}")
    if not attribute.isidentifier():
        raise ImportFailure(f"{text}: {attribute!r} is not a Python name",
                            "give the function or class that builds the model: my_net.py:build")
    module_name = f"_modelbuilder_import_{_graph_name(path.stem)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportFailure(f"{path}: cannot be loaded as a Python file")
    code = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = code  # dataclasses and pickling look the module up by name
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # so that the file can import its neighbours
    try:
        spec.loader.exec_module(code)
    except Exception as err:  # noqa: BLE001 - whatever the user's file raises
        raise ImportFailure(f"{path}: running the file raised {type(err).__name__}: {err}",
                            "the file must run on its own: python " + str(path)) from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    factory = getattr(code, attribute, None)
    if factory is None:
        names = [n for n, v in vars(code).items() if callable(v) and not n.startswith("_")
                 and getattr(v, "__module__", None) == module_name]
        hint = did_you_mean(attribute, names, hint=True) or (
            f"callables defined there: {', '.join(names)}" if names else "define a function that returns the model")
        raise ImportFailure(f"{path} has no {attribute!r}", hint)
    if not callable(factory):
        raise ImportFailure(f"{text}: {attribute!r} is a {type(factory).__name__}, not a function or class",
                            "give the function or class that builds the model")
    try:
        model = factory()
    except Exception as err:  # noqa: BLE001
        raise ImportFailure(f"{text}: {attribute}() raised {type(err).__name__}: {err}",
                            "the callable is called without arguments; wrap it in a function that passes them") \
            from None
    from torch import nn

    if not isinstance(model, nn.Module):
        raise ImportFailure(f"{text}: {attribute}() returned a {type(model).__name__}, not a torch.nn.Module",
                            "return the model itself (an nn.Module instance)")
    # the graph is named after the callable, or after the file for a generic name such as "build"
    return Source(text, _graph_name(path.stem if attribute in GENERIC_NAMES else attribute), module=model)


def _torchvision(name: str, pretrained: bool) -> Source:
    try:
        from torchvision import models
    except Exception:  # noqa: BLE001 - not installed, or installed for another torch
        raise ImportFailure(f"{name!r} is not a file, and torchvision, which would know it as a model name, "
                            "cannot be imported",
                            f"install torchvision for your torch version, or give {SOURCE_FORMS}") from None
    known = models.list_models()
    if name not in known:
        raise ImportFailure(f"torchvision has no model {name!r}",
                            did_you_mean(name, known, hint=True) or "see torchvision.models.list_models()")
    model = models.get_model(name, weights=None)
    if pretrained:
        model.load_state_dict(_cached_weights(models, name))
    return Source(name, _graph_name(name), module=model, shapes=[TORCHVISION_SHAPES.get(name, TORCHVISION_SHAPE)])


def _cached_weights(models: Any, name: str) -> dict:
    """torchvision's default weights for ``name`` from the torch hub cache, never downloaded."""
    import torch

    weights = models.get_model_weights(name).DEFAULT
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not path.is_file():
        raise ImportFailure(f"--pretrained: torchvision's weights for {name} are not in the cache ({path})",
                            f"nothing is downloaded at run time: fetch {weights.url} into that folder "
                            "(or run torchvision once with weights=DEFAULT), then import again")
    from builder.training.weight_sources import TransferError, read_source

    try:  # the project's one reader of .pth files: weights_only, refused where torch cannot do it safely
        return read_source(path).tensors
    except TransferError as err:
        raise ImportFailure(f"--pretrained: {str(err.args[0]).removeprefix('init: ')}", err.hint) from None
