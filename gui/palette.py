"""The block palette: every registered block by category, with search, drag and activation.

Drag a block onto the canvas (the drop carries :data:`gui.style.BLOCK_MIME_TYPE`), or
double-click it / press Enter to have the main window add it (``blockActivated``). A
built-in composite block (residual, inception ...) is added by Enter or a drag; a
double-click asks to see its inside instead (``insideRequested``).
Everything shown comes from the block declarations, so a new block appears here without
any change to the app.
"""

from __future__ import annotations

import html
import re

from PySide6.QtCore import QByteArray, QEvent, QMimeData, QObject, QRectF, Qt, Signal
from PySide6.QtGui import QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from blocks import REQUIRED, Block, Port, all_blocks, get_block
from gui.style import BLOCK_MIME_TYPE, category_color
from gui.wording import plain

_ICON_SIZE = 12
INSIDE_HINT = "Double-click to see inside; drag it onto the canvas (or press Enter) to add it."
_icons: dict[str, QIcon] = {}


def category_icon(category: str | None) -> QIcon:
    """A small rounded square in the category's color (shared by palette and block search)."""
    key = category or ""
    if key not in _icons:
        scale = 2  # drawn at twice the size so that it stays crisp on high-DPI screens
        pixmap = QPixmap(_ICON_SIZE * scale, _ICON_SIZE * scale)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = category_color(category)
        painter.setPen(color.darker(130))
        painter.setBrush(color)
        inset = 1.5 * scale
        side = _ICON_SIZE * scale - 2 * inset
        painter.drawRoundedRect(QRectF(inset, inset, side, side), 2.5 * scale, 2.5 * scale)
        painter.end()
        pixmap.setDevicePixelRatio(scale)
        icon = QIcon(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)  # keep the true color on a selected row
        _icons[key] = icon
    return _icons[key]


def _inline(text: str) -> str:
    """Docstring markup to HTML: ``code`` and *emphasis*; everything else escaped."""
    parts = text.split("``")
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # between a pair of ``
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            out.append(re.sub(r"\*(\w[^*]*?)\*", r"<i>\1</i>", html.escape(part)))
    return "".join(out)


def _port_line(port: Port) -> str:
    notes = [n for n in ("token ids (int64)" if port.dtype == "int64" else "",
                         "two or more" if port.variadic else "", "optional" if port.optional else "") if n]
    extra = f" ({', '.join(notes)})" if notes else ""
    doc = f": {_inline(port.doc)}" if port.doc else ""
    return f"<code>{html.escape(port.name)}</code>{extra}{doc}"


def block_tooltip(block: Block) -> str:
    """Rich-text description of a block: its documentation, ports and key parameters."""
    color = category_color(block.category).name()
    lines = [f"<b>{html.escape(block.name)}</b> &nbsp;<span style='color:{color}'>{html.escape(block.category)}</span>"]
    for paragraph in block.doc().split("\n\n"):
        if paragraph.strip():
            lines.append(f"<p>{_inline(' '.join(paragraph.split()))}</p>")
    for title, ports in (("Inputs", block.inputs), ("Outputs", block.outputs)):
        if ports:
            lines.append(f"<p><b>{title}</b><br>" + "<br>".join(_port_line(p) for p in ports) + "</p>")
    params = [(name, block.params[name]) for name in block.key_params if name in block.params]
    if params:
        rows = []
        for name, param in params:
            default = "required" if param.default is REQUIRED else f"default {param.default!r}"
            doc = f": {_inline(param.doc)}" if param.doc else ""
            rows.append(f"<code>{html.escape(name)}</code> ({html.escape(param.describe())}, "
                        f"{html.escape(default)}){doc}")
        lines.append("<p><b>Key parameters</b><br>" + "<br>".join(rows) + "</p>")
    if block.has_inside():
        lines.append(f"<p><i>{html.escape(INSIDE_HINT)}</i></p>")
    return "<qt>" + "".join(lines) + "</qt>"


def _block_name(item: QTreeWidgetItem | None) -> str | None:
    return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None


class _BlockTree(QTreeWidget):
    """The tree: drags carry block names; Enter on a block activates it on every platform
    (``itemActivated`` fires on single click under some styles, so it is not used)."""

    blockActivated = Signal(str)
    leaveTop = Signal()  # Up pressed on the first row: focus goes back to the search field

    def mimeTypes(self) -> list[str]:
        return [BLOCK_MIME_TYPE, "text/plain"]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        names = [n for n in map(_block_name, items) if n]
        data = QMimeData()
        if names:
            data.setData(BLOCK_MIME_TYPE, QByteArray(names[0].encode("utf-8")))
            data.setText(names[0])
        return data

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            name = _block_name(self.currentItem())
            if name:
                self.blockActivated.emit(name)
                return
        if key == Qt.Key.Key_Up and self.currentItem() is self._first_visible():
            self.leaveTop.emit()
            return
        super().keyPressEvent(event)

    def _first_visible(self) -> QTreeWidgetItem | None:
        for i in range(self.topLevelItemCount()):
            if not self.topLevelItem(i).isHidden():
                return self.topLevelItem(i)
        return None


class BlockPalette(QWidget):
    """Search field above a tree of every registered block, grouped by category.

    ``blockActivated(name)`` is emitted when a block is double-clicked (``insideRequested``
    for a block with an inside to show), or Enter is pressed on it or in the search field
    (the best match, highlighted: a name starting with the text before one merely
    containing it, before a category or summary match). Call :meth:`refresh` after
    plug-ins register more blocks."""

    blockActivated = Signal(str)
    insideRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("palette")
        self.search = QLineEdit(self)
        self.search.setObjectName("paletteSearch")
        self.search.setPlaceholderText("Search blocks")
        self.search.setClearButtonEnabled(True)
        self.tree = _BlockTree(self)
        self.tree.setObjectName("paletteTree")
        self.tree.setHeaderHidden(True)
        self.tree.setColumnCount(1)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.setIndentation(14)
        self.tree.setExpandsOnDoubleClick(True)
        self.tree.setMouseTracking(True)  # status tips follow the mouse
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)

        self._summaries: dict[str, str] = {}
        self._expanded_before_search: dict[str, bool] | None = None
        self.search.textChanged.connect(self.set_filter)
        self.search.returnPressed.connect(self._activate_first)
        self.search.installEventFilter(self)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        self.tree.blockActivated.connect(self.blockActivated)
        self.tree.leaveTop.connect(self.search.setFocus)
        self.refresh()

    # ------------------------------------------------------------------ public
    def refresh(self) -> None:
        """Rebuild the tree from the registry (keeps the current filter)."""
        self.tree.clear()
        self._summaries.clear()
        groups: dict[str, list[Block]] = {}
        for block in all_blocks():
            groups.setdefault(block.category, []).append(block)
        bold = QFont(self.tree.font())
        bold.setBold(True)
        for category in sorted(groups):
            top = QTreeWidgetItem(self.tree, [category])
            top.setIcon(0, category_icon(category))
            top.setFont(0, bold)
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a heading: not selectable, not draggable
            top.setToolTip(0, f"{len(groups[category])} blocks")
            for block in sorted(groups[category], key=lambda b: b.name):
                item = QTreeWidgetItem(top, [block.name])
                item.setData(0, Qt.ItemDataRole.UserRole, block.name)
                item.setIcon(0, category_icon(category))
                item.setToolTip(0, block_tooltip(block))
                item.setStatusTip(0, plain(block.summary()) + (f" — {INSIDE_HINT}" if block.has_inside() else ""))
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsDragEnabled)
                self._summaries[block.name] = f"{block.name}\n{category}\n{block.summary()}".lower()
        self.tree.expandAll()
        self.set_filter(self.search.text())

    def set_filter(self, text: str) -> None:
        """Show only blocks whose name, category or summary contains every word of
        ``text`` (case-insensitive); categories without a match are hidden. Empty text
        shows everything again, with the categories expanded as they were."""
        if self.search.text() != text:
            self.search.setText(text)  # comes back here through textChanged
            return
        words = text.lower().split()
        if words and self._expanded_before_search is None:
            self._expanded_before_search = {self._top(i).text(0): self._top(i).isExpanded()
                                            for i in range(self.tree.topLevelItemCount())}
        for i in range(self.tree.topLevelItemCount()):
            top = self._top(i)
            shown = 0
            for j in range(top.childCount()):
                child = top.child(j)
                haystack = self._summaries.get(_block_name(child), "")
                match = all(w in haystack for w in words)
                child.setHidden(not match)
                shown += match
            top.setHidden(shown == 0)
            if words:
                top.setExpanded(True)
        if not words and self._expanded_before_search is not None:
            for i in range(self.tree.topLevelItemCount()):
                top = self._top(i)
                top.setExpanded(self._expanded_before_search.get(top.text(0), True))
            self._expanded_before_search = None
        best = self._best_match()
        if words and best is not None:
            self.tree.setCurrentItem(best)  # what Enter in the search field will add
            self.tree.scrollToItem(best)

    def visible_blocks(self) -> list[str]:
        """The names of the blocks the filter lets through, top to bottom."""
        names = []
        for i in range(self.tree.topLevelItemCount()):
            top = self._top(i)
            if top.isHidden():
                continue
            names += [_block_name(top.child(j)) for j in range(top.childCount()) if not top.child(j).isHidden()]
        return names

    def item_for(self, name: str) -> QTreeWidgetItem | None:
        """The tree item of block ``name`` (None if it is not registered)."""
        for i in range(self.tree.topLevelItemCount()):
            top = self._top(i)
            for j in range(top.childCount()):
                if _block_name(top.child(j)) == name:
                    return top.child(j)
        return None

    # ------------------------------------------------------------------ internals
    def _top(self, index: int) -> QTreeWidgetItem:
        return self.tree.topLevelItem(index)

    def _first_visible_block(self) -> QTreeWidgetItem | None:
        names = self.visible_blocks()
        return self.item_for(names[0]) if names else None

    def _best_match(self) -> QTreeWidgetItem | None:
        """The visible block the search text most likely means: categories are sorted
        alphabetically, so the first row shown may only mention the text in its summary."""
        text = self.search.text().strip().lower()
        names = self.visible_blocks()
        if not names:
            return None

        def rank(name: str) -> int:
            if name.startswith(text):
                return 0
            if text in name:
                return 1
            return 2 if text in self._summaries[name].split("\n")[1] else 3

        return self.item_for(min(names, key=rank))

    def _activate_first(self) -> None:
        best = self._best_match()
        if best is not None:
            self.blockActivated.emit(_block_name(best))

    def _on_double_click(self, item: QTreeWidgetItem, _column: int) -> None:
        name = _block_name(item)
        if name:
            (self.insideRequested if get_block(name).has_inside() else self.blockActivated).emit(name)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            if event.key() == Qt.Key.Key_Down:
                first = self._first_visible_block()
                if first is not None:
                    self.tree.setCurrentItem(first)
                    self.tree.setFocus(Qt.FocusReason.TabFocusReason)
                return True
            if event.key() == Qt.Key.Key_Escape and self.search.text():
                self.search.clear()
                return True
        return super().eventFilter(watched, event)
