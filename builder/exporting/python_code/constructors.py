"""Constructor calls: for each layer, the first way of writing it whose result rebuilds an
identical layer (same class, same ``repr``, same parameter and buffer names and shapes, same
plain settings such as ``self.dim``, in it and in its submodules; built on the meta device
without random initialization, so checking costs no memory or time):

* the arguments the module recorded (``@keeps_arguments`` in ``blocks/modules``);
* a known rule (``ARGUMENT_RULES``, keyed by the class) for a few modules that do not record
  and do not keep their arguments as attributes of the same name;
* the constructor's signature read back from the layer's attributes (every standard
  ``torch.nn`` layer: ``in_channels``, ``kernel_size`` ..., ``bias`` from whether the bias
  parameter exists), tuples of equal numbers written as one number where that builds the
  same layer, arguments equal to their default left out;
* ``repr(layer)`` read as code; ``nn.Sequential`` from its children.
"""

from __future__ import annotations

import inspect
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from blocks.modules.arguments import ATTRIBUTE as RECORDED
from blocks.modules.cnn import GlobalAvgPoolModule
from builder.exporting.errors import ExportError
from builder.exporting.python_code.calls import Arg, Call, Unwritable, render_value, same

MAX_POSITIONAL = 2  # more positional arguments than this read as a puzzle


def _transformer_layer(m: nn.Module) -> dict[str, Any]:
    activation = m.activation
    name = getattr(activation, "__name__", None) or type(activation).__name__.lower()
    return {"d_model": m.self_attn.embed_dim, "nhead": m.self_attn.num_heads,
            "dim_feedforward": m.linear1.out_features, "dropout": m.dropout.p, "activation": name,
            "layer_norm_eps": m.norm1.eps, "batch_first": m.self_attn.batch_first, "norm_first": m.norm_first,
            "bias": m.linear1.bias is not None}


#: Constructor arguments of modules that neither record them nor keep them as attributes of
#: the same name: class -> module -> {argument: value}. Keyed by the class object itself, so
#: a class that is moved or renamed fails at import here instead of silently losing its rule.
ARGUMENT_RULES: dict[type, Callable[[nn.Module], dict[str, Any]]] = {
    GlobalAvgPoolModule: lambda m: {"spatial_dims": len(m.dims)},
    nn.TransformerEncoderLayer: _transformer_layer,
    nn.TransformerDecoderLayer: _transformer_layer,
}


def _signature(cls: type) -> list[inspect.Parameter]:
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError) as err:
        raise Unwritable(f"no constructor signature ({err})") from None
    return [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _call_from_arguments(callee: str, cls: type, arguments: dict[str, Any]) -> Call:
    """The first required parameters positionally (``nn.Conv2d(1, 6, kernel_size=5)``), the
    others as keywords, left out when equal to their default."""
    args, positional_ok = [], True
    for p in _signature(cls):
        if p.name not in arguments:
            if p.default is p.empty:
                raise Unwritable(f"no value for the required argument {p.name!r}")
            positional_ok = False
            continue
        value = arguments[p.name]
        if p.default is not p.empty and same(value, p.default):
            positional_ok = False
            continue
        render_value(value)  # writable?
        as_positional = (positional_ok and p.default is p.empty and p.kind != p.KEYWORD_ONLY
                         and len(args) < MAX_POSITIONAL)
        positional_ok = positional_ok and as_positional
        args.append(Arg(p.name, value, as_positional))
    return Call(callee, args)


def _arguments_from_attributes(module: nn.Module, compact: bool) -> dict[str, Any]:
    arguments = {}
    for p in _signature(type(module)):
        if p.name in ("device", "dtype") or p.name.startswith("_"):
            continue
        if not hasattr(module, p.name):
            continue
        value = getattr(module, p.name)
        if (value is None or isinstance(value, torch.Tensor)) and isinstance(p.default, bool):
            value = value is not None  # bias=True/False from whether the parameter exists
        if isinstance(value, (torch.Tensor, nn.Module)):
            raise Unwritable(f"attribute {p.name!r} is a {type(value).__name__}")
        if compact and isinstance(value, tuple) and value and all(same(v, value[0]) for v in value):
            value = value[0]
        arguments[p.name] = value
    return arguments


# Layers that expand a number to a tuple of equal numbers when they use it (pooling keeps
# ``kernel_size=2`` as given, convolutions store ``(2, 2)``): for these ``2`` and ``(2, 2)``
# build the same layer, so their reprs are compared with such tuples written as one number.
_SAME_AS_TUPLE = (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
                  nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd, nn.Upsample)
_EQUAL_TUPLE = re.compile(r"\((-?[0-9.]+)(?:, \1)+\)")


_MODULE_INTERNALS = frozenset(vars(nn.Module()))


def _settings(module: nn.Module) -> dict[str, Any]:
    """The plain values a module keeps (``self.dim = dim``), which ``forward`` may use."""
    found = {}
    for key, value in vars(module).items():
        if key in _MODULE_INTERNALS or key == RECORDED:
            continue
        if _plain(value):
            found[key] = repr(value)
    return found


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _layout(module: nn.Module) -> tuple:
    """What a rebuilt module must share with the original: class, repr, parameter and
    buffer names and shapes, and the plain settings of it and of every submodule."""
    text = repr(module)
    if isinstance(module, _SAME_AS_TUPLE):
        text = _EQUAL_TUPLE.sub(r"\1", text)
        settings = []
    else:
        settings = [(name, type(m), _settings(m)) for name, m in module.named_modules()]
    return (type(module), text, settings,
            [(k, tuple(v.shape)) for k, v in module.state_dict().items()],
            [(k, tuple(v.shape)) for k, v in module.named_buffers()])


class Namer:
    """Module-level names of model.py: the project classes it copies, generated classes."""

    def __init__(self) -> None:
        self.copied: dict[str, type] = {}  # class name -> project class (source copied in)

    def callee(self, cls: type) -> str:
        if cls.__module__.startswith("torch.") and getattr(nn, cls.__name__, None) is cls:
            return f"nn.{cls.__name__}"
        if cls.__module__.split(".")[0] != "torch":
            known = self.copied.get(cls.__name__)
            if known is not None and known is not cls:
                raise ExportError(f"two different modules are both called {cls.__name__} "
                                  f"({known.__module__} and {cls.__module__}); model.py can hold only one")
            self.copied[cls.__name__] = cls
            return cls.__name__
        raise Unwritable(f"{cls.__module__}.{cls.__qualname__} is not importable as nn.{cls.__name__}")

    def namespace(self) -> dict[str, Any]:
        return {"nn": nn, "torch": torch, "OrderedDict": OrderedDict, "float": float, **self.copied}


class _NoRandomInit(TorchFunctionMode):
    """Skips random initialization while a layer is rebuilt on the meta device for checking
    (the meta kernels of ``normal_`` import half of torch's compiler stack on first use)."""

    SKIPPED = frozenset({"normal_", "uniform_", "trunc_normal_", "exponential_", "bernoulli_", "random_"})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in self.SKIPPED and (args or "tensor" in kwargs):
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


def _verified(call: Call, module: nn.Module, namer: Namer) -> Call:
    text = call.render()
    expected = _layout(module)
    for device in ("meta", "cpu"):
        try:
            with torch.device(device), _NoRandomInit():
                rebuilt = eval(text, namer.namespace())
        except Exception as err:  # noqa: BLE001 - any failure means "not this way"
            failure = f"{text} fails: {err}"
            continue
        if _layout(rebuilt) == expected:
            return call
        failure = f"{text} builds a different layer"
        break
    raise Unwritable(failure)


def constructor_call(module: nn.Module, namer: Namer) -> Call:
    """The constructor call that rebuilds ``module`` (not a GraphModule); Unwritable, with
    the reason of every way tried, if none does."""
    cls = type(module)
    callee = namer.callee(cls)
    attempts: list[Callable[[], Call]] = []
    if cls is nn.Sequential:
        attempts.append(lambda: _sequential_call(module, namer))
    recorded = module.__dict__.get(RECORDED)
    if isinstance(recorded, dict):
        attempts.append(lambda: _call_from_arguments(callee, cls, recorded))
    rule = ARGUMENT_RULES.get(cls)
    if rule is not None:
        attempts.append(lambda: _call_from_arguments(callee, cls, rule(module)))
    attempts.append(lambda: _call_from_arguments(callee, cls, _arguments_from_attributes(module, compact=True)))
    attempts.append(lambda: _call_from_arguments(callee, cls, _arguments_from_attributes(module, compact=False)))
    attempts.append(lambda: _call_from_repr(module, callee))
    reasons = []
    for attempt in attempts:
        try:
            return _verified(attempt(), module, namer)
        except Unwritable as err:
            reasons.append(str(err))
    raise Unwritable("; ".join(dict.fromkeys(reasons)))


def _call_from_repr(module: nn.Module, callee: str) -> Call:
    text = repr(module)
    name = type(module).__name__
    if not text.startswith(name + "(") or "\n" in text:
        raise Unwritable(f"repr {text.splitlines()[0]!r} is not a constructor call")
    return Call(callee, raw=text[len(name) + 1:-1])


def _sequential_call(module: nn.Sequential, namer: Namer) -> Call:
    children = list(module.named_children())
    calls = [constructor_call(child, namer) for _, child in children]
    if [name for name, _ in children] == [str(i) for i in range(len(children))]:
        return Call("nn.Sequential", [Arg(str(i), c, True) for i, c in enumerate(calls)])
    pairs = [(name, c) for (name, _), c in zip(children, calls)]
    return Call("nn.Sequential", [Arg("args", Call("OrderedDict", [Arg("items", [tuple(p) for p in pairs], True)]), True)])
