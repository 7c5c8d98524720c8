"""The one error type of export and predict: a sentence naming the file and what was
expected, printed by the CLI without a traceback."""

from __future__ import annotations


class ExportError(Exception):
    """An export or prediction that cannot be done; ``hint`` says what to do instead."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}\n    hint: {self.hint}" if self.hint else text
