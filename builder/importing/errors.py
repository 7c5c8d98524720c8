"""What an import reports: the parts of a model that have no block, and why it stopped."""

from __future__ import annotations

from dataclasses import dataclass

from builder.errors import HintedError


@dataclass(frozen=True)
class Unmapped:
    """One operation that became no block: the module path (or the module it was called
    in), the operation, and why."""

    path: str
    op: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path} ({self.op}): {self.reason}"


class Unmappable(Exception):
    """Raised by an op mapper for an operation it cannot express as blocks; the driver
    adds the module path and the op and goes on, so that every such operation is listed."""


class ImportFailure(HintedError):
    """The import stopped: a source that cannot be loaded or traced, operations without a
    block (``unmapped``), or a graph that does not compute what the model does. Nothing
    was written."""

    def __init__(self, message: str, hint: str | None = None, unmapped: list[Unmapped] | None = None):
        self.unmapped = list(unmapped or [])
        if self.unmapped:
            message += "".join(f"\n  - {item}" for item in self.unmapped)
        super().__init__(message, hint)
