"""The ``loss`` training setting: one loss for a graph's output, or one per output.

    loss: auto                       # one output: cross-entropy for classes, MSE for values
    loss:                            # several outputs, each with its own loss, weight, metrics
      logits: cross_entropy
      aux1: {loss: cross_entropy, weight: 0.3}
      box: {loss: smooth_l1, metrics: [box_iou], target: box}
      attention: none                # watched only: recorded and plotted, never trained

An output the mapping leaves out is watched only, as ``none`` says. The setting is checked
here, without torch, like every other setting (``resolve_settings``); which outputs exist
is checked against the graph when training starts (builder/training/objective.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blocks.params import Choice, ParamError, _type_name
from blocks.suggest import did_you_mean

LOSSES = ("auto", "cross_entropy", "mse", "bce", "l1", "smooth_l1")
NONE = "none"  # per output: no loss, the output is watched only
METRICS = ("accuracy", "top5", "mean_iou", "box_iou", "mae")
CLASS_AXES = ("channels", "last")
KEYS = ("loss", "weight", "metrics", "target", "classes")


@dataclass(frozen=True)
class LossSetting(Choice):
    """A loss name (``choices``), or a mapping from output node to a loss name or to
    ``{loss, weight, metrics, target, classes}``. A mapping comes back in that long form."""

    kind = "choice"  # edited as a choice where it is one word (the app's form, --loss)

    def _check(self, value: Any) -> Any:
        if isinstance(value, dict):
            if not value:
                raise ParamError("the mapping names no output; give e.g. {logits: cross_entropy}")
            return {str(node): _output_entry(str(node), entry) for node, entry in value.items()}
        if value == NONE:
            raise ParamError("'none' would train nothing; it is for an output of several "
                             "(loss: {logits: cross_entropy, attention: none})")
        return super()._check(value)

    def _describe(self) -> str:
        return super()._describe() + ", or a mapping output: loss (or output: {loss, weight, metrics, target})"


def _output_entry(node: str, entry: Any) -> dict[str, Any]:
    """One output's entry in the long form; ParamError naming the output otherwise."""
    if isinstance(entry, str) or entry is None:
        entry = {"loss": NONE if entry is None else entry}
    if not isinstance(entry, dict):
        raise ParamError(f"output {node!r}: expected a loss name or a mapping such as "
                         f"{{loss: cross_entropy, weight: 0.3}}, found {_type_name(entry)}")
    for key in entry:
        if key not in KEYS:
            raise ParamError(f"output {node!r}: unknown key {key!r}{_known(str(key), KEYS)}")
    loss = entry.get("loss", "auto")
    if loss not in LOSSES + (NONE,):
        raise ParamError(f"output {node!r}: unknown loss {loss!r}{_known(str(loss), LOSSES + (NONE,))}")
    weight = entry.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
        raise ParamError(f"output {node!r}: weight must be a number >= 0, found {weight!r}")
    metrics = entry.get("metrics")
    if metrics is not None:
        metrics = [metrics] if isinstance(metrics, str) else metrics
        if not isinstance(metrics, list):
            raise ParamError(f"output {node!r}: metrics must be a list such as [accuracy], found "
                             f"{_type_name(metrics)}")
        for name in metrics:
            if name not in METRICS:
                raise ParamError(f"output {node!r}: unknown metric {name!r}{_known(str(name), METRICS)}")
    target = entry.get("target")
    if target is not None and not isinstance(target, str):
        raise ParamError(f"output {node!r}: target names one of the data's targets, found {_type_name(target)}")
    classes = entry.get("classes")
    if classes is not None and classes not in CLASS_AXES:
        raise ParamError(f"output {node!r}: classes is 'channels' (scores [C, H, W]) or 'last' (scores [T, C]), "
                         f"found {classes!r}")
    return {"loss": loss, "weight": float(weight), "metrics": list(metrics) if metrics is not None else None,
            "target": target, "classes": classes}


def _known(word: str, known: tuple[str, ...]) -> str:
    return did_you_mean(word, known) or f"; known: {', '.join(known)}"


def per_output(setting: Any) -> dict[str, dict[str, Any]] | None:
    """The mapping form of a checked setting, or None for a single loss name."""
    return setting if isinstance(setting, dict) else None
