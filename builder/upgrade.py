"""Upgrading older graph-file formats, before validation.

Each format change adds one small function ``UPGRADES[n]`` that rewrites a version-``n``
document (the raw round-trip mapping, comments and all) into version ``n + 1`` in place.
Loading applies them in sequence, so a file of any older version reaches the current one.
Format 1 is the first published format, so the table is empty for now.
"""

from __future__ import annotations

from typing import Any, Callable

from builder.graph import FORMAT_VERSION

Upgrade = Callable[[Any], None]
UPGRADES: dict[int, Upgrade] = {}


def upgrade_document(document: Any, version: int, current: int = FORMAT_VERSION) -> list[int]:
    """Bring ``document`` from ``version`` to ``current``; returns the versions passed through.

    Raises KeyError naming the first version that has no upgrade function.
    """
    passed = []
    while version < current:
        step = UPGRADES.get(version)
        if step is None:
            raise KeyError(version)
        step(document)
        passed.append(version)
        version += 1
    document["format"] = current
    return passed
