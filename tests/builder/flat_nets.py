"""Flat graphs for the folding tests and bench: ResNets expanded to primitive blocks (as an
importer would write them), DenseNet-121 and a hand-written chain."""

from __future__ import annotations

from blocks import get_block
from builder.analysis import analyze
from builder.graph import Graph, Node, Ref


def flatten(graph: Graph) -> Graph:
    """``graph`` with each built-in composite block (``residual``, ``inception`` ...)
    replaced by the nodes of its inside, ids prefixed by the node's (layer1_0_conv1): the
    same function, written node by node like torchvision's module names."""
    analysis = analyze(graph)
    assert analysis.ok, analysis.problems
    flat = Graph(name=graph.name, description=graph.description)
    exits: dict[str, str] = {}  # expanded node -> the reference that now stands for it

    def outer(text: str) -> str:
        ref = Ref.parse(text)
        return exits.get(ref.node, text) if ref.port is None else text

    for node_id in analysis.order:
        node, info = graph.nodes[node_id], analysis.nodes[node_id]
        inside = None
        if node.block is not None and node.block not in ("input", "output"):
            inside = get_block(node.block).inside(info.params, **info.input_shapes)
        if inside is None:
            inputs = node.inputs
            inputs = ({k: [outer(t) for t in v] if isinstance(v, list) else outer(v) for k, v in inputs.items()}
                      if isinstance(inputs, dict) else [outer(t) for t in inputs])
            flat.add(Node(node_id, node.block, dict(node.params), inputs, node.graph))
            continue
        ports = {port: refs[0] for port, refs in info.inputs.items()}
        for inner_id, body in inside["nodes"].items():
            if body["block"] in ("input", "output"):
                continue
            inputs = [str(ports[t]) if t in ports else f"{node_id}_{t}" for t in body["inputs"]]
            flat.add(Node(f"{node_id}_{inner_id}", body["block"], dict(body.get("params", {})),
                          [outer(t) for t in inputs]))
        exits[node_id] = f"{node_id}_{inside['nodes']['out']['inputs'][0]}"
    return flat


def with_input_shape(graph: Graph, shape: list[int]) -> Graph:
    """``graph`` with its (first) input node's shape replaced: small images run fast."""
    for node in graph.nodes.values():
        if node.block == "input":
            node.params = {**node.params, "shape": list(shape)}
            break
    return graph


def densenet121(image: tuple[int, int, int] = (3, 224, 224), blocks=(6, 12, 24, 16), growth: int = 32,
                width: int = 64, classes: int = 1000) -> Graph:
    """torchvision's densenet121, flat, each dense layer written as a running
    concatenation: concat(features so far, new features). Equal to concatenating every
    earlier output at once, and a chain of single-entry, single-exit layers."""
    g = Graph(name="densenet121", description="DenseNet-121 (Huang et al., 2017), flat.")

    def add(node_id: str, block: str, inputs: list[str], **params) -> str:
        g.add(Node(node_id, block, params, inputs))
        return node_id

    x = add("image", "input", [], shape=list(image))
    x = add("conv0", "conv2d", [x], out_channels=width, kernel_size=7, stride=2, padding=3, bias=False)
    x = add("pool0", "max_pool2d", [add("relu0", "relu", [add("norm0", "batch_norm2d", [x])])],
            kernel_size=3, stride=2, padding=1)
    channels = width
    for b, layers in enumerate(blocks, start=1):
        for i in range(1, layers + 1):
            p = f"denseblock{b}_denselayer{i}_"
            y = add(p + "conv1", "conv2d", [add(p + "relu1", "relu", [add(p + "norm1", "batch_norm2d", [x])])],
                    out_channels=4 * growth, kernel_size=1, bias=False)
            y = add(p + "conv2", "conv2d", [add(p + "relu2", "relu", [add(p + "norm2", "batch_norm2d", [y])])],
                    out_channels=growth, kernel_size=3, padding=1, bias=False)
            x = add(p + "concat", "concat", [x, y])
            channels += growth
        if b < len(blocks):
            channels //= 2
            p = f"transition{b}_"
            y = add(p + "conv", "conv2d", [add(p + "relu", "relu", [add(p + "norm", "batch_norm2d", [x])])],
                    out_channels=channels, kernel_size=1, bias=False)
            x = add(p + "pool", "avg_pool2d", [y], kernel_size=2, stride=2)
    x = add("pool", "global_avg_pool", [add("relu5", "relu", [add("norm5", "batch_norm2d", [x])])])
    add("logits", "output", [add("classifier", "linear", [x], out_features=classes)])
    return g


def chain(copies: int = 6, width: int = 16, inputs: int = 8) -> Graph:
    """x -> [linear width -> relu] x copies -> head -> y, written by hand."""
    g = Graph(name="chain")
    g.add(Node("x", "input", {"shape": [inputs]}))
    last = "x"
    for i in range(1, copies + 1):
        g.add(Node(f"fc{i}", "linear", {"out_features": width}, [last]))
        g.add(Node(f"act{i}", "relu", {}, [f"fc{i}"]))
        last = f"act{i}"
    g.add(Node("head", "linear", {"out_features": 3}, [last]))
    g.add(Node("y", "output", {}, ["head"]))
    return g
