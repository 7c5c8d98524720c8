"""Node ids from module names: ``layer1.0.conv1`` -> ``layer1_0_conv1``.

Ids must be valid for :func:`builder.graph.id_problem` (they become submodule names and
``state_dict`` keys), and unique: a module called twice (torchvision's ``relu``) gives
``layer1_0_relu`` and ``layer1_0_relu_1``, as torch.fx names its calls.
"""

from __future__ import annotations

import re

from builder.graph import id_problem


def base_id(path: str, fallback: str = "node") -> str:
    """A valid id for a module path or op name, before making it unique."""
    text = re.sub(r"[^0-9A-Za-z_]+", "_", path).strip("_")
    text = re.sub(r"_+", "_", text)
    if not text:
        text = fallback
    if text[0].isdigit():  # a top-level nn.Sequential's children are "0", "1", ...
        text = f"{fallback}_{text}"
    if id_problem(text):  # a keyword or a reserved name such as "input"
        text = f"{text}_"
    return text


class Namer:
    """Hands out unique ids in the order asked."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def __call__(self, path: str, fallback: str = "node") -> str:
        wanted = base_id(path, fallback)
        candidate, number = wanted, 1
        while candidate in self.taken or id_problem(candidate):
            candidate = f"{wanted}_{number}"
            number += 1
        self.taken.add(candidate)
        return candidate
