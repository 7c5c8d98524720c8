"""The quick block search: a popup list with a filter field, opened where the user works.

The canvas opens it on a double-click in empty space (every block) and when a wire is
dropped in empty space (only the blocks that fit, see :mod:`gui.fitting`). Typing filters,
Up/Down move, Enter or a click chooses, Escape or a click outside closes.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from blocks import all_blocks, get_block
from gui.palette import category_icon

_CATEGORY_ROLE = Qt.ItemDataRole.UserRole + 1
_NAME_ROLE = Qt.ItemDataRole.UserRole
_VISIBLE_ROWS = 12


class _NameAndCategory(QStyledItemDelegate):
    """Draws ``name`` and, after a dash, the category in gray (lighter when selected)."""

    def paint(self, painter, option: QStyleOptionViewItem, index) -> None:
        category = index.data(_CATEGORY_ROLE)
        super().paint(painter, option, index)
        if not category:
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        style = opt.widget.style() if opt.widget else None
        text_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, opt.widget) if style \
            else opt.rect
        name_width = opt.fontMetrics.horizontalAdvance(opt.text + "  ")
        rect = QRect(text_rect.left() + name_width, text_rect.top(), text_rect.width() - name_width,
                     text_rect.height())
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        color = opt.palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        gray = QColor(color)
        gray.setAlphaF(0.55)
        painter.save()
        painter.setPen(gray)
        text = opt.fontMetrics.elidedText(f"\u2014 {category}", Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        size = super().sizeHint(option, index)
        category = index.data(_CATEGORY_ROLE)
        if category:
            size.setWidth(size.width() + option.fontMetrics.horizontalAdvance(f"  \u2014 {category}"))
        return size


class BlockSearchPopup(QFrame):
    """A popup listing blocks (``names``, default every registered block) with a filter.

    ``blockChosen(name)`` is emitted once when the user picks one, after which the popup
    closes; ``dismissed()`` when it closes without a choice (Escape, click outside).
    ``names=[]`` shows a disabled "No block fits here" entry."""

    blockChosen = Signal(str)
    dismissed = Signal()

    def __init__(self, names: list[str] | None = None, parent: QWidget | None = None, title: str = ""):
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("blockSearch")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        blocks = all_blocks() if names is None else [get_block(n) for n in names]
        self._entries = [(b.name, b.category, b.summary()) for b in blocks]
        self._chosen = False

        self.title = QLabel(title, self)
        self.title.setObjectName("blockSearchTitle")
        self.title.setWordWrap(True)
        muted = self.title.palette()
        gray = QColor(muted.color(QPalette.ColorRole.WindowText))
        gray.setAlphaF(0.7)
        muted.setColor(QPalette.ColorRole.WindowText, gray)
        self.title.setPalette(muted)
        self.title.setVisible(bool(title))
        self.edit = QLineEdit(self)
        self.edit.setObjectName("blockSearchEdit")
        self.edit.setPlaceholderText("Type to search blocks")
        self.edit.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setObjectName("blockSearchList")
        self.list.setItemDelegate(_NameAndCategory(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay in the line edit
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addWidget(self.title)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)

        self.edit.textChanged.connect(self._filter)
        self.edit.installEventFilter(self)
        self.list.itemClicked.connect(self._choose_item)
        self.list.itemDoubleClicked.connect(self._choose_item)
        self._filter("")
        self._fit_list_height()
        self.resize(self._preferred_width(), self.sizeHint().height())

    # ------------------------------------------------------------------ public
    def names(self) -> list[str]:
        """The block names listed now, in order (without the "nothing here" entry)."""
        return [self.list.item(i).data(_NAME_ROLE) for i in range(self.list.count())
                if self.list.item(i).data(_NAME_ROLE)]

    def popup_at(self, global_pos: QPoint) -> None:
        """Show the popup with its top-left corner at ``global_pos`` (moved to stay on
        screen), the filter field focused."""
        self._chosen = False
        screen = QGuiApplication.screenAt(global_pos) or QGuiApplication.primaryScreen()
        pos = QPoint(global_pos)
        if screen is not None:
            area = screen.availableGeometry()
            pos.setX(max(area.left(), min(pos.x(), area.right() - self.width())))
            pos.setY(max(area.top(), min(pos.y(), area.bottom() - self.height())))
        self.move(pos)
        self.show()
        self.raise_()
        self.activateWindow()
        self.edit.setFocus(Qt.FocusReason.PopupFocusReason)

    # ------------------------------------------------------------------ internals
    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        ranked = []
        for index, (name, category, summary) in enumerate(self._entries):
            low = name.lower()
            if not needle or low.startswith(needle):
                rank = 0
            elif needle in low:
                rank = 1
            elif needle in category.lower():
                rank = 2
            else:
                continue
            ranked.append((rank, index, name, category, summary))
        ranked.sort()
        self.list.clear()
        for _, _, name, category, summary in ranked:
            item = QListWidgetItem(category_icon(category), name)
            item.setData(_NAME_ROLE, name)
            item.setData(_CATEGORY_ROLE, category)
            item.setToolTip(summary)
            self.list.addItem(item)
        if not ranked:
            empty = "No block fits here" if not self._entries else f"No block matches \u201c{text.strip()}\u201d"
            item = QListWidgetItem(empty)
            item.setFlags(Qt.ItemFlag.NoItemFlags)  # shown, but neither selectable nor chosen
            self.list.addItem(item)
        else:
            self.list.setCurrentRow(0)

    def _move(self, step: int) -> None:
        count = len(self.names())
        if count:
            row = self.list.currentRow() + step
            self.list.setCurrentRow(max(0, min(count - 1, row)))

    def _choose_item(self, item: QListWidgetItem) -> None:
        name = item.data(_NAME_ROLE) if item is not None else None
        if name and not self._chosen:
            self._chosen = True
            self.hide()
            self.blockChosen.emit(name)

    def _preferred_width(self) -> int:
        metrics = self.list.fontMetrics()
        widest = max((metrics.horizontalAdvance(f"{n}  \u2014 {c}") for n, c, _ in self._entries), default=160)
        return max(240, min(420, widest + 60))

    def _fit_list_height(self) -> None:
        """Room for up to a dozen rows; the list scrolls beyond that."""
        rows = min(_VISIBLE_ROWS, max(1, len(self._entries)))
        row_height = max(self.list.sizeHintForRow(0), self.list.fontMetrics().height() + 4)
        self.list.setFixedHeight(rows * row_height + 2 * self.list.frameWidth() + 2)

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        if not self._chosen:
            self._chosen = True  # one answer per opening: chosen or dismissed
            self.dismissed.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key == Qt.Key.Key_Down:
                self._move(1)
                return True
            if key == Qt.Key.Key_Up:
                self._move(-1)
                return True
            if key == Qt.Key.Key_PageDown:
                self._move(_VISIBLE_ROWS - 1)
                return True
            if key == Qt.Key.Key_PageUp:
                self._move(-(_VISIBLE_ROWS - 1))
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._choose_item(self.list.currentItem())
                return True
            if key == Qt.Key.Key_Escape:
                self.hide()
                return True
        return super().eventFilter(watched, event)
