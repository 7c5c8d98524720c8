"""The one "did you mean" rule of the project: the closest known name to a misspelt one
(difflib's ratio of at least 0.6), for every message about an unknown block, parameter,
port, node, setting, key or data source."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Optional


def closest(word: object, known: Iterable[str]) -> Optional[str]:
    """The known name closest to ``word``, or None when none is close."""
    found = difflib.get_close_matches(str(word), list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: object, known: Iterable[str], *, hint: bool = False) -> str:
    """``"; did you mean 'digits'?"`` to end a message (``hint=True``: ``"did you mean
    'digits'?"`` for a hint line) when ``word`` is close to a known name, else ``""``."""
    match = closest(word, known)
    if match is None:
        return ""
    return f"did you mean {match!r}?" if hint else f"; did you mean {match!r}?"
