"""Smoke test in a real X server: start the editor the way ``modelbuilder gui`` does, on
Xvfb at 1600x1000 (Qt's xcb platform, not the offscreen one the other tests use), open
a gallery graph and take a screenshot of the window as it first appears.

Skipped, with the reason shown in the test summary, where no X server can be had
(``xvfb-run`` missing); ``.ci/run`` installs it on Debian."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from gui.readable import MIN_TEXT_PX
from tests.conftest import ROOT

XVFB_RUN = shutil.which("xvfb-run")
pytestmark = pytest.mark.skipif(
    XVFB_RUN is None or not sys.platform.startswith("linux"),
    reason="no X server: xvfb-run not found (Debian: apt-get install xvfb xauth; .ci/run installs it)")


def editor_command() -> list[str]:
    """``modelbuilder`` from this environment, else the same entry point via ``-m builder``."""
    script = Path(sys.executable).with_name("modelbuilder")
    return [str(script)] if script.exists() else [sys.executable, "-m", "builder"]


@pytest.mark.parametrize("name", ["lenet5", "googlenet"])
def test_the_editor_starts_in_a_real_x_server_and_shows_the_graph_readably(tmp_path, name):
    out = tmp_path / f"{name}.png"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["MODELBUILDER_RECOVERY_DIR"] = str(tmp_path / "recovery")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no trace in the user's settings
    command = [XVFB_RUN, "-a", "-s", "-screen 0 1600x1000x24", *editor_command(), "gui",
               str(ROOT / "graphs" / f"{name}.yaml"), "--screenshot", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "platform xcb" in done.stdout, done.stdout  # a real X window, not the offscreen renderer
    text_px = float(re.search(r"text ([\d.]+) px", done.stdout).group(1))
    assert text_px >= MIN_TEXT_PX
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1600, 1000)
    colors = {image.pixelColor(x, y).name() for x in range(0, 1600, 25) for y in range(0, 1000, 25)}
    assert len(colors) > 20  # a drawn window: palette, boxes, wires, text
