"""The one error generation raises: a sentence and what to do instead, never a traceback."""

from __future__ import annotations

from builder.errors import HintedError


class GenerationError(HintedError):
    """A model that cannot generate, or an input it cannot take (unknown token, too long)."""
