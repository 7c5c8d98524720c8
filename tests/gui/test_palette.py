"""The block palette and the quick block search popup: built from the registry, then used."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QAbstractItemView

from blocks import Block, all_blocks, get_block
from gui.block_search import BlockSearchPopup
from gui.palette import BlockPalette, block_tooltip
from gui.style import BLOCK_MIME_TYPE


def plain(rich: str) -> str:
    document = QTextDocument()
    document.setHtml(rich)
    return " ".join(document.toPlainText().split())


@pytest.fixture
def palette(qtbot) -> BlockPalette:
    widget = BlockPalette()
    qtbot.addWidget(widget)
    widget.resize(260, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def tree_contents(palette: BlockPalette) -> dict[str, list[str]]:
    tree = palette.tree
    contents = {}
    for i in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(i)
        contents[top.text(0)] = [top.child(j).data(0, Qt.ItemDataRole.UserRole) for j in range(top.childCount())]
    return contents


# ---------------------------------------------------------------------- palette
def test_every_block_is_listed_once_under_its_category(palette):
    contents = tree_contents(palette)
    listed = [name for names in contents.values() for name in names]
    assert sorted(listed) == sorted(b.name for b in all_blocks())
    assert len(listed) == len(set(listed))
    for category, names in contents.items():
        assert names == sorted(names)
        assert all(get_block(n).category == category for n in names)
    assert list(contents) == sorted(contents)
    assert palette.visible_blocks() == listed
    assert palette.findChild(QAbstractItemView, "paletteTree") is palette.tree
    assert palette.search.objectName() == "paletteSearch" and palette.search.placeholderText() == "Search blocks"


def test_items_have_icons_and_a_tooltip_with_the_documentation(palette):
    tree = palette.tree
    for i in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(i)
        assert not top.icon(0).isNull()
        assert not top.flags() & Qt.ItemFlag.ItemIsDragEnabled
        for j in range(top.childCount()):
            assert not top.child(j).icon(0).isNull()
    item = palette.item_for("conv2d")
    tip = item.toolTip(0)
    first_line = get_block("conv2d").doc().splitlines()[0].replace("``", "")
    assert first_line in plain(tip)
    assert "out_channels" in plain(tip) and "Inputs" in plain(tip)
    assert item.flags() & Qt.ItemFlag.ItemIsDragEnabled


def test_tooltips_escape_html():
    for block in all_blocks():
        text = plain(block_tooltip(block))
        assert block.name in text
        assert "``" not in text


def test_tooltip_markup_in_a_docstring_stays_text():
    class Fake(Block):  # not registered
        """Compare ``a < b`` and <b>bold</b> & *stress*."""

        name = "fake"
        category = "Test"

    tip = block_tooltip(Fake())
    assert "<code>a &lt; b</code>" in tip and "<i>stress</i>" in tip
    assert "Compare a < b and <b>bold</b> & stress." in plain(tip)


def test_search_filters_by_name_category_and_summary(palette):
    palette.set_filter("conv")
    shown = palette.visible_blocks()
    assert {"conv1d", "conv2d", "conv_transpose2d"} <= set(shown)
    assert "lstm" not in shown and "relu" not in shown
    assert palette.search.text() == "conv"

    palette.set_filter("RECURRENT")  # a category, any case
    assert set(palette.visible_blocks()) == {"rnn", "lstm", "gru"}
    tree = palette.tree
    for i in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(i)
        assert top.isHidden() == (top.text(0) != "Recurrent")
        assert top.isHidden() or top.isExpanded()

    palette.set_filter("probabilities")  # in softmax's summary only
    assert palette.visible_blocks() == ["softmax"]

    palette.set_filter("")
    assert palette.visible_blocks() == [b.name for b in sorted(all_blocks(), key=lambda b: (b.category, b.name))]


def test_typing_in_the_search_field_filters(palette, qtbot):
    qtbot.keyClicks(palette.search, "gru")
    assert palette.visible_blocks() == ["gru"]
    qtbot.keyClick(palette.search, Qt.Key.Key_Escape)
    assert palette.search.text() == ""
    assert len(palette.visible_blocks()) == len(all_blocks())


def test_collapsed_categories_come_back_collapsed_after_a_search(palette):
    top = palette.item_for("relu").parent()
    top.setExpanded(False)
    palette.set_filter("relu")
    assert top.isExpanded()
    palette.set_filter("")
    assert not top.isExpanded()


def test_a_dragged_block_carries_its_name(palette):
    tree = palette.tree
    assert BLOCK_MIME_TYPE in tree.mimeTypes()
    assert tree.dragDropMode() == QAbstractItemView.DragDropMode.DragOnly
    data = tree.mimeData([palette.item_for("lstm")])
    assert bytes(data.data(BLOCK_MIME_TYPE)).decode("utf-8") == "lstm"
    assert data.text() == "lstm"


def test_double_click_activates_a_block(palette, qtbot):
    tree = palette.tree
    item = palette.item_for("dropout")
    tree.scrollToItem(item)
    center = tree.visualItemRect(item).center()
    with qtbot.waitSignal(palette.blockActivated, timeout=1000) as blocker:
        # a real double-click starts with a click; QTest's mouseDClick alone sends only
        # press + double-click, which Qt 6 item views take as a plain press
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=center)
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=center)
    assert blocker.args == ["dropout"]


def test_enter_on_a_block_activates_it(palette, qtbot):
    palette.tree.setCurrentItem(palette.item_for("tanh"))
    with qtbot.waitSignal(palette.blockActivated, timeout=1000) as blocker:
        qtbot.keyClick(palette.tree, Qt.Key.Key_Return)
    assert blocker.args == ["tanh"]


def test_enter_in_the_search_field_activates_the_best_match(palette, qtbot):
    qtbot.keyClicks(palette.search, "conv")
    # "residual" (Composite, sorted first) only mentions convolutions in its summary
    assert palette.visible_blocks()[0] == "residual"
    with qtbot.waitSignal(palette.blockActivated, timeout=1000) as blocker:
        qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert blocker.args == ["conv1d"]
    palette.set_filter("recurrent")
    with qtbot.waitSignal(palette.blockActivated, timeout=1000) as blocker:
        qtbot.keyClick(palette.search, Qt.Key.Key_Enter)
    assert blocker.args == ["gru"]  # first shown: none of the names contains the text


def test_enter_with_no_match_does_nothing(palette, qtbot):
    palette.set_filter("no such block")
    assert palette.visible_blocks() == []
    with qtbot.assertNotEmitted(palette.blockActivated):
        qtbot.keyClick(palette.search, Qt.Key.Key_Return)


def test_down_arrow_moves_from_search_to_the_first_block(palette, qtbot):
    palette.search.setFocus()
    palette.set_filter("pool")
    qtbot.keyClick(palette.search, Qt.Key.Key_Down)
    assert palette.tree.currentItem() is palette.item_for(palette.visible_blocks()[0])
    qtbot.waitUntil(palette.tree.hasFocus, timeout=1000)


# ---------------------------------------------------------------------- block search popup
@pytest.fixture
def popup(qtbot) -> BlockSearchPopup:
    widget = BlockSearchPopup(title="Blocks that take conv1 (16x28x28)")
    qtbot.addWidget(widget)
    widget.popup_at(QPoint(50, 50))
    qtbot.waitExposed(widget)
    return widget


def test_popup_lists_every_block_with_object_names(popup):
    assert popup.objectName() == "blockSearch"
    assert popup.edit.objectName() == "blockSearchEdit" and popup.list.objectName() == "blockSearchList"
    assert popup.windowFlags() & Qt.WindowType.Popup
    assert popup.names() == [b.name for b in all_blocks()]
    assert popup.title.text() == "Blocks that take conv1 (16x28x28)" and popup.title.isVisibleTo(popup)
    item = popup.list.item(0)
    assert not item.icon().isNull() and item.toolTip() == get_block(item.text()).summary()


def test_typing_filters_with_name_prefixes_first(popup, qtbot):
    qtbot.keyClicks(popup.edit, "lst")
    assert popup.names()[0] == "lstm"
    popup.edit.clear()
    qtbot.keyClicks(popup.edit, "pool")
    names = popup.names()
    assert names and all("pool" in n or get_block(n).category == "Pooling" for n in names)
    popup.edit.setText("con")
    names = popup.names()
    starting = [n for n in names if n.startswith("con")]
    assert names[:len(starting)] == starting
    assert "conv2d" in starting and "concat" in starting


def test_enter_chooses_the_current_entry_and_closes(popup, qtbot):
    qtbot.keyClicks(popup.edit, "lst")
    with qtbot.waitSignal(popup.blockChosen, timeout=1000) as blocker:
        qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    assert blocker.args == ["lstm"]
    assert not popup.isVisible()


def test_arrows_move_the_selection(popup, qtbot):
    qtbot.keyClicks(popup.edit, "conv")
    first, second = popup.names()[:2]
    assert popup.list.currentItem().text() == first
    qtbot.keyClick(popup.edit, Qt.Key.Key_Down)
    assert popup.list.currentItem().text() == second
    qtbot.keyClick(popup.edit, Qt.Key.Key_Up)
    qtbot.keyClick(popup.edit, Qt.Key.Key_Up)  # stays on the first
    assert popup.list.currentItem().text() == first
    with qtbot.waitSignal(popup.blockChosen, timeout=1000) as blocker:
        qtbot.keyClick(popup.edit, Qt.Key.Key_Enter)
    assert blocker.args == [first]


def test_escape_closes_without_choosing(popup, qtbot):
    with qtbot.assertNotEmitted(popup.blockChosen), qtbot.waitSignal(popup.dismissed, timeout=1000):
        qtbot.keyClick(popup.edit, Qt.Key.Key_Escape)
    assert not popup.isVisible()


def test_click_chooses(popup, qtbot):
    item = popup.list.item(2)
    center = popup.list.visualItemRect(item).center()
    with qtbot.waitSignal(popup.blockChosen, timeout=1000) as blocker:
        qtbot.mouseClick(popup.list.viewport(), Qt.MouseButton.LeftButton, pos=center)
    assert blocker.args == [item.text()]
    assert not popup.isVisible()


def test_names_restrict_the_list(qtbot):
    popup = BlockSearchPopup(["relu", "conv2d", "linear"])
    qtbot.addWidget(popup)
    assert popup.names() == ["relu", "conv2d", "linear"]
    assert not popup.title.isVisibleTo(popup)
    popup.edit.setText("l")
    assert popup.names() == ["linear", "relu", "conv2d"]  # name prefix, name, category (Convolution)
    popup.edit.setText("zzz")
    assert popup.names() == [] and popup.list.count() == 1


def test_an_empty_list_says_nothing_fits(qtbot):
    popup = BlockSearchPopup([], title="Blocks that take tokens")
    qtbot.addWidget(popup)
    popup.popup_at(QPoint(10, 10))
    assert popup.names() == []
    assert popup.list.count() == 1
    item = popup.list.item(0)
    assert item.text() == "No block fits here"
    assert not item.flags() & Qt.ItemFlag.ItemIsEnabled
    with qtbot.assertNotEmitted(popup.blockChosen):
        qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    assert popup.isVisible()
