"""A node's new id carried into the training settings that name nodes, so that renaming a
node in the editor does not leave ``freeze: [conv1]`` naming a node that no longer exists
(the node would silently start training again).

Settings that name nodes: ``freeze`` (a list, a comma-separated text, or ``{up_to: X}``),
``lr_mult`` (its keys), ``init: {skip_mismatched: [...]}`` and a per-output ``loss``
mapping (its keys). Glob patterns (``layer1_*``) are left as written: they name no one
node. Qt-free, so that the editor's undo commands and scripts share it.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping, Optional

_GLOB = set("*?[")


def _one(value: Any, old: str, new: str) -> Any:
    return new if value == old else value


def _names(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str) and not _GLOB & set(value):
        return ", ".join(_one(part.strip(), old, new) for part in value.split(",")) if "," in value \
            else _one(value, old, new)
    if isinstance(value, list):
        return [_one(item, old, new) for item in value]
    return value


def _keys(value: Any, old: str, new: str) -> Any:
    if not isinstance(value, Mapping) or old not in value:
        return value
    return {(new if key == old else key): item for key, item in value.items()}


def renamed_in_training(section: Optional[Mapping[str, Any]], old: str, new: str) -> Optional[dict]:
    """``section`` with node ``old`` named ``new`` wherever a setting names it (a copy; the
    key order and everything else as written), or None when no setting names ``old``."""
    if not section:
        return None
    after = copy.deepcopy(dict(section))
    freeze = after.get("freeze")
    if isinstance(freeze, Mapping):
        after["freeze"] = {key: _one(item, old, new) for key, item in freeze.items()}
    elif freeze is not None:
        after["freeze"] = _names(freeze, old, new)
    for key in ("lr_mult", "loss"):
        if key in after:
            after[key] = _keys(after[key], old, new)
    init = after.get("init")
    if isinstance(init, Mapping) and isinstance(init.get("skip_mismatched"), (list, str)):
        after["init"] = {**init, "skip_mismatched": _names(init["skip_mismatched"], old, new)}
    return after if after != dict(section) else None
