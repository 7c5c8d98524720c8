"""The transfer-learning settings' types: where the starting weights come from (``init``),
which nodes do not train (``freeze``) and per-node learning-rate factors (``lr_mult``).

They are declared in builder/training/settings.py like every other setting; this module
holds their value types, which are structured (a path or a mapping, a list of nodes),
and checks them without torch, so ``modelbuilder check`` and the app stay light:

    training:
      init: {from: runs/digits04, map: {"backbone.*": "*"}, skip_mismatched: [fc]}
      freeze: {up_to: pool2}        # or a list of node ids and globs: [conv1, "layer1_*"]
      lr_mult: {fc: 10}             # the head learns 10 times faster than the rest
      unfreeze_after: 3             # epochs; then the frozen nodes train too, at lr * unfreeze_lr

Each ``check`` returns the normalized value that settings.json keeps (plain JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from blocks.params import Bool, Param, ParamError, _type_name
from blocks.suggest import did_you_mean

MATCH_MODES = ("names", "order")
INIT_KEYS = ("from", "map", "match", "skip_mismatched", "strict")
UP_TO = "up_to"


def _names(value: Any, what: str) -> list[str]:
    """A name, a comma-separated list of names in one text, or a list of names."""
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ParamError(f"expected {what}, found {_type_name(value)}")
    if not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise ParamError(f"expected {what}, found {_type_name(value)} with an empty or non-text entry")
    return [v.strip() for v in items]


def _rename_map(value: Any) -> dict[str, str | None]:
    if not isinstance(value, Mapping):
        raise ParamError(f"init map: expected a mapping such as {{\"backbone.*\": \"*\"}}, found {_type_name(value)}")
    renames: dict[str, str | None] = {}
    for source, target in value.items():
        if not isinstance(source, str) or not source:
            raise ParamError(f"init map: a key must be a name pattern, found {_type_name(source)}")
        if target is not None and not isinstance(target, str):
            raise ParamError(f"init map: {source!r} must map to a name pattern or null (leave it out), "
                             f"found {_type_name(target)}")
        if target is not None and target.count("*") > source.count("*"):
            raise ParamError(f"init map: {target!r} has more '*' than {source!r}; each '*' in the graph's "
                             "name takes what the same '*' matched in the file's")
        renames[source] = target
    return renames


def init_spec(value: Any) -> dict[str, Any]:
    """``init`` as a full mapping: a bare path becomes ``{from: PATH}``, defaults filled in."""
    if isinstance(value, str):
        value = {"from": value}
    if not isinstance(value, Mapping):
        raise ParamError("expected a path or a mapping such as {from: runs/digits, skip_mismatched: [fc]}, "
                         f"found {_type_name(value)}")
    unknown = [k for k in value if k not in INIT_KEYS]
    if unknown:
        raise ParamError(f"init: unknown key {unknown[0]!r}{did_you_mean(unknown[0], INIT_KEYS)} "
                         f"(keys: {', '.join(INIT_KEYS)})")
    source = value.get("from")
    if not isinstance(source, str) or not source.strip():
        raise ParamError("init: 'from' must name a run folder, a bundle, a .safetensors or a .pth file")
    match = value.get("match", "names")
    if match not in MATCH_MODES:
        raise ParamError(f"init match: expected one of {' | '.join(MATCH_MODES)}, found {match!r}")
    skip = value.get("skip_mismatched", False)
    if not isinstance(skip, bool):
        skip = _names(skip, "true, false or a list of node ids")
    return {"from": source.strip(), "map": _rename_map(value.get("map") or {}), "match": match,
            "skip_mismatched": skip, "strict": Bool(False).check(value.get("strict", False))}


@dataclass(frozen=True)
class InitSource(Param):
    """Where a run's starting weights come from: a path, or a mapping (see :func:`init_spec`)."""

    kind = "init"

    def _check(self, value: Any) -> dict[str, Any]:
        return init_spec(value)

    def _describe(self) -> str:
        return ("a run folder, bundle, .safetensors or .pth file, or {from: PATH, map: {PATTERN: PATTERN}, "
                "match: names | order, skip_mismatched: true | [nodes], strict: false}")


@dataclass(frozen=True)
class NodeSelection(Param):
    """Nodes by id (globs such as ``layer1_*`` allowed), or ``{up_to: NODE}``: that node and
    every node upstream of it in the data flow."""

    kind = "nodes"

    def _check(self, value: Any) -> list[str] | dict[str, str]:
        if isinstance(value, Mapping):
            if set(value) != {UP_TO} or not isinstance(value[UP_TO], str) or not value[UP_TO]:
                raise ParamError(f"expected a list of node ids or {{{UP_TO}: NODE}}, found a mapping with "
                                 f"{', '.join(map(repr, value)) or 'no keys'}")
            return {UP_TO: value[UP_TO]}
        return _names(value, f"a list of node ids or {{{UP_TO}: NODE}}")

    def _describe(self) -> str:
        return f"list of node ids (globs allowed) or {{{UP_TO}: NODE}}"


@dataclass(frozen=True)
class NodeFactors(Param):
    """A positive factor per node id or glob, e.g. ``{fc: 10, "layer1_*": 0.1}``."""

    kind = "node_factors"

    def _check(self, value: Any) -> dict[str, float]:
        if not isinstance(value, Mapping):
            raise ParamError(f"expected a mapping of node id to factor, e.g. {{fc: 10}}, found {_type_name(value)}")
        factors = {}
        for node, factor in value.items():
            if not isinstance(node, str) or isinstance(factor, bool) or not isinstance(factor, (int, float)):
                raise ParamError(f"expected node id: number, found {node!r}: {_type_name(factor)}")
            if not factor > 0:
                raise ParamError(f"{node}: the factor must be above 0, found {factor} "
                                 "(to keep a node's weights fixed, freeze it)")
            factors[node] = float(factor)
        return factors

    def _describe(self) -> str:
        return "mapping of node id (globs allowed) to a factor > 0"


def init_override(section_value: Any, path: str | None) -> Any:
    """``--init PATH`` over the graph's ``init``: the path replaces only ``from``, so the
    section's map and skip lists still apply; None when there is no flag."""
    if path is None:
        return None
    if isinstance(section_value, Mapping):
        return {**section_value, "from": path}
    return path
