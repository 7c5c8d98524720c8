"""Writing graph files: the model's changes written back into the round-trip document, so
a hand-written file keeps its comments and layout and an unchanged graph saves to the
same bytes it was loaded from. Files are written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString

from builder.atomic import write_atomic
from builder.errors import GraphError
from builder.graph import FORMAT_VERSION, Graph, Node
from builder.safe_yaml import load_document
from builder.upgrade import upgrade_document
from builder.yaml_setup import TOP_KEYS, _yaml, normalize_inputs, plain


class Unparsed:
    """The text a graph was read from, standing for its round-trip document until the
    graph is first saved: only saving needs the comments, and ruamel's round-trip reader
    is ~50x slower than the reader that checking and training use."""

    def __init__(self, text: str, path: str | None):
        self.text, self.path = text, path

    def __deepcopy__(self, memo: dict) -> Unparsed:
        return self  # immutable


def _round_trip_document(graph: Graph) -> CommentedMap:
    """The graph's ruamel document (comments and all), parsed now from the text it was
    read from if it was read fast; a new one if it has none or that text no longer reads."""
    document = graph.document
    if isinstance(document, Unparsed):
        try:
            document, _ = load_document(_yaml(), document.text, document.path)
            version = document.get("format", FORMAT_VERSION) if isinstance(document, CommentedMap) else None
            if isinstance(version, int) and not isinstance(version, bool) and version < FORMAT_VERSION:
                upgrade_document(document, version, FORMAT_VERSION)
        except (GraphError, KeyError):  # (the graph itself was read; only its comments are lost)
            document = None
    return document if isinstance(document, CommentedMap) else CommentedMap()


def _text(value: Any) -> Any:
    """Text that ruamel would write unquoted but read back as something else, quoted:
    ``?x`` and ``: x`` in flow lists, and line separators such as U+0085."""
    if isinstance(value, str) and not isinstance(value, ScalarString) and (
            value[:1] in ("?", ":") or any(c in value for c in "\x85\u2028\u2029")):
        return DoubleQuotedScalarString(value)
    return value


def _flow(value: Any) -> Any:
    """A value as it should appear in a new file: lists and mappings in flow style."""
    if isinstance(value, dict):
        out = CommentedMap((_text(k), _flow(v)) for k, v in value.items())
        out.fa.set_flow_style()
        return out
    if isinstance(value, (list, tuple)):
        out = CommentedSeq(_flow(v) for v in value)
        out.fa.set_flow_style()
        return out
    return _text(value)


def _update_mapping(target: CommentedMap, values: dict[str, Any]) -> None:
    """Make ``target`` hold ``values``, touching only what differs (comments survive)."""
    for key in [k for k in target if k not in values]:
        del target[key]
    for key, value in values.items():
        if key not in target or plain(target[key]) != value:
            target[key] = _flow(value)


def _put(body: CommentedMap, key: str, value: Any, after: tuple[str, ...]) -> None:
    """Set ``key`` in place if it is there, else insert it after the last of ``after``
    that the node has (so a new key lands where the format lists it)."""
    if key in body:
        body[key] = value
        return
    keys = list(body)
    body.insert(max((keys.index(k) + 1 for k in after if k in body), default=len(keys)), key, value)


def _node_map(node: Node, existing: Any) -> CommentedMap:
    body = existing if isinstance(existing, CommentedMap) else CommentedMap()
    kind, other = ("block", "graph") if node.block is not None else ("graph", "block")
    if other in body:
        del body[other]
    if body.get(kind) != getattr(node, kind):
        if kind in body:
            body[kind] = getattr(node, kind)
        else:
            body.insert(0, kind, getattr(node, kind))
    if node.repeat is not None:
        if "repeat" not in body or plain(body["repeat"]) != node.repeat:
            _put(body, "repeat", _flow(node.repeat), ("block", "graph"))
    elif "repeat" in body:
        del body["repeat"]
    if node.params:
        if isinstance(body.get("params"), CommentedMap):
            _update_mapping(body["params"], node.params)
        else:
            body["params"] = _flow(node.params)
    elif "params" in body:
        del body["params"]
    if node.vary is not None:
        if isinstance(body.get("vary"), CommentedMap):
            _update_mapping(body["vary"], node.vary)
        else:
            _put(body, "vary", _flow(node.vary), ("block", "graph", "repeat", "params"))
    elif "vary" in body:
        del body["vary"]
    if node.inputs:
        if normalize_inputs(plain(body.get("inputs"))) != node.inputs:
            body["inputs"] = _flow(node.inputs)
    elif "inputs" in body:
        del body["inputs"]
    if not node.enabled:
        if body.get("enabled") is not False:
            body["enabled"] = False
    elif "enabled" in body and body["enabled"] is not True:  # (an explicit `enabled: true` stays as written)
        del body["enabled"]
    return body


def _sync_document(graph: Graph) -> CommentedMap:
    """The graph's round-trip document updated to the model (a new one if it has none)."""
    doc = _round_trip_document(graph)
    if doc.get("format") != FORMAT_VERSION:
        if "format" in doc:
            doc["format"] = FORMAT_VERSION
        else:
            doc.insert(0, "format", FORMAT_VERSION)
    for key, value, default in (("name", graph.name, "model"), ("description", graph.description, "")):
        if key in doc and plain(doc[key]) == value:
            continue  # as written
        if value == default and (key == "description" or (key not in doc and graph.document is not None)):
            doc.pop(key, None)  # an empty description, or the default name a loaded file never spelled out
        else:
            doc[key] = _text(value)
    nodes = doc.get("nodes")
    if not isinstance(nodes, CommentedMap):
        nodes = doc["nodes"] = CommentedMap()
    for node_id in [k for k in nodes if k not in graph.nodes]:
        del nodes[node_id]
    for index, (node_id, node) in enumerate(graph.nodes.items()):
        if node_id in nodes:
            nodes[node_id] = _node_map(node, nodes[node_id])
        else:
            nodes.insert(min(index, len(nodes)), node_id, _node_map(node, None))
    for key in ("expose", "training", "layout"):
        value = getattr(graph, key)
        if value is None:
            doc.pop(key, None)
        elif isinstance(doc.get(key), CommentedMap):
            if key == "training":
                if plain(doc[key]) != value:
                    doc[key] = _block_style(value)
            else:
                _update_mapping(doc[key], value)
        else:
            doc[key] = _block_style(value) if key == "training" else CommentedMap(
                (k, _flow(v)) for k, v in value.items())
    # keep the top-level sections in their canonical order (moving keys only when needed,
    # since comments travel with their keys)
    canonical = [k for k in TOP_KEYS if k in doc]
    if [k for k in doc if k in TOP_KEYS] != canonical:
        for key in canonical:
            doc.move_to_end(key)
    graph.document = doc
    return doc


def _block_style(value: Any) -> Any:
    if isinstance(value, dict):
        return CommentedMap((_text(k), _block_style(v)) for k, v in value.items())
    return _flow(value)


def dump_graph(graph: Graph) -> str:
    """The graph as YAML text (comments and order of a loaded file preserved)."""
    stream = io.StringIO()
    _yaml().dump(_sync_document(graph), stream)
    return stream.getvalue()


def save_graph(graph: Graph, path: str | Path | None = None) -> Path:
    """Write the graph to ``path`` (default: where it was loaded from), atomically."""
    if not (path or graph.path):  # (Path("") is ".", so test before converting)
        raise ValueError("save_graph needs a path for a graph that was not loaded from a file")
    target = Path(path or graph.path)
    write_atomic(target, dump_graph(graph))
    graph.path = str(target)
    return target
