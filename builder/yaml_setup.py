"""ruamel.yaml set up for graph files, and the format's top-level names: shared by the
reader (:mod:`builder.yaml_format`), the fast reader (:mod:`builder.yaml_reader`) and the
writer (:mod:`builder.yaml_writer`), so that none of them imports another."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarfloat import ScalarFloat

from builder.graph import ENABLED_KEY, Inputs
from builder.safe_yaml import configure

TOP_KEYS = ("format", "name", "description", "expose", "nodes", "training", "layout")
# The editor's layout direction, kept in the layout section under a key that no node id
# can take (ids are identifiers): "down" (the default, not written) or "right".
LAYOUT_DIRECTION_KEY = ".direction"
LAYOUT_DIRECTIONS = ("down", "right")
NODE_KEYS = ("block", "graph", "repeat", "params", "vary", "inputs", ENABLED_KEY)


class _Constructor(RoundTripConstructor):
    def construct_yaml_float(self, node: Any) -> Any:
        value = super().construct_yaml_float(node)
        if isinstance(value, ScalarFloat):
            value.source_text = node.value  # see _Representer
        return value


_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_yaml_float)


class _Representer(RoundTripRepresenter):
    """ruamel re-derives a loaded float's text from its value and format, and truncates
    long mantissas in exponent notation (2.2441512217299184e-102 -> ...183e-102). A float
    that was loaded is written back as it was read; one that fails to read back exactly is
    written with Python's repr."""

    def represent_scalar_float(self, data: Any) -> Any:
        text = getattr(data, "source_text", None)
        if text and ("." in text or "e" in text.lower()) and _same_float(text, data):
            return self.represent_scalar("tag:yaml.org,2002:float", text, anchor=data.yaml_anchor(any=True))
        node = super().represent_scalar_float(data)
        if not _same_float(node.value, data):
            node.value = repr(float(data))
        return node


def _same_float(text: str, value: float) -> bool:
    try:
        return float(text.replace("_", "")) == float(value)
    except ValueError:  # .inf, .nan
        return True


_Representer.add_representer(ScalarFloat, _Representer.represent_scalar_float)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.Representer = _Representer
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never fold long lines: a reformatted file would show up in diffs
    yaml.preserve_quotes = True
    return configure(yaml)  # reading limits: depth, size, alias expansion


def plain(value: Any) -> Any:
    """Round-trip objects (CommentedMap, ScalarFloat ...) as plain dicts, lists and scalars."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def normalize_inputs(raw: Any) -> Inputs | None:
    """``conv1`` -> ``["conv1"]``; lists and port mappings of text stay; anything else: None."""
    if isinstance(raw, str):
        return [raw]
    if raw is None:
        return []
    if isinstance(raw, list) and all(isinstance(r, str) for r in raw):
        return list(raw)
    if isinstance(raw, dict):
        result: dict[str, str | list[str]] = {}
        for port, value in raw.items():
            if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                result[str(port)] = value
            else:
                return None
        return result
    return None
