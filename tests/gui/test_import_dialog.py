"""File › Import Model…: a small PyTorch module becomes a graph file with its weights, the
dialog shows the verification, and the window opens the graph; an op without a block is
listed and nothing is written."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.gui.helpers import quiet_main_window

NET = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc(torch.flatten(x, 1))


class Odd(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, 1)


def build():
    return Net()


def odd():
    return Odd()
"""
IMPORT_TIMEOUT_MS = 120_000  # torch's first import and tracing on a busy machine; no timing asserted


def test_import_writes_verifies_and_opens_the_graph(qtbot, tmp_path):
    (tmp_path / "my_net.py").write_text(NET)
    window = quiet_main_window(qtbot, tmp_path)
    [action] = [a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "&Import Model…"]
    action.trigger()
    dialog = window._import_dialog
    assert dialog.isVisible()
    dialog.set_source(tmp_path / "my_net.py")
    assert [dialog.callable.itemText(i) for i in range(dialog.callable.count())] == ["build", "Net", "Odd", "odd"]
    assert dialog.out.text() == str(tmp_path / "my_net.yaml")  # suggested beside the source
    assert dialog.problem() and "input shape" in dialog.problem()
    dialog.shapes.setText("1,8,8")
    qtbot.mouseClick(dialog.import_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.document.path is not None, timeout=IMPORT_TIMEOUT_MS)
    assert window.document.path == str(tmp_path / "my_net.yaml")
    graph = window.document.graph
    assert {n.block for n in graph.nodes.values()} >= {"conv2d", "relu", "flatten", "linear"}
    assert window.document.analysis.ok and window.document.analysis.total.params == 4 * 9 + 4 + 256 * 5 + 5
    assert (tmp_path / "my_net.safetensors").is_file()
    assert "Same function: max |difference|" in dialog.outcome.text() and not window.errors

    # an op without a block: listed with its module path; nothing written, nothing opened
    dialog.callable.setCurrentText("odd")
    dialog.out.setText(str(tmp_path / "odd.yaml"))
    qtbot.mouseClick(dialog.import_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "<li>forward (torch.cumsum)" in dialog.outcome.text(), timeout=IMPORT_TIMEOUT_MS)
    assert "nothing was written" in dialog.outcome.text().lower()
    assert not (tmp_path / "odd.yaml").exists() and window.document.path == str(tmp_path / "my_net.yaml")
