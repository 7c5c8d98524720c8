"""Reading YAML text safely: limits enforced while reading, every failure a Problem.

A graph file may come from anyone, so reading one must end quickly, with problems a user
can act on, whatever the file holds. ruamel.yaml's round-trip reader (configured in
:mod:`builder.yaml_format`) does the parsing; this module bounds it:

* the file: a regular file (never a device or a pipe, which could block or never end),
  UTF-8 text, at most ``max_bytes`` and ``max_lines``;
* the document, while ruamel composes it (``LimitedComposer``): nesting depth (ruamel's
  own ``max_depth``), the number of values counting each use of an alias in full (a
  "billion laughs" document is refused after reading a few lines, never expanded), the
  length of one text value, YAML tags (``!!python/...``: nothing is constructed from a
  type name), and what makes no sense in a graph: lists, mappings or aliases as mapping
  keys, and an alias inside the very value it names (a value that contains itself);
* every error of the YAML library becomes a Problem with file, line, column and a hint.

The limits are far beyond any real graph: the largest gallery file has 42 nodes, 5 KB,
about 450 values and 6 levels of nesting. They exist so that a hostile or broken file
costs at most about a second of work.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from ruamel.yaml.nodes import MappingNode
from ruamel.yaml.reader import ReaderError

from builder.errors import GraphError, Problem


@dataclass(frozen=True)
class Limits:
    """What one graph file may hold. Reading is linear in each, so together they bound it."""

    # Real graphs are far larger than the gallery's (DenseNet-121 written node by node has
    # ~430 nodes; generated graphs 20,000 and more: bench/check_scaling.py). The limits sit
    # above those and still bound the work a hostile file can cause to seconds.
    max_bytes: int = 8 * 1024 * 1024  # the largest gallery file is 5 KB; 20,000 nodes ~1.2 MB
    max_lines: int = 400_000  # ruamel spends ~8 us a line even on comments
    max_depth: int = 32  # the gallery nests 6 levels deep (nodes, a node, its params, a list)
    max_values: int = 400_000  # scalars, lists and mappings, each alias use counted in full
    # ...of which reached through aliases: each costs no bytes in the file but ~40 us to
    # construct, so a few kilobytes of nested aliases could cost minutes ("billion laughs")
    max_alias_values: int = 20_000
    max_text: int = 10_000  # characters in one value or key
    max_nodes: int = 50_000  # graph nodes in one file; checking is linear in them ("did you
    # mean" suggestions, quadratic, are given for the first few wrong references only)
    max_composite_depth: int = 16  # graph files used as blocks inside each other
    max_composite_nodes: int = 10_000  # nodes analyzed through composite blocks, in all


LIMITS = Limits()

HINT_LIMIT = "no real graph comes near this limit; is this the right file?"
HINT_SYNTAX = "check indentation, brackets and quotes around this spot"


class Refused(Exception):
    """A document refused while reading; carries the problem's text and position."""

    def __init__(self, message: str, mark: Any, hint: str):
        super().__init__(message)
        self.message, self.mark, self.hint = message, mark, hint


def too_many_values(limits: Limits, mark: Any) -> Refused:
    return Refused(f"the document holds more than {limits.max_values:,} values (each use of an alias "
                   "counts everything it names)", mark,
                   "a graph needs a few hundred; repeated aliases multiply, so write values out instead")


def too_many_aliased(limits: Limits, mark: Any) -> Refused:
    return Refused(f"aliases in the document stand for more than {limits.max_alias_values:,} values in all "
                   "(each use of an alias counts everything it names)", mark,
                   "a graph needs a few aliases at most; nested aliases multiply, so write values out")


class LimitedComposer(Composer):
    """ruamel's composer, counting what it builds and refusing what no graph needs.

    Composing turns parser events into a node tree in which an alias is the very node its
    anchor names, so nothing is expanded here; the cost comes later, from everything that
    walks the document as plain data. Counting each alias at the size of what it names
    refuses an expansion bomb before anything walks it. ruamel's ``max_depth`` bounds the
    recursion of this composer and of the constructor after it.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False  # reported as a warning problem instead (below)
        self.limits: Limits = getattr(loader, "reading_limits", LIMITS)
        self.notes: list[tuple[str, Any, str]] = getattr(loader, "reading_notes", [])
        self.values = self.aliased = 0
        self.sizes: dict[int, int] = {}  # id(node) -> values in it, once it is complete
        self.last_mark: Any = None

    def compose_document(self) -> Any:
        self.values, self.aliased, self.sizes = 0, 0, {}
        self.notes = getattr(self.loader, "reading_notes", self.notes)  # this load's list (load_document)
        return super().compose_document()

    def count(self, values: int, mark: Any) -> None:
        self.values += values
        if self.values > self.limits.max_values:
            raise too_many_values(self.limits, mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        self.last_mark = event.start_mark
        is_key = index is None and isinstance(parent, MappingNode)
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is None:  # ruamel's own error: "found undefined alias"
                return super().compose_node(parent, index)
            if is_key:
                raise Refused(f"the alias *{event.anchor} is used as a key", event.start_mark,
                              "keys are plain names (node ids, parameter names); write the name out")
            size = self.sizes.get(id(target))
            if size is None:  # its anchor's value is still being read: it would contain itself
                raise Refused(f"the alias *{event.anchor} is inside the value that &{event.anchor} names, "
                              "so that value would contain itself", event.start_mark,
                              "a graph holds no self-containing data; write the value out")
            self.aliased += size
            if self.aliased > self.limits.max_alias_values:
                raise too_many_aliased(self.limits, event.start_mark)
            self.count(size, event.start_mark)
            return super().compose_node(parent, index)
        tag = getattr(event, "ctag", None)
        if tag is not None and str(tag) != "!":  # "!" only asks for the plain reading
            # tags name types to construct: a graph holds plain data, and a type it did not
            # expect is how YAML documents run code or fail inside the YAML library
            shown = str(tag).replace("tag:yaml.org,2002:", "!!")
            raise Refused(f"YAML tag {shown} is not allowed in graph files", event.start_mark,
                          "graphs hold plain data; remove the tag")
        if is_key and isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            raise Refused("malformed YAML: a list or mapping is used as a key", event.start_mark,
                          "keys are plain names (node ids, parameter names); check for a stray '?' or brackets")
        if isinstance(event, ScalarEvent) and len(event.value) > self.limits.max_text:
            raise Refused(f"a {'key' if is_key else 'value'} of {len(event.value):,} characters is longer than the "
                          f"{self.limits.max_text:,} a graph file allows", event.start_mark, HINT_LIMIT)
        anchor = getattr(event, "anchor", None)
        if anchor is not None and anchor in self.anchors:
            first = self.anchors[anchor].start_mark
            self.notes.append((f"the anchor &{anchor} is defined again (first on line {first.line + 1}); "
                               "aliases after this point name the new value", event.start_mark,
                               "give each anchor its own name"))
        self.count(1, event.start_mark)
        before = self.values
        node = super().compose_node(parent, index)
        self.sizes[id(node)] = self.values - before + 1
        return node


def configure(yaml: Any, limits: Limits = LIMITS) -> Any:
    """Make a round-trip ``YAML`` instance read with the limits."""
    yaml.Composer = LimitedComposer
    yaml.max_depth = limits.max_depth
    yaml.reading_limits = limits
    return yaml


# ------------------------------------------------------------------------ positions
def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    offset = max(0, min(offset, len(text)))
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def at(mark: Any) -> tuple[int | None, int | None]:
    if mark is None:
        return 1, 1
    return mark.line + 1, mark.column + 1


def _first_definition(text: str, key: str, duplicate: Any, mapping: Any) -> int | None:
    """The line (1-based) where a duplicated block-style key first appears: ruamel only
    marks where the enclosing mapping starts."""
    lines = text.splitlines()
    column = duplicate.column
    for number in range(mapping.line, min(duplicate.line, len(lines))):
        line = lines[number]
        if not line[:column].strip() and line[column:].startswith(key) \
                and line[column + len(key):].lstrip().startswith(":"):
            return number + 1
    return None


def character_name(code: int) -> str:
    names = {0: "NUL byte", 0x1B: "escape character", 0x7F: "delete character", 0xFFFE: "non-character"}
    return names.get(code, "control character" if code < 0x20 or 0x7F <= code < 0xA0 else "character")


# ------------------------------------------------------------------------ reading
def check_size(text: str, path: str | None, limits: Limits = LIMITS) -> None:
    """Refuse text too large to read within the time bound, before parsing any of it."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise GraphError([Problem(f"the file is {size:,} bytes, more than the {limits.max_bytes:,} a graph file "
                                  "may have", file=path, line=1, column=1, hint=HINT_LIMIT)])
    lines = text.count("\n")
    if lines > limits.max_lines:
        line, column = position(text, _nth_newline(text, limits.max_lines))
        raise GraphError([Problem(f"the file has {lines:,} lines, more than the {limits.max_lines:,} a graph file "
                                  "may have", file=path, line=line, column=column, hint=HINT_LIMIT)])


def _nth_newline(text: str, n: int) -> int:
    at = -1
    for _ in range(n):
        at = text.find("\n", at + 1)
    return at


def load_document(yaml: Any, text: str, path: str | None) -> tuple[Any, list[Problem]]:
    """The round-trip document in ``text`` and warnings found while reading it; GraphError
    (one problem, with line, column and hint) when the text cannot be read as a graph."""
    check_size(text, path, getattr(yaml, "reading_limits", LIMITS))
    yaml.reading_notes = notes = []

    def refuse(message: str, where: tuple[int | None, int | None], hint: str) -> GraphError:
        return GraphError([Problem(message, file=path, line=where[0], column=where[1], hint=hint)])

    try:
        doc = yaml.load(text)
    except Refused as err:
        raise refuse(err.message, at(err.mark), err.hint) from None
    except MaxDepthExceededError as err:
        raise refuse(f"values are nested more than {yaml.max_depth} levels deep", at(err.problem_mark),
                     "a graph nests a few levels (nodes, a node, its params, a list); check the brackets") from None
    except DuplicateKeyError as err:
        mark = err.problem_mark
        key = str(err.problem).split('"')[1] if '"' in str(err.problem) else "?"
        first = _first_definition(text, key, mark, err.context_mark)
        where = f"already defined above (line {first})" if first else \
            f"defined twice in the mapping that starts on line {err.context_mark.line + 1}"
        raise refuse(f"duplicate key {key!r}: it is {where}", at(mark),
                     "each key may appear once; rename or remove one of them") from None
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = (err.problem or err.context or "malformed YAML").strip()
        raise refuse(f"malformed YAML: {what}", at(mark), HINT_SYNTAX) from None
    except ReaderError as err:
        if isinstance(err.character, int):
            code = err.character
            message = f"the {character_name(code)} U+{code:04X} is not allowed in a YAML file"
        else:
            message = f"the file cannot be read as text: {err.reason}"
        raise refuse(message, position(text, err.position),
                     "graph files are plain text; delete the character (a bad paste or a binary file?)") from None
    except YAMLError as err:
        raise refuse(f"malformed YAML: {str(err).strip()}", at(_last_mark(yaml)), HINT_SYNTAX) from None
    except Exception as err:  # noqa: BLE001 - ruamel has unguarded paths on odd input; see below
        # The checks above refuse every such document the fuzzer found (tests/builder/
        # test_graph_fuzz.py); this keeps any other one a problem, not a traceback, and
        # the fuzzer counts this message as a failure so that it is never relied upon.
        raise refuse(f"{READER_FAILED} ({type(err).__name__}: {err})"[:300], at(_last_mark(yaml)),
                     HINT_SYNTAX) from None
    warnings = [Problem(message, "warning", path, *at(mark), hint=hint) for message, mark, hint in notes]
    return doc, warnings


READER_FAILED = "the YAML reader could not read this document"


def _last_mark(yaml: Any) -> Any:
    composer = getattr(yaml, "_composer", None)
    return getattr(composer, "last_mark", None)


def read_text_file(path: str | Path, limits: Limits = LIMITS) -> str:
    """The UTF-8 text of a graph file; GraphError for anything that is not one, decided
    before reading a byte where possible: a device or pipe could block or never end."""
    name = str(path)
    hint = "give the path of a .yaml graph file"

    def refuse(message: str, where: tuple[int | None, int | None] = (None, None), why: str = hint) -> GraphError:
        return GraphError([Problem(message, file=name, line=where[0], column=where[1], hint=why)])

    if "\0" in name:
        raise refuse("the path contains a NUL byte")
    try:
        info = os.stat(name)
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise refuse(f"cannot read the graph file: {reason}") from None
    if stat.S_ISDIR(info.st_mode):
        raise refuse("cannot read the graph file: it is a folder")
    if not stat.S_ISREG(info.st_mode):
        raise refuse("cannot read the graph file: it is not a regular file (a device, pipe or socket), "
                     "and reading one could block or never end")
    if info.st_size > limits.max_bytes:
        raise refuse(f"the file is {info.st_size:,} bytes, more than the {limits.max_bytes:,} a graph file may have",
                     (1, 1), HINT_LIMIT)
    try:
        with open(name, "rb") as handle:
            data = handle.read(limits.max_bytes + 1)  # files in /proc report size 0
    except OSError as err:
        raise refuse(f"cannot read the graph file: {err.strerror or err}") from None
    if len(data) > limits.max_bytes:
        raise refuse(f"the file is more than the {limits.max_bytes:,} bytes a graph file may have", (1, 1), HINT_LIMIT)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise refuse(f"cannot read the graph file: it is not UTF-8 text (byte 0x{data[err.start]:02X} cannot "
                     "start or continue a character)", (line, column), "save the file as UTF-8 text") from None
