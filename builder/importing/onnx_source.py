"""ONNX files: turned into a torch.fx graph of PyTorch layers, then imported like any
PyTorch model, and proven against the ONNX file itself (onnxruntime where installed,
else onnx's reference evaluator).

The common operators map to layers (Conv, Gemm, MatMul + Add, BatchNormalization,
Relu and the other activations, pooling, Flatten, Reshape, Concat, Add, Mul, Dropout,
Transpose, Squeeze, Unsqueeze, ReduceMean). Shape arithmetic (``Shape``, ``Gather``,
``Concat`` of constants feeding a ``Reshape``) is worked out once, on the file's input
sizes, with the reference evaluator. Layers are named after the exporter's scopes
(``/layer1/layer1.0/conv1/Conv`` -> ``layer1.0.conv1``) or their weights' names.
Anything else is listed with the node's name and operator, and the import stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import fx, nn

from builder.importing.errors import ImportFailure, Unmappable, Unmapped
from builder.importing.naming import Namer, base_id

BATCH = 2  # for an input whose batch size the file leaves open


@dataclass
class LoadedOnnx:
    module: fx.GraphModule
    inputs: list[torch.Tensor]
    reference: Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]
    batch: int


@dataclass
class _Value:
    """An ONNX value while converting: a tensor the model computes (``node``: the fx node,
    ``data``: its value on the example input) or a constant (``node`` None)."""

    data: Any
    node: fx.Node | None = None

    @property
    def constant(self) -> bool:
        return self.node is None


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _joined(levels: list[str]) -> list[str]:
    """Scope levels as one module path: each level names a module relative to some level
    above it (``layer1``, ``layer1.0``, ``conv1``; ``downsample``, ``downsample.0``)."""
    path: list[str] = []
    for level in levels:
        for start in range(len(path)):
            if level.startswith(".".join(path[start:]) + "."):
                path = path[:start]
                break
        path.append(level)
    return path


def _scope_of(node: Any, constants: set[str]) -> str:
    """``/layer1/layer1.0/conv1/Conv`` -> ``layer1.0.conv1``; else the weight's name
    (``fc.weight`` -> ``fc``); else ''."""
    parts = [p for p in node.name.split("/") if p]
    if node.name.startswith("/") and len(parts) >= 2:
        return ".".join(_joined(parts[:-1]))
    for name in node.input[1:]:
        if name in constants and "." in name and not name.startswith("onnx::"):
            return name.rsplit(".", 1)[0]
    return ""


class _Converter:
    def __init__(self, model: Any):
        self.model = model
        self.graph = model.graph
        self.root = nn.Module()
        self.code = fx.Graph()
        self.values: dict[str, _Value] = {}
        self.namer = Namer()
        self.unmapped: list[Unmapped] = []
        self.skip: set[str] = set()  # nodes folded into an earlier one (MatMul's bias Add)
        self.users: dict[str, list[Any]] = {}
        for node in self.graph.node:
            for name in node.input:
                self.users.setdefault(name, []).append(node)
        from onnx import numpy_helper

        for init in self.graph.initializer:
            self.values[init.name] = _Value(numpy_helper.to_array(init))

    # --- building blocks ----------------------------------------------------------------------
    def tensor(self, name: str) -> _Value:
        value = self.values.get(name)
        if value is None or value.constant:
            raise Unmappable(f"input {name!r} is a constant where the layer expects data")
        return value

    def const(self, name: str, what: str) -> np.ndarray:
        value = self.values.get(name)
        if value is None or not value.constant:
            raise Unmappable(f"its {what} ({name!r}) is computed from the data, not a constant")
        return np.asarray(value.data)

    def module(self, node: Any, layer: nn.Module, x: _Value, scope: str) -> _Value:
        target = self.namer(scope or node.op_type.lower(), node.op_type.lower())
        self.root.add_module(target, layer)
        with torch.no_grad():
            data = layer.eval()(x.data)
        return _Value(data, self.code.call_module(target, (x.node,)))

    def function(self, function: Any, args: tuple, scope: str, data_args: tuple) -> _Value:
        with torch.no_grad():
            data = function(*data_args)
        fx_node = self.code.call_function(function, args)
        if scope:
            fx_node.meta["nn_module_stack"] = {scope: (scope, nn.Module)}
        return _Value(data, fx_node)

    # --- the walk ---------------------------------------------------------------------------------
    def run(self, inputs: dict[str, torch.Tensor]) -> fx.GraphModule | None:
        """The fx module, or None when some nodes could not be converted (``unmapped``)."""
        for name, data in inputs.items():
            self.values[name] = _Value(data, self.code.placeholder(base_id(name, "x")))
        from builder.importing.onnx_ops import OPS

        constants = {n for n, v in self.values.items() if v.constant}
        for node in self.graph.node:
            if node.name in self.skip:
                continue
            scope = _scope_of(node, constants)
            try:
                if all(self.values.get(n) is not None and self.values[n].constant for n in node.input if n) \
                        or node.op_type in ("Shape", "Constant", "Size"):
                    self._fold(node)
                elif node.op_type not in OPS:
                    raise Unmappable("no block does this")
                else:
                    results = OPS[node.op_type](self, node, _attributes(node), scope)
                    for name, value in zip(node.output, results):
                        self.values[name] = value
            except Unmappable as err:
                self.unmapped.append(Unmapped(node.name or node.output[0], node.op_type, str(err)))
                continue
            constants.update(n for n in node.output if n in self.values and self.values[n].constant)
        outputs = []
        for output in self.graph.output:
            value = self.values.get(output.name)
            if value is None or value.constant:
                if value is not None:
                    self.unmapped.append(Unmapped(output.name, "output", "a constant, not computed from the inputs"))
                continue
            outputs.append(value.node)
        if self.unmapped:
            return None
        self.code.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
        return fx.GraphModule(self.root, self.code)

    def _fold(self, node: Any) -> None:
        """Work out a node whose inputs are all constants (shape arithmetic) once."""
        if node.op_type in ("Shape", "Size") and self.values.get(node.input[0]) is not None:
            data = self.values[node.input[0]].data
            shape = np.array(tuple(data.shape), dtype=np.int64)
            attrs = _attributes(node)
            shape = shape[attrs.get("start", 0):attrs.get("end", len(shape))]
            self.values[node.output[0]] = _Value(shape if node.op_type == "Shape" else np.array(shape.prod()))
            return
        from onnx.reference import ReferenceEvaluator

        feeds = {n: np.asarray(self.values[n].data) for n in node.input if n}
        results = ReferenceEvaluator(node).run(None, feeds)
        for name, result in zip(node.output, results):
            self.values[name] = _Value(result)


def _inputs(graph: Any, shapes: Sequence[Sequence[int]] | None, seed: int, path: Path) -> tuple[dict, int]:
    """Random example inputs: the file's sizes, a batch of BATCH where it leaves it open,
    per-sample sizes from --input-shape where given."""
    initializers = {i.name for i in graph.initializer}
    declared = [i for i in graph.input if i.name not in initializers]
    if shapes and len(shapes) != len(declared):
        raise ImportFailure(f"{path}: the model takes {len(declared)} inputs, {len(shapes)} shapes were given",
                            "give --input-shape once per model input, per sample")
    generator = torch.Generator().manual_seed(seed)
    inputs, batch = {}, None
    for i, value in enumerate(declared):
        tensor_type = value.type.tensor_type
        if tensor_type.elem_type != 1:  # FLOAT
            raise ImportFailure(f"{path}: input {value.name!r} is not float32", "only float inputs are imported")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
        first = dims[0] if dims else None
        batch = batch or first or BATCH
        sample = list(shapes[i]) if shapes else dims[1:]
        if None in sample or not dims:
            raise ImportFailure(f"{path}: input {value.name!r} has sizes the file leaves open ({dims})",
                                "give them with --input-shape, per sample")
        inputs[value.name] = torch.randn((batch, *sample), generator=generator)
    return inputs, batch or BATCH


def _reference(model: Any) -> Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]:
    """Runs the ONNX file itself: onnxruntime if installed, else onnx's reference evaluator."""
    initializers = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in initializers]
    try:
        import onnxruntime

        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        run = session.run
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        run = ReferenceEvaluator(model).run

    def reference(xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        results = run(None, {n: x.numpy() for n, x in zip(names, xs)})
        return [torch.from_numpy(np.asarray(r)) for r in results]

    return reference


def load_onnx(path: Path, shapes: Sequence[Sequence[int]] | None, seed: int) -> LoadedOnnx:
    try:
        import onnx
    except ImportError:
        raise ImportFailure(f"{path}: reading ONNX files needs the onnx package",
                            "pip install 'modelbuilder[import]'") from None
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as err:  # noqa: BLE001 - a damaged or unreadable file
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ImportFailure(f"{path}: not a valid ONNX model: {reason}") from None
    inputs, batch = _inputs(model.graph, shapes, seed, path)
    converter = _Converter(model)
    module = converter.run(inputs)
    if module is None:
        count = len(converter.unmapped)
        raise ImportFailure(f"{path}: {count} ONNX node{'s' * (count != 1)} {'have' if count != 1 else 'has'} no "
                            "block, so nothing was written:", "docs/import.md lists the ONNX operators that map",
                            converter.unmapped)
    return LoadedOnnx(module, list(inputs.values()), _reference(model), batch)
