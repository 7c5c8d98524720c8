"""Typed parameter declarations.

A block lists its parameters once, with one of the types below. The same declaration
validates YAML values, fills in defaults, drives the editor's typed widgets and writes
the block reference. ``check`` returns the normalized value or raises ``ParamError``
with a sentence a user can act on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


INT64 = 2**63


class ParamError(ValueError):
    """A parameter value that does not fit its declaration."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@dataclass(frozen=True)
class Param:
    """Base of all parameter types: a default and a one-line doc."""

    default: Any = REQUIRED
    doc: str = ""
    optional: bool = False  # ``null`` is a valid value (meaning "not set")

    kind = "any"

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def check(self, value: Any) -> Any:
        if value is None and self.optional:
            return None
        return self._check(value)

    def _check(self, value: Any) -> Any:
        return value

    def describe(self) -> str:
        """Type and range in words, for `modelbuilder blocks NAME` and the docs."""
        text = self._describe()
        return f"{text} or null" if self.optional else text

    def _describe(self) -> str:
        return self.kind


def _range_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo}, {hi}]"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


@dataclass(frozen=True)
class Int(Param):
    """An integer with an optional inclusive range."""

    min: int | None = None
    max: int | None = None
    kind = "int"

    def _check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(f"expected an integer{_range_text(self.min, self.max)}, found {_type_name(value)}")
        if self.min is not None and value < self.min or self.max is not None and value > self.max:
            raise ParamError(f"expected an integer{_range_text(self.min, self.max)}, found {value}")
        if not -INT64 <= value < INT64:  # PyTorch takes sizes as 64-bit integers and fails beyond
            raise ParamError(f"expected an integer{_range_text(self.min, self.max)} below 2**63, found {value}")
        return value

    def _describe(self) -> str:
        return "int" + _range_text(self.min, self.max)


@dataclass(frozen=True)
class Float(Param):
    """A real number with an optional inclusive range; integers are accepted."""

    min: float | None = None
    max: float | None = None
    kind = "float"

    def _check(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"expected a number{_range_text(self.min, self.max)}, found {_type_name(value)}")
        if isinstance(value, float) and not math.isfinite(value):  # NaN passes every range test; no block uses .inf
            raise ParamError(f"expected a finite number{_range_text(self.min, self.max)}, found {value}")
        if self.min is not None and value < self.min or self.max is not None and value > self.max:
            raise ParamError(f"expected a number{_range_text(self.min, self.max)}, found {value}")
        return float(value)

    def _describe(self) -> str:
        return "float" + _range_text(self.min, self.max)


@dataclass(frozen=True)
class Bool(Param):
    """true or false."""

    kind = "bool"

    def _check(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ParamError(f"expected true or false, found {_type_name(value)}")
        return value


@dataclass(frozen=True)
class Choice(Param):
    """One of a fixed set of words."""

    choices: tuple[str, ...] = ()
    kind = "choice"

    def _check(self, value: Any) -> str:
        if value not in self.choices:
            options = ", ".join(repr(c) for c in self.choices)
            raise ParamError(f"expected one of {options}, found {_type_name(value)}")
        return value

    def _describe(self) -> str:
        return "one of " + " | ".join(self.choices)


@dataclass(frozen=True)
class Ints(Param):
    """A tuple of ``length`` integers; a single integer means the same for every axis.

    ``length=None`` accepts a list of any length (at least ``min_length``), e.g. a shape.
    ``words`` are extra accepted spellings such as "same" for padding.
    """

    length: int | None = None
    min: int | None = None
    max: int | None = None
    min_length: int = 1
    words: tuple[str, ...] = ()
    kind = "ints"

    def _check(self, value: Any) -> tuple[int, ...] | str:
        if isinstance(value, str) and value in self.words:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and self.length is not None:
            value = [value] * self.length
        if not isinstance(value, (list, tuple)):
            raise ParamError(f"expected {self._describe()}, found {_type_name(value)}")
        if self.length is not None and len(value) != self.length:
            raise ParamError(f"expected {self._describe()}, found a list of {len(value)}")
        if len(value) < self.min_length:
            raise ParamError(f"expected at least {self.min_length} integers, found {len(value)}")
        item = Int(min=self.min, max=self.max)
        try:
            return tuple(item.check(v) for v in value)
        except ParamError as err:
            raise ParamError(f"expected {self._describe()}: {err}") from None

    def _describe(self) -> str:
        each = "int" + _range_text(self.min, self.max)
        text = f"{self.length} x {each} (or one int for all)" if self.length else f"list of {each}"
        if self.words:
            text += " or " + " | ".join(repr(w) for w in self.words)
        return text


@dataclass(frozen=True)
class Text(Param):
    """Free text (names, labels)."""

    kind = "str"

    def _check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ParamError(f"expected text, found {_type_name(value)}")
        return value


@dataclass(frozen=True)
class Port:
    """A named input or output of a block.

    ``variadic`` inputs take two or more tensors (add, concat); ``optional`` inputs may be
    left unconnected (cross-attention's key/value input falls back to self-attention).
    """

    name: str
    doc: str = ""
    dtype: str = "float32"  # "int64" for token ids; used by connection checks and tests
    variadic: bool = False
    optional: bool = False
    min_count: int = field(default=2)
