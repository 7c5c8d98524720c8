"""What an export wrote (:class:`ExportResult`): a leaf that every writer returns and
:mod:`builder.exporting.api` passes on, so that no writer imports the entry point."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional


@dataclass
class ExportResult:
    """What an export wrote: the main ``path`` (file or folder), every file written,
    and the largest output difference against the compiled model on a check batch."""

    format: str
    path: Path
    files: list[Path] = field(default_factory=list)
    max_difference: Optional[float] = None
    notes: list[str] = field(default_factory=list)
