"""Reading a graph document fast: libyaml's event parser (C) and a small composer here.

ruamel.yaml's round-trip reader is pure Python and spends ~0.4 ms per graph node, so a
20,000-node file took 10 s to read. Checking, training and exporting need the values and
their positions only, not the comments, so they read with libyaml (PyYAML's C parser,
~7 us per node) and this composer, which builds plain dicts and lists that know where
each key and value stood (``mapping.lc.key(k)`` / ``.lc.value(k)``, 0-based, the same
interface as ruamel's) and enforces the reading limits of :mod:`builder.safe_yaml` while
it builds them: nesting depth, values (each use of an alias counted in full), text length,
no tags, no collections or aliases as keys, no value that contains itself.

Scalars are resolved exactly as ruamel's YAML 1.2 reader resolves them (its resolver and
constructor are called, once per distinct plain scalar), so both readers give the same
values; tests/builder/test_yaml_reader.py compares them on the gallery and on mutated
documents. The editor still saves through ruamel (comments kept): the round-trip
document is parsed from the same text when the graph is first saved.
"""

from __future__ import annotations

from typing import Any

from builder.errors import GraphError, Problem
from builder.yaml_setup import _yaml, plain
from builder.safe_yaml import (
    HINT_SYNTAX, LIMITS, Limits, Refused, at, character_name, check_size, position, too_many_aliased,
    too_many_values,
)

try:  # PyYAML built with libyaml; without it parse_graph keeps to ruamel's reader
    from yaml import CSafeLoader as _EventParser
    from yaml import error as _yaml_error
    from yaml import events as _ev
    from yaml.reader import ReaderError as _ReaderError
except ImportError:  # pragma: no cover - a platform without PyYAML's wheels
    _EventParser = None

AVAILABLE = _EventParser is not None and getattr(__import__("yaml"), "__with_libyaml__", False)

# plain scalars that YAML 1.2 reads as something other than text, by first character
_SPECIAL_WORDS = frozenset({"true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"})
_MERGE = "<<"


class Positions:
    """Where the keys and values of one mapping (or the items of a list) stood."""

    __slots__ = ("line", "col", "keys", "values")

    def __init__(self, mark: Any):
        self.line, self.col = mark.line, mark.column
        self.keys: dict[Any, tuple[int, int]] = {}
        self.values: dict[Any, tuple[int, int]] = {}

    def key(self, key: Any) -> tuple[int, int]:
        return self.keys[key]

    def value(self, key: Any) -> tuple[int, int]:
        return self.values[key]

    def item(self, index: int) -> tuple[int, int]:
        return self.values[index]


class PlacedMap(dict):
    """A mapping as read, with ``lc`` positions."""

    __slots__ = ("lc",)


class PlacedList(list):
    """A list as read, with ``lc`` positions of its items."""

    __slots__ = ("lc",)


class _Scalars:
    """Plain scalars resolved by ruamel's own YAML 1.2 rules (a cache: graph files repeat
    the same few words and numbers thousands of times)."""

    def __init__(self) -> None:
        loader = _yaml()
        self._resolver, self._constructor, self._plain = loader.resolver, loader.constructor, plain
        self._cache: dict[str, Any] = {}

    def plain(self, text: str) -> Any:
        if text[:1].isalpha() and text not in _SPECIAL_WORDS:
            return text  # (a word: most keys, block names and node ids)
        try:
            return self._cache[text]
        except KeyError:
            pass
        from ruamel.yaml.nodes import ScalarNode

        tag = self._resolver.resolve(ScalarNode, text, (True, False))
        value = self._plain(self._constructor.construct_object(ScalarNode(tag, text), deep=True))
        if not isinstance(value, (str, int, float, bool, type(None))):
            value = text if tag.value in ("tag:yaml.org,2002:value", "tag:yaml.org,2002:yaml") else value
        self._cache[text] = value
        return value


_SCALARS: _Scalars | None = None


def _scalars() -> _Scalars:
    global _SCALARS
    if _SCALARS is None:
        _SCALARS = _Scalars()
    return _SCALARS


class _Frame:
    """A mapping or list being built."""

    __slots__ = ("value", "anchor", "start", "key", "key_mark", "has_key", "merges", "size")

    def __init__(self, value: Any, anchor: str | None, start: int):
        self.value, self.anchor, self.start = value, anchor, start
        self.key: Any = None
        self.key_mark: Any = None
        self.has_key = False  # a mapping between a key and its value
        self.merges: list[tuple[Any, Any]] = []
        self.size = 0


class UnsupportedDocument(Exception):
    """A document this reader leaves to ruamel's: one with a %YAML 1.1 directive (its
    scalars resolve differently)."""


_OTHER_LINE_BREAKS = ("\x85", "\u2028", "\u2029")
_AS_SPACE = {ord(c): " " for c in _OTHER_LINE_BREAKS}


def read_document(text: str, limits: Limits = LIMITS) -> tuple[Any, list[tuple[str, Any, str]]]:
    """The document's values (PlacedMap / PlacedList / scalars) and the warnings found while
    reading (message, mark, hint). Raises :class:`Refused` for a document over a limit or
    holding what no graph may hold, the PyYAML errors for malformed YAML, and
    UnsupportedDocument for a %YAML 1.1 document (its scalars resolve differently)."""
    if any(mark in text for mark in _OTHER_LINE_BREAKS):
        # libyaml breaks lines at NEL, LS and PS (YAML 1.1); ruamel's 1.2 reader does not
        # count them as lines and folds them into a space, so they are read as one
        text = text.translate(_AS_SPACE)
    parser = _EventParser(text)
    try:
        return _Composer(parser, limits).document()
    finally:
        parser.dispose()


class _Composer:
    def __init__(self, parser: Any, limits: Limits):
        self.parser, self.limits = parser, limits
        self.anchors: dict[str, tuple[Any, int | None, Any]] = {}  # name -> value, size (None: open), mark
        self.notes: list[tuple[str, Any, str]] = []
        self.values = self.aliased = 0
        self.scalars = _scalars()

    def count(self, values: int, mark: Any) -> None:
        self.values += values
        if self.values > self.limits.max_values:
            raise too_many_values(self.limits, mark)

    def document(self) -> tuple[Any, list]:
        parser = self.parser
        parser.get_event()  # stream start
        if isinstance(parser.peek_event(), _ev.StreamEndEvent):
            return None, self.notes
        start = parser.get_event()
        if start.version is not None and tuple(start.version) != (1, 2):
            raise UnsupportedDocument(start.version)
        value = self.compose()
        parser.get_event()  # document end
        if not isinstance(parser.peek_event(), _ev.StreamEndEvent):
            extra = parser.get_event()
            raise Refused("malformed YAML: expected a single document in the stream, but found another document",
                          extra.start_mark, "a graph file holds one document; remove the '---' line")
        return value, self.notes

    def anchor(self, name: str | None, mark: Any) -> None:
        if name is not None and name in self.anchors:
            first = self.anchors[name][2]
            self.notes.append((f"the anchor &{name} is defined again (first on line {first.line + 1}); "
                               "aliases after this point name the new value", mark, "give each anchor its own name"))

    def compose(self) -> Any:
        """One value (the document's), built without recursion: the stack holds open
        collections, so nesting is bounded by the depth limit, not by Python's stack."""
        limits, parser, scalars = self.limits, self.parser, self.scalars
        stack: list[_Frame] = []
        while True:
            event = parser.get_event()
            kind = type(event)
            top = stack[-1] if stack else None
            is_key = top is not None and isinstance(top.value, dict) and not top.has_key
            mark = event.start_mark
            if kind is _ev.ScalarEvent:
                if len(event.value) > limits.max_text:
                    raise Refused(f"a {'key' if is_key else 'value'} of {len(event.value):,} characters is longer "
                                  f"than the {limits.max_text:,} a graph file allows", mark,
                                  "no real graph comes near this limit; is this the right file?")
                self._no_tag(event.tag, mark)
                if event.style == "" and (event.tag is None or event.tag == "!"):  # (ruamel reads "! 9" as 9)
                    value = scalars.plain(event.value)
                else:
                    value = event.value
                self.anchor(event.anchor, mark)
                self.count(1, mark)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (value, 1, mark)
                size = 1
                merge_key = is_key and event.style == "" and event.tag is None and event.value == _MERGE
            elif kind is _ev.AliasEvent:
                target = self.anchors.get(event.anchor)
                if target is None:
                    raise Refused(f"malformed YAML: found undefined alias {event.anchor!r}", mark,
                                  "define the anchor (&name) before using it (*name)")
                if is_key:
                    raise Refused(f"the alias *{event.anchor} is used as a key", mark,
                                  "keys are plain names (node ids, parameter names); write the name out")
                value, size, _ = target
                if size is None:
                    raise Refused(f"the alias *{event.anchor} is inside the value that &{event.anchor} names, "
                                  "so that value would contain itself", mark,
                                  "a graph holds no self-containing data; write the value out")
                self.aliased += size
                if self.aliased > limits.max_alias_values:
                    raise too_many_aliased(limits, mark)
                self.count(size, mark)
                merge_key = False
            elif kind is _ev.MappingStartEvent or kind is _ev.SequenceStartEvent:
                if is_key:
                    raise Refused("malformed YAML: a list or mapping is used as a key", mark,
                                  "keys are plain names (node ids, parameter names); check for a stray '?' or brackets")
                self._no_tag(event.tag, mark)
                if len(stack) >= limits.max_depth:
                    raise Refused(f"values are nested more than {limits.max_depth} levels deep", mark,
                                  "a graph nests a few levels (nodes, a node, its params, a list); check the brackets")
                self.anchor(event.anchor, mark)
                self.count(1, mark)
                value = PlacedMap() if kind is _ev.MappingStartEvent else PlacedList()
                value.lc = Positions(mark)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (value, None, mark)  # open: an alias to it now is refused
                stack.append(_Frame(value, event.anchor, self.values))
                continue
            elif kind is _ev.MappingEndEvent or kind is _ev.SequenceEndEvent:
                frame = stack.pop()
                value = frame.value
                if frame.merges:
                    self._merge(value, frame.merges)
                size = self.values - frame.start + 1
                if frame.anchor is not None:
                    self.anchors[frame.anchor] = (value, size, self.anchors[frame.anchor][2])
                mark = _Mark(value.lc.line, value.lc.col)  # a collection stands where it starts
                merge_key = False
                top = stack[-1] if stack else None
            else:  # pragma: no cover - libyaml emits nothing else inside a document
                raise Refused(f"malformed YAML: unexpected {kind.__name__}", mark, HINT_SYNTAX)

            if top is None:
                return value
            self._place(top, value, mark, merge_key)

    @staticmethod
    def _no_tag(tag: Any, mark: Any) -> None:
        if tag is not None and tag != "!":  # "!" only asks for the plain reading
            # tags name types to construct: a graph holds plain data, and a type it did not
            # expect is how YAML documents run code or fail inside the YAML library
            shown = str(tag).replace("tag:yaml.org,2002:", "!!")
            raise Refused(f"YAML tag {shown} is not allowed in graph files", mark, "graphs hold plain data; remove the tag")

    def _place(self, top: _Frame, value: Any, mark: Any, merge_key: bool) -> None:
        container = top.value
        if isinstance(container, list):
            container.lc.values[len(container)] = (mark.line, mark.column)
            container.append(value)
            return
        if not top.has_key:
            top.key, top.key_mark, top.has_key = (_MERGE_KEY if merge_key else value), mark, True
            return
        key, key_mark = top.key, top.key_mark
        top.has_key = False
        if key is _MERGE_KEY:
            top.merges.append((value, key_mark))
            return
        if key in container:
            first = container.lc.keys[key]
            where = (f"already defined above (line {first[0] + 1})" if first[0] < key_mark.line
                     else f"defined twice in the mapping that starts on line {container.lc.line + 1}")
            raise Refused(f"duplicate key {str(key)!r}: it is {where}", key_mark,
                          "each key may appear once; rename or remove one of them")
        container[key] = value
        container.lc.keys[key] = (key_mark.line, key_mark.column)
        container.lc.values[key] = (mark.line, mark.column)

    @staticmethod
    def _merge(mapping: PlacedMap, merges: list[tuple[Any, Any]]) -> None:
        """``<<: *defaults`` (or a list of them): keys the mapping does not set itself come
        from the merged mappings, the first one listed winning, as ruamel reads them."""
        for value, mark in merges:
            sources = value if isinstance(value, list) else [value]
            if not sources or not all(isinstance(s, dict) for s in sources):
                raise Refused("malformed YAML: '<<' merges a mapping or a list of mappings into this one", mark,
                              "write '<<: *name' where &name is a mapping, or remove the '<<' key")
            for source in sources:
                for key, item in source.items():
                    if key not in mapping:
                        mapping[key] = item
                        mapping.lc.keys[key] = source.lc.keys.get(key, (mark.line, mark.column))
                        mapping.lc.values[key] = source.lc.values.get(key, (mark.line, mark.column))


class _Mark:
    __slots__ = ("line", "column")

    def __init__(self, line: int, column: int):
        self.line, self.column = line, column


_MERGE_KEY = object()


def load_fast(text: str, path: str | None, limits: Limits = LIMITS) -> tuple[Any, list[Problem]]:
    """The document in ``text`` and the warnings found while reading it, as
    :func:`builder.safe_yaml.load_document` gives them; GraphError with one problem (file,
    line, column, hint) for a document that cannot be read as a graph.
    UnsupportedDocument: read it with ruamel instead."""
    check_size(text, path, limits)

    def refuse(message: str, where: tuple[int | None, int | None], hint: str) -> GraphError:
        return GraphError([Problem(message, file=path, line=where[0], column=where[1], hint=hint)])

    try:
        doc, notes = read_document(text, limits)
    except Refused as err:
        raise refuse(err.message, at(err.mark), err.hint) from None
    except _yaml_error.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = (err.problem or err.context or "malformed YAML").strip()
        if "nesting depth" in what:  # libyaml's own bound (1,000), met while it scans ahead
            raise refuse(f"values are nested more than {limits.max_depth} levels deep", at(mark),
                         "a graph nests a few levels (nodes, a node, its params, a list); check the brackets") from None
        raise refuse(f"malformed YAML: {what}", at(mark), HINT_SYNTAX) from None
    except _ReaderError as err:
        if isinstance(err.character, int):
            message = f"the {character_name(err.character)} U+{err.character:04X} is not allowed in a YAML file"
        else:
            message = f"the file cannot be read as text: {err.reason}"
        # libyaml counts the position in bytes of the UTF-8 text
        offset = len(text.encode("utf-8", "surrogatepass")[:err.position].decode("utf-8", "ignore"))
        raise refuse(message, position(text, offset),
                     "graph files are plain text; delete the character (a bad paste or a binary file?)") from None
    except UnicodeEncodeError as err:  # a lone surrogate: text that no file can hold
        code = ord(text[err.start])
        raise refuse(f"the {character_name(code)} U+{code:04X} is not allowed in a YAML file",
                     position(text, err.start),
                     "graph files are plain text; delete the character (a bad paste or a binary file?)") from None
    except _yaml_error.YAMLError as err:
        raise refuse(f"malformed YAML: {str(err).strip()}", (1, 1), HINT_SYNTAX) from None
    warnings = [Problem(message, "warning", path, *at(mark), hint=hint) for message, mark, hint in notes]
    return doc, warnings
