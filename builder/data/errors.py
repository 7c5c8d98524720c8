"""DataError: bad data, reported before training starts, with where and what to do."""

from __future__ import annotations

from blocks.suggest import did_you_mean  # noqa: F401 - the data sources' name for it
from builder.errors import HintedError


class DataError(HintedError):
    """Data that cannot be used with the graph: which file (and line), what is wrong, a hint.

    ``str(err)`` reads ``data.csv:5: column 'width' has 'abc', not a number`` followed by an
    indented ``hint:`` line when there is one, like the graph's own problems.
    """

    def __init__(self, message: str, file: str | None = None, hint: str | None = None,
                 line: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        super().__init__(message, hint)

    def location(self) -> str | None:
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def as_dict(self) -> dict:
        """The fields that are set, e.g. for an ``error`` event."""
        return {k: v for k, v in (("message", self.message), ("file", self.file), ("line", self.line),
                                  ("hint", self.hint)) if v is not None}
