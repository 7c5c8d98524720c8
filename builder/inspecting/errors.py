"""InspectError: a view or an explanation that cannot be made, with what to do instead."""

from __future__ import annotations


class InspectError(Exception):
    """Printed by the CLI as one sentence and a hint, never a traceback."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}\n    hint: {self.hint}" if self.hint else text
