"""Pairing a file's tensor names with a graph's state_dict keys (``node_id.param...``).

Two ways, chosen by ``init``'s ``match``:

- ``names`` (the default): a key takes the file's tensor of the same name, after the
  ``map`` renamed the file's names (``{"backbone.*": "*"}``: backbone.conv1.weight is read
  as conv1.weight). Run folders, bundles and weights written for this graph match this way.
- ``order``: what the names pair as above stays paired; the rest of the file's tensors and
  of the graph's keys are lined up in order, each pair of the same kind (weight, bias,
  running_mean ...) and shape. This loads a library's own weight
  files whose layers come in the same order under other names: torchvision's
  ``layer1.0.conv1.weight`` is graphs/resnet18.yaml's ``layer1_0.conv1.weight``, its
  ``features.0.weight`` is graphs/alexnet.yaml's ``conv1.weight``. Tensors the graph does
  not have (GoogLeNet's auxiliary heads) are stepped over. The alignment is the one that
  pairs the most tensors; among those, the one whose names agree most (so a head called
  ``fc`` takes the file's ``fc``, not an auxiliary ``aux1.fc2`` of the same shape).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

Shape = tuple[int, ...]


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` matches any run of characters (dots too) and captures it; of several, each takes
    as little as it can and the last the rest (``layer*.*.*``: layer1.0.conv1.weight -> 1, 0,
    conv1.weight)."""
    return re.compile("".join("(.*?)" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern)))


def renamed(names: Sequence[str], renames: Mapping[str, str | None]) -> dict[str, str | None]:
    """Each file name -> the name it is read as (None: left out by the map). The first
    pattern that matches a whole name renames it; names no pattern matches stay as they are."""
    rules = [(_glob_regex(source), target) for source, target in renames.items()]
    result: dict[str, str | None] = {}
    for name in names:
        result[name] = name
        for regex, target in rules:
            found = regex.fullmatch(name)
            if found is None:
                continue
            if target is None:
                result[name] = None
            else:
                parts = iter(found.groups())
                result[name] = re.sub(r"\*", lambda _: next(parts, ""), target)
            break
    return result


def by_names(target: Mapping[str, Shape], source: Mapping[str, Shape]) -> dict[str, str]:
    """graph key -> file name, for every graph key the file has under the same name (any shape)."""
    return {key: key for key in target if key in source}


def _kind(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _owner(key: str) -> str:
    """The module a tensor belongs to, by its last name (``layer1.0.conv1.weight`` -> conv1)."""
    parts = key.split(".")
    return parts[-2] if len(parts) > 1 else ""


def by_order(target: Mapping[str, Shape], source: Mapping[str, Shape]) -> dict[str, str]:
    """graph key -> file name, lining both up in order (see the module's docstring)."""
    keys, names = list(target), list(source)
    n, m = len(keys), len(names)
    # a name bonus always below one pair, so that it only decides between alignments of equal size
    bonus = 1.0 / (3 * (n + 1))
    signature = [(_kind(k), tuple(target[k])) for k in keys]
    offered = [(_kind(s), tuple(source[s])) for s in names]

    def score(i: int, j: int) -> float:
        if signature[i] != offered[j]:
            return -1.0
        return 1.0 + bonus * (2 * (keys[i] == names[j]) + (_owner(keys[i]) == _owner(names[j])))

    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = best[i], best[i + 1]
        for j in range(m - 1, -1, -1):
            pair = score(i, j)
            row[j] = max(below[j], row[j + 1], below[j + 1] + pair if pair > 0 else 0.0)
    pairs: dict[str, str] = {}
    i = j = 0
    while i < n and j < m:
        pair = score(i, j)
        if pair > 0 and best[i][j] == best[i + 1][j + 1] + pair:
            pairs[keys[i]] = names[j]
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def group_by_node(keys: Sequence[str]) -> dict[str, list[str]]:
    """Keys by their first name (a graph node id, or a file's top-level module), in order."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(key.split(".", 1)[0], []).append(key)
    return groups


def shape_text(shape: Any) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"
