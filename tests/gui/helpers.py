"""Gestures for driving the canvas like a person: points on screen, mouse drags, drops."""

from __future__ import annotations

import warnings

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from gui.canvas import GraphView


def node_point(view: GraphView, node_id: str, dx: float = 0, dy: float = 10) -> QPoint:
    """A point inside the node's box on screen (below the title, left of centre by ``dx``)."""
    item = view.graph_scene.node_items[node_id]
    rect = item.mapRectToScene(0, 0, 180, 70)
    return view.mapFromScene(rect.center() + QPointF(dx, dy))


def port_point(view: GraphView, node_id: str, port: str | None, output: bool) -> QPoint:
    item = view.graph_scene.node_items[node_id]
    return view.mapFromScene(item.port_pos(port, output))


def empty_point(view: GraphView) -> QPoint:
    """A point on screen where no item is."""
    rect = view.viewport().rect()
    for y in range(10, rect.height() - 10, 17):
        for x in range(10, rect.width() - 10, 23):
            point = QPoint(x, y)
            if not view.items(point):
                return point
    raise AssertionError("the view has no empty spot")


def drag(qtbot, view: GraphView, start: QPoint, end: QPoint, steps: int = 6, modifier=Qt.NoModifier) -> None:
    """Press at ``start``, move in steps to ``end``, release there."""
    viewport = view.viewport()
    qtbot.mousePress(viewport, Qt.LeftButton, modifier, start)
    for i in range(1, steps + 1):
        point = start + (end - start) * (i / steps)
        qtbot.mouseMove(viewport, point)
    qtbot.mouseRelease(viewport, Qt.LeftButton, modifier, end)


def drop_mime(view: GraphView, mime: QMimeData, point: QPoint) -> bool:
    """Drag ``mime`` onto the view and drop it at ``point``; True if the drop was taken."""
    viewport = view.viewport()
    pos = QPointF(point)
    with warnings.catch_warnings():  # PySide marks the QPoint constructors deprecated; Qt 6 has no other
        warnings.simplefilter("ignore", DeprecationWarning)
        return _drop(viewport, mime, point, pos)


def _drop(viewport, mime: QMimeData, point: QPoint, pos: QPointF) -> bool:
    enter = QDragEnterEvent(point, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(viewport, enter)
    if not enter.isAccepted():
        return False
    move = QDragMoveEvent(point, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(viewport, move)
    drop = QDropEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(viewport, drop)
    return drop.isAccepted()


def quiet_main_window(qtbot, tmp_path, size: tuple[int, int] | None = (1400, 900)):
    """A shown main window with its own settings and recovery folder that asks nothing:
    unsaved work is discarded, errors and notes are collected in ``errors`` and ``infos``."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from gui.main_window import MainWindow

    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                     recovery_folder=tmp_path / "recovery")
    win.errors, win.infos = [], []
    win.show_error = lambda title, text: win.errors.append(text)
    win.show_info = lambda title, text: win.infos.append(text)
    win.ask_unsaved = lambda: QMessageBox.Discard
    qtbot.addWidget(win)
    if size is not None:
        win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    return win


def stop_training(win) -> None:
    """Kill a training process a test left running (the window is closed after the test)."""
    if win._training_holder.built and win.training.runner.is_running():
        win.training.runner.kill()
        win.training.runner.wait_for_finished(10_000)
