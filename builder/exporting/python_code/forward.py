"""``forward`` written from a GraphModule's torch.fx graph: a value used once, by the very
next line, lives in ``x``; a value used more than once (a skip connection) keeps its node's
name."""

from __future__ import annotations

import builtins
import keyword
import operator
import sys
import textwrap
from typing import Any

from torch import fx

from builder.exporting.errors import ExportError
from builder.exporting.python_code.calls import render_value

#: names that a generated forward may use, so never local variable names
LOCAL_RESERVED = frozenset({"self", "torch", "math", "operator", "getattr"})


def _attribute(target: str) -> str:
    parts = target.split(".")
    text = "self"
    for part in parts:
        text = f"{text}.{part}" if part.isidentifier() and not keyword.iskeyword(part) else f"getattr({text}, {part!r})"
    return text


def _qualified(function: Any, imports: set[str]) -> str:
    if function is getattr(builtins, getattr(function, "__name__", ""), None):
        return function.__name__
    name = fx.node._get_qualified_name(function)
    root = name.split(".")[0]
    if root not in ("torch", "operator", "math") and root not in sys.stdlib_module_names:
        raise ExportError(f"the model calls {name}, which model.py cannot import (it needs only torch)")
    imports.add(root)
    return name


_BINARY = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/", operator.matmul: "@",
           operator.floordiv: "//", operator.pow: "**", operator.mod: "%"}


def forward_source(gm: fx.GraphModule, imports: set[str]) -> str:
    """The ``forward`` method (indented for a class body) of a GraphModule's fx graph."""
    nodes = list(gm.graph.nodes)
    placeholders = [n for n in nodes if n.op == "placeholder"]
    body = [n for n in nodes if n.op not in ("placeholder", "output")]
    output = next(n for n in nodes if n.op == "output")
    reserved = LOCAL_RESERVED
    names = {}
    for n in nodes:
        base = n.name if n.name.isidentifier() and not keyword.iskeyword(n.name) else f"v_{n.name}"
        while base in reserved or base == "self":
            base += "_"
        names[n] = base
    temp = next((t for t in ("x", "h", "out", "y", "z") if t not in reserved), None)
    statements = body + [output]
    position = {n: i for i, n in enumerate(statements)}
    holder: dict[str, fx.Node] = {n_name: n for n, n_name in names.items() if n.op == "placeholder"}
    variable: dict[fx.Node, str] = {n: names[n] for n in placeholders}

    def last_use(node: fx.Node) -> int:
        return max((position[u] for u in node.users), default=-1)

    def arg(a: Any) -> str:
        if isinstance(a, fx.Node):
            return variable[a]
        if isinstance(a, (list, tuple)):
            inner = ", ".join(arg(x) for x in a)
            return f"[{inner}]" if isinstance(a, list) else f"({inner}{',' if len(a) == 1 else ''})"
        if isinstance(a, dict):
            return "{" + ", ".join(f"{k!r}: {arg(v)}" for k, v in a.items()) + "}"
        return render_value(a)

    def call_args(n: fx.Node, skip: int = 0) -> str:
        return ", ".join([arg(a) for a in n.args[skip:]] + [f"{k}={arg(v)}" for k, v in n.kwargs.items()])

    lines = []
    for i, n in enumerate(body):
        if n.op == "call_module":
            expr = f"{_attribute(n.target)}({call_args(n)})"
        elif n.op == "call_method":
            expr = f"{arg(n.args[0])}.{n.target}({call_args(n, 1)})"
        elif n.op == "get_attr":
            expr = _attribute(n.target)
        elif n.target is operator.getitem:
            expr = f"{arg(n.args[0])}[{arg(n.args[1])}]"
        elif n.target in _BINARY and len(n.args) == 2 and not n.kwargs:
            expr = f"{arg(n.args[0])} {_BINARY[n.target]} {arg(n.args[1])}"
        else:
            expr = f"{_qualified(n.target, imports)}({call_args(n)})"
        # a value used once, by the next statement, lives in the temporary; others keep their name
        target = names[n]
        users = list(n.users)
        if (temp is not None and len(users) == 1 and position[users[0]] == i + 1
                and users[0].target is not operator.getitem and n.target is not operator.getitem
                and (temp not in holder or last_use(holder[temp]) <= i)):
            target = temp
        elif target in holder and holder[target] is not n and last_use(holder[target]) > i:
            target = f"{target}_{i}"
        holder[target] = n
        variable[n] = target
        lines.append(f"{target} = {expr}")
    result = output.args[0]
    if isinstance(result, tuple) and len(result) > 1:
        lines.append("return " + ", ".join(arg(r) for r in result))
    else:
        lines.append(f"return {arg(result)}")
    signature = ", ".join(["self"] + [f"{names[p]}: Tensor" for p in placeholders])
    returns = "Tensor" if isinstance(result, fx.Node) else "tuple[" + ", ".join("Tensor" for _ in result) + "]"
    text = f"def forward({signature}) -> {returns}:\n" + "".join(f"    {line}\n" for line in lines)
    return textwrap.indent(text, "    ")
