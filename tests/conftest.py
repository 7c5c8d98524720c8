"""Test configuration shared by every package's tests."""

import os
from pathlib import Path

# Qt tests run headless; set before any Qt import (pytest-qt imports Qt at collection).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
GALLERY = sorted((ROOT / "graphs").glob("*.yaml"))
