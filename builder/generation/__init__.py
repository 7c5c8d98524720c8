"""Generating sequences with trained decoder graphs (seq2seq, captioners, language models).

    from builder.generation import open_generator
    [result] = open_generator("runs/char_lstm-20261203-145503").generate("the old ")
    result.text

The decoding contract (what makes a graph a decoder) is in :mod:`.contract`, the searches
(greedy, sampling, beam) in :mod:`.search`, the API in :mod:`.api`, and the free-running
evaluation that training reports in :mod:`.free_running`. docs/sequences.md explains them.
Names are imported on first use, so that importing this package does not import torch.
"""

from __future__ import annotations

from builder.lazy import lazy_exports

_EXPORTS = {
    "GenerationError": "builder.generation.errors",
    "Vocabulary": "builder.generation.vocabulary",
    "DecoderContract": "builder.generation.contract", "decoder_contract": "builder.generation.contract",
    "Generation": "builder.generation.api", "Generator": "builder.generation.api",
    "generate": "builder.generation.api", "open_generator": "builder.generation.api",
    "METHODS": "builder.generation.api",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("builder.generation", globals(), _EXPORTS)
