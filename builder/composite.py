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

A graph file may come from anyone, so a path must name a regular ``.yaml`` file inside
the project (:func:`project_root`); NUL bytes, folders, devices and pipes, and paths or
links that lead out of the project are problems that say which paths are allowed. One
analysis reads each file once and bounds the work of files used inside each other.

This module sits below the analysis: the analysis makes a composite block for each
``graph:`` node and hands it its ``analyze`` function, which the block calls on its inner
graph, so this module imports neither :mod:`builder.analysis` nor the compiler.
"""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from blocks import Block, Cost, Params, Port, ShapeError
from blocks.params import Bool
from builder.analysis_types import INPUT_BLOCK, OUTPUT_BLOCK, Analysis, CompositeProblem
from builder.errors import GraphError, Problem
from builder.graph import ENABLED_KEY, Graph, Node
from builder.optional_nodes import switched
from builder.safe_yaml import HINT_LIMIT, LIMITS


HINT_EXPOSE = "'expose' maps a public name to 'node.param' targets in that file, e.g. width: [conv1.out_channels]"
GRAPH_SUFFIXES = (".yaml", ".yml")
PROJECT_MARKERS = (".git", ".hg", "pyproject.toml")
# builder.analysis.analyze(graph, *, input_shapes, overrides, resolver) -> Analysis
Analyze = Callable[..., Analysis]
WHICH_PATHS = ("a composite path names a .yaml graph file, relative to the file that uses it, inside the project: "
               "the folder of the graph being checked, or the nearest folder above it that holds .git, .hg or "
               "pyproject.toml")


def project_root(graph_file: Path) -> Path:
    """The folder composite paths may reach from ``graph_file``: the nearest folder above
    it that marks a project (``.git``, ``.hg``, ``pyproject.toml``, as pytest and ruff find
    their root), else the file's own folder.
    A graph file may come from anyone; this keeps it from making Model Builder read, and
    quote in its messages, files elsewhere on the computer (``../../.ssh/...``)."""
    folder = graph_file.parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return folder


def composite_file(user: Graph, relative: str) -> Path:
    """The file that a composite node of ``user`` (``graph: relative``) uses, by the rules
    the analysis applies (inside the project, a regular .yaml file); CompositeProblem with
    the reason and the allowed paths otherwise. For front-ends that open the file."""
    return Resolver().locate(user, relative)


class _Budget:
    """Work shared by every composite block of one analysis: files read once, and a bound
    on the nodes analyzed through composites (files using files multiply)."""

    def __init__(self) -> None:
        self.graphs: dict[Path, Graph | Problem] = {}  # each file read once (or why it cannot be)
        self.acyclic: set[Path] = set()  # files whose composite files, all the way down, form no cycle
        self.nodes_left = LIMITS.max_composite_nodes

    def spend(self, nodes: int) -> None:
        self.nodes_left -= nodes
        if self.nodes_left < 0:
            raise CompositeProblem(f"its graph files, used inside each other, add up to more than "
                                   f"{LIMITS.max_composite_nodes:,} nodes", HINT_LIMIT)


class Resolver:
    """Loads composite files relative to their user, remembering the chain of files being
    loaded so that a cycle between files is caught. One resolver serves a whole analysis;
    nested analyses get children that share its budget and its project folder."""

    def __init__(self, chain: tuple[Path, ...] = (), root: Path | None = None, budget: _Budget | None = None):
        self.chain = chain
        self.root = root  # None: not known yet (set from the first user), or an unsaved graph
        self.budget = budget or _Budget()

    def child(self, path: Path) -> Resolver:
        return Resolver(self.chain + (path,), self.root, self.budget)

    def locate(self, user: Graph, relative: str) -> Path:
        """The file ``relative`` names, or CompositeProblem saying why it may not be used."""
        if not isinstance(relative, str) or not relative.strip():
            raise CompositeProblem("'graph' names no file", WHICH_PATHS)
        if "\0" in relative:
            raise CompositeProblem("the path contains a NUL byte", WHICH_PATHS)
        if len(self.chain) >= LIMITS.max_composite_depth:
            raise CompositeProblem(f"graph files are used inside each other more than "
                                   f"{LIMITS.max_composite_depth} levels deep", HINT_LIMIT)
        base = Path(user.path).resolve().parent if user.path else Path.cwd()
        try:
            path = (base / relative).resolve()
        except (OSError, RuntimeError, ValueError) as err:  # e.g. a name too long, a symlink loop
            raise CompositeProblem(f"cannot use {relative}: {err}", WHICH_PATHS) from None
        if self.root is None and user.path and not self.chain:
            self.root = project_root(Path(user.path).resolve())
        if self.root is not None and not path.is_relative_to(self.root):
            raise CompositeProblem(f"cannot use {relative}: it is outside the project folder {self.root}",
                                   WHICH_PATHS + ", so that a graph file cannot read files elsewhere on the "
                                   "computer; copy the file into the project")
        try:
            mode = path.stat().st_mode
        except OSError:
            mode = None  # missing: load_graph says so, with the reason
        if mode is not None and stat.S_ISDIR(mode):
            raise CompositeProblem(f"cannot use {relative}: it is a folder, not a graph file", WHICH_PATHS)
        if mode is not None and not stat.S_ISREG(mode):
            raise CompositeProblem(f"cannot use {relative}: it is not a regular file (a device, pipe or socket), "
                                   "and reading one could block or never end", WHICH_PATHS)
        if path.suffix.lower() not in GRAPH_SUFFIXES:
            raise CompositeProblem(f"cannot use {relative}: it is not a .yaml graph file", WHICH_PATHS)
        return path

    def load(self, user: Graph, relative: str) -> tuple[Graph, Path]:
        from builder.yaml_format import load_graph

        path = self.locate(user, relative)
        chain = self.chain or ((Path(user.path).resolve(),) if user.path else ())
        if path in chain:
            names = " -> ".join(p.name for p in chain[chain.index(path):] + (path,))
            raise CompositeProblem(f"graph files use each other in a cycle: {names}",
                                   "a composite block cannot contain itself")
        if path not in self.budget.graphs:
            try:
                self.budget.graphs[path] = load_graph(path)
            except GraphError as err:
                self.budget.graphs[path] = err.problems[0]
        inner = self.budget.graphs[path]
        if isinstance(inner, Problem):
            raise CompositeProblem(f"cannot use {relative}: {inner.location()}: {inner.message}", inner.hint)
        self.budget.spend(1)
        if path not in self.budget.acyclic:  # catch cycles now, not at first shape inference
            nested = Resolver(chain + (path,), self.root, self.budget)
            for node in inner.nodes.values():
                if node.graph is not None:
                    nested.load(inner, node.graph)
            # no file reachable from here uses it, so no chain through it is a cycle either
            self.budget.acyclic.add(path)
        return inner, path


class CompositeBlock(Block):
    """A graph file used as a block."""

    category = "Composite"

    def __init__(self, inner: Graph, path: Path, resolver: Resolver, analyze: Analyze):
        self.inner = inner
        self.path = path
        self.resolver = resolver
        self._analyze = analyze  # the analysis' own (see the module's docstring)
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
            switches = [t.partition(".")[2] == ENABLED_KEY for t in targets]
            if any(switches):
                declared[name] = self._declare_switch(name, targets, all(switches))
                continue
            for target in reversed(targets):  # check every target; the first one declares the type
                node_id, _, param = target.partition(".")
                node = self.inner.nodes.get(node_id)
                if node is None or node.block is None:
                    why = "it is a graph node (only block parameters can be exposed)" if node else "it has no such node"
                    raise CompositeProblem(f"{self.path.name} exposes {name!r} as {target!r}, but {why}", HINT_EXPOSE)
                decl = get_block(node.block).params.get(param)
                if decl is None:
                    raise CompositeProblem(f"{self.path.name} exposes {name!r} as {target!r}, "
                                           f"but {node.block} has no parameter {param!r}", HINT_EXPOSE)
            default = node.params.get(param, decl.default)
            declared[name] = replace(decl, default=default, doc=decl.doc or f"sets {', '.join(targets)}")
        return declared

    def _declare_switch(self, name: str, targets: list[str], only_switches: bool) -> Bool:
        """An exposed switch (``project: [proj.enabled, ...]``): true or false, by default
        as the first node it names is written (builder/optional_nodes.py)."""
        if not only_switches:
            raise CompositeProblem(f"{self.path.name} exposes {name!r} as both a switch (node.{ENABLED_KEY}) and "
                                   "a parameter", "expose a switch and a parameter under two names")
        for target in targets:
            if target.partition(".")[0] not in self.inner.nodes:
                raise CompositeProblem(f"{self.path.name} exposes {name!r} as {target!r}, but it has no such node",
                                       HINT_EXPOSE)
        first = self.inner.nodes[targets[0].partition(".")[0]]
        return Bool(default=first.enabled, doc=f"switches {', '.join(t.partition('.')[0] for t in targets)} "
                    "on (true) or off (false: each passes its first input on)")

    def analysis(self, p: Params, inputs: dict[str, Any]) -> Analysis:
        key = (tuple(sorted((k, repr(v)) for k, v in p.items())), tuple(sorted(inputs.items())))
        if key not in self._cache:
            overrides: dict[str, dict[str, Any]] = {}
            switches: dict[str, bool] = {}
            for name, targets in self.exposed.items():
                for target in targets:
                    node_id, _, param = target.partition(".")
                    value = p[name]
                    if param == ENABLED_KEY:
                        switches[node_id] = value
                        continue
                    overrides.setdefault(node_id, {})[param] = list(value) if isinstance(value, tuple) else value
            try:
                self.resolver.budget.spend(len(self.inner.nodes))
            except CompositeProblem as err:
                raise ShapeError(f"cannot be analyzed: {err}") from None
            self._cache[key] = self._analyze(switched(self.inner, switches), input_shapes=inputs,
                                             overrides=overrides, resolver=self.resolver.child(self.path))
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
        from builder.graph_module import build_module  # imports torch: only when a model is built

        return build_module(self.analysis(p, inputs))


def composite_block(user: Graph, node: Node, resolver: Resolver | None, analyze: Analyze) -> CompositeBlock:
    """The block for ``node`` (a ``graph:`` node in ``user``); CompositeProblem if unusable.
    ``analyze`` is :func:`builder.analysis.analyze`, which the block runs on its inner graph."""
    resolver = resolver or Resolver()
    inner, path = resolver.load(user, node.graph)
    return CompositeBlock(inner, path, resolver, analyze)
