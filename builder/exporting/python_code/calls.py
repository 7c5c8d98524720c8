"""How model.py writes a value or a constructor call: ``Call``, ``Arg``, ``Param`` and
``render_value``, with the line-wrapping rule (100 columns) they share."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

LINE = 100


class Unwritable(Exception):
    """One way of writing a constructor call (or a value) does not work for this module."""


@dataclass
class Param:
    """A constructor parameter of a generated class, used as an argument value."""

    name: str


@dataclass
class Arg:
    name: str  # the constructor parameter it binds
    value: Any  # a plain value, a Call, or a Param
    positional: bool = False


@dataclass
class Call:
    """``callee(args)``; ``raw`` is argument text taken from ``repr`` (no structure)."""

    callee: str
    args: list[Arg] = field(default_factory=list)
    raw: str | None = None

    def render(self, indent: int = 0, column: int | None = None) -> str:
        """The call as code; ``indent`` is the indentation of the line it is on and ``column``
        where it starts on that line. Too long for one line, its arguments continue under
        the first one (``column`` known and not too far right), else one per line."""
        if self.raw is not None:
            return f"{self.callee}({self.raw})"
        parts = [render_value(a.value, indent + 4) if a.positional else f"{a.name}={render_value(a.value, indent + 4)}"
                 for a in self.args]
        start = indent if column is None else column
        flat = f"{self.callee}({', '.join(parts)})"
        if start + len(flat) <= LINE and "\n" not in flat:
            return flat
        hang = start + len(self.callee) + 1
        if column is not None and hang <= LINE // 2 and not any("\n" in p for p in parts) and \
                all(hang + len(p) + 2 <= LINE for p in parts):
            lines, current = [], ""
            for i, part in enumerate(parts):
                piece = part + (")" if i == len(parts) - 1 else ",")
                if current and hang + len(current) + 1 + len(piece) > LINE:
                    lines.append(current)
                    current = piece
                else:
                    current = f"{current} {piece}" if current else piece
            lines.append(current)
            return f"{self.callee}(" + ("\n" + " " * hang).join(lines)
        pad = " " * (indent + 4)
        return f"{self.callee}(\n" + "".join(f"{pad}{p},\n" for p in parts) + " " * indent + ")"


def render_value(value: Any, indent: int = 0) -> str:
    """Python source for ``value``; Unwritable when there is none."""
    if isinstance(value, Call):
        return value.render(indent)
    if isinstance(value, Param):
        return value.name
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, torch.Size):
        value = tuple(value)
    if isinstance(value, tuple):
        items = [render_value(v, indent) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v, indent) for v in value) + "]"
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return "{" + ", ".join(f"{k!r}: {render_value(v, indent)}" for k, v in value.items()) + "}"
    if isinstance(value, torch.dtype):
        return str(value)
    raise Unwritable(f"cannot write {type(value).__name__} value {value!r} as code")


def same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values that cannot be compared are not the same
        return False
