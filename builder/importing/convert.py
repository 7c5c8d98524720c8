"""Turning a traced model into a flat graph: one node per layer or operation, in the
forward's order, each through the mapper registered for its module class, function or
tensor method (:mod:`builder.importing.mapping`).

Results that hold no tensor (``x.size(0)``, ``x.shape[1]``) are kept as plain values for
the mappers that take parameters from shapes. Every operation that has no block is
collected with its module path and op, and the caller stops with the whole list.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import fx
from torch.fx.node import _get_qualified_name, map_arg
from torch.fx.operator_schemas import normalize_function

from builder.graph import Graph
from builder.importing import map_functions, map_modules, map_sequence  # noqa: F401 - they register mappers
from builder.importing.errors import Unmappable, Unmapped
from builder.importing.mapping import (
    FAILED,
    FUNCTIONS,
    METHODS,
    Built,
    Call,
    Failed,
    Meta,
    Tensor,
    TensorInfo,
    as_tensor,
    module_mapper,
)
from builder.importing.tracing import has_tensor

INPUT_DTYPES = ("float32", "int64")


def _scope(node: fx.Node) -> str:
    """The path of the module a function call happened in (``layer1.0``), or ''."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    return list(stack.values())[-1][0]


def _op_name(node: fx.Node) -> str:
    """The op for messages: ``torch.flatten``, ``F.relu``, ``operator.add``, ``Tensor.view``."""
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    try:
        name = _get_qualified_name(node.target)
    except Exception:  # noqa: BLE001 - an unusual callable
        name = getattr(node.target, "__name__", str(node.target))
    return name.replace("torch.nn.functional.", "F.").replace("_operator.", "operator.")


def _normalized(node: fx.Node, root: fx.GraphModule) -> dict | None:
    """The call's arguments by name, where torch.fx can tell them apart; None otherwise."""
    try:
        if node.op == "call_function":
            found = node.normalized_arguments(root, normalize_to_only_use_kwargs=True)
        elif node.op == "call_method" and callable(getattr(torch, str(node.target), None)):
            found = normalize_function(getattr(torch, str(node.target)), node.args, node.kwargs,
                                       normalize_to_only_use_kwargs=True)
        else:
            return None
    except Exception:  # noqa: BLE001 - ambiguous overloads and the like: positions are used instead
        return None
    return dict(found.kwargs) if found is not None else None


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    return [value]


class Converter:
    """Maps one traced model's nodes to blocks."""

    def __init__(self, module: fx.GraphModule, seen: dict[fx.Node, Any], batch: int, graph: Graph):
        self.module, self.seen, self.batch = module, seen, batch
        self.built = Built(graph)
        self.values: dict[fx.Node, Any] = {}
        self.unmapped: list[Unmapped] = []

    def run(self) -> Built:
        needed = self._needed()
        for node in self.module.graph.nodes:
            if node not in needed:  # a result nothing uses (the "_" of ``a, _ = attention(...)``)
                self.values[node] = FAILED
            elif node.op == "placeholder":
                self.values[node] = self._input(node)
            elif node.op == "get_attr":
                self.values[node] = Meta(self.seen.get(node), str(node.target))
            elif node.op == "output":
                self._outputs(node)
            else:
                self.values[node] = self._call(node)
        return self.built

    def _needed(self) -> set[fx.Node]:
        """The nodes the outputs depend on, and every input (each is a forward argument)."""
        stack = [n for n in self.module.graph.nodes if n.op in ("output", "placeholder")]
        needed: set[fx.Node] = set()
        while stack:
            node = stack.pop()
            if node not in needed:
                needed.add(node)
                stack.extend(node.all_input_nodes)
        return needed

    def _input(self, node: fx.Node) -> Any:
        if node.args:  # an argument traced at its default (mask=None)
            return Meta(node.args[0])
        seen = self.seen[node]
        if not isinstance(seen, TensorInfo) or seen.dtype not in INPUT_DTYPES:
            self.unmapped.append(Unmapped(node.name, "input", "an input that is not a float32 or int64 tensor"))
            return FAILED
        params: dict[str, Any] = {"shape": list(seen.shape[1:])}
        if seen.dtype != "float32":
            params["dtype"] = seen.dtype
        node_id = self.built.node(node.name, "input", params, [], f"{node.name} (forward argument)", fallback="x")
        self.built.traced[node_id] = node.name
        return Tensor(node_id, tuple(seen.shape[1:]), seen.dtype)

    def _call(self, node: fx.Node) -> Any:
        args = map_arg(node.args, self.values.__getitem__)
        kwargs = map_arg(node.kwargs, self.values.__getitem__)
        if any(isinstance(v, Failed) for v in _leaves((args, kwargs))):
            return FAILED  # the node it depends on is reported already
        if not has_tensor(self.seen.get(node)):
            return Meta(self.seen.get(node))
        if node.op == "call_module":
            target = self.module.get_submodule(str(node.target))
            path, op, name, scope = str(node.target), type(target).__name__, str(node.target), _scope(node)
            mapper = module_mapper(target)
        else:
            target = node.target
            op = _op_name(node)
            scope = _scope(node)
            path, name = scope or "forward", None  # a function called in the model's own forward: "forward"
            mapper = METHODS.get(str(target)) if node.op == "call_method" else FUNCTIONS.get(target)
        if mapper is None:
            self.unmapped.append(Unmapped(path, op, "no block does this"))
            return self._stand_in(node)
        named = _normalized(node, self.module)
        call = Call(self.built, node.name, path, name, scope, op, tuple(args), dict(kwargs),
                    map_arg(named, self.values.__getitem__) if named is not None else None,
                    self.seen.get(node), self.batch,
                    module=target if node.op == "call_module" else None,
                    target=target if node.op != "call_module" else None)
        try:
            return mapper(call)
        except Unmappable as err:
            self.unmapped.append(Unmapped(path, op, str(err)))
            return self._stand_in(node)

    def _stand_in(self, node: fx.Node) -> Any:
        """What an unmapped node's users see: a tensor of the shape it returned, so that the
        operations after it are mapped (and reported) too; the graph is not written."""
        seen = self.seen.get(node)
        if isinstance(seen, TensorInfo) and seen.shape and seen.shape[0] == self.batch:
            return Tensor(f"unmapped_{node.name}", tuple(seen.shape[1:]), seen.dtype)
        return FAILED

    def _outputs(self, node: fx.Node) -> None:
        results = _leaves(map_arg(node.args[0], self.values.__getitem__))
        if any(isinstance(v, Failed) for v in results):
            return
        problems = [] if results else ["the forward returns no tensor"]
        for value in results:
            try:
                as_tensor(value, "result")
            except Unmappable as err:
                problems.append(str(err))
        if problems:
            self.unmapped.extend(Unmapped("forward", "return", problem) for problem in problems)
            return
        for i, value in enumerate(results):
            hint = "out" if len(results) == 1 else f"out_{i}"
            self.built.node(hint, "output", {}, [value.ref], f"{hint} (returned by forward)")


def convert(module: fx.GraphModule, seen: dict[fx.Node, Any], batch: int, graph: Graph) -> tuple[Built, list[Unmapped]]:
    """The flat graph of a traced model (added to ``graph``) and what could not be mapped."""
    converter = Converter(module, seen, batch, graph)
    built = converter.run()
    return built, converter.unmapped
