"""What a run measures of each output, summed on the device and read once per epoch.

Each head (one graph output, builder/training/objective.py) adds its sums for a batch into
its slice of one float64 vector: its loss, and for its metrics the counts they need —
correct predictions (accuracy: per sample, per step or per pixel), top-5 hits, a confusion
matrix (mean IoU), the summed IoU of predicted and true boxes (box IoU), absolute errors
(mae); a watched output without a target, the sum and sum of squares of its values. One
vector is cheap to add up over processes (one all-reduce) and to checkpoint; the figures
come from it at the epoch's end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from builder.data.targets import target_of

CLASS_KINDS = ("classification", "segmentation")
# the metrics each kind of task gets unless its loss setting lists its own
DEFAULT_METRICS = {"classification": ("accuracy", "top5"), "segmentation": ("accuracy", "mean_iou"),
                   "regression": (), "box": ("box_iou",)}
# which kinds each metric can measure
METRIC_KINDS = {"accuracy": CLASS_KINDS, "top5": CLASS_KINDS, "mean_iou": CLASS_KINDS,
                "box_iou": ("box", "regression"), "mae": ("regression", "box")}
# the primary output's metrics that epoch records carry as train_<name> and val_<name>
# (accuracy and top-5 have their own keys, as they always had)
RECORDED_METRICS = ("mean_iou", "box_iou", "mae")
TOP5_FROM = 10  # top-5 accuracy is reported for 10 classes or more (validation)


def box_iou(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """IoU of boxes ``[..., 4]`` given as ``(x0, y0, x1, y1)``; a box drawn inside out has no area."""
    def area(b: torch.Tensor) -> torch.Tensor:
        return (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)

    low = torch.maximum(pred[..., :2], true[..., :2])
    high = torch.minimum(pred[..., 2:], true[..., 2:])
    inter = (high - low).clamp(min=0).prod(-1)
    union = area(pred) + area(true) - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(union))


def mean_iou(confusion: torch.Tensor) -> float | None:
    """The mean over classes of TP / (TP + FP + FN) from a confusion matrix ``[true, predicted]``;
    classes that neither occur nor are predicted are left out."""
    tp = confusion.diagonal()
    union = confusion.sum(0) + confusion.sum(1) - tp
    present = union > 0
    if not bool(present.any()):
        return None
    return float((tp[present] / union[present]).mean())


@dataclass
class _Part:
    """One head's slots in the vector: where they start and what they hold."""

    head: object  # objective.Head
    offset: int
    slots: dict[str, int]  # name -> position after offset; "confusion" is classes x classes

    def at(self, name: str) -> int:
        return self.offset + self.slots[name]


class Tally:
    """The sums of every head over an epoch (``validation``: with top-5 where it applies)."""

    def __init__(self, heads: list, *, validation: bool):
        self.heads = heads
        self.parts: list[_Part] = []
        size = 0
        for head in heads:
            slots = {"loss": 0, "n": 1}
            width = 2
            metrics = set(head.metrics)
            if head.kind is None:  # watched, no target: what its values look like
                slots.update(sum=2, sumsq=3, count=4)
                width = 5
            if metrics & {"accuracy", "top5"}:
                slots.update(correct=width, items=width + 1)
                width += 2
                if validation and "top5" in metrics and (head.num_classes or 0) >= TOP5_FROM:
                    slots["top5"] = width
                    width += 1
            if "box_iou" in metrics:
                slots["iou"] = width
                width += 1
            if "mae" in metrics:
                slots.update(abs=width, values=width + 1)
                width += 2
            if "mean_iou" in metrics:
                slots["confusion"] = width
                width += head.num_classes ** 2
            self.parts.append(_Part(head, size, slots))
            size += width
        self.size = size

    def zeros(self, device: torch.device) -> torch.Tensor:
        return torch.zeros(self.size, dtype=torch.float64, device=device)

    @torch.no_grad()
    def add(self, sums: torch.Tensor, outs: tuple[torch.Tensor, ...], y, losses: list) -> None:
        """Add one batch: the model's outputs (in order), the targets, each head's mean loss."""
        for part, loss in zip(self.parts, losses):
            head = part.head
            out = outs[head.index].detach()
            n = len(out)
            sums[part.at("n")] += n
            if loss is not None:
                sums[part.at("loss")] += loss.detach().double() * n
            if head.kind is None:
                values = out.double()
                sums[part.at("sum")] += values.sum()
                sums[part.at("sumsq")] += (values * values).sum()
                sums[part.at("count")] += values.numel()
                continue
            true = target_of(y, head.target)
            slots = part.slots
            if head.kind in CLASS_KINDS:
                axis = 1 if head.kind == "segmentation" else -1
                predicted = out.argmax(axis)
                if "correct" in slots:
                    sums[part.at("correct")] += (predicted == true).sum()
                    sums[part.at("items")] += true.numel()
                if "top5" in slots:
                    top = out.topk(5, dim=axis).indices
                    sums[part.at("top5")] += (top == true.unsqueeze(axis)).any(axis).sum()
                if "confusion" in slots:
                    c = head.num_classes
                    pairs = (true.reshape(-1) * c + predicted.reshape(-1)).clamp(0, c * c - 1)
                    start = part.at("confusion")
                    sums[start:start + c * c] += torch.bincount(pairs, minlength=c * c).double()
            else:
                true = true.to(out.dtype).reshape(out.shape)
                if "iou" in slots:
                    sums[part.at("iou")] += box_iou(out.float(), true.float()).sum()
                if "abs" in slots:
                    sums[part.at("abs")] += (out - true).abs().double().sum()
                    sums[part.at("values")] += true.numel()

    def figures(self, sums: torch.Tensor | list[float]) -> dict[str, dict[str, float | None]]:
        """Each head's figures by node: ``loss`` (None for a watched head), then its metrics
        (``accuracy``, ``top5``, ``mean_iou``, ``box_iou``, ``mae``; ``mean`` and ``std``
        of a watched output's values)."""
        values = sums.tolist() if isinstance(sums, torch.Tensor) else list(sums)
        result: dict[str, dict[str, float | None]] = {}
        for part in self.parts:
            head, slots = part.head, part.slots
            n = values[part.at("n")]
            got: dict[str, float | None] = {"loss": values[part.at("loss")] / n if head.loss and n else None}
            if "count" in slots and values[part.at("count")]:
                count = values[part.at("count")]
                mean = values[part.at("sum")] / count
                got["mean"] = mean
                got["std"] = math.sqrt(max(values[part.at("sumsq")] / count - mean * mean, 0.0))
            if "correct" in slots:
                items = values[part.at("items")]
                got["accuracy"] = values[part.at("correct")] / items if items else None
                if "top5" in slots:
                    got["top5"] = values[part.at("top5")] / items if items else None
            if "confusion" in slots:
                c = head.num_classes
                start = part.at("confusion")
                got["mean_iou"] = mean_iou(torch.tensor(values[start:start + c * c]).reshape(c, c))
            if "iou" in slots:
                got["box_iou"] = values[part.at("iou")] / n if n else None
            if "abs" in slots:
                count = values[part.at("values")]
                got["mae"] = values[part.at("abs")] / count if count else None
            result[head.node] = got
        return result


class Measures:
    """What the training loop measures of an objective (objective.Objective): the primary
    output's accuracy into the epoch's Counters (``correct``, ``items``, as for every run),
    and, where a run needs more (several outputs, mean IoU, box IoU), every head's sums
    into ``Counters.extra``. ``record`` turns them into the epoch record's further keys."""

    def __init__(self, objective):
        self.objective = objective
        self.tally = Tally(objective.heads, validation=False)
        primary = objective.primary
        self.accuracy = primary.kind in CLASS_KINDS and "accuracy" in primary.metrics
        self.axis = 1 if primary.kind == "segmentation" else -1
        self.extra = len(objective.heads) > 1 or any(m in RECORDED_METRICS for m in primary.metrics)

    def step(self, counters, out, y, losses: list) -> None:
        """Add one training batch (sums stay on the device: no sync)."""
        outs = self.objective.outputs(out)
        primary = self.objective.primary
        if self.accuracy:
            true = target_of(y, primary.target)
            counters.correct += (outs[primary.index].detach().argmax(self.axis) == true).sum()
            counters.items += true.numel()
        if self.extra:
            if counters.extra is None:
                counters.extra = self.tally.zeros(counters.loss.device)
            self.tally.add(counters.extra, outs, y, losses)

    def record(self, counters, val_figures: dict) -> dict:
        """``train_<metric>`` and ``val_<metric>`` of the further metrics (mean IoU, box IoU,
        mae) of the primary output, or of the one output that has it (the box of a
        classify-and-locate graph); for several outputs, ``outputs``: each one's figures."""
        train = self.tally.figures(counters.extra) if self.extra and counters.extra is not None else {}
        keys: dict = {}
        for metric in RECORDED_METRICS:
            having = [h for h in self.objective.heads if metric in h.metrics]
            head = self.objective.primary if self.objective.primary in having else (
                having[0] if len(having) == 1 else None)
            if head is not None:
                keys[f"train_{metric}"] = train.get(head.node, {}).get(metric)
                keys[f"val_{metric}"] = val_figures.get(head.node, {}).get(metric)
        if len(self.objective.heads) > 1:
            keys["outputs"] = {
                head.node: {"loss": head.loss.name if head.loss else None, "weight": head.weight,
                            **{f"train_{k}": v for k, v in train.get(head.node, {}).items() if k != "loss"},
                            "train_loss": train.get(head.node, {}).get("loss"),
                            **{f"val_{k}": v for k, v in val_figures.get(head.node, {}).items()}}
                for head in self.objective.heads}
        return keys
