"""load_data: a graph's ``training.data`` spec to checked, split, normalized TaskData."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from blocks.params import ParamError
from builder.data import builtin, files, folder, patterns, torchvision_data
from builder.data.arrays import ArrayData, InputSpec, TaskData, count, format_shape
from builder.data.augment import make_augment
from builder.data.errors import DataError, did_you_mean
from builder.data.normalize import apply_normalization, fit_normalization
from builder.data.source import COMMON, Context, Samples, Source
from builder.data.targets import OutputSpec, OutputTask, Targets, match_outputs

SOURCES: dict[str, Source] = {s.name: s for s in builtin.SOURCES + patterns.SOURCES + files.SOURCES
                              + folder.SOURCES + torchvision_data.SOURCES}
DATA_SOURCES = SOURCES  # the name builder exports: every data source by name



def check_options(source: Source, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The source's options from ``spec`` (without ``name``), checked, with defaults filled in."""
    declared = {**source.options, **COMMON}
    options: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "name":
            continue
        decl = declared.get(key)
        if decl is None:
            raise DataError(f"{source.name}: unknown option {key!r}{did_you_mean(key, declared)}",
                            hint=f"{source.name} takes: {', '.join(declared)}")
        try:
            options[key] = decl.check(value)
        except ParamError as err:
            raise DataError(f"{source.name}: option {key!r}: {err}") from None
    for key, decl in declared.items():
        if key not in options:
            if decl.required:
                raise DataError(f"{source.name}: option {key!r} is required ({decl.doc})",
                                hint=f"e.g. data: {{name: {source.name}, {key}: ...}}")
            options[key] = decl.default
    return options


def check_inputs(samples: Samples, inputs: list[InputSpec]) -> None:
    """Every input tensor has its graph input's per-sample shape and dtype."""
    if len(samples.inputs) != len(inputs):
        raise DataError(f"the data gives {len(samples.inputs)} inputs but the graph has {len(inputs)}",
                        file=samples.where)
    for i, (x, spec) in enumerate(zip(samples.inputs, inputs)):
        name = samples.names[i] if samples.names else f"input {i + 1}"
        if tuple(x.shape[1:]) != tuple(spec.shape):
            raise DataError(f"{name} has per-sample shape {format_shape(x.shape[1:])} but the graph's input "
                            f"{spec.node!r} expects {format_shape(spec.shape)}", file=samples.where)
        if x.dtype != spec.torch_dtype:
            raise DataError(f"{name} is {str(x.dtype).removeprefix('torch.')} but the graph's input "
                            f"{spec.node!r} takes {spec.dtype}", file=samples.where)


def check_targets(samples: Samples, output_shape: tuple[int, ...]) -> Samples:
    """Targets that fit a graph's one output ``output_shape``: class ids in range, one per
    output row or position, or regression values of the output's shape (``[N]`` becomes
    ``[N, 1]`` for an output ``[1]``). DataError otherwise."""
    return fit_targets(samples, [OutputSpec("", tuple(output_shape))])[0]


def fit_targets(samples: Samples, outputs: list[OutputSpec]) -> tuple[Samples, dict[str, OutputTask]]:
    """``samples`` with targets ready for training, and what each of ``outputs`` learns
    (builder/data/targets.py); DataError naming the output and the shapes otherwise."""
    def prepared(t: torch.Tensor, kind: str | None) -> torch.Tensor:
        if kind == "classification" or (kind is None and not t.is_floating_point()):
            return t.long()
        return t.float()

    if isinstance(samples.targets, dict):
        kinds = samples.target_kinds or {}
        targets = {k: prepared(t, "regression" if kinds.get(k) == "box" else None) for k, t in samples.targets.items()}
    else:
        targets = prepared(samples.targets, samples.kind)
    tasks = match_outputs(targets, outputs, samples.where, samples.target_kinds, samples.class_names)
    if isinstance(targets, torch.Tensor) and targets.dim() == 1 and targets.is_floating_point():
        trained = [outputs[i] for i, t in enumerate(tasks.values()) if t.trained]
        if trained and trained[0].shape == (1,):
            targets = targets.unsqueeze(1)  # regression values [N] for an output [1]
    samples.targets = targets
    return samples, tasks


def split_indices(n: int, val_split: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train, val)`` sample indices: a random permutation fixed by ``seed``, the first
    ``floor(n * val_split)`` (at least 1 when val_split > 0) held out."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = int(n * val_split)
    if val_split > 0 and n_val == 0 and n > 1:
        n_val = 1
    return order[n_val:].sort().values, order[:n_val].sort().values


def load_data(spec: Mapping[str, Any] | str, inputs: list[InputSpec],
              output_shape: tuple[int, ...] | list[OutputSpec], *,
              seed: int = 0, val_split: float = 0.2, base_dir: Path = Path(".")) -> TaskData:
    """The data set ``spec`` (the graph's ``training.data``, e.g. ``{name: digits}``) prepared
    for a graph with these ``inputs`` (forward-argument order) and per-sample ``output_shape``
    (or, for a graph with several outputs, an :class:`OutputSpec` for each).

    Raises DataError, before any training, for an unknown source or option, a missing or
    unreadable file, or data that does not fit the graph (shapes, dtypes, label range, NaN).
    Relative paths resolve against ``base_dir`` (the graph file's folder). The split and the
    synthetic data are fixed by ``seed``; the spec's ``val_split`` overrides the argument.
    """
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise DataError("the data spec needs a name, e.g. data: {name: digits}",
                        hint=f"sources: {', '.join(SOURCES)}")
    name = spec["name"]
    source = SOURCES.get(name) if isinstance(name, str) else None
    if source is None:
        raise DataError(f"unknown data source {name!r}{did_you_mean(str(name), SOURCES)}",
                        hint=f"sources: {', '.join(SOURCES)}")
    options = check_options(source, spec)
    inputs = [s if isinstance(s, InputSpec) else InputSpec(*s) for s in inputs]
    inputs = [InputSpec(s.node, tuple(int(d) for d in s.shape), s.dtype) for s in inputs]
    outputs = output_specs(output_shape)
    primary = next((o for o in outputs if o.trained is not False), outputs[0])
    ctx = Context(source.name, inputs, primary.shape, seed, Path(base_dir), options["limit"],
                  {o.node: o.shape for o in outputs})
    samples = source.load(options, ctx)
    if options["limit"] and len(samples) > options["limit"]:
        samples = samples.head(options["limit"])
    if len(samples) == 0:
        raise DataError("holds no samples", file=samples.where)
    check_inputs(samples, inputs)
    samples, tasks = fit_targets(samples, outputs)
    val_samples = samples.val
    if val_samples is not None:
        check_inputs(val_samples, inputs)
        val_samples, _ = fit_targets(val_samples, outputs)

    train = ArrayData(samples.inputs, _stacked(samples.targets))
    val: ArrayData | None = None
    share = options["val_split"] if options["val_split"] is not None else val_split
    if val_samples is not None:
        val = ArrayData(val_samples.inputs, _stacked(val_samples.targets))
    elif share > 0:
        if len(samples) < 2:
            raise DataError(f"only {len(samples)} sample: too few to hold some out for validation",
                            file=samples.where, hint="add samples or set val_split: 0")
        train_index, val_index = split_indices(len(samples), share, seed)
        train, val = train.subset(train_index), train.subset(val_index)

    normalization = None
    if options.get("normalize") and inputs[0].dtype == "float32":
        normalization = fit_normalization(train.inputs[0], inputs[0].node, samples.images, samples.scale)
        train.inputs[0] = apply_normalization(train.inputs[0], normalization)
        if val is not None:
            val.inputs[0] = apply_normalization(val.inputs[0], normalization)

    augment = make_augment(options.get("augment"))
    if augment is not None and len(inputs[0].shape) != 3:
        raise DataError(f"{source.name}: augment needs an image input [C, H, W], but the graph's input "
                        f"{inputs[0].node!r} is {format_shape(inputs[0].shape)}")

    task = next((t for t in tasks.values() if t.trained), None)
    kind = (task.kind if task is not None else samples.kind) if len(tasks) == 1 else "multi_output"
    classes, names = None, None
    if task is not None and task.kind in ("classification", "segmentation"):
        names = samples.class_names
        classes = len(names) if names else task.num_classes
    description = f"{samples.what}: {count(len(train))} train / {count(len(val)) if val is not None else 0} val"
    if augment is not None:
        description += f", augmented with {augment.describe()}"
    return TaskData(train=train, val=val, kind=kind, num_classes=classes, class_names=names,
                    normalization=normalization, augment=augment, description=description, outputs=tasks)


def output_specs(output_shape: tuple[int, ...] | list[OutputSpec]) -> list[OutputSpec]:
    """``load_data``'s outputs: OutputSpecs as given, or one unnamed output of that shape."""
    if output_shape and all(isinstance(o, OutputSpec) for o in output_shape):
        return list(output_shape)  # type: ignore[arg-type]
    return [OutputSpec("", tuple(int(d) for d in output_shape))]  # type: ignore[union-attr]


def _stacked(targets: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor | Targets:
    return Targets(targets) if isinstance(targets, dict) else targets
