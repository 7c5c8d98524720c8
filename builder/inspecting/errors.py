"""InspectError: a view or an explanation that cannot be made, with what to do instead."""

from __future__ import annotations

from builder.errors import HintedError


class InspectError(HintedError):
    """Printed by the CLI as one sentence and a hint, never a traceback."""
