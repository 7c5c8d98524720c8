"""``modelbuilder lr-find``: the learning-rate range test's suggestions, its plot, its CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from builder.cli import main
from builder.training.lr_find import centred_average, suggestions
from tests.conftest import ROOT

DEMO = ROOT / "graphs" / "digits_transfer.yaml"


def test_suggestions_read_the_curve():
    lrs = list(np.logspace(-6, 0, 61))
    # flat, then falling fastest around 1e-3, lowest at 1e-1, then climbing
    loss = [2.0 - 1.5 / (1 + np.exp(-3 * (np.log10(lr) + 3))) + (0.0 if lr <= 0.1 else 5 * (lr - 0.1))
            for lr in lrs]
    steepest, min_tenth = suggestions(lrs, loss)
    assert steepest == pytest.approx(1e-3, rel=0.3)
    assert min_tenth == pytest.approx(1e-2, rel=0.01)
    assert suggestions(lrs[:5], loss[:5]) == (None, None)  # too short to tell
    assert centred_average([0.0, 3.0, 0.0, 3.0], 3) == [1.5, 1.0, 2.0, 1.5]


def test_lr_find_writes_the_plot_and_suggests_a_rate(tmp_path, capsys):
    out = tmp_path / "lr.png"
    assert main(["lr-find", str(DEMO), "--steps", "40", "--start", "1e-5", "--end", "3", "--threads", "1",
                 "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and result["plot"] == str(out)
    assert result["rule"] == "steepest descent" and result["stopped"] == "diverged"
    lrs, smoothed = result["lrs"], result["smoothed"]
    assert lrs[0] == pytest.approx(1e-5) and all(b > a for a, b in zip(lrs, lrs[1:]))
    # a rate where the loss is falling, before it blows up
    assert lrs[0] < result["suggestion"] < lrs[int(np.argmin(smoothed))]
    assert max(result["losses"][-3:]) > min(result["losses"])


def test_lr_find_refuses_bad_requests(tmp_path, capsys):
    assert main(["lr-find", str(DEMO), "--steps", "3"]) == 1
    assert "--steps must be at least 8" in capsys.readouterr().err
    assert main(["lr-find", str(DEMO), "--start", "1", "--end", "0.1", "--out", str(tmp_path / "x.png")]) == 1
    assert "from a small rate to a larger one" in capsys.readouterr().err
    assert main(["lr-find", str(DEMO), "--init", str(tmp_path / "none.pth"), "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and not (tmp_path / "x.png").exists()
