"""Choosing the next token: greedy decoding, sampling with a temperature, beam search.

Each search drives a ``score(prefixes) -> log-probabilities`` function: ``prefixes`` is a
``[B, L]`` batch of token ids (the decoder input so far), the answer ``[B, V]`` the model's
log-probabilities for the token that follows each. A search returns the generated ids
(the ``<end>`` token included when one was produced) and their total log-probability.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Scorer = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Searched:
    tokens: list[int]
    log_probability: float


def _one_at_a_time(score: Scorer, first: list[int], max_new: int, end: int | None,
                   pick: Callable[[torch.Tensor], int]) -> Searched:
    """Extend the prefix by ``pick(log_probs)`` until ``end`` or ``max_new`` tokens."""
    prefix = torch.tensor([first], dtype=torch.long)
    total = 0.0
    tokens: list[int] = []
    for _ in range(max_new):
        log_probs = score(prefix)[0]
        token = pick(log_probs)
        total += float(log_probs[token])
        tokens.append(token)
        if token == end:
            break
        prefix = torch.cat([prefix, torch.tensor([[token]])], dim=1)
    return Searched(tokens, total)


def greedy(score: Scorer, first: list[int], max_new: int, end: int | None) -> Searched:
    """The most likely token at every step."""
    return _one_at_a_time(score, first, max_new, end, lambda log_probs: int(log_probs.argmax()))


def sample(score: Scorer, first: list[int], max_new: int, end: int | None, temperature: float,
           generator: torch.Generator) -> Searched:
    """A token drawn at every step from ``softmax(logits / temperature)``: below 1 the
    likely tokens gain, above 1 the distribution flattens. ``generator`` fixes the draws."""
    def draw(log_probs: torch.Tensor) -> int:
        weights = torch.softmax(log_probs.double() / temperature, dim=-1)
        return int(torch.multinomial(weights, 1, generator=generator))

    return _one_at_a_time(score, first, max_new, end, draw)


def beam(score: Scorer, first: list[int], max_new: int, end: int | None, width: int) -> Searched:
    """Beam search: the ``width`` most likely partial sequences are extended together, and
    the most likely complete one wins (total log-probability, no length bonus; a sequence
    is complete at ``<end>`` or after ``max_new`` tokens). Width 1 is greedy decoding."""
    prefixes = torch.tensor([first], dtype=torch.long)
    totals = torch.zeros(1, dtype=torch.float64)
    finished: list[Searched] = []
    start = len(first)
    for _ in range(max_new):
        log_probs = score(prefixes).double()  # [alive, V]
        vocab = log_probs.shape[1]
        candidates = (totals[:, None] + log_probs).reshape(-1)
        values, flat = candidates.topk(min(2 * width, candidates.numel()))
        keep_rows, keep_tokens, keep_totals = [], [], []
        for rank, (value, index) in enumerate(zip(values.tolist(), flat.tolist())):
            row, token = divmod(index, vocab)
            if token == end:
                if rank < width:  # an <end> among the best `width` completes a sequence
                    finished.append(Searched(prefixes[row, start:].tolist() + [token], value))
                continue
            keep_rows.append(row)
            keep_tokens.append(token)
            keep_totals.append(value)
            if len(keep_rows) == width:
                break
        if not keep_rows:
            break
        prefixes = torch.cat([prefixes[keep_rows], torch.tensor(keep_tokens)[:, None]], dim=1)
        totals = torch.tensor(keep_totals, dtype=torch.float64)
        best_done = max((f.log_probability for f in finished), default=-float("inf"))
        if best_done >= float(totals.max()):  # log-probabilities only fall: nothing alive can win
            break
    alive = [Searched(prefixes[i, start:].tolist(), float(totals[i])) for i in range(len(prefixes))] \
        if len(prefixes[0]) > start else []
    return max(finished + alive, key=lambda s: s.log_probability)
