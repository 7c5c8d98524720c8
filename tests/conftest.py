"""Test configuration shared by every package's tests."""

import os
from pathlib import Path

# Qt tests run headless; set before any Qt import (pytest-qt imports Qt at collection).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402

# As `modelbuilder train` does before any work: torch's worker threads inherit it, and
# without it RNN/LSTM training on x86 CPUs crawls through denormal numbers.
torch.set_flush_denormal(True)

ROOT = Path(__file__).resolve().parents[1]
GALLERY = sorted((ROOT / "graphs").glob("*.yaml"))
