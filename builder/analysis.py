"""Validation and shape inference: everything ``modelbuilder check`` and the editor show.

``analyze(graph)`` never raises for a problem in the graph: it returns every problem it
finds (unknown blocks, bad parameters, bad references, cycles, shape mismatches, unused
nodes) together with the shapes, parameter counts and MACs of every node it could work
out. It only does arithmetic from the block declarations, so it is cheap enough to run on
every edit; the tests prove that the numbers agree with the compiled modules.

What it returns (:class:`Analysis`, :class:`NodeInfo`) lives in :mod:`builder.analysis_types`,
which the composite blocks and the compiler import too; the names are also importable from
here. A composite block analyzes its inner graph with the ``analyze`` this module hands it,
so :mod:`builder.composite` does not import this module back.
"""

from __future__ import annotations

from typing import Any, Mapping

from blocks import Shape, ShapeError, UnknownBlockError, format_shape, get_block
from blocks.suggest import did_you_mean
from builder.analysis_types import (
    INPUT_BLOCK,
    OUTPUT_BLOCK,
    Analysis,
    CompositeProblem,
    NodeInfo,
)
from builder.analysis_lints import lint
from builder.connection_rules import dtype_problem, input_port_problem, output_dtype, output_problem
from builder.errors import Problem
from builder.flow import data_flow, file_order, reachable_from
from builder.graph import Graph, Node, Ref, assign_to_ports

MAX_SUGGESTIONS = 20  # "did you mean" for this many unknown references in one graph


class _Analyzer:
    def __init__(self, graph: Graph, input_shapes: Mapping[str, Shape] | None,
                 overrides: Mapping[str, Mapping[str, Any]] | None, resolver: Any):
        self.graph = graph
        self.input_shapes = dict(input_shapes or {})
        self.overrides = overrides or {}
        self.resolver = resolver
        self.problems: list[Problem] = []
        self.infos = {node_id: NodeInfo(node_id) for node_id in graph.nodes}

    # --- reporting -----------------------------------------------------------------
    def report(self, message: str, node: str | None = None, key: str | None = None,
               hint: str | None = None, severity: str = "error") -> None:
        line, column = self.graph.where(node, key) if node else (None, None)
        self.problems.append(Problem(message, severity, self.graph.path, line, column, node,
                                     key[len("params."):] if key and key.startswith("params.") else None, hint))

    # --- step 1: blocks and parameters -------------------------------------------------
    def resolve(self, node: Node) -> bool:
        info = self.infos[node.id]
        try:
            if node.block is not None:
                info.block = get_block(node.block)
            else:
                from builder.composite import Resolver, composite_block

                # one resolver for the whole analysis: composite files are read once, and
                # files used inside each other share one bound on the work (builder/composite.py)
                self.resolver = self.resolver or Resolver()
                info.block = composite_block(self.graph, node, self.resolver, analyze)
        except UnknownBlockError as err:
            hint = f"did you mean {err.suggestion!r}?" if err.suggestion else "run 'modelbuilder blocks' for the list"
            self.report(f"unknown block {err.name!r}", node.id, "block", hint)
            return False
        except CompositeProblem as err:
            self.report(str(err), node.id, "graph", err.hint)
            return False
        if node.repeated:  # one node applying its block N times (builder/repeat_expand.py)
            from builder.repeat_expand import RepeatProblems, repeat_block

            try:
                info.block = repeat_block(self.graph, node, info.block, self.overrides)
            except RepeatProblems as err:
                for message, key, hint in err.problems:
                    self.report(message, node.id, key, hint)
                return False
        raw = dict(node.params)
        raw.update(self.overrides.get(node.id, {}))
        params, problems = info.block.check_params(raw)
        for key, message in problems.items():
            self.report(message, node.id, f"params.{key}" if key else "params",
                        f"run 'modelbuilder blocks {info.block.name}' for its parameters")
        info.params = params
        return not problems

    # --- step 2: inputs bound to ports -------------------------------------------------------
    def bind(self, node: Node) -> bool:
        info = self.infos[node.id]
        block = info.block
        assert block is not None
        ports = block.inputs
        bound: dict[str, list[Ref]] = {}
        ok = True
        if isinstance(node.inputs, dict):
            for port_name, value in node.inputs.items():
                broken = input_port_problem(block, port_name)
                if broken is not None:
                    self.report(broken.message, node.id, "inputs", broken.hint)
                    ok = False
                    continue
                port = block.port(port_name, output=False)
                refs = [Ref.parse(v) for v in (value if isinstance(value, list) else [value])]
                if len(refs) > 1 and not port.variadic:
                    self.report(f"input port {port_name!r} of {block.name} takes one tensor, found {len(refs)}",
                                node.id, "inputs")
                    ok = False
                bound[port_name] = refs
        else:
            refs = [Ref.parse(v) for v in node.inputs]
            bound, position = assign_to_ports(refs, ports)
            if position < len(refs):
                wanted = ", ".join(p.name + ("..." if p.variadic else "") for p in ports) or "no inputs"
                self.report(f"too many inputs: {block.name} takes {wanted}, found {len(refs)} references",
                            node.id, "inputs")
                ok = False
        for port in ports:
            refs = bound.get(port.name, [])
            if not refs and not port.optional:
                self.report(f"input port {port.name!r} of {block.name} is not connected", node.id, "inputs",
                            f"add it under 'inputs:' ({port.doc})" if port.doc else None)
                ok = False
            elif port.variadic and 0 < len(refs) < port.min_count:
                self.report(f"{block.name} combines at least {port.min_count} tensors, found {len(refs)}",
                            node.id, "inputs")
                ok = False
        for refs in bound.values():
            for ref in refs:
                ok &= self.check_ref(node, ref)
        info.inputs = bound
        return ok

    def check_ref(self, node: Node, ref: Ref) -> bool:
        if ref.node not in self.graph.nodes:
            # a suggestion compares the name with every node id: only the first few wrong
            # references get one, so a file full of them stays linear to check
            self.suggested = getattr(self, "suggested", 0) + 1
            suggestion = did_you_mean(ref.node, self.graph.nodes, hint=True) \
                if self.suggested <= MAX_SUGGESTIONS else ""
            self.report(f"input {str(ref)!r} refers to no node", node.id, "inputs", suggestion or None)
            return False
        source = self.infos[ref.node].block
        if source is None:
            return True  # the source's own problem is reported there
        broken = output_problem(ref.node, source, ref.port)
        if broken is not None:
            self.report(broken.message, node.id, "inputs", broken.hint)
            return False
        return True

    # --- step 3: order ---------------------------------------------------------------
    def topological_order(self) -> list[str]:
        """Nodes in file order wherever the data flow allows, so that the generated code
        reads like the file. Nodes on a cycle (reported) or downstream of one are left out."""
        order, cycle = file_order(self.flow)
        if cycle:
            path = " -> ".join(cycle + cycle[:1])
            self.report(f"the graph has a cycle: {path}", cycle[0], "inputs",
                        "data must flow one way; for recurrence use an rnn, lstm or gru block")
        return order

    # --- step 4: shapes ---------------------------------------------------------------
    def infer(self, node_id: str) -> None:
        node, info = self.graph.nodes[node_id], self.infos[node_id]
        shapes: dict[str, Any] = {}
        for port_name, refs in info.inputs.items():
            sources = []
            for ref in refs:
                source = self.infos[ref.node]
                if not source.ok:
                    return  # an upstream problem is already reported; don't cascade
                sources.append(source.outputs[ref.port or next(iter(source.outputs))])
                port = info.block.port(port_name, output=False)
                dtype = output_dtype(source.block, source.dtype, ref.port)
                broken = dtype_problem(info.block, port, ref, dtype, source.dtype)
                if broken is not None:
                    self.report(broken.message, node_id, "inputs", broken.hint)
                    return
            port = info.block.port(port_name, output=False)
            shapes[port_name] = sources if port.variadic else sources[0]
        info.input_shapes = shapes
        if node.block == INPUT_BLOCK:
            info.dtype = info.params.dtype
            if node_id in self.input_shapes:  # a composite block's input takes its caller's shape
                info.outputs = {"out": tuple(self.input_shapes[node_id])}
                info.ok = True
                return
        try:
            info.outputs = info.block.infer_ports(info.params, shapes)
            single = info.outputs[info.block.outputs[0].name] if len(info.block.outputs) == 1 else info.outputs
            info.cost = info.block.cost(info.params, single, **shapes)
        except ShapeError as err:
            self.report(f"{info.block.name} {err}{self.describe_inputs(info)}", node_id,
                        hint="check the shapes on the wires into this node")
            return
        except Exception as err:  # a plug-in block's bug must not crash the editor or CLI
            self.report(f"block {info.block.name!r} failed to work out its shape: {type(err).__name__}: {err}",
                        node_id)
            return
        info.ok = True

    def describe_inputs(self, info: NodeInfo) -> str:
        parts = []
        for port_name, refs in info.inputs.items():
            for ref in refs:
                shape = format_shape(self.infos[ref.node].outputs.get(ref.port or next(iter(self.infos[ref.node].outputs))))
                parts.append(f"'{port_name}' from '{ref}' {shape}")
        return "; input " + ", ".join(parts) if parts else ""

    # --- step 5: structure ------------------------------------------------------------
    def check_structure(self) -> None:
        nodes = self.graph.nodes.values()
        if not any(n.block == INPUT_BLOCK for n in nodes):
            self.report("the graph has no input node", hint="add a node with 'block: input' and its shape")
        if not any(n.block == OUTPUT_BLOCK for n in nodes):
            self.report("the graph has no output node", hint="add a node with 'block: output' fed by the last node")
        consumed = {r.node for n in nodes for r in n.references()}
        reachable = self.reachable_from_inputs()
        for node in nodes:
            info = self.infos[node.id]
            if info.block is None:
                continue
            if node.block != INPUT_BLOCK and node.id not in reachable and info.inputs:
                if info.ok:  # else an error on it or upstream (bad reference, cycle) already says why
                    self.report("no input reaches this node", node.id, severity="warning",
                                hint="connect it to the graph or delete it")
            elif info.block.outputs and node.id not in consumed:
                self.report("its output is not used by any node", node.id, severity="warning",
                            hint="connect it to an output node or delete it")

    def reachable_from_inputs(self) -> set[str]:
        return reachable_from(self.flow, (n.id for n in self.graph.nodes.values() if n.block == INPUT_BLOCK))

    def run(self) -> Analysis:
        bound = {}
        for node in self.graph.nodes.values():
            bound[node.id] = self.resolve(node)
        for node in self.graph.nodes.values():
            if self.infos[node.id].block is not None:
                bound[node.id] = self.bind(node) and bound[node.id]
        self.flow = data_flow(self.graph.nodes)  # every reference, also those that did not bind
        order = self.topological_order()
        for node_id in order:
            if bound[node_id]:
                self.infer(node_id)
        self.check_structure()
        self.problems.extend(lint(self.graph, self.infos))
        self.problems = list(self.graph.load_warnings) + self.problems
        return Analysis(self.graph, self.infos, order, self.problems)


def analyze(graph: Graph, *, input_shapes: Mapping[str, Shape] | None = None,
            overrides: Mapping[str, Mapping[str, Any]] | None = None, resolver: Any = None) -> Analysis:
    """Check ``graph`` and infer every node's shapes and costs; never raises for bad graphs.

    ``input_shapes`` replaces the declared shapes of input nodes and ``overrides`` sets
    parameters per node: both are how a composite block is analyzed with its caller's
    shapes and exposed parameters.
    """
    from builder.optional_nodes import analyze_switched  # nodes with `enabled: false` are left out

    return analyze_switched(graph, lambda active: _Analyzer(active, input_shapes, overrides, resolver).run())
