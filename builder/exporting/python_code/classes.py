"""Classes for the graph and its composite blocks: the root GraphModule and every nested one
(a graph file used as a block) become classes of their own; uses that differ only in numbers
(``width``) share one class whose constructor takes them (``DoubleConv(in_channels=1,
out_channels=16)``)."""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field
from typing import Any

from torch import fx

from builder.exporting.errors import ExportError
from builder.exporting.python_code.calls import Arg, Call, Param, Unwritable, same
from builder.exporting.python_code.constructors import Namer, constructor_call
from builder.exporting.python_code.forward import forward_source


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
                    except Unwritable as err:
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
        varying = [path for path, values in slots.items() if not all(same(v, values[0]) for v in values)]
        groups: list[list[tuple]] = []
        for path in varying:
            for group in groups:
                if all(same(a, b) for a, b in zip(slots[group[0]], slots[path])):
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
            if not name.isidentifier():  # a layer named "0" (a repeated node's repetitions)
                name = f"layer{name}"
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
