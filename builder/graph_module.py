"""The ``torch.fx.GraphModule`` of a checked analysis: one submodule per block node, named
by its node id, and a generated forward.

Below the compiler and the composite blocks (a composite block builds its inner graph's
module with :func:`build_module`): it takes an :class:`~builder.analysis_types.Analysis`
and imports neither the analysis nor the compiler. :func:`builder.compiler.compile_graph`
is the entry point that checks a graph first and seeds the weights.
"""

from __future__ import annotations

import operator
import re
from typing import Any

from torch import fx, nn

from builder.analysis_types import INPUT_BLOCK, OUTPUT_BLOCK, Analysis


def class_name(graph_name: str) -> str:
    """``se_resnet50`` -> ``SeResnet50``: the generated module's class name."""
    words = re.split(r"[^0-9A-Za-z]+", graph_name)
    name = "".join(w[:1].upper() + w[1:] for w in words if w) or "Model"
    return name if name[0].isalpha() else "Model" + name


def build_module(analysis: Analysis) -> fx.GraphModule:
    """The GraphModule of a checked analysis, on the current default device and RNG."""
    root = nn.Module()
    code = fx.Graph()
    values: dict[tuple[str, str], fx.Node] = {}
    results: list[fx.Node] = []

    def value_of(ref) -> fx.Node:
        info = analysis.nodes[ref.node]
        port = ref.port or info.block.outputs[0].name
        if (ref.node, port) not in values:  # an output of a multi-output block
            index = [p.name for p in info.block.outputs].index(port)
            values[(ref.node, port)] = code.create_node(
                "call_function", operator.getitem, (values[(ref.node, "*")], index), name=f"{ref.node}_{port}")
        return values[(ref.node, port)]

    for node_id in analysis.order:
        info = analysis.nodes[node_id]
        node = analysis.graph.nodes[node_id]
        if node.block == INPUT_BLOCK:
            values[(node_id, "out")] = code.placeholder(node_id)
            continue
        args: list[Any] = []
        for port in info.block.inputs:
            refs = info.inputs.get(port.name, [])
            if port.variadic:
                args.append([value_of(r) for r in refs])
            elif refs:
                args.append(value_of(refs[0]))
            else:
                args.append(None)  # an optional port left open
        while args and args[-1] is None:
            args.pop()
        if node.block == OUTPUT_BLOCK:
            results.append(args[0])
            continue
        root.add_module(node_id, info.block.build(info.params, **info.input_shapes))
        call = code.call_module(node_id, tuple(args))
        if info.block.multi_output:
            values[(node_id, "*")] = call  # ports are indexed out of the tuple when used
        else:
            values[(node_id, info.block.outputs[0].name)] = call
    code.output(results[0] if len(results) == 1 else tuple(results))
    module = fx.GraphModule(root, code, class_name=class_name(analysis.graph.name))
    return module
