"""Free-running evaluation: how well a decoder does when it is fed its own tokens.

Training feeds a decoder the correct previous tokens (teacher forcing), and the accuracy
it reports is the accuracy of one next-token guess given a perfect past. Generating, the
model feeds itself its own guesses, and one early mistake changes everything after it
("exposure bias"). At the end of every epoch the trainer also generates greedily for the
first validation samples, starting from the decoder input's first ``prompt_steps`` tokens
(``<start>``, or half a language model's window), and reports next to ``val_accuracy``:

* ``val_generated_accuracy``: the share of target tokens the generated sequence gets right;
* ``val_exact_match``: the share of samples whose generated sequence is entirely right.
Steps after the target's ``<end>`` are not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from builder.generation.contract import DecoderContract, find_contract

SAMPLES = 256  # validation samples generated at each epoch's end


class FreeRunning:
    """Batched greedy generation on ``inputs`` (one tensor per graph input, on the
    model's device) compared with ``targets`` ``[N, T]``."""

    def __init__(self, model: nn.Module, contract: DecoderContract, inputs: list[torch.Tensor],
                 targets: torch.Tensor, memory_format: torch.memory_format | None = None):
        self.model = model
        self.contract = contract
        self.inputs = [x[:SAMPLES] for x in inputs]
        if memory_format is not None:
            self.inputs = [x.contiguous(memory_format=memory_format) if x.dim() == 4 else x for x in self.inputs]
        self.targets = targets[:SAMPLES]

    @torch.no_grad()
    def generated(self) -> torch.Tensor:
        """``[N, T]``: at each step from ``prompt_steps - 1`` on, the model's choice given its
        own earlier choices (the steps before are the prompt's teacher-forced targets)."""
        contract, steps = self.contract, self.contract.steps
        given = contract.prompt_steps
        inputs = list(self.inputs)
        decoder_in = inputs[contract.decoder].clone()
        inputs[contract.decoder] = decoder_in
        chosen = self.targets.clone()
        for step in range(given - 1, steps):
            out = self.model(*inputs)
            out = out[0] if isinstance(out, (tuple, list)) else out
            token = out[:, step].argmax(-1)
            chosen[:, step] = token
            if step + 1 < steps:
                decoder_in[:, step + 1] = token
        return chosen

    def __call__(self) -> dict[str, float]:
        was_training = self.model.training
        self.model.eval()
        try:
            chosen = self.generated()
        finally:
            self.model.train(was_training)
        return scores(chosen, self.targets, self.contract)


def scores(chosen: torch.Tensor, targets: torch.Tensor, contract: DecoderContract) -> dict[str, float]:
    """Generated accuracy and exact match of ``chosen`` against ``targets`` (both ``[N, T]``),
    counting the steps from ``prompt_steps - 1`` up to each target's ``<end>``."""
    steps = torch.arange(targets.shape[1], device=targets.device)
    counted = (steps >= contract.prompt_steps - 1)[None, :].expand_as(targets)
    end = contract.vocabulary.end
    if end is not None:
        is_end = targets == end
        # the first <end> of each row (a row without one counts to its last step)
        first = torch.where(is_end.any(1), is_end.float().argmax(1), torch.full_like(steps[:1], targets.shape[1]))
        counted = counted & (steps[None, :] <= first[:, None])
    right = (chosen == targets) | ~counted
    tokens = int(counted.sum())
    return {"val_generated_accuracy": float(((chosen == targets) & counted).sum()) / max(tokens, 1),
            "val_exact_match": float(right.all(1).float().mean())}


def free_running_for(trainer: Any) -> Callable[[], dict[str, float]]:
    """The free-running evaluation a :class:`~builder.training.engine.Trainer` reports at each
    epoch's end: figures for a decoder graph with validation data (on the first process),
    nothing for any other graph."""
    data = trainer.data
    val = getattr(trainer, "val_data", None)
    if (data.kind != "classification" or val is None or len(val) == 0 or not trainer.world.main
            or not hasattr(val, "inputs")):
        return dict
    contract = find_contract(trainer.analysis, data.class_names)
    if contract is None:
        return dict
    return FreeRunning(trainer.model, contract, list(val.inputs), val.targets, trainer.memory_format)
