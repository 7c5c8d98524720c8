"""Running a decoder graph on partial sequences.

The compiled graph is used as it is, with the fixed input length it was trained with:
a prefix of ``L`` tokens is written into the first ``L`` steps of the decoder input (the
rest is filled with ``<pad>`` or 0) and the scores at step ``L - 1`` are read. The output
at a step depends only on the decoder input up to that step (checked once by
:meth:`DecoderRunner.check_causal`), so the filling never matters. Each new token costs
one forward pass of the whole graph; at these sizes that is simpler and as fast as
carrying recurrent state by hand, and it works for any decoder the graph format can
express. A language model's prefix longer than its window keeps its last ``T`` tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack

import torch
from torch import nn

from builder.exporting.parity import as_tuple
from builder.generation.contract import DecoderContract
from builder.generation.errors import GenerationError


class DecoderRunner:
    """A decoder graph's model (eval mode) and its contract, for one set of conditions:
    ``conditions`` holds a one-sample batch for every input but the decoder input."""

    def __init__(self, model: nn.Module, contract: DecoderContract, conditions: Sequence[torch.Tensor]):
        self.model = model.eval()
        self.contract = contract
        self.conditions = [c[:1] for c in conditions]
        self.device = next((p.device for p in model.parameters()), torch.device("cpu"))
        self.fill = contract.vocabulary.pad if contract.vocabulary.pad is not None else 0

    def logits(self, decoder_in: torch.Tensor, conditions: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """The model's scores ``[B, T, V]`` for full decoder inputs ``[B, T]``; the
        conditions are repeated for the batch unless given."""
        batch = len(decoder_in)
        given = conditions if conditions is not None else [c.expand(batch, *c.shape[1:]) for c in self.conditions]
        args: list[torch.Tensor] = []
        conds = iter(given)
        for index in range(len(self.contract.inputs)):
            args.append(decoder_in if index == self.contract.decoder else next(conds))
        with torch.no_grad():
            try:
                return as_tuple(self.model(*[a.to(self.device) for a in args]))[0].float()
            except (RuntimeError, IndexError, ValueError) as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise GenerationError(f"the model cannot run on this input: {first}") from None

    def window(self, prefixes: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Full decoder inputs for ``prefixes`` ``[B, L]`` and the step whose scores follow them."""
        steps = self.contract.steps
        if prefixes.shape[1] > steps:
            prefixes = prefixes[:, -steps:]  # a language model reads its last T tokens
        length = prefixes.shape[1]
        decoder_in = torch.full((len(prefixes), steps), self.fill, dtype=torch.long)
        decoder_in[:, :length] = prefixes
        return decoder_in, length - 1

    def score(self, prefixes: torch.Tensor) -> torch.Tensor:
        """Log-probabilities ``[B, V]`` of the token after each prefix."""
        decoder_in, at = self.window(prefixes)
        return torch.log_softmax(self.logits(decoder_in)[:, at], dim=-1).cpu()

    def check_causal(self, seed: int = 0) -> None:
        """GenerationError unless the output at each step ignores later decoder inputs
        (a bidirectional decoder, or self-attention without ``causal``, sees the future)."""
        steps, size = self.contract.steps, len(self.contract.vocabulary)
        if steps < 2:
            return
        g = torch.Generator().manual_seed(seed)
        a = torch.randint(0, size, (1, steps), generator=g)
        b = a.clone()
        half = steps // 2
        b[:, half:] = torch.randint(0, size, (1, steps - half), generator=g)
        b[:, half:] = torch.where(b[:, half:] == a[:, half:], (b[:, half:] + 1) % size, b[:, half:])
        out_a, out_b = self.logits(a)[:, :half], self.logits(b)[:, :half]
        if not torch.allclose(out_a, out_b, atol=1e-4, rtol=1e-4):
            step = int((out_a - out_b).abs().amax(dim=(0, 2)).gt(1e-4).nonzero()[0])
            raise GenerationError(
                f"{self.contract.graph!r} cannot generate: its output at step {step + 1} changes with decoder "
                f"inputs after step {half}, so it reads tokens that do not exist yet while generating",
                "a decoder must be causal: a forward (not bidirectional) recurrent layer, or attention over "
                "the decoder's own steps with causal: true")

    def attention(self, decoder_in: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each attention node's weights ``[heads, T, Tk]`` for one full decoder input ``[1, T]``."""
        seen: dict[str, torch.Tensor] = {}
        modules = dict(self.model.named_children())
        with ExitStack() as stack:
            for node in self.contract.attention:
                if node not in modules:
                    continue

                def keep(_module, _args, output, node=node):
                    seen[node] = output[1].detach()[0].float().cpu()

                stack.callback(modules[node].register_forward_hook(keep).remove)
            self.logits(decoder_in)
        return seen
