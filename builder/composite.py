"""Graph files used as blocks (composite blocks).

A node written ``graph: parts/double_conv.yaml`` (a path relative to the file that uses
it) behaves like any other block: the inner graph's input nodes become its input ports
and its output nodes its output ports, in file order. The inner file may expose
parameters for each use to set::

    expose:
      width: [conv1.out_channels, conv2.out_channels]

An exposed parameter takes its type from the first node parameter it names and its
default from the inner file. Shapes flow in from the caller, so one composite file works
at any input size. Files that use each other in a cycle are an error.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from blocks import Block, Cost, Params, Port, ShapeError
from builder.analysis import INPUT_BLOCK, OUTPUT_BLOCK, Analysis, CompositeProblem, analyze
from builder.errors import GraphError
from builder.graph import Graph, Node


class Resolver:
    """Loads composite files relative to their user, remembering the chain of files being
    loaded so that a cycle between files is caught."""

    def __init__(self, chain: tuple[Path, ...] = ()):
        self.chain = chain

    def child(self, path: Path) -> Resolver:
        return Resolver(self.chain + (path,))

    def load(self, user: Graph, relative: str) -> tuple[Graph, Path]:
        from builder.yaml_format import load_graph

        base = Path(user.path).resolve().parent if user.path else Path.cwd()
        path = (base / relative).resolve()
        chain = self.chain or ((Path(user.path).resolve(),) if user.path else ())
        if path in chain:
            names = " -> ".join(p.name for p in chain[chain.index(path):] + (path,))
            raise CompositeProblem(f"graph files use each other in a cycle: {names}",
                                   "a composite block cannot contain itself")
        try:
            inner = load_graph(path)
        except GraphError as err:
            first = err.problems[0]
            raise CompositeProblem(f"cannot use {relative}: {first}") from None
        nested = Resolver(chain + (path,))
        for node in inner.nodes.values():  # catch cycles now, not at first shape inference
            if node.graph is not None:
                nested.load(inner, node.graph)
        return inner, path


class CompositeBlock(Block):
    """A graph file used as a block."""

    category = "Composite"

    def __init__(self, inner: Graph, path: Path, resolver: Resolver):
        self.inner = inner
        self.path = path
        self.resolver = resolver
        self.name = inner.name or path.stem
        self.__doc__ = inner.description or f"The graph in {path.name}, used as one block."
        self.inputs = tuple(Port(n.id) for n in inner.nodes.values() if n.block == INPUT_BLOCK)
        self.outputs = tuple(Port(n.id) for n in inner.nodes.values() if n.block == OUTPUT_BLOCK)
        self.exposed = {k: [v] if isinstance(v, str) else list(v) for k, v in (inner.expose or {}).items()}
        self.params = self._declare_params()
        self._cache: dict[Any, Analysis] = {}

    def doc(self) -> str:
        return self.__doc__

    def _declare_params(self) -> dict:
        from blocks import get_block

        declared = {}
        for name, targets in self.exposed.items():
            for target in reversed(targets):  # check every target; the first one declares the type
                node_id, _, param = target.partition(".")
                node = self.inner.nodes.get(node_id)
                if node is None or node.block is None:
                    why = "it is a graph node (only block parameters can be exposed)" if node else "it has no such node"
                    raise CompositeProblem(f"{self.path.name} exposes {name!r} as {target!r}, but {why}")
                decl = get_block(node.block).params.get(param)
                if decl is None:
                    raise CompositeProblem(f"{self.path.name} exposes {name!r} as {target!r}, "
                                           f"but {node.block} has no parameter {param!r}")
            default = node.params.get(param, decl.default)
            declared[name] = replace(decl, default=default, doc=decl.doc or f"sets {', '.join(targets)}")
        return declared

    def analysis(self, p: Params, inputs: dict[str, Any]) -> Analysis:
        key = (tuple(sorted((k, repr(v)) for k, v in p.items())), tuple(sorted(inputs.items())))
        if key not in self._cache:
            overrides: dict[str, dict[str, Any]] = {}
            for name, targets in self.exposed.items():
                for target in targets:
                    node_id, _, param = target.partition(".")
                    value = p[name]
                    overrides.setdefault(node_id, {})[param] = list(value) if isinstance(value, tuple) else value
            self._cache[key] = analyze(self.inner, input_shapes=inputs, overrides=overrides,
                                       resolver=self.resolver.child(self.path))
        return self._cache[key]

    def infer_ports(self, p: Params, inputs: Any) -> dict:
        result = self.analysis(p, dict(inputs))
        if not result.ok:
            first = result.errors[0]
            raise ShapeError(f"does not accept these inputs: inside {self.path.name}, "
                             f"{('node ' + repr(first.node) + ': ') if first.node else ''}{first.message}")
        return {port.name: result.nodes[port.name].shape for port in self.outputs}

    def infer(self, p: Params, **inputs: Any) -> dict:
        return self.infer_ports(p, inputs)

    def cost(self, p: Params, out: Any, **inputs: Any) -> Cost:
        return self.analysis(p, inputs).total

    def build(self, p: Params, **inputs: Any):
        from builder.compiler import build_module

        return build_module(self.analysis(p, inputs))


def composite_block(user: Graph, node: Node, resolver: Resolver | None) -> CompositeBlock:
    """The block for ``node`` (a ``graph:`` node in ``user``); CompositeProblem if unusable."""
    resolver = resolver or Resolver()
    inner, path = resolver.load(user, node.graph)
    return CompositeBlock(inner, path, resolver)
