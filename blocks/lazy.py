"""torch, imported when a block is first built rather than when blocks are declared.

Declaring, checking and drawing a graph (``modelbuilder check``, the editor's first paint)
needs each block's parameters and shape rules, never torch, and importing torch takes a
second or more. So block files take ``nn`` and their module classes from here: the first
attribute looked up on ``nn``, or the first call of a module class, imports the real one.
The ``nn.Module`` classes themselves live in :mod:`blocks.modules`, which imports torch
as usual (and is what exported PyTorch code copies).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


class _LazyModule:
    """Stands for a module; imports it on the first attribute looked up."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name}>"


nn: Any = _LazyModule("torch.nn")


def lazy_class(module: str, name: str) -> Callable[..., Any]:
    """Stands for ``from module import name`` in a ``build``: calling it imports ``module``
    and makes an instance of the real class."""

    def make(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    make.__name__ = make.__qualname__ = name
    return make
