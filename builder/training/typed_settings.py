"""The resolved training settings as a typed, frozen object, for the code that reads them.

``resolve_settings`` (builder/training/settings.py) returns a plain dict: it is what the
run folder's settings.json holds, what ``Trainer(...)`` takes and what the app edits. The
engine reads the same values through :class:`TrainingSettings` (``config.clip_norm``
rather than ``settings["clip_norm"]``), so that a misspelt name fails at once and every
value has a type. There is one field per declaration in ``TRAINING_SETTINGS``, plus
``data``; tests/builder/test_typed_settings.py fails when the two drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from builder.training.settings import DATA_KEY, TRAINING_SETTINGS


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    """One run's resolved settings (see ``TRAINING_SETTINGS`` for what each one means)."""

    epochs: int
    max_steps: int | None  # optimizer steps in all, then validate once; None: every epoch
    batch_size: int
    optimizer: str  # "adam", "adamw" or "sgd"
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: str  # "none", "step", "cosine", "onecycle" or "plateau"
    step_size: int
    gamma: float
    clip_norm: float | None
    clip_value: float | None
    tbptt: int  # truncated BPTT chunk length in steps; 0: full backpropagation through time
    loss: str | dict  # "auto", "cross_entropy", "mse", "bce", "l1", "smooth_l1"; or a mapping per output (loss_setting.py)
    early_stopping: int
    val_split: float
    device: str  # "auto", "cpu", "cuda" or "mps"
    amp: bool
    channels_last: str  # "auto", "true" or "false"
    compile: bool
    seed: int
    diagnostics_every: int
    log_every: int
    checkpoint_every: int | str  # steps, or a time such as "10min"; see settings.parse_interval
    workers: int
    threads: int | str  # a count, or "auto"
    out: str | None
    data: dict[str, Any] | None  # the dataset spec, validated by builder.data
    tensorboard: bool  # TensorBoard event files in the run folder
    # transfer learning: value types and meaning in builder/training/transfer_settings.py
    init: dict[str, Any] | None  # {from, map, match, skip_mismatched, strict}
    freeze: list[str] | dict[str, str] | None  # node ids and globs, or {up_to: NODE}
    lr_mult: dict[str, float] | None
    unfreeze_after: int
    unfreeze_lr: float
    estimate: bool  # time a warm-up before the first epoch and report the epoch's time and memory

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> TrainingSettings:
        """The typed view of ``resolve_settings``' dict (which has every key)."""
        names = field_names()
        missing = [name for name in names if name not in settings]
        unknown = [key for key in settings if key not in names]
        if missing or unknown:
            raise ValueError("training settings do not match their declarations: "
                             + "; ".join(part for part in (
                                 f"missing {', '.join(missing)}" if missing else "",
                                 f"unknown {', '.join(map(str, unknown))}" if unknown else "") if part)
                             + " (use resolve_settings to build them)")
        return cls(**{name: settings[name] for name in names})

    @property
    def clipping(self) -> bool:
        """Whether gradients are clipped (by norm, by value or both)."""
        return self.clip_norm is not None or self.clip_value is not None


def field_names() -> tuple[str, ...]:
    """The names of :class:`TrainingSettings`' fields, in order."""
    return tuple(f.name for f in fields(TrainingSettings))


def declared_names() -> tuple[str, ...]:
    """The names ``resolve_settings`` fills in: every declared setting and ``data``."""
    return (*TRAINING_SETTINGS, DATA_KEY)


def settings_object(settings: Mapping[str, Any]) -> TrainingSettings:
    """``TrainingSettings.from_dict(settings)``."""
    return TrainingSettings.from_dict(settings)
