"""The block registry: names to declarations, built-ins plus plug-ins.

Graph files name blocks only by registered name, never by Python import path: loading a
file can therefore never import arbitrary code. Third-party blocks register themselves
when their package's ``modelbuilder.blocks`` entry point is imported (see docs/blocks.md).
"""

from __future__ import annotations

from importlib import metadata

from blocks.spec import Block
from blocks.suggest import closest

ENTRY_POINT_GROUP = "modelbuilder.blocks"

_REGISTRY: dict[str, Block] = {}
_ALIASES: dict[str, str] = {}  # another spelling -> the registered name
_plugins_loaded = False


class UnknownBlockError(KeyError):
    """A block name that is not registered; ``suggestion`` holds the closest known name."""

    def __init__(self, name: str, suggestion: str | None):
        self.name = name
        self.suggestion = suggestion
        super().__init__(name)

    def __str__(self) -> str:
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        return f"unknown block {self.name!r}{hint}"


def register(cls: type[Block]) -> type[Block]:
    """Class decorator: add a block declaration to the registry under ``cls.name``."""
    name = cls.__dict__.get("name")
    if not name or not name.isidentifier():
        raise TypeError(f"{cls.__qualname__} needs a class attribute 'name' that is an identifier")
    if not cls.__doc__:
        raise TypeError(f"block {name!r} needs a docstring: it is the block's documentation")
    existing = _REGISTRY.get(name)
    if existing is not None and type(existing).__qualname__ != cls.__qualname__:
        raise ValueError(f"block name {name!r} is already taken by {type(existing).__qualname__}")
    _REGISTRY[name] = cls()
    for alias in cls.__dict__.get("aliases", ()):
        taken = alias in _REGISTRY or _ALIASES.get(alias, name) != name
        if taken or not alias.isidentifier():
            raise ValueError(f"alias {alias!r} of block {name!r} is not an identifier or already taken")
        _ALIASES[alias] = name
    return cls


def load_plugins() -> list[str]:
    """Import every ``modelbuilder.blocks`` entry point once; returns their names.

    A plug-in that fails to import is reported as a warning rather than breaking the tool.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return []
    _plugins_loaded = True
    loaded = []
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()
        except Exception as err:  # a broken plug-in must not take the tool down
            import warnings

            warnings.warn(f"block plug-in {entry.name!r} ({entry.value}) failed to load: {err}", stacklevel=2)
            continue
        loaded.append(entry.name)
    return loaded


def get_block(name: str) -> Block:
    """The declaration registered as ``name`` (or as one of its aliases); UnknownBlockError
    with a suggestion otherwise."""
    if name not in _REGISTRY:
        load_plugins()
    try:  # a registered name wins over an alias (a plug-in may register one)
        return _REGISTRY[name] if name in _REGISTRY else _REGISTRY[_ALIASES[name]]
    except KeyError:
        near = closest(name, [*_REGISTRY, *_ALIASES])
        raise UnknownBlockError(name, _ALIASES.get(near, near) if near else None) from None


def all_blocks() -> list[Block]:
    """Every registered block, sorted by category then name."""
    load_plugins()
    return sorted(_REGISTRY.values(), key=lambda b: (b.category, b.name))
