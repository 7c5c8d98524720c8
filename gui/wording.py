"""The app's words for what the engine says.

The analysis writes for a YAML file and a terminal: "add it under 'inputs:'", "run
'modelbuilder blocks conv2d'". In the app the user has a palette, wires and an inspector
instead, so each such hint is said in those terms here; the command line keeps its own
wording. Pure text functions, no Qt, so they are tested without a window.
"""

from __future__ import annotations

import re
from dataclasses import replace

from builder import Problem

_CODE = re.compile(r"``([^`]+)``|`([^`]+)`")

# (pattern in the engine's text, the app's text); applied in order, first match wins
_HINTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^add it under 'inputs:' \((.*)\)$"), r"drag a wire from another node's output onto this input (\1)"),
    (re.compile(r"^add it under 'inputs:'$"), "drag a wire from another node's output onto this input"),
    (re.compile(r"^run 'modelbuilder blocks (\S+)' for its parameters$"),
     r"the inspector shows each parameter's type and range (hover its name); \1's documentation is in the "
     r"palette's tooltip"),
    (re.compile(r"^run 'modelbuilder blocks' for (the list|the block names)$"),
     "search the palette for the block, or double-click the canvas to pick one"),
    (re.compile(r"^add a node with 'block: input' and its shape$"),
     "drag an 'input' block from the palette onto the canvas and set its shape in the inspector"),
    (re.compile(r"^add a node with 'block: output' fed by the last node$"),
     "drag an 'output' block from the palette and wire the last node's output into it"),
    (re.compile(r"^block parameters go under 'params:'$"), "set block parameters in the inspector"),
]
_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^input port '([^']+)' of \S+ is not connected$"), "input '{port}' of '{node}' is not connected"),
]


def plain(text: str) -> str:
    """Documentation text without reStructuredText's code backticks, for plain-text places
    (status bar, list rows)."""
    return _CODE.sub(lambda m: m.group(1) or m.group(2), text)


def app_hint(hint: str | None) -> str | None:
    if hint is None:
        return None
    for pattern, words in _HINTS:
        if pattern.match(hint):
            return pattern.sub(words, hint)
    return plain(hint)


def app_message(problem: Problem) -> str:
    for pattern, words in _MESSAGES:
        match = pattern.match(problem.message)
        if match and problem.node:
            return words.format(port=match.group(1), node=problem.node)
    return plain(problem.message)


def for_app(problem: Problem) -> Problem:
    """``problem`` with the message and hint the app shows."""
    return replace(problem, message=app_message(problem), hint=app_hint(problem.hint))


def count_text(errors: int, warnings: int) -> str:
    """"No problems", "1 error", "2 errors, 1 warning": for the status bar."""
    if not errors and not warnings:
        return "No problems"
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts)
