"""The small expressions a repeated node's parameters may be written as, such as
``vary: {in_channels: "64 + 32 * i", stride: "2 if i == 0 else 1"}``.

A graph file may come from anyone, so an expression is never given to ``eval``: it is
parsed by :mod:`ast` and walked here, and only these are allowed:

- whole and decimal numbers, ``true``/``false`` (Python's ``True``/``False`` too);
- names given by the caller (the repetition index ``i``, the count ``n``, the part file's
  exposed parameters);
- ``+ - * / // % **`` (an exponent of at most 64), unary ``-`` and ``+``;
- comparisons, ``and``, ``or``, ``not`` and ``a if condition else b``;
- ``min(...)``, ``max(...)``, ``abs(x)``, ``round(x)`` and ``int(x)``.

Anything else (attributes, calls of other names, subscripts, strings, lambdas ...) is an
:class:`ExpressionError` that names what is not allowed. Text and results are bounded
(200 characters, 50 operators, whole numbers below 2**63) so that no expression can make
checking slow.
"""

from __future__ import annotations

import ast
import operator
from typing import Any, Callable, Mapping

MAX_TEXT = 200
MAX_NODES = 120  # ast nodes: about 50 operators and their operands
MAX_EXPONENT = 64
MAX_INT = 2 ** 63
ALLOWED = "numbers, the names given, + - * / // % **, comparisons, and/or/not, 'a if c else b', min, max, abs, round, int"

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs, "round": round, "int": int}
_CONSTANTS = {"true": True, "false": False, "True": True, "False": False}


class ExpressionError(ValueError):
    """An expression that cannot be read or evaluated; the message says why."""


def parse(text: str) -> ast.Expression:
    """The checked syntax tree of ``text``; ExpressionError for anything not allowed."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression is text, e.g. \"64 + 32 * i\"")
    if len(text) > MAX_TEXT:
        raise ExpressionError(f"the expression is longer than {MAX_TEXT} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"{text.strip()!r} is not an expression ({err.msg})") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ExpressionError(f"the expression has more than {MAX_NODES} parts")
    for node in nodes:
        _allowed(node)
    return tree


def _allowed(node: ast.AST) -> None:
    if isinstance(node, (ast.Expression, ast.Load, ast.IfExp, ast.BoolOp, ast.And, ast.Or, ast.Name)):
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float)):  # (bool is an int)
            return
        raise ExpressionError(f"{node.value!r} is not a number")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY or type(node) in _BINARY:
        return
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY or type(node) in _UNARY:
        return
    if isinstance(node, ast.Compare) or type(node) in _COMPARE:
        return
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords and node.args:
            return
        raise ExpressionError(f"only {', '.join(_FUNCTIONS)} can be called")
    what = type(node).__name__.lower()
    raise ExpressionError(f"{what!r} is not allowed in an expression (allowed: {ALLOWED})")


def names(tree: ast.Expression) -> set[str]:
    """The names an expression uses (besides the functions and true/false)."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called
            and n.id not in _CONSTANTS}


def evaluate(tree: ast.Expression, values: Mapping[str, Any]) -> Any:
    """The value of a parsed expression with these names; ExpressionError for an unknown
    name, a division by zero, a result too large, or a value of the wrong kind."""
    try:
        return _value(tree.body, values)
    except ZeroDivisionError:
        raise ExpressionError("it divides by zero") from None
    except (TypeError, OverflowError, ValueError) as err:
        if isinstance(err, ExpressionError):
            raise
        raise ExpressionError(f"it cannot be worked out: {err}") from None


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, bool):
            return value
        raise ExpressionError(f"{value!r} is not a number")
    if isinstance(value, int) and abs(value) >= MAX_INT:
        raise ExpressionError(f"a value reaches {MAX_INT:,} or more")
    return value


def _value(node: ast.AST, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if node.id not in values:
            known = ", ".join(sorted(values)) or "none"
            raise ExpressionError(f"unknown name {node.id!r} (names here: {known})")
        return _number(values[node.id])
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left, values), _value(node.right, values)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ExpressionError(f"an exponent above {MAX_EXPONENT}")
        return _number(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp):
        return _number(_UNARY[type(node.op)](_value(node.operand, values)))
    if isinstance(node, ast.Compare):
        left = _value(node.left, values)
        for op, right_node in zip(node.ops, node.comparators):
            right = _value(right_node, values)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        result = _value(node.values[0], values)
        for item in node.values[1:]:
            if isinstance(node.op, ast.And) == bool(result):
                result = _value(item, values)
        return result
    if isinstance(node, ast.IfExp):
        return _value(node.body if _value(node.test, values) else node.orelse, values)
    if isinstance(node, ast.Call):
        return _number(_FUNCTIONS[node.func.id](*(_value(a, values) for a in node.args)))
    raise ExpressionError(f"{type(node).__name__.lower()!r} is not allowed")  # (parse refuses it first)
