"""The installed Qt binding must not lose references to None.

PySide6 6.12.0 drops one reference to ``None`` on every call that returns None (each setter,
each QPainter call in a paint). Before Python 3.12 None's count can reach zero and the app
aborts with "Fatal Python error: none_dealloc" after a minute of drawing. pyproject excludes
that release; this test catches the next one like it."""

import sys

from PySide6.QtCore import QPointF


def test_calls_returning_none_keep_none_alive():
    point = QPointF()
    before = sys.getrefcount(None)
    for _ in range(1000):
        point.setX(1.0)
    lost = before - sys.getrefcount(None)
    assert lost < 10, f"the Qt binding lost {lost} references to None in 1000 calls"
