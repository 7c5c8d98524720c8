"""Repeated nodes: one node that applies a block (or a graph file) N times in a chain.

    blocks:
      block: transformer_encoder_layer
      repeat: 12
      params: {num_heads: 3, dim_feedforward: 768}
      inputs: [tokens]
    stage:
      graph: parts/inverted_residual.yaml
      repeat: 3
      params: {out_channels: 32}                     # the same in every repetition
      vary:                                          # one value per repetition
        stride: [2, 1, 1]                            #   a list, or
        residual: "i > 0"                            #   an expression of the index i (0, 1, 2)

Repetition 0 takes the node's inputs as written; each later one takes the previous one's
first output in place of the node's first input and keeps the others (a decoder layer
repeated keeps attending to the same memory). The node's outputs are the last
repetition's. Expressions (:mod:`builder.repeat_expr`) may use ``i``, ``n`` (the count)
and the file's exposed parameters; ``repeat`` may be an expression of the exposed
parameters too.

The analysis turns such a node into a :class:`RepeatBlock` (:func:`repeat_block`): one
node with the summed cost and the last shapes, whose :meth:`RepeatBlock.steps` hold every
repetition's parameters, shapes and cost (``modelbuilder check --expand-repeats``). In the
compiled model it is one submodule whose repetitions are ``0``, ``1`` ... (``blocks.3.
linear1.weight``, as ``nn.Sequential`` names them), with a generated forward. Problems
(a count out of range, a list of the wrong length, an expression that cannot be worked
out, a value a repetition refuses) are collected, each naming the node and the key.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Mapping

from blocks import Block, Cost, Params, Shape, ShapeError, UnknownBlockError, get_block
from blocks.suggest import did_you_mean
from builder.composite import CompositeBlock
from builder.graph import ENABLED_KEY, Graph, Node, id_problem
from builder.repeat_expr import ExpressionError, evaluate, parse

MAX_REPEAT = 10_000
INDEX, COUNT = "i", "n"
HINT_REPEAT = f"write repeat: N, a whole number from 1 to {MAX_REPEAT:,} (or an expression of exposed parameters)"
HINT_VARY = ("a list with one value per repetition, or an expression of the index i (0 for the first), e.g. "
             "vary: {out_channels: [16, 24, 32], stride: \"2 if i == 0 else 1\"}")


class RepeatProblems(Exception):
    """Why a repeated node cannot be expanded: (message, key, hint) for each problem."""

    def __init__(self, problems: list[tuple[str, str | None, str | None]]):
        super().__init__("; ".join(p[0] for p in problems))
        self.problems = problems


@dataclass
class Step:
    """One repetition as checked: its parameters, input and output shapes, and cost."""

    params: Params
    inputs: dict[str, Any]
    outputs: dict[str, Shape]
    cost: Cost


class RepeatBlock(Block):
    """A block (or composite) applied ``count`` times in a chain, parameters varying."""

    def __init__(self, base: Block, node_id: str, count: int, varied: list[dict[str, Any]]):
        self.base, self.node_id, self.count, self.varied = base, node_id, count, varied
        self.name = base.name
        self.category = base.category
        self.inputs, self.outputs = base.inputs, base.outputs
        names = {key for values in varied for key in values}
        self.params = {k: v for k, v in base.params.items() if k not in names}
        self.key_params = tuple(k for k in getattr(base, "key_params", ()) if k not in names)
        self.examples = ()
        self.macs_exact = getattr(base, "macs_exact", True)
        self._steps: dict[Any, list[Step]] = {}

    def doc(self) -> str:
        return f"{self.base.name} applied {self.count} times in a chain.\n\n{self.base.doc()}"

    def summary(self) -> str:
        return f"{self.base.name} × {self.count}: " + self.base.summary()

    def repetition_params(self, p: Params) -> list[dict[str, Any]]:
        """Each repetition's parameters as given to the block (before its checks)."""
        constant = {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()
                    if v is not None or self.params[k].optional}  # (None: the block's default)
        return [{**constant, **varied} for varied in self.varied]

    def steps(self, p: Params, inputs: Mapping[str, Any]) -> list[Step]:
        """Every repetition, checked in turn (ShapeError naming the repetition that fails)."""
        key = (tuple(sorted((k, repr(v)) for k, v in p.items())), tuple(sorted((k, repr(v)) for k, v in inputs.items())))
        if key in self._steps:
            return self._steps[key]
        first_in, first_out = self.base.inputs[0].name, self.base.outputs[0].name
        if first_in not in inputs:
            raise ShapeError(f"is repeated: each repetition's output goes to the next one's first input "
                             f"{first_in!r}, which is not connected")
        shapes, steps = dict(inputs), []
        for index, raw in enumerate(self.repetition_params(p)):
            where = f"in repetition i={index} of {self.count}"
            params, problems = self.base.check_params(raw)
            if problems:
                message = next(iter(problems.values()))
                raise ShapeError(f"{where}: {message}")
            try:
                outputs = self.base.infer_ports(params, shapes)
                single = outputs[first_out] if len(outputs) == 1 else outputs
                cost = self.base.cost(params, single, **shapes)
            except ShapeError as err:
                raise ShapeError(f"{where}: {err}") from None
            steps.append(Step(params, shapes, outputs, cost))
            shapes = {**shapes, first_in: outputs[first_out]}
        self._steps[key] = steps
        return steps

    def infer_ports(self, p: Params, inputs: Mapping[str, Any]) -> dict[str, Shape]:
        return self.steps(p, inputs)[-1].outputs

    def infer(self, p: Params, **inputs: Any) -> dict[str, Shape]:
        return self.infer_ports(p, inputs)

    def cost(self, p: Params, out: Any, **inputs: Any) -> Cost:
        total = Cost()
        for step in self.steps(p, inputs):
            total = total + step.cost
        return total

    def build(self, p: Params, **inputs: Any):
        """A GraphModule whose submodules ``0`` .. ``n-1`` are the repetitions, chained by
        generated code (so TorchScript, ONNX and the Python export read it like any graph)."""
        from torch import fx, nn

        from builder.graph_module import class_name

        ports = self.base.inputs
        last = max(i for i, port in enumerate(ports) if port.name in inputs)
        root, code = nn.Module(), fx.Graph()
        given = {port.name: code.placeholder(port.name) for port in ports[:last + 1]}
        previous = call = None
        for index, step in enumerate(self.steps(p, inputs)):
            root.add_module(str(index), self.base.build(step.params, **step.inputs))
            args = [previous if i == 0 and previous is not None else given[port.name] if port.name in inputs else None
                    for i, port in enumerate(ports[:last + 1])]
            call = code.call_module(str(index), tuple(args))
            previous = code.call_function(operator.getitem, (call, 0)) if self.base.multi_output else call
        code.output(call)
        return fx.GraphModule(root, code, class_name=class_name(f"{self.base.name}_x{self.count}"))

    def inside(self, p: Params, **inputs: Any) -> dict[str, Any]:
        """The repetitions one after another, as a graph (the editor's inside view):
        nodes ``<node>_0`` .. ``<node>_<n-1>`` with each one's parameters."""
        steps = self.steps(p, inputs)
        ids = [f"{self.node_id}_{i}" if not id_problem(f"{self.node_id}_{i}") else f"r{i}" for i in range(self.count)]
        nodes: dict[str, Any] = {}
        taken = set(ids)

        def fresh(name: str, suffix: str) -> str:
            while name in taken or id_problem(name):
                name += suffix
            taken.add(name)
            return name

        port_ids = {}
        for port in self.base.inputs:
            if port.name in inputs:
                port_ids[port.name] = fresh(port.name, "_in")
                params: dict[str, Any] = {"shape": list(inputs[port.name])}
                if port.dtype == "int64":
                    params["dtype"] = "int64"
                nodes[port_ids[port.name]] = {"block": "input", "params": params}
        what = {"graph": str(self.base.path)} if isinstance(self.base, CompositeBlock) else {"block": self.base.name}
        for index, step in enumerate(steps):
            wired = {name: ids[index - 1] if index and i == 0 else node_id
                     for i, (name, node_id) in enumerate(port_ids.items())}
            params = {k: list(v) if isinstance(v, tuple) else v for k, v in step.params.items()}
            nodes[ids[index]] = {**what, "params": params, "inputs": wired}
        for port in self.base.outputs:
            nodes[fresh(port.name, "_out")] = {"block": "output", "inputs": [f"{ids[-1]}.{port.name}"]}
        return {"name": f"{self.node_id}_x{self.count}", "nodes": nodes,
                "description": f"{self.node_id}: {self.base.name} repeated {self.count} times, each repetition "
                               "taking the previous one's output"}


def exposed_values(graph: Graph, overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The file's exposed parameters that are numbers or switches, by name, as used now
    (what an expression may name)."""
    values: dict[str, Any] = {}
    for name, targets in (graph.expose or {}).items():
        first = targets if isinstance(targets, str) else (targets or [""])[0]
        node_id, _, param = str(first).partition(".")
        node = graph.nodes.get(node_id)
        if node is None:
            continue
        if param == ENABLED_KEY:
            values[name] = node.enabled
            continue
        value = overrides.get(node_id, {}).get(param, node.params.get(param))
        if value is None and node.block is not None and param not in node.params:
            try:
                decl = get_block(node.block).params.get(param)
            except UnknownBlockError:
                decl = None
            value = None if decl is None or decl.required else decl.default
        if isinstance(value, (int, float)):
            values[name] = value
    return values


def _count(node: Node, names: dict[str, Any], problems: list) -> int | None:
    raw = node.repeat
    if raw is None:
        problems.append(("'vary' sets parameters per repetition, but the node has no 'repeat'", "vary",
                         "add repeat: N (how many times the block is applied in a chain)"))
        return None
    if isinstance(raw, str) and names:
        try:
            raw = evaluate(parse(raw), names)
        except ExpressionError as err:
            problems.append((f"repeat {node.repeat!r}: {err}", "repeat", HINT_REPEAT))
            return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        problems.append((f"repeat must be a whole number, found {raw!r}"[:200], "repeat", HINT_REPEAT))
        return None
    if not 1 <= raw <= MAX_REPEAT:
        problems.append((f"repeat {raw:,} is out of range: a node is repeated 1 to {MAX_REPEAT:,} times", "repeat",
                         HINT_REPEAT))
        return None
    return raw


def _varied(node: Node, base: Block, count: int, names: dict[str, Any], problems: list) -> list[dict[str, Any]]:
    varied: list[dict[str, Any]] = [{} for _ in range(count)]
    for key, spec in (node.vary or {}).items():
        where = f"vary.{key}"
        if key not in base.params:
            hint = did_you_mean(key, base.params, hint=True) or f"its parameters: {', '.join(base.params) or 'none'}"
            problems.append((f"vary: {base.name} has no parameter {key!r}", where, hint))
        elif key in node.params:
            problems.append((f"{key!r} is set both under 'params' (every repetition) and 'vary' (per repetition)",
                             where, "keep it in one of them"))
        elif isinstance(spec, list):
            if len(spec) != count:
                problems.append((f"vary.{key} lists {len(spec)} value{'s' * (len(spec) != 1)} for {count} "
                                 f"repetition{'s' * (count != 1)}", where,
                                 f"give {count} values (one per repetition), or an expression of the index i"))
                continue
            for index, value in enumerate(spec):
                varied[index][key] = value
        elif isinstance(spec, str):
            try:
                tree = parse(spec)
                for index in range(count):
                    try:
                        varied[index][key] = evaluate(tree, {**names, INDEX: index, COUNT: count})
                    except ExpressionError as err:
                        raise ExpressionError(f"for i={index}: {err}") from None
            except ExpressionError as err:
                problems.append((f"vary.{key} = {spec!r}: {err}"[:300], where, HINT_VARY))
        else:
            problems.append((f"vary.{key} must be a list (one value per repetition) or an expression, found "
                             f"{spec!r}"[:200], where, HINT_VARY))
    return varied


def _chainable(base: Block) -> str | None:
    if not base.inputs or not base.outputs:
        return f"{base.name} cannot be repeated in a chain: it has no {'inputs' if not base.inputs else 'outputs'}"
    first = base.inputs[0]
    if first.variadic:
        return f"{base.name} cannot be repeated in a chain: its first input {first.name!r} takes several tensors"
    if first.dtype == "int64":
        return (f"{base.name} cannot be repeated in a chain: its first input {first.name!r} takes token ids, "
                "not its own output")
    return None


def repeat_block(graph: Graph, node: Node, base: Block, overrides: Mapping[str, Mapping[str, Any]]) -> RepeatBlock:
    """The block of a repeated ``node`` of ``graph`` whose block (or composite) is
    ``base``; RepeatProblems with every problem found (count, lists, expressions, the
    values each repetition is given)."""
    problems: list[tuple[str, str | None, str | None]] = []
    why = _chainable(base)
    if why:
        raise RepeatProblems([(why, "repeat", "repeat a block whose output can be its own input")])
    names = exposed_values(graph, overrides)
    count = _count(node, names, problems)
    if count is None:
        raise RepeatProblems(problems)
    varied = _varied(node, base, count, names, problems)
    if problems:
        raise RepeatProblems(problems)
    constant = {**node.params, **overrides.get(node.id, {})}
    for key in {k for values in varied for k in values}:  # each varied parameter: its first refused value
        for index, values in enumerate(varied):
            _, refused = base.check_params({**constant, **values})
            if key in refused:
                problems.append((f"vary.{key}, repetition i={index}: {refused[key]}", f"vary.{key}",
                                 f"run 'modelbuilder blocks {base.name}' for its parameters"))
                break
    if problems:
        raise RepeatProblems(problems)
    return RepeatBlock(base, node.id, count, varied)


def repetitions(analysis: Any, node_id: str) -> list[tuple[str, str, Step]]:
    """Each repetition of a checked repeated node, for reports: its name (``layers[2]``),
    the values that vary (``out_features=24``) and its :class:`Step`; [] for other nodes."""
    info = analysis.nodes.get(node_id)
    if info is None or not info.ok or not isinstance(info.block, RepeatBlock):
        return []
    block = info.block
    steps = block.steps(info.params, info.input_shapes)
    return [(f"{node_id}[{index}]", ", ".join(f"{k}={v}" for k, v in block.varied[index].items()), step)
            for index, step in enumerate(steps)]


def last_repetition(analysis: Any, node_id: str, module: Any) -> Any:
    """A node's compiled submodule, or for a repeated node its last repetition's (whose
    output is the node's): what views that look inside a layer should look at."""
    info = analysis.nodes.get(node_id)
    if info is not None and isinstance(info.block, RepeatBlock):
        return module.get_submodule(str(info.block.count - 1))
    return module
