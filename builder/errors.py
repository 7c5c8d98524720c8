"""Problems a user can act on: where, what, and a hint. Never a raw traceback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding about a graph: an error stops compilation, a warning does not."""

    message: str
    severity: Severity = "error"
    file: str | None = None
    line: int | None = None  # 1-based, like editors show
    column: int | None = None
    node: str | None = None
    param: str | None = None
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def location(self) -> str:
        parts = [self.file or "<graph>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        who = f"node '{self.node}': " if self.node else ""
        text = f"{self.location()}: {self.severity}: {who}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class GraphError(Exception):
    """A graph that cannot be loaded or compiled; ``problems`` lists every reason found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__(self.__str__())

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class HintedError(Exception):
    """An error a user can act on: one sentence and, where there is one, what to do
    instead. ``str()`` gives both, the hint indented on its own line, as the CLI prints it.

    Every error the project shows a user derives from this one base. Those whose callers print
    the hint on its own (the trainer's, a checkpoint's, a composite's) set ``HINT_IN_TEXT``
    to False, so that ``str()`` is the sentence alone and no hint is printed twice."""

    HINT_IN_TEXT = True

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}\n    hint: {self.hint}" if self.hint and self.HINT_IN_TEXT else text
