"""Transfer learning in a run: starting weights, frozen nodes, per-node learning rates and
the fine-tune schedule (freeze for N epochs, then train everything at a lower rate).

The trainer makes one :class:`Transfer` right after compiling the model, takes the
optimizer's parameter groups from it and lets it put the model in training mode each
epoch. What is frozen is worked out in builder/training/freezing.py, the same rules
``modelbuilder check`` and the app use.

Freezing a node means two things. Its parameters get no gradient (``requires_grad``
off), so no optimizer moves them. And its normalization layers keep their running
statistics: they stay in eval mode even when the model is put in training mode, which
``requires_grad`` alone does not do (the trap Keras and Lightning users fall into: a
"frozen" batch norm that still updates its mean and variance on the new data).
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

from torch import nn

from builder.training.freezing import node_factors, select_nodes
from builder.training.typed_settings import TrainingSettings
from builder.training.weight_init import InitPlan, initialize
from builder.training.weight_sources import TransferError


def _stay_in_eval(self: nn.Module, mode: bool = True) -> nn.Module:
    return nn.Module.train(self, False)


def hold_statistics(module: nn.Module) -> None:
    """Keep ``module`` in eval mode whatever ``train()`` is asked of it."""
    module.train = types.MethodType(_stay_in_eval, module)  # type: ignore[method-assign]
    nn.Module.train(module, False)


def release_statistics(module: nn.Module, training: bool) -> None:
    module.__dict__.pop("train", None)
    module.train(training)


def norm_layers(module: nn.Module) -> list[nn.Module]:
    """The layers inside ``module`` that keep running statistics (batch norm and friends)."""
    return [m for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._NormBase) and m.track_running_stats]


def _raise_problems(problems: list) -> None:
    if problems:
        first = problems[0]
        more = "".join(f"\n    also: {p.message}" for p in problems[1:4])
        raise TransferError(first.message + more, first.hint or "name the graph's node ids (globs such as "
                                                              "layer1_* are allowed)")


class Transfer:
    """One run's transfer-learning state; with no such settings it changes nothing."""

    def __init__(self, model: nn.Module, graph: Any, config: TrainingSettings, *, resume: bool = False,
                 notes: list[str] | None = None):
        """Loads ``init`` into ``model`` (unless the run resumes: its checkpoint holds the
        weights) and freezes the ``freeze`` nodes. Lines about what did not load go to
        ``notes`` (the run reports them as warnings). TransferError when a setting does not
        fit the graph."""
        self.model, self.config = model, config
        base = Path(graph.path).resolve().parent if getattr(graph, "path", None) else Path.cwd()
        self.plan: InitPlan | None = None
        if config.init and not resume:
            self.plan = initialize(model, config.init, base)
            if notes is not None:
                notes.extend(self.plan.notes())
        chosen, problems = select_nodes(graph, config.freeze)
        self.factors, more = node_factors(graph, config.lr_mult)
        _raise_problems(problems + more)
        children = dict(model.named_children())
        self.frozen = [n for n in chosen if n in children]  # (a disabled node has no module)
        self.thawed = False
        self._set_frozen(True)

    def _set_frozen(self, frozen: bool) -> None:
        children = dict(self.model.named_children())
        for node in self.frozen:
            for p in children[node].parameters():
                p.requires_grad_(not frozen)
            for layer in norm_layers(children[node]):
                if frozen:
                    hold_statistics(layer)
                else:
                    release_statistics(layer, self.model.training)

    @property
    def frozen_now(self) -> list[str]:
        return [] if self.thawed else list(self.frozen)

    def param_groups(self) -> list[dict[str, Any]]:
        """The optimizer's parameter groups: one per learning rate, each naming its nodes
        (``nodes``) and its factor of the base rate (``lr_mult``). Frozen nodes are in them
        too (they get no gradient, so no update) at the rate they train with once unfrozen."""
        c = self.config
        later = c.unfreeze_lr if c.unfreeze_after else 1.0
        groups: dict[float, dict[str, Any]] = {}
        for node, module in self.model.named_children():
            params = list(module.parameters())
            if not params:
                continue
            factor = self.factors.get(node, 1.0) * (later if node in self.frozen else 1.0)
            group = groups.setdefault(factor, {"params": [], "lr": c.lr * factor, "lr_mult": factor, "nodes": []})
            group["params"] += params
            group["nodes"].append(node)
        if not groups:
            return [{"params": list(self.model.parameters())}]
        # the base rate's group first: the rate the run reports is group 0's
        return sorted(groups.values(), key=lambda g: g["lr_mult"] != 1.0)

    def train(self, trainer: Any, epoch: int) -> None:
        """Put ``trainer.net`` in training mode for ``epoch`` (0-based), first unfreezing the
        frozen nodes when the fine-tune schedule says so (``unfreeze_after`` epochs done)."""
        after = self.config.unfreeze_after
        if after and epoch >= after and not self.thawed and self.frozen:
            self.thawed = True
            self._set_frozen(False)
            if trainer.world.enabled or self.config.compile:
                _rewrap(trainer)
        trainer.net.train()


def _rewrap(trainer: Any) -> None:
    """DistributedDataParallel reduces only the parameters that needed gradients when it was
    made: wrap the model anew now that more of them do."""
    import torch

    net: nn.Module = trainer.model
    if trainer.world.enabled:
        ids = [trainer.device.index] if trainer.device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(trainer.model, device_ids=ids)
    trainer.net = torch.compile(net) if trainer.config.compile else net
