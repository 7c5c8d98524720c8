"""Block declarations: every block type, declared once.

Importing this package registers every built-in block (each module below registers its
own with ``@register``). Use :func:`get_block` and :func:`all_blocks` to look them up.
This package never imports Qt.
"""

from __future__ import annotations

import importlib
import pkgutil

from blocks.params import REQUIRED, Bool, Choice, Float, Int, Ints, Param, ParamError, Port, Text
from blocks.registry import ENTRY_POINT_GROUP, UnknownBlockError, all_blocks, get_block, load_plugins, register
from blocks.spec import Block, Cost, Params, Shape, ShapeError, expect_rank, format_shape

_FRAMEWORK = {"params", "registry", "spec", "modules"}

# Built-in blocks live one family per module; importing them registers them.
for _info in pkgutil.iter_modules(__path__):
    if _info.name not in _FRAMEWORK and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = [
    "REQUIRED", "Bool", "Choice", "Float", "Int", "Ints", "Param", "ParamError", "Port", "Text",
    "ENTRY_POINT_GROUP", "UnknownBlockError", "all_blocks", "get_block", "load_plugins", "register",
    "Block", "Cost", "Params", "Shape", "ShapeError", "expect_rank", "format_shape",
]
