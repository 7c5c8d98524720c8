"""The one error type of export and predict: a sentence naming the file and what was
expected, printed by the CLI without a traceback."""

from __future__ import annotations

from builder.errors import HintedError


class ExportError(HintedError):
    """An export or prediction that cannot be done; ``hint`` says what to do instead."""
