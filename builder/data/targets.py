"""What each graph output learns from: targets matched to outputs, and the task each one is.

A source gives one target tensor (class ids or regression values) or several, by name
(``Samples.targets`` a dict: the localization source gives ``{"class": ..., "box": ...}``).
A graph has one output or several. :func:`match_outputs` decides, before training, which
target every output that has a loss learns from, and what kind of task that is:

* ``classification``: class ids with the classes on the output's last axis, one label per
  sample (output ``[C]``, labels ``[]``) or per step (output ``[T, C]``, labels ``[T]``);
* ``segmentation``: class ids with the classes on the output's channel axis, one label per
  position (output ``[C, H, W]``, labels ``[H, W]``; or ``[C, L]`` with labels ``[L]``);
* ``regression``: values of the output's shape; ``box`` is regression of a box
  ``(x0, y0, x1, y1)``, measured by box IoU.

An output is matched to the target of its own name, or to the one its loss setting names
(``target:``), or else to the only target that fits it. When outputs and labels cannot be
paired, a DataError says which shapes were found and what would fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from builder.data.arrays import format_shape
from builder.data.errors import DataError

CHANNELS, LAST = "channels", "last"  # where an output holds its class scores
KINDS = ("classification", "segmentation", "regression", "box")


class Targets:
    """Several named target tensors that travel together, indexed like one tensor: ``t[i]``
    (an index tensor or a slice) selects the same samples of each; ``t.get(name)`` is one."""

    def __init__(self, parts: Mapping[str, torch.Tensor]):
        self.parts = dict(parts)
        sizes = {len(t) for t in self.parts.values()}
        if len(sizes) > 1:
            raise ValueError(f"Targets: the parts have different sample counts {sorted(sizes)}")

    def __len__(self) -> int:
        return len(next(iter(self.parts.values()))) if self.parts else 0

    def __getitem__(self, index) -> Targets:
        return Targets({k: t[index] for k, t in self.parts.items()})

    def get(self, name: str) -> torch.Tensor:
        return self.parts[name]

    def to(self, device, non_blocking: bool = False) -> Targets:
        return Targets({k: t.to(device, non_blocking=non_blocking) for k, t in self.parts.items()})

    def pin_memory(self) -> Targets:
        return Targets({k: t.pin_memory() for k, t in self.parts.items()})

    @property
    def device(self) -> torch.device:
        return next(iter(self.parts.values())).device

    def __repr__(self) -> str:
        return "Targets(" + ", ".join(f"{k}: {format_shape(t.shape[1:])}" for k, t in self.parts.items()) + ")"


def target_of(y: torch.Tensor | Targets, key: str | None) -> torch.Tensor:
    """The tensor an output learns from: ``y`` itself (one target) or its part ``key``."""
    return y if key is None or not isinstance(y, Targets) else y.get(key)


@dataclass(frozen=True)
class OutputSpec:
    """One graph output, as the data is checked against it: its node, per-sample shape,
    whether it is trained (``None``: when the labels fit it, for a plain loss setting on a
    graph with several outputs) and what its loss setting says about its target."""

    node: str
    shape: tuple[int, ...]
    trained: bool | None = True
    target: str | None = None  # the target named in the loss setting
    classes: str | None = None  # CHANNELS or LAST, when the loss setting says where the classes are
    kind: str | None = None  # a kind the loss setting asks for ("box")


@dataclass(frozen=True)
class OutputTask:
    """What one output learns: from which target (``None``: the only one; ``""``: none, the
    output is watched only), the kind of task and, for classes, how many."""

    node: str
    target: str | None
    kind: str | None  # one of KINDS, or None for a watched output without a target
    num_classes: int | None = None
    trained: bool = True


def primary_shape(outputs) -> tuple[int, ...]:
    """The shape of the first trained output of OutputSpecs, or ``outputs`` itself (a shape)."""
    specs = [o for o in outputs if isinstance(o, OutputSpec)]
    if not specs:
        return tuple(int(d) for d in outputs)
    return next((o for o in specs if o.trained is not False), specs[0]).shape


def class_axis(labels: tuple[int, ...], output: tuple[int, ...], prefer: str | None = None) -> str | None:
    """Where ``output`` holds the class scores for per-sample ``labels`` of that shape:
    LAST (``[..., C]`` with labels ``[...]``), CHANNELS (``[C, ...]`` with labels ``[...]``)
    or None when neither fits. When both fit (a square output), images (three or more
    axes) take the channel axis and sequences the last one, unless ``prefer`` says."""
    last = bool(output) and labels == output[:-1]
    channels = len(output) >= 2 and labels == output[1:]
    if last and channels:
        return prefer or (CHANNELS if len(output) >= 3 else LAST)
    if prefer == CHANNELS and not channels or prefer == LAST and not last:
        return None
    return LAST if last else CHANNELS if channels else None


def label_shapes(output: tuple[int, ...]) -> str:
    """The label shapes that fit class scores ``output``, in words (for hints)."""
    if not output:
        return "none: a single number scores no classes"
    if len(output) == 1:
        return "one class id per sample (labels [N])"
    text = (f"one class id per position: {format_shape(output[1:])} with the {output[0]} classes on the channel "
            f"axis (e.g. segmentation masks)")
    return text + f", or {format_shape(output[:-1])} with the {output[-1]} classes on the last axis " \
                  "(e.g. one label per time step)"


def fits(target: torch.Tensor, output: OutputSpec) -> bool:
    """Whether a target tensor (``[N, ...]``) can train ``output``."""
    per_sample = tuple(target.shape[1:])
    if target.dtype == torch.int64:
        return class_axis(per_sample, output.shape, output.classes) is not None
    return per_sample == output.shape or (per_sample == () and output.shape == (1,))


def _output(node: str) -> str:
    return f"the graph's output {node!r}" if node else "the graph's output"


def classes_task(node: str, key: str | None, labels: torch.Tensor, output: OutputSpec, where: str,
                 class_names: list[str] | None = None) -> OutputTask:
    """The classification or segmentation task of class ids ``labels`` (``[N, ...]``) for
    ``output``; DataError (with the shapes that would fit) when they fit neither axis or go
    beyond the output's classes."""
    shape, per_sample = tuple(output.shape), tuple(labels.shape[1:])
    if not shape:
        raise DataError(f"class labels need an output with one score per class, but {_output(node)} "
                        "is a single number", file=where)
    axis = class_axis(per_sample, shape, output.classes)
    if axis is None:
        per = "sample" if not per_sample else "position of " + format_shape(per_sample)
        raise DataError(f"the labels have per-sample shape {format_shape(per_sample)} but {_output(node)} "
                        f"{format_shape(shape)} does not score classes per {per}", file=where,
                        hint=f"labels that fit {format_shape(shape)}: {label_shapes(shape)}")
    classes = shape[0] if axis == CHANNELS else shape[-1]
    if len(labels):
        top = int(labels.max())
        if top >= classes:
            named = class_names and len(class_names) > top
            where_scores = "sample" if not per_sample else "position"
            fix = (f"conv2d out_channels: {top + 1}" if axis == CHANNELS and len(shape) == 3
                   else f"linear out_features: {top + 1}")
            raise DataError(
                f"labels go up to {top}" + (f" ({len(class_names)} classes)" if named else "")
                + f" but {_output(node)} has {classes} values per {where_scores}", file=where,
                hint=f"give the last layer at least {top + 1} outputs (e.g. {fix})")
        low = int(labels.min())
        if low < 0:
            raise DataError(f"the labels hold {low}; class ids start at 0", file=where)
    return OutputTask(node, key, "segmentation" if axis == CHANNELS else "classification", classes)


def _describe(targets: Mapping[str | None, torch.Tensor]) -> str:
    def one(key, t):
        what = "class ids" if t.dtype == torch.int64 else "values"
        return f"{key + ' ' if key else ''}{format_shape(t.shape[1:])} ({what})"
    return ", ".join(one(k, t) for k, t in targets.items())


def match_outputs(targets: torch.Tensor | Mapping[str, torch.Tensor], outputs: list[OutputSpec], where: str,
                  kinds: Mapping[str, str] | None = None, class_names: list[str] | None = None
                  ) -> dict[str, OutputTask]:
    """The task of every output (in ``outputs``' order), or DataError naming the output,
    the target and the shapes. ``kinds`` are what the source says its targets are
    (``{"box": "box"}``); otherwise int64 targets are class ids and float ones values."""
    named: dict[str | None, torch.Tensor] = dict(targets) if isinstance(targets, Mapping) else {None: targets}
    kinds = dict(kinds or {})
    tasks: dict[str, OutputTask] = {}
    maybe = [o for o in outputs if o.trained is None]  # plain loss, several outputs: trained where labels fit
    for output in outputs:
        key = _pick_target(named, output, where, {o.node for o in outputs} - {output.node})
        if key is _NONE:
            tasks[output.node] = OutputTask(output.node, "", None, trained=False)
            continue
        target = named[key]
        trained = output.trained is not False
        if target.dtype == torch.int64 and kinds.get(key or "") != "box":
            task = classes_task(output.node, key, target, output, where, class_names)
        else:
            if not fits(target, output):
                raise DataError(f"the {'target ' + repr(key) if key else 'regression targets'} have per-sample "
                                f"shape {format_shape(target.shape[1:])} but {_output(output.node)} is "
                                f"{format_shape(output.shape)}", file=where,
                                hint="regression targets have the output's per-sample shape")
            task = OutputTask(output.node, key, output.kind or kinds.get(key or "") or "regression")
        tasks[output.node] = OutputTask(task.node, task.target, task.kind, task.num_classes, trained)
    chosen = [o.node for o in maybe if tasks[o.node].trained]
    if len(chosen) > 1:
        raise DataError(f"the labels fit {len(chosen)} of the graph's outputs ({', '.join(chosen)}): say which to "
                        "train, and with what weight", file=where,
                        hint=f"e.g. loss: {{{chosen[0]}: cross_entropy, {chosen[1]}: {{loss: cross_entropy, "
                             "weight: 0.3}}; an output left out is watched only")
    if not any(t.trained for t in tasks.values()):
        shapes = ", ".join(f"{o.node} {format_shape(o.shape)}" for o in outputs)
        raise DataError(f"the labels ({_describe(named)}) fit none of the graph's outputs ({shapes})", file=where,
                        hint="; ".join(f"{o.node}: {label_shapes(o.shape)}" for o in outputs if o.shape)
                        + " (regression targets: the output's own shape)")
    return tasks


_NONE = object()  # no target: the output is watched only


def _pick_target(named: dict, output: OutputSpec, where: str, others: set[str]):
    """The key of the target that trains ``output`` (None: the only, unnamed one), or _NONE.
    A target named after one of the ``others`` outputs is theirs."""
    keys = [k for k in named if k is not None]
    if output.target is None and list(named) == [None] and output.trained:
        return None  # one target, one trained output: the checks say what does not fit
    if output.target is not None:
        if output.target not in named:
            raise DataError(f"the loss of output {output.node!r} names the target {output.target!r}, but the data "
                            f"gives {', '.join(map(repr, keys)) or 'one unnamed target'}", file=where,
                            hint="name one of the data's targets, or leave 'target' out to match by name and shape")
        return output.target
    if output.node in named:
        return output.node
    fitting = [k for k, t in named.items() if k not in others and fits(t, output)]
    if output.trained is False:
        return _NONE  # watched: only a target named after it (or named in the setting) is measured
    if output.trained is None:  # a plain loss on several outputs: the outputs the labels fit
        return fitting[0] if len(fitting) == 1 else _NONE
    if len(fitting) == 1:
        return fitting[0]
    if not fitting:
        available = _describe(named)
        raise DataError(f"the labels ({available}) do not fit the graph's output {output.node!r} "
                        f"{format_shape(output.shape)}", file=where,
                        hint=f"labels that fit it: {label_shapes(output.shape)}; regression targets have its shape"
                        + (f"; or name the target in the loss setting: {{{output.node}: {{loss: ..., target: "
                           f"{keys[0]}}}}}" if keys else ""))
    raise DataError(f"several targets ({', '.join(map(repr, fitting))}) fit the graph's output {output.node!r}",
                    file=where, hint=f"say which in the loss setting, e.g. loss: {{{output.node}: "
                                     f"{{loss: cross_entropy, target: {fitting[0]}}}}}")
