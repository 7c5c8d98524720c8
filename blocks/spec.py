"""The block declaration: one class per block type, everything else is derived from it.

A block declares its name, category, typed parameters, ports, a shape rule, a cost rule
(parameters and multiply-accumulates, plain arithmetic so that the editor can re-run it on
every edit) and a module factory. Its docstring is the block's documentation; the first
line is its summary in the palette and in ``modelbuilder blocks``.

Shapes are per sample: the batch dimension is implicit and never appears here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

from blocks.params import REQUIRED, Param, ParamError, Port
from blocks.suggest import did_you_mean

if TYPE_CHECKING:
    from torch import nn

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """An input shape that a block cannot accept; the message says expected versus found."""


@dataclass(frozen=True)
class Cost:
    """Trainable parameters and multiply-accumulates of one forward pass for one sample."""

    params: int = 0
    macs: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.params + other.params, self.macs + other.macs)


class Params(dict):
    """Validated parameter values with attribute access (``p.kernel_size``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def format_shape(shape: Sequence[int] | None) -> str:
    """``(3, 32, 32)`` -> ``[3, 32, 32]``, the way shapes are written in YAML and messages."""
    if shape is None:
        return "?"
    return "[" + ", ".join(str(d) for d in shape) + "]"


def expect_rank(shape: Shape, ranks: int | Sequence[int], meaning: str) -> None:
    """Raise a ShapeError unless ``shape`` has one of the given numbers of dimensions."""
    allowed = (ranks,) if isinstance(ranks, int) else tuple(ranks)
    if len(shape) not in allowed:
        dims = " or ".join(str(r) for r in allowed)
        raise ShapeError(f"expects {dims} dimensions per sample ({meaning}), found {format_shape(shape)}")


class Block:
    """Base class of block declarations. Subclass it and decorate with ``@register``."""

    name: ClassVar[str]
    category: ClassVar[str] = "Other"
    params: ClassVar[Mapping[str, Param]] = {}
    inputs: ClassVar[tuple[Port, ...]] = (Port("x", "input tensor"),)
    outputs: ClassVar[tuple[Port, ...]] = (Port("out", "output tensor"),)
    # A few parameter sets with input shapes: they appear in the docs, and a generic test
    # builds each one and checks that shape and cost rules agree with the real module.
    examples: ClassVar[tuple[Mapping[str, Any], ...]] = ()
    # Parameters shown on the node in the editor.
    key_params: ClassVar[tuple[str, ...]] = ()
    # Other names a graph file may use for this block (``swish`` for ``silu``): other
    # libraries' spellings. The block keeps one name in messages, the palette and the docs.
    aliases: ClassVar[tuple[str, ...]] = ()

    # --- derived information -------------------------------------------------------
    @classmethod
    def summary(cls) -> str:
        """The docstring's first line."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def doc(cls) -> str:
        """The whole docstring, dedented."""
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")

    @property
    def multi_output(self) -> bool:
        return len(self.outputs) > 1

    def port(self, name: str, *, output: bool) -> Port | None:
        for p in self.outputs if output else self.inputs:
            if p.name == name:
                return p
        return None

    # --- parameters -----------------------------------------------------------------
    def check_params(self, raw: Mapping[str, Any]) -> tuple[Params, dict[str | None, str]]:
        """Validate ``raw`` against the declaration.

        Returns the normalized values (defaults filled in) and the problems keyed by the
        parameter they concern (``None`` for the block as a whole).
        """
        values = Params()
        problems: dict[str | None, str] = {}
        for key in raw:
            if key not in self.params:
                known = ", ".join(self.params) or "none"
                more = did_you_mean(key, self.params) or f" (known: {known})"
                problems[key] = f"unknown parameter {key!r} for block {self.name!r}{more}"
        for key, decl in self.params.items():
            if key not in raw:
                if decl.default is REQUIRED:
                    problems[key] = f"missing required parameter {key!r} ({decl.describe()})"
                else:  # defaults go through the same normalization (1 -> (1, 1))
                    values[key] = None if decl.default is None else decl.check(decl.default)
                continue
            try:
                values[key] = decl.check(raw[key])
            except ParamError as err:
                problems[key] = f"parameter {key!r}: {err}"
        if not problems:
            try:
                self.check(values)
            except ParamError as err:
                problems[None] = str(err)
        return values, problems

    def check(self, p: Params) -> None:
        """Constraints between parameters; raise ParamError. Override when needed."""

    # --- the rules a block implements --------------------------------------------------
    def infer(self, p: Params, **inputs: Any) -> Shape | dict[str, Shape]:
        """Output shape(s) from input shapes; raise ShapeError for shapes it cannot take."""
        raise NotImplementedError

    def cost(self, p: Params, out: Any, **inputs: Any) -> Cost:
        """Parameters and MACs per sample. Blocks without weights keep the default."""
        return Cost()

    def build(self, p: Params, **inputs: Any) -> nn.Module:
        """A fresh ``nn.Module``. Its forward takes the input ports in declaration order
        (a variadic port as one ``List[Tensor]``, which TorchScript accepts where ``*xs``
        is refused) and returns one tensor, or a tuple in output-port order for blocks with
        several outputs."""
        raise NotImplementedError

    # --- the inside of a built-in composite block -----------------------------------------
    def inside(self, p: Params, **inputs: Any) -> dict[str, Any] | None:
        """What the block computes, as a graph of primitive blocks for these parameters and
        input shapes; None (the default) for a block that is not made of others.

        The result is a mapping in the graph file's structure (``name``, ``description``,
        ``nodes``, see docs/format.md), so it parses, checks, compiles and draws like any
        graph: one ``input`` node per input port, named after the port and carrying its
        shape, and one ``output`` node per output port. It must compute exactly what
        :meth:`build` builds: its output shapes equal :meth:`infer`, its parameters and MACs
        :meth:`cost`. Nodes with weights are named after the built module's submodules
        (``se.fc1`` -> ``se_fc1``; a ``conv`` inside a conv-norm-act group takes the group's
        name), so that the module's ``state_dict`` loads into the compiled inside. Shown in
        the editor when a student double-clicks the block.
        """
        return None

    @classmethod
    def has_inside(cls) -> bool:
        """True when the block describes its inside (overrides :meth:`inside`)."""
        return cls.inside is not Block.inside

    def infer_ports(self, p: Params, inputs: Mapping[str, Any]) -> dict[str, Shape]:
        """``infer`` normalized to a mapping from output port to shape."""
        out = self.infer(p, **inputs)
        if isinstance(out, dict):
            return out
        return {self.outputs[0].name: tuple(out)}
