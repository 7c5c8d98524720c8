"""Copied project source: modules defined by the project (residual blocks, Inception,
attention ...) are copied into model.py as source (``inspect.getsource``), with every
function, class and constant of the project that they use, and the imports they use
(standard library and torch only; anything else is an ExportError)."""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any

import torch

from blocks.modules.arguments import keeps_arguments
from builder.exporting.errors import ExportError
from builder.exporting.python_code.calls import Unwritable, render_value, same

#: packages whose code may be copied into model.py (never imported by it)
PROJECT_PACKAGES = ("blocks", "builder", "gui", "modelbuilder")
#: decorators of project classes that are dropped from the copied source
DROPPED_DECORATORS = {keeps_arguments.__name__}


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
                    if not same(eval(text, {"float": float, "torch": torch}), value):
                        raise Unwritable(text)
                except Unwritable:
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
