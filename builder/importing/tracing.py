"""Tracing a model with torch.fx and running it once on example inputs, so that every
traced node's result (shapes, dtypes, and the plain values such as ``x.size(0)``) is
known to the op mappers."""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import torch
from torch import fx, nn

from builder.importing.errors import ImportFailure
from builder.importing.mapping import TensorInfo

TRACE_HINT = ("torch.fx traces the forward with placeholder tensors, so Python control flow that depends on "
              "tensor values (if x.sum() > 0, loops over x.size(1)) cannot be traced; write it without, or "
              "import the model as ONNX (docs/import.md)")


def trace(model: nn.Module, where: str) -> fx.GraphModule:
    """The model's forward as a torch.fx graph, its ``torch.nn`` layers kept whole.
    Arguments with a default (``mask=None``) are traced at that default: only the ones
    without are inputs."""
    try:
        parameters = inspect.signature(model.forward).parameters.values()
        concrete = {p.name: p.default for p in parameters
                    if p.default is not inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD}
        return fx.symbolic_trace(model, concrete_args=concrete or None)
    except Exception as err:  # noqa: BLE001 - whatever the user's forward raises while tracing
        raise ImportFailure(f"{where}: torch.fx cannot trace the model's forward: {type(err).__name__}: "
                            f"{_first_line(err)}", TRACE_HINT) from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else ""


def _describe(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return TensorInfo(tuple(value.shape), str(value.dtype).removeprefix("torch."))
    if isinstance(value, tuple) and not isinstance(value, torch.Size):
        return tuple(_describe(v) for v in value)
    if isinstance(value, list):
        return [_describe(v) for v in value]
    return value


def has_tensor(described: Any) -> bool:
    if isinstance(described, TensorInfo):
        return True
    if isinstance(described, (tuple, list)) and not isinstance(described, torch.Size):
        return any(has_tensor(v) for v in described)
    if isinstance(described, dict):
        return any(has_tensor(v) for v in described.values())
    return False


class _Recorder(fx.Interpreter):
    def __init__(self, module: fx.GraphModule):
        super().__init__(module)
        self.seen: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        self.seen[n] = _describe(result)
        return result


def record(module: fx.GraphModule, inputs: Sequence[torch.Tensor], where: str) -> dict[fx.Node, Any]:
    """Every node's result on ``inputs`` (eval mode, no gradients), tensors as TensorInfo."""
    recorder = _Recorder(module)
    try:
        with torch.no_grad():
            recorder.run(*inputs)
    except Exception as err:  # noqa: BLE001 - the user's model failing on the example input
        raise ImportFailure(f"{where}: the model fails on a random input of the given shape: "
                            f"{type(err).__name__}: {_first_line(err)}",
                            "check --input-shape: one per forward argument, per sample (no batch axis)") from None
    return recorder.seen


def input_names(module: fx.GraphModule) -> list[str]:
    """The forward's inputs: its arguments without a default."""
    return [n.name for n in module.graph.nodes if n.op == "placeholder" and not n.args]


def integer_inputs(module: fx.GraphModule) -> dict[str, int]:
    """Inputs that are token ids, by placeholder name -> vocabulary size: those fed straight
    into an nn.Embedding."""
    found: dict[str, int] = {}
    for node in module.graph.nodes:
        if node.op != "placeholder":
            continue
        for user in node.users:
            target = module.get_submodule(user.target) if user.op == "call_module" else None
            if isinstance(target, nn.Embedding):
                found[node.name] = min(found.get(node.name, target.num_embeddings), target.num_embeddings)
    return found


def example_inputs(module: fx.GraphModule, shapes: Sequence[Sequence[int]], batch: int, seed: int,
                   where: str) -> list[torch.Tensor]:
    """Random inputs, one per forward argument: normal floats, or token ids for an input
    that feeds an embedding."""
    names = input_names(module)
    if len(shapes) != len(names):
        raise ImportFailure(f"{where}: the forward takes {len(names)} input{'s' * (len(names) != 1)} "
                            f"({', '.join(names)}), but {len(shapes)} shape{'s were' if len(shapes) != 1 else ' was'} "
                            "given", "give --input-shape once per forward argument, per sample: --input-shape 3,32,32")
    tokens = integer_inputs(module)
    generator = torch.Generator().manual_seed(seed)
    inputs = []
    for name, shape in zip(names, shapes):
        full = (batch, *shape)
        if name in tokens:
            inputs.append(torch.randint(0, tokens[name], full, generator=generator))
        else:
            inputs.append(torch.randn(full, generator=generator))
    return inputs
