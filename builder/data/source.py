"""What a data source is: its declared options, the context it loads for, what it returns.

Each source (digits, npz, folder ...) is a ``Source``: a name, a one-line summary, typed
option declarations (the same ``blocks.params`` types that blocks and training settings
use, so messages read alike) and a loader ``load(options, context) -> Samples``.
The shared work (splitting, normalization, checks against the graph) happens once, in
:mod:`builder.data.pipeline`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from blocks.params import Bool, Float, Int, Param, ParamError, _type_name
from builder.data.arrays import InputSpec, format_shape
from builder.data.errors import DataError


@dataclass
class Samples:
    """What a loader returns: every sample, before splitting and normalization."""

    inputs: list[torch.Tensor]  # one per graph input, already in the input's shape and dtype
    # int64 class ids or float32 regression targets; or several by name, for graphs with
    # several outputs (builder/data/targets.py matches them to the outputs)
    targets: torch.Tensor | dict[str, torch.Tensor]
    kind: str  # "classification" or "regression"; "multi" for a dict of targets (their dtypes say)
    what: str  # the data in words, e.g. "digits (scikit-learn, 1,797 images 8x8)"
    where: str  # the file or source name that messages point to
    names: list[str] | None = None  # what the source calls each input (npz keys), for messages
    class_names: list[str] | None = None
    images: bool = False  # input 0 holds images: per-channel statistics, augmentation apply
    scale: float = 1.0  # raw values were divided by this (16 for digits, 255 for pixels)
    val: Samples | None = None  # a validation split the source itself defines (a test set)
    target_kinds: dict[str, str] | None = None  # what named targets are, where not told by dtype ({"box": "box"})

    def __len__(self) -> int:
        return len(self.first_target)

    @property
    def first_target(self) -> torch.Tensor:
        return next(iter(self.targets.values())) if isinstance(self.targets, dict) else self.targets

    def head(self, n: int) -> Samples:
        """The first ``n`` samples (the ``limit`` option)."""
        targets = ({k: t[:n] for k, t in self.targets.items()} if isinstance(self.targets, dict)
                   else self.targets[:n])
        return Samples([x[:n] for x in self.inputs], targets, self.kind, self.what, self.where,
                       self.names, self.class_names, self.images, self.scale, self.val, self.target_kinds)


@dataclass
class Context:
    """What a loader needs to know about the graph and the run."""

    source: str
    inputs: list[InputSpec]
    output_shape: tuple[int, ...]
    seed: int = 0
    base_dir: Path = Path(".")
    limit: int | None = None
    outputs: dict[str, tuple[int, ...]] = field(default_factory=dict)  # every output's shape, by node

    def generator(self, stream: int = 0) -> torch.Generator:
        """A generator fixed by the seed; ``stream`` keeps independent uses apart."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + stream)

    @property
    def output_size(self) -> int | None:
        """The graph output's last dimension: the number of classes it scores."""
        return self.output_shape[-1] if self.output_shape else None

    def require_inputs(self, gives: list[str]) -> None:
        """DataError unless the graph has exactly ``len(gives)`` inputs."""
        if len(self.inputs) != len(gives):
            have = ", ".join(repr(s.node) for s in self.inputs) or "none"
            raise DataError(
                f"{self.source} gives {len(gives)} input{'s' if len(gives) != 1 else ''} "
                f"({', '.join(gives)}) but the graph has {len(self.inputs)} ({have})",
                hint="use a data source that matches the graph's input nodes")

    def fail(self, message: str, hint: str | None = None) -> DataError:
        """A DataError about this built-in source (no file to point to)."""
        return DataError(f"{self.source}: {message}", hint=hint)

    def shape_error(self, spec: InputSpec, wants: str) -> DataError:
        return self.fail(f"the graph's input {spec.node!r} is {format_shape(spec.shape)} {spec.dtype}, "
                         f"but {self.source} needs {wants}")

    def path(self, value: str) -> Path:
        """``value`` resolved against the graph file's folder; DataError when it does not exist."""
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        if not path.exists():
            raise DataError("file not found", file=str(path),
                            hint=f"relative paths are read from the graph file's folder ({self.base_dir})")
        return path


@dataclass(frozen=True)
class Source:
    """One kind of data: ``load(options, context)`` with ``options`` checked against ``options``."""

    name: str
    summary: str
    load: Callable[[dict[str, Any], Context], Samples]
    options: dict[str, Param] = field(default_factory=dict)


# --- option types that blocks.params has no equivalent for ---------------------------------

@dataclass(frozen=True)
class Names(Param):
    """One name or a list of names (npz array keys, one per graph input)."""

    kind = "names"

    def _check(self, value: Any) -> list[str]:
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, str) and v for v in items):
            raise ParamError(f"expected a name or a list of names, found {_type_name(value)}")
        return list(items)

    def _describe(self) -> str:
        return "name or list of names"


@dataclass(frozen=True)
class Column(Param):
    """A CSV column: its header name, or its 0-based index (negative counts from the end)."""

    kind = "column"

    def _check(self, value: Any) -> str | int:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ParamError(f"expected a column name or index, found {_type_name(value)}")
        return value

    def _describe(self) -> str:
        return "column name or index"


@dataclass(frozen=True)
class AutoBool(Param):
    """true, false or "auto"."""

    kind = "auto_bool"

    def _check(self, value: Any) -> bool | str:
        if value == "auto" or isinstance(value, bool):
            return value
        raise ParamError(f"expected true, false or 'auto', found {_type_name(value)}")

    def _describe(self) -> str:
        return "true | false | auto"


AUGMENT_KEYS: dict[str, Param] = {
    "flip": Bool(False, doc="mirror left-right with probability 1/2"),
    "crop": Int(0, min=0, doc="pad by this many pixels, then crop back at a random offset"),
}


@dataclass(frozen=True)
class AugmentOptions(Param):
    """A mapping such as ``{flip: true, crop: 4}``; null or false means none."""

    kind = "augment"

    def _check(self, value: Any) -> dict[str, Any] | None:
        if value is False or value is None:
            return None
        if not isinstance(value, dict):
            raise ParamError(f"expected a mapping such as {{flip: true, crop: 4}}, found {_type_name(value)}")
        checked = {}
        for key, item in value.items():
            decl = AUGMENT_KEYS.get(key)
            if decl is None:
                raise ParamError(f"unknown augmentation {key!r}; known: {', '.join(AUGMENT_KEYS)}")
            try:
                checked[key] = decl.check(item)
            except ParamError as err:
                raise ParamError(f"{key}: {err}") from None
        return {k: checked.get(k, d.default) for k, d in AUGMENT_KEYS.items()}

    def _describe(self) -> str:
        return "{flip: bool, crop: int}"


# Options every source takes.
COMMON: dict[str, Param] = {
    "val_split": Float(None, optional=True, min=0.0, max=0.9,
                       doc="share held out for validation (default: the val_split setting)"),
    "limit": Int(None, optional=True, min=1, doc="use only the first N samples (quick experiments, tests)"),
}
# Options of the image sources (digits, folder, torchvision).
IMAGE_OPTIONS: dict[str, Param] = {
    "normalize": Bool(True, doc="standardize each channel with the training split's mean and std"),
    "augment": AugmentOptions(None, optional=True,
                              doc="train-time augmentation: {flip: true, crop: 4} (random crop after padding)"),
}
