"""Reading graph files (writing is in :mod:`builder.yaml_writer`, re-exported here).

ruamel.yaml's round-trip mode is used because it keeps comments and key order, rejects
duplicate keys and reports line and column; :mod:`builder.safe_yaml` bounds the reading
and refuses tags, so that no file, however hostile, runs code, hangs or crashes the reader.
The loaded document is kept on the graph; saving writes the model's changes back into it,
so a hand-written file keeps its comments and layout, and an unchanged graph saves to the
same bytes it was loaded from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blocks.suggest import did_you_mean
from builder import yaml_reader
from builder.errors import GraphError, Problem
from builder.graph import FORMAT_VERSION, Graph, Node, id_problem
from builder.safe_yaml import LIMITS, load_document, read_text_file
from builder.upgrade import upgrade_document
from builder.yaml_setup import (  # noqa: F401 - the names this module has always given
    LAYOUT_DIRECTION_KEY,
    LAYOUT_DIRECTIONS,
    NODE_KEYS,
    TOP_KEYS,
    _yaml,
    normalize_inputs,
    plain,
)
from builder.yaml_writer import Unparsed, dump_graph, save_graph  # noqa: F401 - re-exported

class _Reader:
    """Turns one parsed document into a Graph, collecting every problem on the way."""

    def __init__(self, path: str | None):
        self.path = path
        self.problems: list[Problem] = []
        self.locations: dict[tuple[str, str | None], tuple[int, int]] = {}
        self.here = (1, 1)  # the last place read: where a problem without a place of its own points

    def problem(self, message: str, where: tuple[int, int] | None = None, node: str | None = None,
                hint: str | None = None, severity: str = "error") -> None:
        line, column = where or self.here
        self.problems.append(Problem(message, severity, self.path, line, column, node, hint=hint))

    @staticmethod
    def key_at(mapping: Any, key: Any) -> tuple[int, int] | None:
        try:
            line, column = mapping.lc.key(key)
            return line + 1, column + 1
        except (AttributeError, KeyError, TypeError):
            return None

    @staticmethod
    def value_at(mapping: Any, key: Any) -> tuple[int, int] | None:
        try:
            line, column = mapping.lc.value(key)
            return line + 1, column + 1
        except (AttributeError, KeyError, TypeError):
            return None

    def read(self, doc: Any) -> Graph | None:
        if not isinstance(doc, dict):
            self.problem("a graph file must be a mapping with a 'nodes' section", (1, 1),
                         hint="start from a gallery file, e.g. graphs/lenet5.yaml")
            return None
        if not self.read_format(doc):
            return None
        for key in doc:
            if key not in TOP_KEYS:
                self.problem(f"unknown top-level key {key!r}", self.key_at(doc, key),
                             hint=did_you_mean(key, TOP_KEYS, hint=True) or f"known keys: {', '.join(TOP_KEYS)}")
        graph = Graph(path=self.path, locations=self.locations, document=doc)
        for key in ("name", "description"):
            if key in doc:
                if isinstance(doc[key], str):
                    setattr(graph, key, str(doc[key]))
                else:
                    self.problem(f"'{key}' must be text", self.value_at(doc, key),
                                 hint="quote it if it looks like a number, a list or a mapping")
        nodes = doc.get("nodes")
        if not isinstance(nodes, dict) or not nodes:
            self.problem("the graph has no 'nodes' mapping", self.key_at(doc, "nodes") or (1, 1),
                         hint="add 'nodes:' with at least an input and an output node")
        elif len(nodes) > LIMITS.max_nodes:
            self.problem(f"the graph has {len(nodes):,} nodes, more than the {LIMITS.max_nodes:,} a graph file may "
                         "have", self.key_at(doc, "nodes"), hint="split it into graph files used as blocks")
        else:
            for node_id, body in nodes.items():
                node = self.read_node(nodes, node_id, body)
                if node is not None:
                    graph.nodes[node.id] = node
        graph.expose = self.read_expose(doc)
        graph.training = self.read_training(doc)
        graph.layout = self.read_layout(doc)
        return graph

    def read_format(self, doc: Any) -> bool:
        version = doc.get("format", FORMAT_VERSION)
        where = self.value_at(doc, "format")
        if isinstance(version, bool) or not isinstance(version, int):
            self.problem(f"'format' must be a whole number, found {plain(version)!r}", where,
                         hint=f"the current format is {FORMAT_VERSION}: write 'format: {FORMAT_VERSION}'")
            return False
        if version > FORMAT_VERSION:
            self.problem(f"this file uses graph format {version}, newer than this Model Builder reads "
                         f"(format {FORMAT_VERSION})", where, hint="upgrade Model Builder")
            return False
        if version < 1:
            self.problem(f"graph format {version} does not exist; the first is 1", where,
                         hint=f"the current format is {FORMAT_VERSION}: write 'format: {FORMAT_VERSION}'")
            return False
        if version < FORMAT_VERSION:
            try:
                upgrade_document(doc, version, FORMAT_VERSION)
            except KeyError as missing:
                self.problem(f"graph format {version} cannot be upgraded (no upgrade from format {missing})",
                             where, hint="open it with the Model Builder version that wrote it")
                return False
        return True

    def read_node(self, nodes: Any, node_id: Any, body: Any) -> Node | None:
        where = self.key_at(nodes, node_id)
        self.here = where or self.here
        node_id = str(node_id)
        if where:
            self.locations[(node_id, None)] = where
        why = id_problem(node_id)
        if why:
            self.problem(f"invalid node id {node_id!r}: {why}", where, node_id,
                         hint="ids become submodule names in the compiled model, e.g. conv1, block2_a")
            return None
        if not isinstance(body, dict):
            self.problem("a node must be a mapping with 'block', 'params' and 'inputs'", where, node_id,
                         hint="e.g. conv1: {block: conv2d, params: {out_channels: 8}, inputs: [image]}")
            return None
        for key in body:
            where_key = self.key_at(body, key)
            if where_key:
                self.locations[(node_id, str(key))] = where_key
            if key not in NODE_KEYS:
                hint = did_you_mean(key, NODE_KEYS, hint=True) or "block parameters go under 'params:'"
                self.problem(f"unknown node key {key!r}", where_key, node_id, hint)
        if ("block" in body) == ("graph" in body):
            self.problem("a node needs exactly one of 'block' (a registered block name) or 'graph' "
                         "(a graph file used as a block)", where, node_id,
                         hint="run 'modelbuilder blocks' for the block names")
            return None
        node = Node(node_id)
        kind = "block" if "block" in body else "graph"
        if not isinstance(body[kind], str):
            self.problem(f"'{kind}' must be text, found {plain(body[kind])!r}"[:200], self.value_at(body, kind),
                         node_id, hint="a block name such as conv2d" if kind == "block"
                         else "a path relative to this file, e.g. parts/double_conv.yaml")
            return None
        setattr(node, kind, str(body[kind]))
        params = body.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            self.problem("'params' must be a mapping of parameter names to values",
                         self.value_at(body, "params"), node_id, hint="e.g. params: {out_channels: 8}")
            return None
        for key in params:
            where_param = self.key_at(params, key)
            if where_param:
                self.locations[(node_id, f"params.{key}")] = where_param
        node.params = plain(params)
        inputs = normalize_inputs(plain(body.get("inputs", [])))
        if inputs is None:
            self.problem("'inputs' must be a node id, a list of them, or a mapping from input port to ids",
                         self.value_at(body, "inputs"), node_id, hint="e.g. inputs: [conv1] or inputs: {query: dec}")
            return None
        node.inputs = inputs
        return node if self.read_repeat(body, node) else None

    def read_repeat(self, body: Any, node: Node) -> bool:
        """``repeat``, ``vary`` and ``enabled`` as written; their values are checked by the
        analysis (builder/repeat_expand.py, builder/optional_nodes.py) so the editor shows them."""
        node.repeat = plain(body.get("repeat"))
        vary = body.get("vary")
        if vary is not None and not isinstance(vary, dict):
            self.problem("'vary' must map parameter names to a list (one value per repetition) or an expression "
                         "of the repetition index i", self.value_at(body, "vary"), node.id,
                         hint="e.g. vary: {out_channels: [16, 24, 32], stride: \"2 if i == 0 else 1\"}")
            return False
        for key in vary or ():
            where = self.key_at(vary, key)
            if where:
                self.locations[(node.id, f"vary.{key}")] = where
        node.vary = None if vary is None else plain(vary)
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool):
            self.problem(f"'enabled' must be true or false, found {plain(enabled)!r}"[:200],
                         self.value_at(body, "enabled"), node.id,
                         hint="enabled: false leaves the node out; its consumers take its first input")
            return False
        node.enabled = enabled
        return True

    def read_expose(self, doc: Any) -> dict | None:
        expose = doc.get("expose")
        if expose is None:
            return None
        ok = isinstance(expose, dict) and all(
            isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(t, str) for t in v))
            for v in expose.values())
        if not ok:
            self.problem("'expose' must map parameter names to 'node.param' targets (or lists of them)",
                         self.value_at(doc, "expose"), hint="e.g. expose: {width: [conv1.out_channels]}")
            return None
        return plain(expose)

    def read_training(self, doc: Any) -> dict | None:
        if "training" not in doc or doc["training"] is None:
            return None
        if not isinstance(doc["training"], dict):
            self.problem("'training' must be a mapping of settings", self.value_at(doc, "training"),
                         hint="e.g. training: {epochs: 5}; docs/training.md lists the settings")
            return None
        return plain(doc["training"])

    def read_layout(self, doc: Any) -> dict | None:
        layout = doc.get("layout")
        if layout is None:
            return None
        ok = isinstance(layout, dict) and all(
            (k == LAYOUT_DIRECTION_KEY and v in LAYOUT_DIRECTIONS) or (
                isinstance(v, list) and len(v) == 2
                and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in v))
            for k, v in layout.items())
        if not ok:
            self.problem("'layout' must map node ids to [x, y] positions", self.value_at(doc, "layout"),
                         hint="delete the section to get an automatic layout", severity="warning")
            return None
        return {str(k): plain(v) for k, v in layout.items()}


def _read_values(text: str, path: str | None) -> tuple[Any, list[Problem], bool]:
    """The document's values and reading warnings, and whether they are the round-trip
    document itself (ruamel's reader, where libyaml is missing or the file asks for
    YAML 1.1)."""
    if yaml_reader.AVAILABLE:
        try:
            doc, warnings = yaml_reader.load_fast(text, path)
        except yaml_reader.UnsupportedDocument:
            pass
        else:
            version = doc.get("format") if isinstance(doc, dict) else None
            older = isinstance(version, int) and not isinstance(version, bool) and version < FORMAT_VERSION
            if not older:  # (upgrades rewrite the round-trip document, comments and all)
                return doc, warnings, False
    return (*load_document(_yaml(), text, path), True)


def parse_graph(text: str, path: str | None = None) -> Graph:
    """A Graph from YAML text; GraphError listing every problem in the file."""
    reader = _Reader(path)
    doc, reader.problems, round_trip = _read_values(text, path)
    graph = reader.read(doc)
    if graph is None or any(p.is_error for p in reader.problems):
        raise GraphError(reader.problems)
    if not round_trip:
        graph.document = Unparsed(text, path)
    graph.load_warnings = list(reader.problems)  # reported again by every analysis
    return graph


def load_graph(path: str | Path) -> Graph:
    """Read a graph file. Raises GraphError (with file, line, column) for unreadable,
    malformed or structurally wrong files; blocks, parameters and shapes are checked by
    :func:`builder.analyze`. Reading is bounded (:mod:`builder.safe_yaml`)."""
    return parse_graph(read_text_file(path), str(path))


