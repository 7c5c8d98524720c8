"""The vocabulary op mappers share: the values a traced model's nodes become, the graph
being built, the context of one call, and the tables that say which mapper handles which
module class, function or tensor method.

A mapper reads its block's parameters from the block's declaration (:func:`block_params`):
each declared parameter is taken from the module attribute of the same name unless the
mapper says otherwise, then checked by the declaration and written only where it differs
from the default. So a block that gains a parameter is imported with it, and a value the
block cannot take is reported rather than written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from blocks import REQUIRED, Ints, get_block
from blocks.registry import UnknownBlockError
from builder.graph import Graph, Node
from builder.importing.errors import Unmappable
from builder.importing.naming import Namer


# --- what each traced node becomes ---------------------------------------------------------
@dataclass(frozen=True)
class TensorInfo:
    """A tensor seen while tracing: its whole shape (batch first) and dtype."""

    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class Tensor:
    """A tensor the graph computes: the reference to it and its per-sample shape.
    ``sequence_of`` names the recurrent node whose output sequence this is, with its
    direction count (``out[:, -1]`` of a one-way layer is that node's ``hidden``)."""

    ref: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    sequence_of: tuple[str, int] | None = None


@dataclass(frozen=True)
class Multi:
    """A call with several results (recurrent layers, attention), indexed by ``getitem``."""

    node: str
    kind: str  # lstm | gru | rnn | attention
    layers: int = 1
    directions: int = 1


@dataclass(frozen=True)
class StatePair:
    """An LSTM's ``(h_n, c_n)``."""

    of: Multi


@dataclass(frozen=True)
class FinalStates:
    """``h_n`` or ``c_n`` of a recurrent layer: ``[layers*directions, batch, hidden]``, not
    batch first, so only the top layer's state (``h_n[-1]``) maps to a port."""

    of: Multi
    port: str  # hidden | cell


@dataclass(frozen=True)
class TopState:
    """``h_n[-2]`` or ``h_n[-1]`` of a bidirectional layer: the top layer's forward or
    backward state; joined by ``torch.cat`` they are the block's ``hidden``."""

    of: Multi
    port: str
    direction: str  # forward | backward


@dataclass(frozen=True)
class Meta:
    """A value that is not a tensor (a size, a shape, a constant), as seen while tracing.
    Mappers use it only where the block's parameters take it from the shapes."""

    value: Any
    attribute: str | None = None  # the model's own parameter or buffer (``self.cls_token``)


class Failed:
    """The value of a node that could not be mapped: its users are skipped silently (the
    node itself is reported once)."""


FAILED = Failed()


# --- the graph being built --------------------------------------------------------------------
@dataclass
class WeightSource:
    """Where a node's weights come from: a module of the source model, and optionally a
    function that gives its tensors under the block module's ``state_dict`` keys."""

    module: Any
    convert: Callable[[Any], dict[str, Any]] | None = None
    path: str = ""


@dataclass
class Built:
    """The graph as it is built, with where each node came from."""

    graph: Graph
    namer: Namer = field(default_factory=Namer)
    origins: dict[str, str] = field(default_factory=dict)  # node id -> "module path (op)"
    weights: dict[str, WeightSource] = field(default_factory=dict)
    traced: dict[str, str] = field(default_factory=dict)  # graph ref -> the traced node whose value it is
    notes: list[str] = field(default_factory=list)
    shared: dict[int, list[str]] = field(default_factory=dict)  # id(module) -> nodes holding its weights

    def node(self, hint: str, block: str, params: dict, inputs: list | dict, origin: str,
             fallback: str | None = None) -> str:
        node_id = self.namer(hint, fallback or block)
        self.graph.add(Node(node_id, block=block, params=params, inputs=inputs))
        self.origins[node_id] = origin
        return node_id


def as_tensor(value: Any, what: str = "input") -> Tensor:
    """``value`` if it is a tensor the graph computes; else Unmappable saying what it is."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, Meta) and value.attribute:
        raise Unmappable(f"its {what} is the model's tensor {value.attribute!r}, used directly; only the weights "
                         "of layers map to blocks")
    if isinstance(value, Meta) and isinstance(value.value, (int, float)) or isinstance(value, (int, float)):
        number = value.value if isinstance(value, Meta) else value
        raise Unmappable(f"its {what} is the constant {number!r}, not a tensor the graph computes")
    if isinstance(value, Meta):
        raise Unmappable(f"its {what} is a value computed from shapes or constants, not from the inputs")
    if isinstance(value, TopState):
        raise Unmappable(f"its {what} is one direction of a bidirectional layer's final state; the block's "
                         "hidden joins both: torch.cat((h_n[-2], h_n[-1]), dim=1)")
    if isinstance(value, (FinalStates, StatePair)):
        raise Unmappable(f"its {what} is a recurrent layer's final states (layers first, not batch first);"
                         " only h_n[-1], the top layer's state, maps to a block port")
    raise Unmappable(f"its {what} is not a tensor the graph computes ({type(value).__name__})")


# --- one call being mapped ------------------------------------------------------------------
@dataclass
class Call:
    """The context of one traced call: its mapped arguments (``args`` positionally, or all
    by name in ``named`` where they could be normalized), the module called, what it
    returned while tracing, and the graph it adds to."""

    built: Built
    fx_name: str
    path: str  # for messages: the module path (a module call) or the module the call happened in
    name: str | None  # what node ids are made from: the module path; None for a function (scope.block)
    scope: str  # the module the call happened in ('' at the top)
    op: str
    args: tuple
    kwargs: dict
    named: dict | None
    out: Any  # the traced result, tensors as TensorInfo
    batch: int
    module: Any = None  # the module called (call_module)
    target: Any = None  # the function called (call_function) or the method's name

    def arg(self, name: str, position: int, default: Any = REQUIRED) -> Any:
        """An argument by its name (normalized) or position; Unmappable if missing."""
        if self.named is not None and name in self.named:
            return self.named[name]
        if name in self.kwargs:
            return self.kwargs[name]
        if position < len(self.args):
            return self.args[position]
        if default is REQUIRED:
            raise Unmappable(f"argument {name!r} is missing")
        return default

    def tensor(self, value: Any, what: str = "input") -> Tensor:
        return as_tensor(value, what)

    def static(self, value: Any, what: str) -> Any:
        """A plain value argument (a dim, a size); Unmappable if it is computed from tensors."""
        if isinstance(value, Meta):
            return value.value
        if isinstance(value, (Tensor, Multi, FinalStates, StatePair, TopState)):
            raise Unmappable(f"its {what} is computed from tensor values, so it is not a fixed parameter")
        if isinstance(value, (list, tuple)):
            return type(value)(self.static(v, what) for v in value)
        return value

    def sample_dim(self, dim: int, rank: int, what: str = "dim") -> int:
        """A batched tensor's axis as a per-sample axis (``rank`` counts the batch axis);
        Unmappable for the batch axis itself."""
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise Unmappable(f"{what} {dim!r} is not a single axis")
        if not -rank <= dim < rank:
            raise Unmappable(f"{what} {dim} is out of range for {rank} dimensions")
        if dim % rank == 0:
            raise Unmappable(f"it works along the batch axis ({what} {dim}); blocks work on each sample")
        return dim - 1 if dim > 0 else dim

    def emit(self, block: str, params: dict, inputs: list | dict, *, hint: str | None = None,
             weights: WeightSource | None = None) -> str:
        if hint is None:  # a function's node is named after its block, in the module it was called in
            hint = self.name if self.name is not None else f"{self.scope}.{block}" if self.scope else block
        node_id = self.built.node(hint, block, params, inputs, f"{self.path} ({self.op})", fallback=block)
        if weights is not None:
            weights.path = weights.path or self.path
            self.built.weights[node_id] = weights
            holders = self.built.shared.setdefault(id(weights.module), [])
            holders.append(node_id)
        return node_id

    def returned(self) -> TensorInfo:
        """What the call returned while tracing, per sample; Unmappable unless it is one
        tensor with the batch axis first."""
        seen = self.out
        if not isinstance(seen, TensorInfo):
            raise Unmappable("it does not return a tensor")
        if not seen.shape or seen.shape[0] != self.batch:
            raise Unmappable(f"its result {list(seen.shape)} does not keep the batch axis first")
        return TensorInfo(tuple(seen.shape[1:]), seen.dtype)

    def result(self, node_id: str, port: str | None = None, *,
               sequence_of: tuple[str, int] | None = None) -> Tensor:
        """The Tensor for ``node_id``'s output ``port``: what this call returned."""
        seen = self.returned()
        self.built.traced.setdefault(node_id if port is None else f"{node_id}.{port}", self.fx_name)
        return Tensor(f"{node_id}.{port}" if port else node_id, seen.shape, seen.dtype, sequence_of)

    def single(self, block: str, params: dict, x: Any, *, weights: WeightSource | None = None,
               hint: str | None = None) -> Tensor:
        """One node of a one-input, one-output block on ``x``."""
        return self.result(self.emit(block, params, [self.tensor(x).ref], weights=weights, hint=hint))


# --- parameters from the declaration ------------------------------------------------------------
def _plain(value: Any, decl: Any) -> Any:
    """A module attribute as a YAML value: a weight (or None) stands for "has one"."""
    kind = getattr(decl, "kind", "")
    if kind == "bool" and not isinstance(value, bool) and (value is None or hasattr(value, "shape")):
        return value is not None
    if isinstance(value, tuple) or type(value).__name__ == "Size":
        return [_plain(v, None) for v in value]
    return value


def _compact(value: Any, decl: Any) -> Any:
    """``(3, 3)`` -> ``3`` where the declaration takes one int for every axis."""
    if isinstance(value, tuple):
        if isinstance(decl, Ints) and decl.length is not None and len(set(value)) == 1:
            return value[0]
        return list(value)
    return value


def block_params(name: str, source: Any = None, *, skip: Iterable[str] = (), **values: Any) -> dict:
    """The parameters of block ``name`` for a node: every declared parameter from
    ``values``, else from ``source``'s attribute of the same name (a weight or None counts
    as a flag: ``bias``); checked by the declaration; defaults left out.
    Unmappable if the block is not registered or a value does not fit."""
    try:
        block = get_block(name)
    except UnknownBlockError:
        raise Unmappable(f"it needs the block {name!r}, which is not registered") from None
    unknown = [k for k in values if k not in block.params]
    if unknown:
        raise Unmappable(f"block {name!r} has no parameter {unknown[0]!r}")
    skipped = set(skip)
    raw: dict[str, Any] = {}
    for key, decl in block.params.items():
        if key in skipped:
            continue
        if key in values:
            raw[key] = _plain(values[key], decl)
        elif source is not None and hasattr(source, key):
            raw[key] = _plain(getattr(source, key), decl)
    checked, problems = block.check_params(raw)
    if problems:
        raise Unmappable(f"block {name!r} cannot take it: " + "; ".join(problems.values()))
    params = {}
    for key in raw:
        decl = block.params[key]
        if not decl.required:
            default = None if decl.default is None else decl.check(decl.default)
            if checked[key] == default:
                continue
        params[key] = _compact(checked[key], decl)
    return params


# --- which mapper handles what ---------------------------------------------------------------
Mapper = Callable[[Call], Any]
MODULES: dict[type, Mapper] = {}
FUNCTIONS: dict[Any, Mapper] = {}
METHODS: dict[str, Mapper] = {}


def on_module(*classes: type) -> Callable[[Mapper], Mapper]:
    def register(mapper: Mapper) -> Mapper:
        for cls in classes:
            MODULES[cls] = mapper
        return mapper
    return register


def on_function(*functions: Any) -> Callable[[Mapper], Mapper]:
    def register(mapper: Mapper) -> Mapper:
        for function in functions:
            FUNCTIONS[function] = mapper
        return mapper
    return register


def on_method(*names: str) -> Callable[[Mapper], Mapper]:
    def register(mapper: Mapper) -> Mapper:
        for name in names:
            METHODS[name] = mapper
        return mapper
    return register


def module_mapper(module: Any) -> Mapper | None:
    """The mapper for exactly this module's class: a subclass may compute something else."""
    return MODULES.get(type(module))
