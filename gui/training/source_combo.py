"""The data-set combo of the training settings form, ordered by what fits the open graph.

``builder.graph_sources`` tries every built-in source on the graph's inputs and output (a
handful of samples through the source's own loader and the pipeline's checks). The combo
lists the sources that fit first, then those that read the user's own files, then those
that cannot fit, each group under a heading that cannot be chosen; a source that cannot
fit shows why beside its name (greyed, elided to the popup's width; the whole sentence in
its tooltip). Items keep the source's name as their text and data, so choosing one by
name works as before.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from builder import DATA_SOURCES
from gui.style import HINT_COLOR

REASON_ROLE = Qt.ItemDataRole.UserRole + 1  # why a source cannot fit (None: it fits, or no graph to fit)
POPUP_WIDTH = 560  # the open list is this wide, so that a reason reads beside its name
INDENT = 10  # a source under its group's heading
FIT, OWN_FILES, NO_FIT = "Fits this graph", "Reads your own files", "Cannot fit this graph"


def io_key(analysis: Any) -> Optional[tuple]:
    """What decides which sources fit (inputs in order with shape and dtype, outputs with
    their shapes); None while the graph has errors or unknown shapes. Equal keys give
    equal answers, so an edit that keeps the inputs and outputs costs nothing."""
    if analysis is None or not analysis.ok:
        return None
    nodes = analysis.graph.nodes
    key = []
    for node_id in analysis.order:
        block = nodes[node_id].block
        if block in ("input", "output"):
            info = analysis.nodes[node_id]
            if info.shape is None:
                return None
            key.append((block, node_id, tuple(info.shape), str(info.dtype) if block == "input" else ""))
    return tuple(key)


def short_reason(name: str, reason: Optional[str]) -> str:
    """A reason as the list shows it beside the source's name: without the name in front,
    and without what the graph's input is (the same on every line; the tooltip has it):
    ``needs token ids [T] (dtype int64)``."""
    if not reason:
        return ""
    for lead in (f"{name}: ", f"{name} "):
        if reason.startswith(lead):
            reason = reason[len(lead):]
            break
    said = re.match(rf"the graph's input '[^']*' is .*?, but {re.escape(name)} (needs .*)$", reason)
    return said.group(1) if said else reason


class ReasonDelegate(QStyledItemDelegate):
    """Paints a source's name, then (greyed) why it cannot fit; headings in bold grey."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        reason = index.data(REASON_ROLE) or ""
        heading = not (index.flags() & Qt.ItemFlag.ItemIsEnabled)
        if index.data(Qt.ItemDataRole.UserRole) is not None and not self.grouped():
            super().paint(painter, option, index)  # no headings: nothing to indent under
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        name = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        painter.save()
        rect = opt.rect.adjusted(6, 0, -6, 0)
        font = QFont(opt.font)
        if heading:
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(QColor(HINT_COLOR))
            painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
            painter.restore()
            return
        rect = rect.adjusted(INDENT, 0, 0, 0)  # a source under its heading
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        painter.setFont(font)
        text_color = opt.palette.highlightedText().color() if selected else opt.palette.text().color()
        painter.setPen(text_color)
        width = painter.fontMetrics().horizontalAdvance(name + "  ")
        painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
        painter.setPen(text_color if selected else QColor(HINT_COLOR))
        if reason:
            rest = QRect(rect.left() + width, rect.top(), max(0, rect.width() - width), rect.height())
            painter.drawText(rest, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             painter.fontMetrics().elidedText(reason, Qt.TextElideMode.ElideRight, rest.width()))
        painter.restore()

    def grouped(self) -> bool:
        combo = self.parent()
        return isinstance(combo, SourceCombo) and combo.fits is not None

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(min(size.width(), POPUP_WIDTH), size.height())


class SourceCombo(QComboBox):
    """The data sources; :meth:`set_fits` orders them for a graph (None: in declaration
    order, e.g. while the graph has errors). ``itemData`` is a source's name; headings
    have none and cannot be chosen."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setItemDelegate(ReasonDelegate(self))
        self.view().setMinimumWidth(POPUP_WIDTH)
        self.view().setTextElideMode(Qt.TextElideMode.ElideRight)
        self.fits: Optional[list] = None
        self.set_fits(None)

    def reason(self, name: Optional[str]) -> Optional[str]:
        """Why source ``name`` cannot fit the graph (None: it fits, or nothing is known)."""
        for fit in self.fits or ():
            if fit.source == name and not fit.fits and not fit.needs:
                return fit.reason
        return None

    def fitting(self) -> list[str]:
        """The sources that fit the graph, best first ([] while nothing is known)."""
        return [fit.source for fit in self.fits or () if fit.fits]

    def set_fits(self, fits: Optional[list]) -> None:
        """List the sources as ``builder.graph_sources`` ranked them (``SourceFit`` items)."""
        current = self.currentData()
        self.fits = list(fits) if fits is not None else None
        blocked = self.blockSignals(True)  # rebuilding is not choosing
        try:
            self.clear()
            if fits is None:
                for name in DATA_SOURCES:
                    self._add_source(name, None)
            else:
                groups = ((FIT, [f for f in fits if f.fits]), (OWN_FILES, [f for f in fits if not f.fits and f.needs]),
                          (NO_FIT, [f for f in fits if not f.fits and not f.needs]))
                for title, members in groups:
                    if not members:
                        continue
                    self._add_heading(title)
                    for fit in members:
                        reason = None if fit.fits or fit.needs else short_reason(fit.source, fit.reason)
                        self._add_source(fit.source, reason, fit.reason if not fit.fits else None)
            self.setCurrentIndex(self.findData(current) if current is not None else -1)
        finally:
            self.blockSignals(blocked)

    def _add_heading(self, title: str) -> None:
        self.addItem(title)
        model = self.model()
        if isinstance(model, QStandardItemModel):
            model.item(self.count() - 1).setFlags(Qt.ItemFlag.NoItemFlags)

    def _add_source(self, name: str, reason: Optional[str], full_reason: Optional[str] = None) -> None:
        source = DATA_SOURCES.get(name)
        self.addItem(name, name)
        index = self.count() - 1
        tip = source.summary if source is not None else name
        if full_reason:
            tip = f"{tip}\n\n{full_reason}"
        self.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        if reason:
            self.setItemData(index, reason, REASON_ROLE)

    def source_names(self) -> list[str]:
        """The sources in the order listed (headings left out)."""
        return [self.itemData(i) for i in range(self.count()) if self.itemData(i) is not None]
