"""``write_python``: a trained model as a standalone ``model.py`` that needs only torch, and
its weights beside it (``model.pt``, a plain state_dict that ``torch.load(...,
weights_only=True)`` reads).

The file holds an ordinary ``nn.Module`` class named after the graph: ``__init__`` builds one
layer per node (``self.conv1 = nn.Conv2d(1, 6, kernel_size=5)``), ``forward`` is straight
Python (``x = self.conv1(image)``), and ``load(weights_path=None)`` returns the trained
model in eval mode. How each part is written:

* constructor calls: for each layer, the first of these whose result rebuilds an identical
  layer (same class, same ``repr``, same parameter and buffer names and shapes, same plain
  settings such as ``self.dim``, in it and in its submodules; built on the meta device
  without random initialization, so checking costs no memory or time): the arguments the module
  recorded (``@keeps_arguments`` in ``blocks/modules``); a known rule for a few project
  modules that do not record; the constructor's signature read back from the layer's
  attributes (every standard ``torch.nn`` layer: ``in_channels``, ``kernel_size`` ...,
  ``bias`` from whether the bias parameter exists), tuples of equal numbers written as one
  number where that builds the same layer, arguments equal to their default left out;
  ``repr(layer)`` read as code; ``nn.Sequential`` from its children. A layer none of these
  can rebuild is an ExportError naming the node.
* modules defined by the project (residual blocks, Inception, attention ...) are copied in
  as source (``inspect.getsource``), with every function, class and constant of the project
  that they use, and the imports they use (standard library and torch only; anything else
  is an ExportError).
* a composite block (a graph file used as a block) becomes a class of its own; uses that
  differ only in numbers (``width``) share one class whose constructor takes them
  (``DoubleConv(in_channels=1, out_channels=16)``).
* ``forward`` is written from the torch.fx graph: a value used once, by the very next line,
  lives in ``x``; a value used more than once (a skip connection) keeps its node's name.

After writing, the file is imported in a fresh module, ``load()`` is run and its outputs are
compared with the compiled model (``check_parity``). Both files are written in a scratch
folder beside the target, checked there, and then renamed into place, so a failed or killed
export leaves nothing under the final names.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import inspect
import io
import keyword
import math
import operator
import os
import re
import shutil
import sys
import tempfile
import textwrap
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn
from torch.overrides import TorchFunctionMode

from builder.compiler import class_name
from builder.exporting.errors import ExportError
from builder.exporting.files import write_atomic
from builder.exporting.parity import check_parity

#: packages whose code may be copied into model.py (never imported by it)
PROJECT_PACKAGES = ("blocks", "builder", "gui", "modelbuilder")
#: decorators of project classes that are dropped from the copied source
DROPPED_DECORATORS = {"keeps_arguments"}
RECORDED = "init_arguments"  # blocks.modules.arguments.ATTRIBUTE
LINE = 100
MAX_POSITIONAL = 2  # more positional arguments than this read as a puzzle
#: names that a generated forward may use, so never local variable names
LOCAL_RESERVED = frozenset({"self", "torch", "math", "operator", "getattr"})

# Constructor arguments of project modules that neither record them nor keep them as
# attributes of the same name: "module.qualname" -> module -> {argument: value}.
def _transformer_layer(m: nn.Module) -> dict[str, Any]:
    activation = m.activation
    name = getattr(activation, "__name__", None) or type(activation).__name__.lower()
    return {"d_model": m.self_attn.embed_dim, "nhead": m.self_attn.num_heads,
            "dim_feedforward": m.linear1.out_features, "dropout": m.dropout.p, "activation": name,
            "layer_norm_eps": m.norm1.eps, "batch_first": m.self_attn.batch_first, "norm_first": m.norm_first,
            "bias": m.linear1.bias is not None}


ARGUMENT_RULES: dict[str, Callable[[nn.Module], dict[str, Any]]] = {
    "blocks.modules.cnn.GlobalAvgPoolModule": lambda m: {"spatial_dims": len(m.dims)},
    "torch.nn.modules.transformer.TransformerEncoderLayer": _transformer_layer,
    "torch.nn.modules.transformer.TransformerDecoderLayer": _transformer_layer,
}


class _Unwritable(Exception):
    """One way of writing a constructor call does not work for this module."""


# --- constructor calls ----------------------------------------------------------------------
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
    """Python source for ``value``; _Unwritable when there is none."""
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
    raise _Unwritable(f"cannot write {type(value).__name__} value {value!r} as code")


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values that cannot be compared are not the same
        return False


def _signature(cls: type) -> list[inspect.Parameter]:
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError) as err:
        raise _Unwritable(f"no constructor signature ({err})") from None
    return [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _call_from_arguments(callee: str, cls: type, arguments: dict[str, Any]) -> Call:
    """The first required parameters positionally (``nn.Conv2d(1, 6, kernel_size=5)``), the
    others as keywords, left out when equal to their default."""
    args, positional_ok = [], True
    for p in _signature(cls):
        if p.name not in arguments:
            if p.default is p.empty:
                raise _Unwritable(f"no value for the required argument {p.name!r}")
            positional_ok = False
            continue
        value = arguments[p.name]
        if p.default is not p.empty and _same(value, p.default):
            positional_ok = False
            continue
        render_value(value)  # writable?
        as_positional = (positional_ok and p.default is p.empty and p.kind != p.KEYWORD_ONLY
                         and len(args) < MAX_POSITIONAL)
        positional_ok = positional_ok and as_positional
        args.append(Arg(p.name, value, as_positional))
    return Call(callee, args)


def _arguments_from_attributes(module: nn.Module, compact: bool) -> dict[str, Any]:
    arguments = {}
    for p in _signature(type(module)):
        if p.name in ("device", "dtype") or p.name.startswith("_"):
            continue
        if not hasattr(module, p.name):
            continue
        value = getattr(module, p.name)
        if (value is None or isinstance(value, torch.Tensor)) and isinstance(p.default, bool):
            value = value is not None  # bias=True/False from whether the parameter exists
        if isinstance(value, (torch.Tensor, nn.Module)):
            raise _Unwritable(f"attribute {p.name!r} is a {type(value).__name__}")
        if compact and isinstance(value, tuple) and value and all(_same(v, value[0]) for v in value):
            value = value[0]
        arguments[p.name] = value
    return arguments


# Layers that expand a number to a tuple of equal numbers when they use it (pooling keeps
# ``kernel_size=2`` as given, convolutions store ``(2, 2)``): for these ``2`` and ``(2, 2)``
# build the same layer, so their reprs are compared with such tuples written as one number.
_SAME_AS_TUPLE = (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
                  nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd, nn.Upsample)
_EQUAL_TUPLE = re.compile(r"\((-?[0-9.]+)(?:, \1)+\)")


_MODULE_INTERNALS = frozenset(vars(nn.Module()))


def _settings(module: nn.Module) -> dict[str, Any]:
    """The plain values a module keeps (``self.dim = dim``), which ``forward`` may use."""
    found = {}
    for key, value in vars(module).items():
        if key in _MODULE_INTERNALS or key == RECORDED:
            continue
        if _plain(value):
            found[key] = repr(value)
    return found


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _layout(module: nn.Module) -> tuple:
    """What a rebuilt module must share with the original: class, repr, parameter and
    buffer names and shapes, and the plain settings of it and of every submodule."""
    text = repr(module)
    if isinstance(module, _SAME_AS_TUPLE):
        text = _EQUAL_TUPLE.sub(r"\1", text)
        settings = []
    else:
        settings = [(name, type(m), _settings(m)) for name, m in module.named_modules()]
    return (type(module), text, settings,
            [(k, tuple(v.shape)) for k, v in module.state_dict().items()],
            [(k, tuple(v.shape)) for k, v in module.named_buffers()])


class Namer:
    """Module-level names of model.py: the project classes it copies, generated classes."""

    def __init__(self) -> None:
        self.copied: dict[str, type] = {}  # class name -> project class (source copied in)

    def callee(self, cls: type) -> str:
        if cls.__module__.startswith("torch.") and getattr(nn, cls.__name__, None) is cls:
            return f"nn.{cls.__name__}"
        if cls.__module__.split(".")[0] != "torch":
            known = self.copied.get(cls.__name__)
            if known is not None and known is not cls:
                raise ExportError(f"two different modules are both called {cls.__name__} "
                                  f"({known.__module__} and {cls.__module__}); model.py can hold only one")
            self.copied[cls.__name__] = cls
            return cls.__name__
        raise _Unwritable(f"{cls.__module__}.{cls.__qualname__} is not importable as nn.{cls.__name__}")

    def namespace(self) -> dict[str, Any]:
        return {"nn": nn, "torch": torch, "OrderedDict": OrderedDict, "float": float, **self.copied}


class _NoRandomInit(TorchFunctionMode):
    """Skips random initialization while a layer is rebuilt on the meta device for checking
    (the meta kernels of ``normal_`` import half of torch's compiler stack on first use)."""

    SKIPPED = frozenset({"normal_", "uniform_", "trunc_normal_", "exponential_", "bernoulli_", "random_"})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in self.SKIPPED and (args or "tensor" in kwargs):
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


def _verified(call: Call, module: nn.Module, namer: Namer) -> Call:
    text = call.render()
    expected = _layout(module)
    for device in ("meta", "cpu"):
        try:
            with torch.device(device), _NoRandomInit():
                rebuilt = eval(text, namer.namespace())
        except Exception as err:  # noqa: BLE001 - any failure means "not this way"
            failure = f"{text} fails: {err}"
            continue
        if _layout(rebuilt) == expected:
            return call
        failure = f"{text} builds a different layer"
        break
    raise _Unwritable(failure)


def constructor_call(module: nn.Module, namer: Namer) -> Call:
    """The constructor call that rebuilds ``module`` (not a GraphModule); _Unwritable, with
    the reason of every way tried, if none does."""
    cls = type(module)
    callee = namer.callee(cls)
    attempts: list[Callable[[], Call]] = []
    if cls is nn.Sequential:
        attempts.append(lambda: _sequential_call(module, namer))
    recorded = module.__dict__.get(RECORDED)
    if isinstance(recorded, dict):
        attempts.append(lambda: _call_from_arguments(callee, cls, recorded))
    rule = ARGUMENT_RULES.get(f"{cls.__module__}.{cls.__qualname__}")
    if rule is not None:
        attempts.append(lambda: _call_from_arguments(callee, cls, rule(module)))
    attempts.append(lambda: _call_from_arguments(callee, cls, _arguments_from_attributes(module, compact=True)))
    attempts.append(lambda: _call_from_arguments(callee, cls, _arguments_from_attributes(module, compact=False)))
    attempts.append(lambda: _call_from_repr(module, callee))
    reasons = []
    for attempt in attempts:
        try:
            return _verified(attempt(), module, namer)
        except _Unwritable as err:
            reasons.append(str(err))
    raise _Unwritable("; ".join(dict.fromkeys(reasons)))


def _call_from_repr(module: nn.Module, callee: str) -> Call:
    text = repr(module)
    name = type(module).__name__
    if not text.startswith(name + "(") or "\n" in text:
        raise _Unwritable(f"repr {text.splitlines()[0]!r} is not a constructor call")
    return Call(callee, raw=text[len(name) + 1:-1])


def _sequential_call(module: nn.Sequential, namer: Namer) -> Call:
    children = list(module.named_children())
    calls = [constructor_call(child, namer) for _, child in children]
    if [name for name, _ in children] == [str(i) for i in range(len(children))]:
        return Call("nn.Sequential", [Arg(str(i), c, True) for i, c in enumerate(calls)])
    pairs = [(name, c) for (name, _), c in zip(children, calls)]
    return Call("nn.Sequential", [Arg("args", Call("OrderedDict", [Arg("items", [tuple(p) for p in pairs], True)]), True)])


# --- forward ---------------------------------------------------------------------------------
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


# --- classes for the graph and its composite blocks ------------------------------------------
def _template(value: Any) -> Any:
    """``value`` with its plain values blanked: what instances of a class must share."""
    if isinstance(value, Call):
        return ("call", value.callee, value.raw, tuple((a.name, a.positional, _template(a.value)) for a in value.args))
    return "*"


def _leaves(value: Any, path: tuple) -> list[tuple[tuple, str, Any]]:
    """(slot path, argument name, value) of every plain value inside a Call."""
    found = []
    if isinstance(value, Call):
        for i, a in enumerate(value.args):
            if isinstance(a.value, Call):
                found += _leaves(a.value, path + (i,))
            else:
                found.append((path + (i,), a.name, a.value))
    return found


def _substitute(value: Any, path: tuple, slots: dict[tuple, Param]) -> Any:
    if not isinstance(value, Call) or value.raw is not None:
        return value
    args = []
    for i, a in enumerate(value.args):
        key = path + (i,)
        if isinstance(a.value, Call):
            args.append(Arg(a.name, _substitute(a.value, key, slots), a.positional))
        else:
            args.append(Arg(a.name, slots.get(key, a.value), a.positional))
    return Call(value.callee, args)


@dataclass
class GeneratedClass:
    name: str
    doc: str
    params: list[str]
    layers: list[tuple[str, Any]]  # (attribute, Call with Params)
    forward: str
    instances: dict[int, Call] = field(default_factory=dict)  # id(GraphModule) -> call that builds it


class ClassWriter:
    """Turns the root GraphModule and every nested one into generated classes."""

    def __init__(self, root: fx.GraphModule, root_name: str, doc: str, reserved: set[str], imports: set[str]):
        self.namer = Namer()
        self.reserved = reserved
        self.imports = imports
        self.calls: dict[int, Call] = {}  # id(leaf module) -> its constructor call
        self.instances: dict[int, fx.GraphModule] = {}
        self.keys: dict[int, Any] = {}
        self._collect(root)
        self.classes: list[GeneratedClass] = []
        self.by_key: dict[Any, GeneratedClass] = {}
        self.root_name, self.root_doc, self.root = root_name, doc, root
        self.docs: dict[int, str] = {}  # id(nested GraphModule) -> its class docstring

    def _collect(self, gm: fx.GraphModule) -> Any:
        if id(gm) in self.keys:
            return self.keys[id(gm)]
        parts = []
        for attr, child in gm.named_children():
            if isinstance(child, fx.GraphModule):
                parts.append((attr, "graph", self._collect(child)))
            else:
                if id(child) not in self.calls:
                    try:
                        self.calls[id(child)] = constructor_call(child, self.namer)
                    except _Unwritable as err:
                        raise ExportError(f"cannot write the constructor of layer {attr!r} "
                                          f"({type(child).__module__}.{type(child).__qualname__}): {err}") from None
                parts.append((attr, "layer", _template(self.calls[id(child)])))
        key = (gm.code, tuple(parts))
        self.keys[id(gm)] = key
        self.instances[id(gm)] = gm
        return key

    def write(self) -> list[GeneratedClass]:
        self._group(self.keys[id(self.root)], root=True)
        return self.classes

    def _group(self, key: Any, root: bool = False) -> GeneratedClass:
        if key in self.by_key:
            return self.by_key[key]
        members = [gm for i, gm in self.instances.items() if self.keys[i] == key]
        if root:
            members = [self.root]
        for attr, kind, sub in key[1]:
            if kind == "graph":
                self._group(sub)
        per_instance = [[(attr, self._child_call(gm, attr)) for attr, _ in gm.named_children()] for gm in members]
        # slots whose value differs between instances become constructor parameters
        slots: dict[tuple, list[Any]] = {}
        names: dict[tuple, str] = {}
        for layers in per_instance:
            for li, (attr, call) in enumerate(layers):
                for path, arg_name, value in _leaves(call, (li,)):
                    slots.setdefault(path, []).append(value)
                    names[path] = (attr, arg_name)
        varying = [path for path, values in slots.items() if not all(_same(v, values[0]) for v in values)]
        groups: list[list[tuple]] = []
        for path in varying:
            for group in groups:
                if all(_same(a, b) for a, b in zip(slots[group[0]], slots[path])):
                    group.append(path)
                    break
            else:
                groups.append([path])
        wanted = []
        for group in groups:
            counts: dict[str, int] = {}
            for path in group:
                counts[names[path][1]] = counts.get(names[path][1], 0) + 1
            wanted.append(max(counts, key=lambda k: (counts[k], -list(counts).index(k))))
        params, assignment = [], {}
        for group, base in zip(groups, wanted):
            name = base if wanted.count(base) == 1 else f"{names[group[0]][0]}_{base}"
            while name in params or name in self.reserved or keyword.iskeyword(name) or name == "self":
                name += "_"
            params.append(name)
            for path in group:
                assignment[path] = Param(name)
        layers = [(attr, _substitute(call, (li,), assignment)) for li, (attr, call) in enumerate(per_instance[0])]
        gm = members[0]
        name = self.root_name if root else self._class_name(type(gm).__name__)
        doc = self.root_doc if root else next(
            (self.docs[id(m)] for m in members if id(m) in self.docs),
            f"The composite block {type(gm).__name__} (a graph file used as a block).")
        made = GeneratedClass(name, doc, params, layers,
                              forward_source(gm, self.imports))
        for gm_i, layers_i in zip(members, per_instance):
            values = {}
            for group, pname in zip(groups, params):
                values[pname] = slots[group[0]][members.index(gm_i)]
            made.instances[id(gm_i)] = Call(name, [Arg(p, values[p]) for p in params])
        self.by_key[key] = made
        self.classes.append(made)
        return made

    def _child_call(self, gm: fx.GraphModule, attr: str) -> Call:
        child = getattr(gm, attr)
        if isinstance(child, fx.GraphModule):
            return self.by_key[self.keys[id(child)]].instances[id(child)]
        return self.calls[id(child)]

    def _class_name(self, wanted: str) -> str:
        name = wanted if wanted.isidentifier() else "Block"
        base, n = name, 2
        while name in self.reserved or name in self.namer.copied or name == self.root_name or \
                any(c.name == name for c in self.classes):
            name, n = f"{base}{n}", n + 1
        self.reserved.add(name)
        return name


def class_source(made: GeneratedClass) -> str:
    init_params = "".join(f", {p}" for p in made.params)
    lines = [f"class {made.name}(nn.Module):", f'    """{made.doc}"""', "",
             f"    def __init__(self{init_params}) -> None:", "        super().__init__()"]
    for attr, call in made.layers:
        if attr.isidentifier() and not keyword.iskeyword(attr):
            prefix = f"        self.{attr} = "
            lines.append(prefix + call.render(8, len(prefix)) + "")
        else:
            prefix = f"        self.add_module({attr!r}, "
            lines.append(prefix + call.render(8, len(prefix)) + ")")
    return "\n".join(lines) + "\n\n" + made.forward


# --- copied project source --------------------------------------------------------------------
@dataclass
class _Copied:
    name: str
    source: str
    module: str
    line: int
    deps: set[str]  # copied names it uses
    needs: set[str] = field(default_factory=set)  # names it uses while being defined


def _definition_time_names(definition: ast.AST) -> set[str]:
    """Names a def or class statement evaluates when it runs (bases, decorators, defaults,
    class body), not those its functions use when called."""
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and not top:
            parts = list(getattr(node, "decorator_list", [])) + list(node.args.defaults) + \
                [d for d in node.args.kw_defaults if d is not None]
            for part in parts:
                visit(part, False)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and top:
            for part in list(node.decorator_list) + list(node.args.defaults) + \
                    [d for d in node.args.kw_defaults if d is not None]:
                visit(part, False)
            return
        if isinstance(node, ast.Name):
            found.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, False)

    visit(definition, True)
    return found


class SourceCopier:
    """Collects the source of project classes and everything they use at module level."""

    def __init__(self) -> None:
        self.items: dict[str, _Copied] = {}
        self.imports: dict[str, str] = {}  # bound name -> import statement
        self.module_order: list[str] = []
        self._module_imports: dict[str, dict[str, tuple[str, str | None]]] = {}

    def _imports_of(self, module: Any) -> dict[str, tuple[str, str | None]]:
        """Top-level import bindings of a module: name -> (module, imported name or None)."""
        if module.__name__ not in self._module_imports:
            found: dict[str, tuple[str, str | None]] = {}
            try:
                tree = ast.parse(inspect.getsource(module))
            except (OSError, TypeError, SyntaxError):
                tree = ast.Module(body=[], type_ignores=[])
            for stmt in tree.body:
                if isinstance(stmt, ast.Import):
                    for alias in stmt.names:
                        bound = alias.asname or alias.name.split(".")[0]
                        found[bound] = (alias.name if alias.asname else alias.name.split(".")[0], None)
                elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
                    for alias in stmt.names:
                        found[alias.asname or alias.name] = (stmt.module, alias.name)
            self._module_imports[module.__name__] = found
        return self._module_imports[module.__name__]

    def _add_import(self, bound: str, origin: str, name: str | None) -> None:
        root = origin.split(".")[0]
        if root != "torch" and root not in sys.stdlib_module_names:
            raise ExportError(f"model.py would need {origin}, which is neither torch nor the standard library")
        if name is None:
            statement = f"import {origin}" if origin == bound else f"import {origin} as {bound}"
        else:
            statement = f"from {origin} import {name}" + (f" as {bound}" if bound != name else "")
        if self.imports.get(bound, statement) != statement:
            raise ExportError(f"the copied modules bind {bound!r} differently "
                              f"({self.imports[bound]!r} and {statement!r})")
        self.imports[bound] = statement

    def add(self, obj: Any) -> str:
        """Copy class or function ``obj`` (and what it uses); returns its name."""
        name = obj.__name__
        module = sys.modules.get(obj.__module__)
        if name in self.items:
            if self.items[name].module != obj.__module__:
                raise ExportError(f"model.py would need two definitions named {name} "
                                  f"({self.items[name].module} and {obj.__module__})")
            return name
        if module is None or getattr(module, name, None) is not obj:
            raise ExportError(f"{obj.__module__}.{obj.__qualname__} is not defined at the top level of its module, "
                              "so its source cannot be copied into model.py")
        try:
            source = textwrap.dedent(inspect.getsource(obj))
            line = inspect.getsourcelines(obj)[1]
        except (OSError, TypeError) as err:
            raise ExportError(f"cannot read the source of {obj.__module__}.{obj.__qualname__} ({err})") from None
        tree = ast.parse(source)
        definition = tree.body[0]
        source = self._drop_decorators(source, definition)
        if obj.__module__ not in self.module_order:
            self.module_order.append(obj.__module__)
        item = _Copied(name, source, obj.__module__, line, set())
        self.items[name] = item
        tree = ast.parse(source)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        item.needs = _definition_time_names(tree.body[0]) - {name}
        bindings = self._imports_of(module)
        for used_name in sorted(used - {name}):
            if used_name not in vars(module):
                continue  # a builtin or a local name
            value = vars(module)[used_name]
            if used_name in bindings:
                origin, imported = bindings[used_name]
                if origin == "__future__":
                    continue
                if origin.split(".")[0] not in PROJECT_PACKAGES:
                    self._add_import(used_name, origin, imported)
                    continue
            if inspect.isclass(value) or inspect.isfunction(value):
                if value.__module__.split(".")[0] not in PROJECT_PACKAGES and value.__module__ != obj.__module__:
                    raise ExportError(f"{obj.__qualname__} uses {used_name} from {value.__module__}, "
                                      "which model.py cannot import")
                item.deps.add(self.add(value))
            elif inspect.ismodule(value):
                self._add_import(used_name, value.__name__, None) if value.__name__ == used_name else \
                    self._add_import(used_name, value.__name__.rpartition(".")[0] or value.__name__,
                                     value.__name__.rpartition(".")[2] if "." in value.__name__ else None)
            else:
                try:
                    text = render_value(value)
                    if not _same(eval(text, {"float": float, "torch": torch}), value):
                        raise _Unwritable(text)
                except _Unwritable:
                    raise ExportError(f"{obj.__qualname__} uses {used_name} ({type(value).__name__}) from "
                                      f"{obj.__module__}, which cannot be written into model.py") from None
                if used_name not in self.items:
                    self.items[used_name] = _Copied(used_name, f"{used_name} = {text}\n", obj.__module__, 0, set())
                item.deps.add(used_name)
        return name

    @staticmethod
    def _drop_decorators(source: str, definition: ast.AST) -> str:
        dropped = []
        for decorator in getattr(definition, "decorator_list", []):
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
            if name in DROPPED_DECORATORS:
                dropped.extend(range(decorator.lineno, decorator.end_lineno + 1))
        if not dropped:
            return source
        return "".join(line for i, line in enumerate(source.splitlines(keepends=True), start=1)
                       if i not in dropped)

    def ordered(self) -> list[_Copied]:
        """Definitions in source order (constants first), moved only where a definition needs
        another one to exist when it runs (a base class, a decorator, a default value)."""
        remaining = dict(self.items)
        done: list[_Copied] = []

        def rank(item: _Copied) -> tuple:
            return (item.line != 0, self.module_order.index(item.module) if item.module in self.module_order else 0,
                    item.line)

        while remaining:
            placed = {d.name for d in done}
            ready = [i for i in remaining.values() if not ((i.needs & set(self.items)) - placed)]
            chosen = min(ready or remaining.values(), key=rank)
            done.append(chosen)
            del remaining[chosen.name]
        return done


# --- the file --------------------------------------------------------------------------------
def _example_input(port) -> str:
    shape = ", ".join(str(n) for n in [1, *port.shape])
    if port.dtype.startswith("int"):
        return f"torch.randint(0, 2, ({shape}))"
    return f"torch.randn({shape})"


def _composite_docs(trained) -> dict[int, str]:
    """Docstrings for the composite blocks the graph uses directly: the first line of the
    inner graph's description and its file."""
    docs = {}
    graph = trained.graph
    for node_id, node in graph.nodes.items():
        child = getattr(trained.model, node_id, None)
        if node.graph is None or not isinstance(child, fx.GraphModule):
            continue
        try:
            from builder.yaml_format import load_graph

            base = Path(graph.path).parent if graph.path else Path.cwd()
            description = (load_graph(base / node.graph).description or "").strip()
        except Exception:  # noqa: BLE001 - a docstring is not worth failing the export
            description = ""
        first = description.splitlines()[0] if description else f"The composite block {type(child).__name__}."
        docs[id(child)] = f"{first}\n\n    The graph file {node.graph}, used as a block."
    return docs


def _merged(statements: set[str]) -> list[str]:
    """``import`` lines first, then one ``from M import a, b`` line per module."""
    plain = sorted(s for s in statements if s.startswith("import "))
    names: dict[str, list[str]] = {}
    for statement in statements:
        if statement.startswith("from "):
            _, module, _, name = statement.split(" ", 3)
            names.setdefault(module, []).append(name)
    return plain + [f"from {m} import {', '.join(sorted(names[m]))}" for m in sorted(names)]


def python_source(trained, weights_name: str) -> str:
    """The text of model.py for ``trained`` (a TrainedModel)."""
    graph = trained.graph
    graph_name = graph.name or "model"
    imports: set[str] = set()
    copier = SourceCopier()
    base_reserved = {"torch", "nn", "Tensor", "Path", "OrderedDict", "load", "math", "operator",
                     "CLASS_NAMES", "INPUT_NORMALIZATION", "annotations"}
    root_name = class_name(graph_name)
    writer = ClassWriter(trained.model, root_name, "", set(base_reserved), imports)
    for cls in writer.namer.copied.values():
        copier.add(cls)
    copied_names = set(copier.items) | set(copier.imports)
    while root_name in copied_names or root_name in base_reserved:
        root_name += "Model"
    writer.root_name = root_name
    writer.reserved |= copied_names
    description = (getattr(graph, "description", None) or "").strip()
    writer.root_doc = (description.splitlines()[0] if description else f"The {graph_name} model.") + \
        f"\n\n    Generated by Model Builder from the graph {graph_name!r}."
    writer.docs = _composite_docs(trained)
    classes = writer.write()
    main_class = classes[-1]

    constants = []
    if trained.class_names:
        try:
            constants.append(f"CLASS_NAMES = {render_value(list(trained.class_names))}")
        except _Unwritable:
            pass
    if trained.normalization:
        try:
            constants.append(f"INPUT_NORMALIZATION = {render_value(trained.normalization)}")
        except _Unwritable:
            pass

    ins = ", ".join(f"{p.name} [batch, {', '.join(map(str, p.shape))}] {p.dtype}" for p in trained.inputs)
    outs = ", ".join(f"{p.name} [batch, {', '.join(map(str, p.shape))}]" for p in trained.outputs)
    module_name = Path(weights_name).stem
    header = [
        f'"""{main_class.name}: the {graph_name} model, exported by Model Builder.',
        "",
        "Needs only PyTorch. Usage:",
        "",
        f"    from {module_name} import load" if module_name.isidentifier() else "    load = ...  # import load from this file",
        f"    model = load()  # the trained weights from {weights_name} beside this file, in eval mode",
        f"    outputs = model({', '.join(p.name for p in trained.inputs)})",
        "",
        f"Inputs: {ins}.",
        f"Outputs: {outs}.",
    ]
    if constants:
        header.append("CLASS_NAMES and INPUT_NORMALIZATION say what the outputs mean and how inputs were scaled.")
    header.append('"""')

    stdlib = {"from pathlib import Path"}
    torch_lines = {"import torch", "from torch import Tensor", "from torch import nn"}
    if any("OrderedDict(" in class_source(c) for c in classes):  # an nn.Sequential with named layers
        stdlib.add("from collections import OrderedDict")
    for statement in list(copier.imports.values()) + [f"import {m}" for m in imports]:
        root = statement.split()[1].split(".")[0]
        (torch_lines if root == "torch" else stdlib).add(statement)
    import_lines = ["from __future__ import annotations", "", *_merged(stdlib), "", *_merged(torch_lines)]
    parts = ["\n".join(header), "\n".join(import_lines)]
    if constants:
        parts.append("\n".join(constants))
    copied = copier.ordered()
    if copied:
        current = None
        for item in copied:
            text = item.source.rstrip()
            if item.module != current:
                current = item.module
                text = f"# --- copied from Model Builder: {current.replace('.', '/')}.py ---\n{text}"
            parts.append(text)
    parts += [class_source(c) for c in classes]
    parts.append(
        f"def load(weights_path: str | Path | None = None) -> {main_class.name}:\n"
        f'    """The trained model in eval mode, with the weights from ``weights_path`` (a state_dict\n'
        f'    saved with torch.save; default: {weights_name} beside this file)."""\n'
        f"    path = Path(weights_path) if weights_path is not None else Path(__file__).with_name({weights_name!r})\n"
        f"    model = {main_class.name}()\n"
        f'    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))\n'
        f"    return model.eval()\n")
    example = ", ".join(_example_input(p) for p in trained.inputs)
    parts.append(
        'if __name__ == "__main__":\n'
        "    model = load()\n"
        "    with torch.no_grad():\n"
        f"        outputs = model({example})\n"
        "    print(outputs.shape if isinstance(outputs, Tensor) else [o.shape for o in outputs])\n")
    header_text, *rest = parts
    return header_text + "\n\n" + "\n\n\n".join(p.rstrip("\n") for p in rest) + "\n"


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
