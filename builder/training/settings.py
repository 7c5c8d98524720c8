"""Training settings: one schema for the graph's ``training`` section, the CLI flags and the
desktop app's settings form.

Settings are declared with the same typed parameters as blocks, so validation messages,
defaults and the app's editors come from one place. Precedence: defaults < the graph's
``training`` section < command-line flags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from blocks.params import Bool, Choice, Float, Int, Param, ParamError, Text
from blocks.suggest import did_you_mean
from builder.training.loss_setting import LOSSES, LossSetting
from builder.training.transfer_settings import InitSource, NodeFactors, NodeSelection

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(steps?|s|sec|min|h)?\s*$")
_SECONDS = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}


def parse_interval(value: Any) -> tuple[int | None, float | None]:
    """``checkpoint_every`` as (steps, seconds), at most one of them set; (None, None) is off.
    An integer or "500 steps" counts optimizer steps; "30s", "10min", "2h" count time."""
    if isinstance(value, bool):
        raise ParamError("expected a number of steps (500) or a time (10min, 30s, 2h), found a boolean")
    if isinstance(value, int):
        count = value
        if count < 0:
            raise ParamError(f"expected 0 (off) or a positive number of steps, found {count}")
        return (count or None), None
    text = str(value).strip().lower()
    if text in ("off", "0", "none", ""):
        return None, None
    match = _INTERVAL.match(text)
    if not match:
        raise ParamError(f"expected a number of steps (500) or a time (10min, 30s, 2h), found {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    if unit is None or unit.startswith("step"):
        if number != int(number):
            raise ParamError(f"a number of steps is whole, found {match.group(1)}")
        return (int(number) or None), None
    return None, (number * _SECONDS[unit] or None)


@dataclass(frozen=True)
class Interval(Text):
    """Steps (500, "500 steps") or a time ("10min", "30s", "2h"); "off" or 0 turns it off.
    Edited as text in the app."""

    kind = "interval"

    def _check(self, value: Any) -> Any:
        parse_interval(value)
        return value.strip() if isinstance(value, str) else value

    def _describe(self) -> str:
        return "steps (500) or a time (10min, 30s, 2h), or off"


@dataclass(frozen=True)
class Threads(Text):
    """"auto" (the cores that are free when the run starts) or a number of CPU threads."""

    kind = "threads"

    def _check(self, value: Any) -> Any:
        if value == "auto":
            return value
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParamError(f"expected 'auto' or a number of threads (1 or more), found {_shown(value)}")
        return value

    def _describe(self) -> str:
        return "'auto' or int >= 1"


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


SETTINGS: dict[str, Param] = {
    "epochs": Int(10, min=1, doc="passes over the training data"),
    "max_steps": Int(None, optional=True, min=1, doc="stop after this many optimizer steps in all, "
                     "then validate once: a quick first run of a big network (off: train every epoch)"),
    "batch_size": Int(64, min=1, doc="samples per optimizer step"),
    "optimizer": Choice("adam", choices=("adam", "adamw", "sgd"), doc="update rule"),
    "lr": Float(1e-3, min=0.0, doc="learning rate"),
    "momentum": Float(0.9, min=0.0, max=1.0, doc="SGD momentum"),
    "nesterov": Bool(False, doc="Nesterov momentum (SGD)"),
    "weight_decay": Float(0.0, min=0.0, doc="L2 penalty (decoupled for adamw)"),
    "schedule": Choice("none", choices=("none", "step", "cosine", "onecycle", "plateau"),
                       doc="learning-rate schedule"),
    "step_size": Int(10, min=1, doc="epochs between decays (step schedule)"),
    "gamma": Float(0.1, min=0.0, max=1.0, doc="decay factor (step and plateau schedules)"),
    "clip_norm": Float(None, optional=True, min=0.0, doc="clip the total gradient norm to this"),
    "clip_value": Float(None, optional=True, min=0.0, doc="clip each gradient element to +-this"),
    "tbptt": Int(0, min=0, doc="truncated backpropagation through time: run each sequence in chunks of this "
                               "many steps, the hidden state carried over detached (0 = off; docs/sequences.md)"),
    "loss": LossSetting("auto", choices=LOSSES,
                        doc="auto: cross-entropy for classes (per sample, step or pixel), MSE for values, "
                            "smooth L1 for boxes; or one per output: {logits: cross_entropy, "
                            "aux: {loss: cross_entropy, weight: 0.3}}"),
    "early_stopping": Int(0, min=0, doc="stop after this many epochs without a better val loss (0 = off)"),
    "val_split": Float(0.2, min=0.0, max=0.9, doc="share of the data held out for validation"),
    "device": Choice("auto", choices=("auto", "cpu", "cuda", "mps"), doc="auto: CUDA, then MPS, then CPU"),
    "amp": Bool(True, doc="mixed precision on CUDA (ignored on CPU)"),
    "channels_last": Choice("auto", choices=("auto", "true", "false"),
                            doc="channels-last memory order for images (auto: convolutional graphs on CUDA)"),
    "compile": Bool(False, doc="torch.compile the model (slower start, faster steps)"),
    "seed": Int(0, min=0, doc="seed for weights, data split and shuffling"),
    "diagnostics_every": Int(20, min=0, doc="gradient statistics every N steps (0 = off)"),
    "log_every": Int(10, min=1, doc="step events every N steps"),
    "checkpoint_every": Interval("10min", doc="mid-epoch checkpoints: every N steps (500) or a time (10min); "
                                              "off: only at epoch ends"),
    "workers": Int(0, min=0, doc="data-loading worker processes (image folders)"),
    "threads": Threads("auto", doc="CPU threads for training; auto: the cores that are free when the run starts"),
    "out": Text(None, optional=True, doc="run folder (default runs/<graph>-<time>)"),
    "tensorboard": Bool(True, doc="write TensorBoard event files into the run folder (needs the tensorboard package)"),
    # transfer learning (docs/transfer.md; the value types are in transfer_settings.py)
    "init": InitSource(None, optional=True, doc="start from these weights, matched by node id: a run folder, "
                                                "bundle, .safetensors or .pth state_dict (or {from, map, ...})"),
    "freeze": NodeSelection(None, optional=True, doc="nodes that do not train (no gradient, batch-norm "
                                                     "statistics fixed): [ids] or {up_to: NODE}"),
    "lr_mult": NodeFactors(None, optional=True, doc="learning-rate factor per node, e.g. {fc: 10}"),
    "unfreeze_after": Int(0, min=0, doc="epochs with the frozen nodes frozen, then they train too (0 = never)"),
    "unfreeze_lr": Float(0.1, min=0.0, doc="learning-rate factor of the frozen nodes once they train"),
    "estimate": Bool(True, doc="before the first epoch, time a warm-up step or two and report one "
                               "epoch's time and the peak memory (off: start at once)"),
}
TRAINING_SETTINGS = SETTINGS  # the name builder exports
# ``data`` (the dataset spec) is validated by builder.data; it is a mapping, not a scalar.
DATA_KEY = "data"


@dataclass(frozen=True)
class SettingsError(Exception):
    """A bad training setting: which one and why."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"training setting {self.key!r}: {self.message}"


def resolve_settings(section: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None = None
                     ) -> dict[str, Any]:
    """Defaults, then the graph's ``training`` section, then ``overrides`` (CLI flags that
    were given). Raises SettingsError for the first unknown or invalid setting."""
    merged: dict[str, Any] = {}
    for source in (section or {}, {k: v for k, v in (overrides or {}).items() if v is not None}):
        merged.update(source)
    resolved: dict[str, Any] = {}
    for key, value in merged.items():
        if key == DATA_KEY:
            if not isinstance(value, (Mapping, str)):
                raise SettingsError(key, "expected a dataset name or a mapping such as {name: digits}")
            resolved[key] = dict(value) if isinstance(value, Mapping) else {"name": value}
            continue
        decl = SETTINGS.get(key)
        if key == "channels_last" and isinstance(value, bool):  # YAML's true/false
            value = "true" if value else "false"
        if decl is None:
            raise SettingsError(key, "unknown setting" + did_you_mean(key, list(SETTINGS) + [DATA_KEY]))
        try:
            resolved[key] = decl.check(value)
        except ParamError as err:
            raise SettingsError(key, str(err)) from None
    for key, decl in SETTINGS.items():
        resolved.setdefault(key, decl.default)
    resolved.setdefault(DATA_KEY, None)
    return resolved
