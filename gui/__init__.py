"""Model Builder's desktop app (PySide6).

The editor is built on a document model that is tested without widgets:
:mod:`gui.document` wraps a ``builder.Graph`` with Qt change signals, an undo stack and a
fresh analysis after every edit; :mod:`gui.commands` holds the undo commands that are the
only code changing the graph; :mod:`gui.clipboard` copies and pastes node sets as YAML text;
:mod:`gui.layout` and :mod:`gui.wiring` are plain-Python helpers (automatic layered layout,
input references bound to ports). Widgets draw from the document's signals and edit it
only through its methods. ``gui`` talks to the engine through ``builder``'s public API and
the block declarations in ``blocks``.
"""
